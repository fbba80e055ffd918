"""`eclip-desktop train --base-steps N …`: a whole family the way ECLIP makes its models — ONE long
base run with a pooling whose free attention is trained (native: the class token / attention pool),
then every sibling by a short fine-tune of that base with its own pooling (text tower frozen, the
last visual block(s) and the projection trained; masked max guided by the frozen base).

Layout of --out: base/<base pooling>.safetensors + .json (the base, not a sibling, so the folder's
family is exactly the fine-tuned siblings), <pooling>.safetensors + .json per sibling, and
<name>.ckpt.pt checkpoints while a stage runs.

Interruptions: `--resume` re-plans the same family and, stage by stage, skips what is finished
(weights + card whose recorded configuration is the planned one — for a sibling including the
SHA-256 of the base it was fine-tuned from), continues a stage from its checkpoint when the
checkpoint's own configuration is the planned one, and refuses anything else. Without `--resume`
or `--overwrite` nothing existing is replaced.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

from eclip_desktop.core.model.checkpoint import SUFFIX as CHECKPOINT_SUFFIX
from eclip_desktop.core.model.checkpoint import read_checkpoint
from eclip_desktop.core.training.provenance import init_stages, sha256_file
from eclip_desktop.core.training.trainer import TrainConfig, TrainingError, train, update_card

BASE_DIR = "base"
# Configuration fields that define what a stage computes; the rest (device, out, checkpoint
# cadence, probes, resume) may differ between an interrupted run and its continuation.
# The base a sibling starts from is identified by its SHA-256 (below), not by its path.
_IDENTITY = ("pooling", "architecture", "init", "data", "scenes", "steps", "batch_size", "lr",
             "weight_decay", "warmup", "tau", "topk", "seed", "data_seed", "unlock_blocks", "captions", "objects",
             "schedule", "allow_untrained_guide")


@dataclass
class FamilyPlan:
    out: Path
    base: TrainConfig
    siblings: list[TrainConfig]  # pretrained is filled in once the base exists
    command: str


def plan_family(base: TrainConfig, poolings: list[str], finetune: dict, command: str) -> FamilyPlan:
    """`base` is the base stage's configuration (its out is the family folder); `finetune` holds the
    sibling stage's steps, lr, batch_size, scenes, objects, warmup and unlock_blocks."""
    if base.pretrained:
        raise TrainingError("--base-steps trains a family's base on Shapes World; --pretrained does not apply "
                            "(fine-tune one model with --pretrained and without --base-steps)")
    if base.data != "shapes":
        raise TrainingError("--base-steps trains a family on Shapes World; --data must be shapes")
    if base.name:
        raise TrainingError("--name names one model; a family's models are named after their poolings")
    if finetune["steps"] < 1 or base.steps < 1:
        raise TrainingError("--base-steps and --finetune-steps must be at least 1")
    from eclip_desktop.core.model.poolings import POOLINGS
    from eclip_desktop.core.training.guide import GUIDE, TRAINED_GUIDE_POOLINGS, architecture_kind
    guided = [p for p in poolings if p in POOLINGS and POOLINGS[p].uses_free_attention]
    if guided and base.pooling not in TRAINED_GUIDE_POOLINGS and not base.allow_untrained_guide:
        guide = GUIDE.get(architecture_kind(base.architecture), "the pooling query's attention")
        raise TrainingError(f"a base trained with pooling '{base.pooling}' never trains {guide}, which guides the "
                            f"{guided[0]} sibling; use --base-pooling native, or pass --allow-untrained-guide")
    out = Path(base.out)
    base = replace(base, out=str(out / BASE_DIR), name=None,
                   extra={**base.extra, "family_stage": "base", "family_command": command})
    siblings = [replace(base, pooling=p, out=str(out), init=None, pretrained=None, eval_every=base.eval_every,
                        fresh_scenes=False,  # a short fine-tune on its own --finetune-scenes set
                        extra={"family_stage": "finetune", "family_command": command}, **finetune)
                for p in poolings]
    return FamilyPlan(out, base, siblings, command)


def _identity(config: dict) -> dict:
    ident = {k: config.get(k) for k in _IDENTITY}
    ident["fresh_scenes"] = bool(config.get("fresh_scenes"))  # cards from before the option: False
    extra = config.get("extra") or {}
    ident["base_sha256"] = extra.get("base_sha256")
    ident["family_stage"] = extra.get("family_stage")
    return ident


def _differences(found: dict, planned: TrainConfig) -> list[str]:
    want, have = _identity(asdict(planned)), _identity(found)
    return [f"{k} {have[k]!r} (planned {want[k]!r})" for k in want if have[k] != want[k]]


