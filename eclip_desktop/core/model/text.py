"""Text embeddings: single prompts or prompt ensembles, validated and cached per model."""
from __future__ import annotations

import threading

import torch
from open_clip.zero_shot_metadata import OPENAI_IMAGENET_TEMPLATES

from eclip_desktop.core.errors import TextError

# ECLIP and CLIP Surgery add scene templates to CLIP's 80 ImageNet ones: a map asks "where in the
# scene", so phrasings about a scene help; these are our own wording of that idea.
SCENE_TEMPLATES = (
    "there is a {} in the scene.",
    "there is the {} in the scene.",
    "this is a {} in the scene.",
    "this is the {} in the scene.",
    "this is one {} in the scene.",
)
MAX_TEXT_CHARS = 2000


def ensemble_prompts(text: str) -> list[str]:
    return [t(text) for t in OPENAI_IMAGENET_TEMPLATES] + [t.format(text) for t in SCENE_TEMPLATES]


def token_count(tokenizer, text: str) -> int | None:
    """Tokens including start/end markers, or None when the tokenizer cannot say."""
    encode = getattr(tokenizer, "encode", None)
    if encode is None:
        return None
    return len(encode(text)) + 2


def context_length(tokenizer) -> int:
    return int(getattr(tokenizer, "context_length", 77) or 77)


def validate_text(tokenizer, text: str, allow_empty: bool = False) -> str:
    if not isinstance(text, str):
        raise TextError(f"a prompt must be text, got {type(text).__name__}")
    if not text.strip() and not allow_empty:
        raise TextError("empty prompt: type what to look for, e.g. 'a photo of a cat'")
    if len(text) > MAX_TEXT_CHARS:
        raise TextError(f"prompt of {len(text)} characters is far over the model's context; shorten it")
    n, limit = token_count(tokenizer, text), context_length(tokenizer)
    if n is not None and n > limit:
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise TextError(f"prompt '{shown}' is {n} tokens, over the model's {limit}-token context "
                        "(the model would not see the end of it); shorten it")
    return text


def encode_text_trimmed(model, tokens: torch.Tensor) -> torch.Tensor:
    """`model.encode_text` computed only up to the longest prompt instead of the full context.

    With a causal mask no token attends to the padding after it, and the embedding is read at the
    end-of-text token, so the result is the same while a short prompt costs a fraction of the
    77-token forward. Falls back to `encode_text` where that reasoning does not hold."""
    from open_clip.transformer import text_global_pool
    pool = getattr(model, "text_pool_type", None)
    mask = getattr(model, "attn_mask", None)
    if pool not in ("argmax", "eos") or mask is None or not hasattr(model, "token_embedding"):
        return model.encode_text(tokens)
    length = int((tokens != 0).sum(1).max())
    tokens = tokens[:, :length]
    cast = model.transformer.get_cast_dtype()
    x = model.token_embedding(tokens).to(cast) + model.positional_embedding[:length].to(cast)
    x = model.ln_final(model.transformer(x, attn_mask=mask[:length, :length]))
    x = text_global_pool(x, tokens, pool, eos_token_id=getattr(model, "text_eos_id", None))
    proj = model.text_projection
    if proj is None:
        return x
    return proj(x) if isinstance(proj, torch.nn.Linear) else x @ proj


class TextBank:
    """Encodes texts with one model and keeps every embedding it has made (L2-normalised, CPU)."""

    def __init__(self, handle):
        self.handle = handle
        self._cache: dict[tuple[str, bool], torch.Tensor] = {}
        self._lock = threading.Lock()
        self.encoder_calls = 0

    @torch.no_grad()
    def _encode_raw(self, prompts: list[str], batch: int = 128) -> torch.Tensor:
        h = self.handle
        out = []
        with h.lock:
            for i in range(0, len(prompts), batch):
                tokens = h.tokenizer(prompts[i:i + batch]).to(h.device)
                self.encoder_calls += 1
                out.append(encode_text_trimmed(h.model, tokens).float().cpu())
        return torch.nn.functional.normalize(torch.cat(out), dim=-1)

    def encode(self, texts: list[str], ensemble: bool = False, allow_empty: bool = False) -> torch.Tensor:
        """(T, D) normalised embeddings; an ensemble is the normalised mean of its normalised prompts."""
        for t in texts:
            validate_text(self.handle.tokenizer, t, allow_empty=allow_empty)
        missing = [t for t in dict.fromkeys(texts) if (t, ensemble) not in self._cache]
        if missing:
            if ensemble:
                for t in missing:
                    prompts = ensemble_prompts(t)
                    for p in prompts:
                        validate_text(self.handle.tokenizer, p)
                    mean = self._encode_raw(prompts).mean(0)
                    self._store((t, True), torch.nn.functional.normalize(mean, dim=-1))
            else:
                for t, emb in zip(missing, self._encode_raw(missing)):
                    self._store((t, False), emb)
        return torch.stack([self._cache[(t, ensemble)] for t in texts])

    def _store(self, key, emb):
        with self._lock:
            self._cache[key] = emb

    def empty_embedding(self) -> torch.Tensor:
        """Embedding of the empty string: CLIP Surgery's reference for a single text."""
        return self.encode([""], ensemble=False, allow_empty=True)[0]
