"""What several subcommands share: the model options, option groups defined once, prompts, poolings."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

PROG = "eclip-desktop"
DEVICES = ["auto", "cpu", "cuda", "mps"]


def add_device_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", choices=DEVICES)


def add_output_args(p: argparse.ArgumentParser, out_help: str = "output directory",
                    overwrite_help: str = "replace existing outputs") -> None:
    p.add_argument("--out", required=True, help=out_help)
    p.add_argument("--overwrite", action="store_true", help=overwrite_help)


def refuse_existing_result(path: str, overwrite: bool) -> None:
    """One rule for every command that writes: an existing result is replaced only with --overwrite,
    and that is checked before any work."""
    import os

    from eclip_desktop.core.errors import OutputError
    target = Path(path).expanduser()
    if target.is_dir():
        raise OutputError(f"{target} is a directory; name a file to write")
    if os.path.lexists(target) and not overwrite:
        raise OutputError(f"{target} exists; pass --overwrite to replace it")


def add_prompt_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--text", action="append", help="a prompt; repeat for a label set")
    p.add_argument("--labels-file", help="a file of prompts, one per line")


def add_display_args(p: argparse.ArgumentParser) -> None:
    """How a figure is drawn: the same two options for explain, concepts and export."""
    from eclip_desktop.core.figures.render import DEFAULT_COLORMAP, colormap_names
    p.add_argument("--colormap", default=DEFAULT_COLORMAP, choices=colormap_names(),
                   help=f"figure colouring (default {DEFAULT_COLORMAP}, as in the window)")
    p.add_argument("--alpha", type=float, default=0.5, help="overlay opacity 0..1")


def add_map_args(p: argparse.ArgumentParser) -> None:
    """How a CLIP map is computed (explain and export): ensemble, input size, tau, Surgery's paths."""
    from eclip_desktop.core.model.poolings import TAU_READOUT_CHOICES, TAU_TRAINED
    p.add_argument("--ensemble", action="store_true", help="encode each text with the prompt ensemble")
    p.add_argument("--input-size", type=int, default=None,
                   help="square input size for the image encoder (default: the model's; larger = finer map)")
    p.add_argument("--tau", default=TAU_TRAINED, choices=TAU_READOUT_CHOICES,
                   help="masked max's free-attention mask threshold: mean of the attention, its top 25 %%, or "
                        "trained (default: the one the weights were trained with, mean when they do not say)")
    from eclip_desktop.core.explain.methods import METHODS
    for info in METHODS.values():
        info.add_arguments(p)


def method_options(args, method: str) -> dict:
    """The options of `method` as the command line gave them (defaults filled in), checked."""
    from eclip_desktop.core.errors import EclipError
    from eclip_desktop.core.explain.methods import get_method
    try:
        return get_method(method).from_args(args)
    except ValueError as exc:
        raise EclipError(str(exc)) from None


POOLING_DEFAULT_HELP = "default: a family's masked-max model (else its first), a single model's native pooling"


def pooling_choices() -> list[str]:
    from eclip_desktop.core.model.poolings import pooling_names
    return pooling_names() + ["all"]


def read_labels(path: str) -> list[str]:
    from eclip_desktop.core.errors import TextError
    from eclip_desktop.core.io.guards import read_text, shown
    # A regular UTF-8 file (a byte-order mark is dropped), bounded: never a FIFO or /dev/zero.
    text = read_text(path, lambda why: TextError(f"cannot read labels file {shown(path)}: {why}"))
    labels = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not labels:
        raise TextError(f"labels file {path} has no labels (one text per line; '#' starts a comment)")
    return labels