def _stage_state(cfg: TrainConfig, resume: bool, overwrite: bool) -> tuple[str, str]:
    """('done' | 'resume' | 'fresh', detail) for a stage, from what is on disk; raises on a conflict
    that only --overwrite may settle."""
    out, name = Path(cfg.out), cfg.run_name()
    weights, card_path, ckpt = out / f"{name}.safetensors", out / f"{name}.json", out / f"{name}{CHECKPOINT_SUFFIX}"
    if overwrite:
        if ckpt.is_file():
            ckpt.unlink()  # the stage starts again rather than continuing an older run
        return "fresh", "training (--overwrite replaces what is there)"
    if weights.is_file() or card_path.is_file():
        if not resume:
            raise TrainingError(f"{weights if weights.is_file() else card_path} exists; pass --resume to continue "
                                f"the family or --overwrite to replace it")
        try:
            found = json.loads(card_path.read_text())["config"]
        except (OSError, ValueError, KeyError, TypeError):
            raise TrainingError(f"{card_path} is missing or unreadable, so {weights.name} cannot be trusted as "
                                "this stage's result; pass --overwrite to train it again") from None
        diff = _differences(found, cfg)
        if diff or not weights.is_file():
            why = "; ".join(diff) or "its weights are missing"
            raise TrainingError(f"{card_path} is not this plan's stage ({why}); pass --overwrite to replace it")
        return "done", f"finished earlier ({weights})"
    if ckpt.is_file():
        if not resume:
            raise TrainingError(f"{ckpt} holds an interrupted run; pass --resume to continue it or --overwrite "
                                "to start again")
        try:
            state = read_checkpoint(ckpt)
        except (OSError, ValueError) as exc:
            raise TrainingError(f"cannot read checkpoint {ckpt}: {exc}") from exc
        diff = _differences(state.get("config") or {}, cfg)
        if diff:
            raise TrainingError(f"checkpoint {ckpt} is not this plan's stage ({'; '.join(diff)}); pass --overwrite "
                                "to start it again")
        return "resume", f"continuing from step {state.get('step')} of {ckpt}"
    return "fresh", "starting"


def _summary(card: dict, stage: str, command: str) -> dict:
    history = card.get("history") or []
    probes = [h["zero_shot"] for h in history if "zero_shot" in h]
    return {"stage": stage, "command": command, "pooling": card["pooling"], "steps": card["steps"],
            "init": card.get("init"), "wall_seconds": card["wall_seconds"], "final_loss": card["final_loss"],
            "final_zero_shot_probe": probes[-1] if probes else None, "history": history,
            "device": card.get("device"), "machine": card.get("machine")}


def run_family(plan: FamilyPlan, resume: bool = False, overwrite: bool = False,
               progress: Callable[[dict], None] | None = None, log: Callable[[str], None] = print) -> list[dict]:
    """Trains (or continues) the base, then each sibling; returns the siblings' cards."""
    if resume and overwrite:
        raise TrainingError("--resume continues a family, --overwrite starts it again: give one of them")
    base = plan.base
    state, detail = _stage_state(base, resume, overwrite)
    base_weights = Path(base.out) / f"{base.run_name()}.safetensors"
    log(f"base ({base.pooling}, {base.steps} steps): {detail}")
    if state != "done":
        train(replace(base, resume=state == "resume", overwrite=overwrite), progress=progress)
    base_card = json.loads((Path(base.out) / f"{base.run_name()}.json").read_text())
    base_card["command"] = plan.command
    base_sha = sha256_file(base_weights)
    base_summary = {**_summary(base_card, "base", plan.command), "weights_sha256": base_sha}
    earlier = init_stages(base.init)
    if earlier:  # the base continued earlier weights: their stages are part of this family's making
        base_summary["init_stages"] = earlier
    cards = []
    for sib in plan.siblings:
        cfg = replace(sib, pretrained=str(base_weights), extra={**sib.extra, "base_sha256": base_sha})
        state, detail = _stage_state(cfg, resume, overwrite)
        log(f"{cfg.pooling} (fine-tune of the base, {cfg.steps} steps): {detail}")
        if state != "done":
            t0 = time.perf_counter()
            train(replace(cfg, resume=state == "resume", overwrite=overwrite), progress=progress)
            log(f"{cfg.pooling}: {time.perf_counter() - t0:.0f} s")
        card_path = Path(cfg.out) / f"{cfg.run_name()}.json"
        card = json.loads(card_path.read_text())
        stages = [base_summary, _summary(card, "finetune", plan.command)]
        cards.append(update_card(card_path, command=plan.command, stages=stages,
                                 base={"weights": str(base_weights), "sha256": base_sha, "pooling": base.pooling,
                                       "steps": base.steps},
                                 wall_seconds_all_stages=base_card["wall_seconds"] + card["wall_seconds"]
                                 + sum(s.get("wall_seconds") or 0 for s in earlier or [])))
    return cards
