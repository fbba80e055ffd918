"""`eval`: explainability metrics and zero-shot accuracy on a dataset with masks."""
from __future__ import annotations

import sys
from pathlib import Path

from eclip_desktop.cli.common import (
    add_model_args,
    load_concept_set,
    method_options,
    pooling_choices,
    poolings_arg,
    refuse_existing_result,
    say_activation,
)


def cmd_eval(args) -> int:
    from eclip_desktop.core.export.shards import run_sharded
    return run_sharded(args.device, lambda shard: _eval(args, shard))


def _eval(args, shard) -> int:
    """The evaluation of this process: the whole job, or under torchrun this rank's images; rank 0
    prints the one table of the whole job and writes --json (docs/SCALE.md)."""
    from eclip_desktop.core.errors import DatasetError
    from eclip_desktop.core.evaluation.datasets import parse_dataset_arg
    from eclip_desktop.core.evaluation.evaluate import run_eval
    from eclip_desktop.core.evaluation.faithfulness import DEFAULT_STEPS
    from eclip_desktop.core.evaluation.metrics import format_table
    from eclip_desktop.core.explain.engine import engines_for
    from eclip_desktop.core.io.atomic import atomic_write_json, ensure_writable_dir

    if args.limit is not None and args.limit < 1:
        raise DatasetError(f"--limit must be at least 1, got {args.limit}")
    if args.faithfulness_steps is not None:
        if not args.faithfulness:
            raise DatasetError("--faithfulness-steps needs --faithfulness")
        if args.faithfulness_steps < 1:
            raise DatasetError(f"--faithfulness-steps must be at least 1, got {args.faithfulness_steps}")
    if args.faithfulness and args.method in ("convis", "ood"):
        raise DatasetError(f"--faithfulness applies to the map methods, not --method {args.method}")
    options = None if args.method in ("convis", "ood") else method_options(args, args.method)
    if args.json:
        # The result file is checked before any work: an existing one is never replaced silently.
        refuse_existing_result(args.json, args.overwrite)
        ensure_writable_dir(Path(args.json).resolve().parent)
    from eclip_desktop.core.evaluation.datasets import SUITE_NAMES, SYNTHETIC_KINDS
    kind, where = parse_dataset_arg(args.dataset)  # a bad dataset fails before a model loads
    if kind in SUITE_NAMES and args.method == "ood":
        raise DatasetError(f"--method ood does not run on {SUITE_NAMES[kind]}; use an imagefolder dataset "
                           "(see docs/CONVIS.md)")
    if kind not in SYNTHETIC_KINDS and not Path(where).exists():
        raise DatasetError(f"dataset {where} does not exist")
    plan = None
    if args.method in ("convis", "ood"):
        # ConVis rows map WordNet concepts, not prompts: the concept set, the synset and the dataset's
        # files are all checked here, before a model loads.
        from eclip_desktop.core.errors import ConceptError
        from eclip_desktop.core.evaluation import convis_eval as evaluate_convis
        from eclip_desktop.core.model import family
        from eclip_desktop.core.wordnet.hierarchy import Hierarchy
        wrong = ("--in-synset", args.in_synset) if args.method == "convis" else ("--synset", args.synset)
        if wrong[1]:
            raise ConceptError(f"{wrong[0]} does not apply to --method {args.method}; use "
                               f"{'--synset' if args.method == 'convis' else '--in-synset'}")
        hierarchy = Hierarchy()
        set_name = args.concept_set or evaluate_convis.default_concept_set_name(args.dataset)
        concept_set = load_concept_set(hierarchy, set_name)
        plan = evaluate_convis.plan_convis_eval(args.dataset, args.method, hierarchy, concept_set,
                                                args.synset if args.method == "convis" else args.in_synset,
                                                args.in_class, args.limit)
    engines = engines_for(args.model, args.pretrained, poolings_arg(args), shard.device, args.dtype, args.activation)
    if shard.leader:
        say_activation(e.handle for e in engines.values())

    def progress(n):
        if args.verbose and shard.leader:
            print(f"  {n} images", file=sys.stderr, flush=True)

    if plan is not None:
        # ConVis encodes with the model's own pooling: one row per distinct model, labelled by pooling
        # only for the embedded family (one trained model per pooling), '-' otherwise.
        per_pooling = family.is_family(args.model) if args.model else family.family_available()
        handles = {}
        for pooling, engine in engines.items():
            if all(h is not engine.handle for h in handles.values()):
                handles[pooling if per_pooling else "-"] = engine.handle
        result = evaluate_convis.run_convis_eval(plan, handles, hierarchy, progress=progress, shard=shard)
        if not shard.leader:
            return 0
        print(f"{result['dataset']} - {result['method']} - {result['protocol']}")
        print(format_table(result["rows"], result["columns"]))
        if args.json:
            atomic_write_json(args.json, result, overwrite=args.overwrite)
        return 0
    steps = (args.faithfulness_steps or DEFAULT_STEPS) if args.faithfulness else None
    result = run_eval(args.dataset, args.method, engines, limit=args.limit, progress=progress,
                      method_options=options, faithfulness_steps=steps, shard=shard)
    if not shard.leader:
        return 0
    print(f"{result['dataset']} - {result['method']} - {result['protocol']}")
    faithfulness = ["deletion_auc", "insertion_auc"] if steps else []
    print(format_table(result["rows"], ["pooling", "model", "miou_fg", "theta_fg", "miou_mean", "msc",
                                        "pointing", "bg_preferred", *faithfulness, "zero_shot", "n"]))
    if args.json:
        atomic_write_json(args.json, result, overwrite=args.overwrite)
    return 0