def add_model_args(p: argparse.ArgumentParser, default_model: str | None = None) -> None:
    p.add_argument("--model", default=default_model,
                   help="an embedded family (eclip-shapes-vit-ft, the default when installed; eclip-shapes, "
                        "eclip-shapes-vit), a family folder, or an open_clip architecture (see `models`)")
    p.add_argument("--pretrained", default=None,
                   help="weights: an open_clip tag (e.g. openai), a checkpoint file "
                        "(.safetensors/.bin/.pt), or 'random' for untrained weights")
    add_device_arg(p)
    p.add_argument("--dtype", default="auto", choices=["auto", "fp32", "fp16", "bf16"])
    p.add_argument("--activation", default="auto", choices=["auto", "gelu", "quick_gelu"],
                   help="MLP activation: auto decides from the weights (OpenAI's need quick_gelu; a weights "
                        "file that cannot tell gets the architecture's, with a note on stderr)")


def model_spec(args):
    from eclip_desktop.core.model.loading import ModelSpec
    return ModelSpec(args.model, args.pretrained, args.device, args.dtype, args.activation)


def say_activation(handles) -> None:
    """One line on stderr per model whose weights file could not tell its activation (see
    core/model/activation.py): which one is used and how to choose the other."""
    seen = set()
    for handle in handles:
        note = handle.describe().get("activation_note")
        if note and note not in seen:
            seen.add(note)
            print(f"{PROG}: note: {note}", file=sys.stderr)


def say_out_of_domain(paths, model_infos) -> None:
    """One note on stderr per image outside the world of a model that explains it (the same decision
    the window's notice, figures and sidecars use)."""
    from eclip_desktop.core.model.training_domain import verdict
    infos = list({(i.get("model"), i.get("pretrained")): i for i in model_infos}.values())
    flagged = []
    for path in paths:
        reason = next((v["reason"] for v in (verdict(path, i) for i in infos) if v["out_of_domain"]), None)
        if reason:
            flagged.append((path, reason))
    shown = 3  # a folder of photographs gets a few lines, not one per file
    from eclip_desktop.core.io.guards import shown as escaped
    for path, reason in flagged[:shown]:
        print(f"{PROG}: note: {escaped(path)}: out of domain: {escaped(reason)}", file=sys.stderr)
    if len(flagged) > shown:
        print(f"{PROG}: note: {len(flagged) - shown} more of the {len(flagged)} images are out of domain too "
              "(out_of_domain in their sidecars and the index)", file=sys.stderr)


def poolings_arg(args) -> list[str]:
    """--pooling as given; by default a family's default sibling (masked max where it has one, as the
    window and `concepts` open: the pooling whose maps stay on the objects, docs/RESULTS.md) and a
    single model's native pooling; with a family, 'all' means every sibling it has."""
    from eclip_desktop.core.model import family
    from eclip_desktop.core.model.poolings import expand_poolings
    from eclip_desktop.core.model.resolve import default_model, is_family_choice, poolings_for
    name = args.model if args.model is not None else default_model()
    have = poolings_for(name) if is_family_choice(name, None) else None
    asked = list(args.pooling or [])
    if not asked:
        asked = ["native" if have is None else family.default_pooling(name)]
    if have is not None and "all" in asked:
        asked = [p for p in asked if p != "all"] + have
    return expand_poolings(asked)


def convis_spec(args):
    """The model `concepts` runs: as `explain` picks it (a family's default sibling)."""
    from eclip_desktop.core.model import family
    from eclip_desktop.core.model.resolve import default_model, spec_for
    model = args.model if args.model is not None else default_model()
    pooling = family.default_pooling(model) if family.is_family(model) else "native"
    return spec_for(model, args.pretrained, pooling, args.device, args.dtype, args.activation)


def load_concept_set(hierarchy, spec: str):
    from eclip_desktop.core.convis.sets import concept_set_by_name
    cs = concept_set_by_name(hierarchy, spec)
    from eclip_desktop.core.io.guards import shown
    for number, text, reason in cs.rejected[:10]:  # 20,000 bad lines are a summary, not 20,000 warnings
        print(f"{PROG}: warning: {shown(spec)} line {number}: skipped '{shown(text)}': {shown(reason)}", file=sys.stderr)
    if len(cs.rejected) > 10:
        print(f"{PROG}: warning: {shown(spec)}: {len(cs.rejected) - 10} more line(s) skipped "
              f"({len(cs.rejected)} of the file's lines name no WordNet noun)", file=sys.stderr)
    return cs
