"""CLIP Surgery (METHODS §4): tokens from the v-v attention path, then feature surgery, which
removes what all texts of the label set (or the empty text) share with every token."""
from __future__ import annotations

from typing import TYPE_CHECKING

from eclip_desktop.core.explain.methods.base import Method, Option
from eclip_desktop.core.explain.methods.itsm import cosine_map
from eclip_desktop.core.lazy import lazy
from eclip_desktop.core.model.kinds import ALL_KINDS, TIMM_CONV

if TYPE_CHECKING:
    import torch
else:
    # Imported on first use: the CLI's parser and the window read this module's constants before torch.
    torch = lazy("torch")

# What a single text subtracts ("the empty text") when the texts are encoded with the prompt
# ensemble. "matched": the empty string encoded exactly like the texts, i.e. ensembled too; this is
# what the authors' code does (it ensembles "" with the same templates), so it is the default.
# "plain": the bare empty string whatever the texts' encoding; the project's rule before issue 17,
# kept so maps made with it can be reproduced. Without the ensemble both give the same map.
EMPTY_TEXT_RULES = ("matched", "plain")
DEFAULT_EMPTY_TEXT = "matched"

# Flags and option keys are a public contract (issue 21): --no-vv, --no-feature-surgery,
# --surgery-empty-text; method_options {"vv", "feature", "empty_text"}.
METHOD = Method(
    "surgery", "CLIP Surgery", "v-v attention path + feature surgery", module="surgery",
    label_free=False,  # feature surgery subtracts what the whole label set shares
    kinds=ALL_KINDS,
    refuses={TIMM_CONV: "CLIP Surgery's v-v path replaces the attention of the last transformer blocks; "
                        "a convolutional tower (ConvNeXt, FastViT) has none"},
    hint="Both the v-v path and feature surgery off gives exactly the ITSM.",
    raw_label="similarity",
    options=(
        Option("vv", bool, True, "v-v path", "skip the v-v attention path", flag="--no-vv"),
        Option("feature", bool, True, "feature surgery", "skip feature surgery (remove what all prompts share)",
               flag="--no-feature-surgery"),
        Option("empty_text", str, DEFAULT_EMPTY_TEXT, "empty text",
               "single text: subtract the empty string encoded like the text (matched: ensembled with "
               "--ensemble, as the authors' code) or always the plain empty string",
               choices=EMPTY_TEXT_RULES),
    ))


def text_weights(pooled: torch.Tensor, texts: torch.Tensor) -> torch.Tensor:
    """w = softmax(2 cos(global, G)) / mean: favours the texts the image as a whole matches."""
    probs = torch.softmax(2.0 * (torch.nn.functional.normalize(pooled, dim=-1) @ texts.T), dim=-1)
    return probs / probs.mean(dim=-1, keepdim=True)


def feature_surgery(tokens: torch.Tensor, pooled: torch.Tensor, texts: torch.Tensor) -> torch.Tensor:
    """Closed form for (B, N, D) tokens, (B, D) pooled, (T, D) texts -> (B, T, N)."""
    weighted = cosine_map(tokens, texts) * text_weights(pooled, texts)[..., :, None]
    return weighted - weighted.mean(dim=-2, keepdim=True)


def feature_surgery_explicit(tokens: torch.Tensor, pooled: torch.Tensor, texts: torch.Tensor) -> torch.Tensor:
    """The element-wise form of the paper: (f ⊙ w_t g_t) minus its mean over texts, summed over channels.
    Memory O(B N T D): a reference for tests, not for use."""
    f = torch.nn.functional.normalize(tokens, dim=-1)
    w = text_weights(pooled, texts)
    feats = f[:, :, None, :] * (texts[None, None] * w[:, None, :, None])
    redundant = feats.mean(dim=2, keepdim=True)
    return (feats - redundant).sum(-1).transpose(1, 2)


def check_empty_text(rule: str) -> str:
    if rule not in EMPTY_TEXT_RULES:
        raise ValueError(f"unknown empty-text rule '{rule}': choose one of {', '.join(EMPTY_TEXT_RULES)}")
    return rule


def empty_text_used(n_texts: int, ensemble: bool, options: dict | None) -> str | None:
    """Which empty-string embedding a Surgery map subtracted: 'ensemble', 'plain', or None when it
    subtracted none (a label set of two or more texts, or feature surgery switched off)."""
    options = options or {}
    if n_texts != 1 or not options.get("feature", True):
        return None
    rule = check_empty_text(options.get("empty_text", DEFAULT_EMPTY_TEXT))
    return "ensemble" if ensemble and rule == "matched" else "plain"


def map_meta(job, options: dict) -> dict:
    return {"surgery_empty_text": empty_text_used(job.n_texts, job.ensemble, options)}


def legacy_options(options: dict, sidecar: dict) -> dict:
    """A sidecar written before the empty-text rule was recorded (no `surgery_empty_text` key) was
    made with the plain empty string; one that records what was subtracted names the rule that gives it."""
    options = dict(options)
    if "empty_text" not in options:
        used = sidecar.get("surgery_empty_text", "absent")
        if used == "absent" or used == "plain":
            options["empty_text"] = "plain"
        elif used == "ensemble":
            options["empty_text"] = "matched"
    return options


def scores(job, vv: bool = True, feature: bool = True, empty_text: str = DEFAULT_EMPTY_TEXT, **_) -> torch.Tensor:
    analysis, texts, bank, ensemble = job.analysis, job.texts, job.bank, job.ensemble
    tokens = analysis.surgery_tokens() if vv else analysis.tokens
    if not feature:
        return cosine_map(tokens, texts)
    if texts.shape[0] == 1:
        # A single text has no label set to subtract: the empty text stands for what every
        # prompt shares, encoded like the prompt (see EMPTY_TEXT_RULES).
        used = empty_text_used(1, ensemble, {"feature": True, "empty_text": empty_text})
        empty = bank.empty_embedding(ensemble=used == "ensemble")
        return cosine_map(tokens, texts) - cosine_map(tokens, empty[None])
    return feature_surgery(tokens[None], analysis.pooled[None], texts)[0]