def register(sub) -> None:
    from eclip_desktop.core.explain.methods import method_names

    p = sub.add_parser("eval", help="explainability metrics (mIoU, mSC, pointing) and zero-shot accuracy")
    p.add_argument("--dataset", required=True, help="shapes[:N[:SEED[:OBJECTS]]] (held-out seed 1000, 1-3 objects by default), "
                                                    "gen[:N[:SEED[:OBJECTS]]] (the generalisation suite: other "
                                                    "renderer and backgrounds, 96-320 px, JPEG; seed 2000), "
                                                    "gen2[:N[:SEED[:OBJECTS]]] (the second suite: hand-drawn "
                                                    "textured figures, photo-like backgrounds with non-class "
                                                    "distractors, occlusion, 80-400 px; seed 3000), "
                                                    "voc:DIR, coco:DIR; cub:DIR (convis), imagefolder:DIR (ood)")
    p.add_argument("--method", default="itsm", choices=method_names() + ["convis", "ood"],
                   help="convis: ConVis maps (shapes, cub); ood: OOD AUROC on an image folder (docs/CONVIS.md)")
    p.add_argument("--concept-set", default=None,
                   help="convis/ood: default, paper, all, shapes or a vocabulary file (default: shapes for Shapes "
                        "World, default otherwise)")
    p.add_argument("--synset", default=None, help="convis on cub: the concept to map (default bird.n.01)")
    p.add_argument("--in-synset", default=None, help="ood: the concept of the in-distribution class")
    p.add_argument("--in-class", action="append", default=None,
                   help="ood: an in-distribution class folder name (repeatable; default: the folder named "
                        "like --in-synset or its first lemma)")
    p.add_argument("--pooling", action="append", choices=pooling_choices(),
                   help="repeatable; with the embedded family each pooling is its own trained model")
    p.add_argument("--limit", type=int, default=None, help="use at most this many images (ood: per class folder)")
    p.add_argument("--faithfulness", action="store_true",
                   help="also deletion and insertion areas per row (RISE's causal metrics: the map's pixels removed "
                        "to the mean colour / put back into a blurred image, highest first; docs/METHODS.md)")
    p.add_argument("--faithfulness-steps", type=int, default=None, metavar="N",
                   help="with --faithfulness: pixels changed in N equal steps (default 32)")
    p.add_argument("--json", help="write the result table as JSON here")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    p.add_argument("-v", "--verbose", action="store_true")
    add_model_args(p, default_model=None)
    from eclip_desktop.core.explain.methods import METHODS
    for info in METHODS.values():
        info.add_arguments(p)
    p.set_defaults(func=cmd_eval)
