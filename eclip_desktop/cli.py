"""Command line over the core: `eclip-desktop` alone starts the GUI, subcommands do batch work."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from eclip_desktop import __version__

PROG = "eclip-desktop"


def _read_labels(path: str) -> list[str]:
    from eclip_desktop.core.errors import TextError
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TextError(f"cannot read labels file {path}: {exc.strerror if isinstance(exc, OSError) else exc}")
    labels = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not labels:
        raise TextError(f"labels file {path} has no labels (one text per line; '#' starts a comment)")
    return labels


def _add_model_args(p: argparse.ArgumentParser, default_model: str | None = None) -> None:
    p.add_argument("--model", default=default_model,
                   help="eclip-shapes (the embedded family, the default when installed) or an open_clip "
                        "architecture (see `models`)")
    p.add_argument("--pretrained", default=None,
                   help="weights: an open_clip tag (e.g. openai), a checkpoint file "
                        "(.safetensors/.bin/.pt), or 'random' for untrained weights")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--dtype", default="auto", choices=["auto", "fp32", "fp16", "bf16"])


def _spec(args):
    from eclip_desktop.core.models import ModelSpec
    return ModelSpec(args.model, args.pretrained, args.device, args.dtype)


def cmd_explain(args) -> int:
    from dataclasses import replace

    from eclip_desktop.core.errors import TextError
    from eclip_desktop.core.explain import ExplainRequest, check_targets, run_explain
    from eclip_desktop.core.family import engines_for
    from eclip_desktop.core.imageio import load_image
    from eclip_desktop.core.atomic import ensure_writable_dir

    texts = list(args.text or [])
    if args.labels_file:
        texts += _read_labels(args.labels_file)
    if not texts:
        raise TextError("no text given: pass --text 'a photo of a cat' (repeatable) or --labels-file FILE")
    for t in texts:
        if not t.strip():
            raise TextError("empty prompt: type what to look for, e.g. --text 'a photo of a cat'")
    options = {}
    if args.method == "surgery":
        options = {"vv": not args.no_vv, "feature": not args.no_feature_surgery}
    # Cheap checks first so a bad path fails before a model loads.
    ensure_writable_dir(args.out)
    for p in args.images:
        load_image(p)
    poolings = _poolings(args)
    engines = engines_for(args.model, args.pretrained, poolings, args.device, args.dtype)
    req = ExplainRequest(images=args.images, texts=texts, out_dir=args.out, method=args.method,
                         poolings=poolings, ensemble=args.ensemble, input_size=args.input_size,
                         tau=args.tau, cmap=args.colormap, alpha=args.alpha, overwrite=args.overwrite,
                         method_options=options)
    check_targets(req)  # all poolings, before the first write
    many = len(args.images) > 1

    def progress(i, n, msg):
        if many or args.verbose:
            print(f"[{i}/{n}] {msg}", file=sys.stderr, flush=True)

    records = []
    groups: dict[int, list[str]] = {}
    for p, engine in engines.items():
        groups.setdefault(id(engine), []).append(p)
    for group in groups.values():
        records += run_explain(engines[group[0]], replace(req, poolings=group), progress=progress)
    print(f"wrote {len(records)} maps (png + npy + json each) to {args.out}", file=sys.stderr)
    return 0


def cmd_eval(args) -> int:
    from eclip_desktop.core.atomic import atomic_write_json, ensure_writable_dir
    from eclip_desktop.core.datasets import parse_dataset_arg
    from eclip_desktop.core.errors import DatasetError
    from eclip_desktop.core.evaluate import run_eval
    from eclip_desktop.core.family import engines_for
    from eclip_desktop.core.metrics import format_table

    if args.json:
        ensure_writable_dir(Path(args.json).resolve().parent)
    from eclip_desktop.core.datasets import SYNTHETIC_KINDS
    kind, where = parse_dataset_arg(args.dataset)  # a bad dataset fails before a model loads
    if kind == "gen" and args.method in ("convis", "ood"):
        raise DatasetError(f"--method {args.method} does not run on the generalisation suite; use shapes, cub "
                           "or imagefolder datasets (see docs/CONVIS.md)")
    if kind not in SYNTHETIC_KINDS and not Path(where).exists():
        raise DatasetError(f"dataset {where} does not exist")
    plan = None
    if args.method in ("convis", "ood"):
        # ConVis rows map WordNet concepts, not prompts: the concept set, the synset and the dataset's
        # files are all checked here, before a model loads.
        from eclip_desktop.core import evaluate_convis, family
        from eclip_desktop.core.errors import ConceptError
        from eclip_desktop.core.wordnet.hierarchy import Hierarchy
        wrong = ("--in-synset", args.in_synset) if args.method == "convis" else ("--synset", args.synset)
        if wrong[1]:
            raise ConceptError(f"{wrong[0]} does not apply to --method {args.method}; use "
                               f"{'--synset' if args.method == 'convis' else '--in-synset'}")
        hierarchy = Hierarchy()
        set_name = args.concept_set or evaluate_convis.default_concept_set_name(args.dataset)
        concept_set = _concept_set(hierarchy, set_name)
        plan = evaluate_convis.plan_convis_eval(args.dataset, args.method, hierarchy, concept_set,
                                                args.synset if args.method == "convis" else args.in_synset,
                                                args.in_class, args.limit)
    engines = engines_for(args.model, args.pretrained, _poolings(args), args.device, args.dtype)

    def progress(n):
        if args.verbose:
            print(f"  {n} images", file=sys.stderr, flush=True)

    if plan is not None:
        # ConVis encodes with the model's own pooling: one row per distinct model, labelled by pooling
        # only for the embedded family (one trained model per pooling), '-' otherwise.
        per_pooling = family.is_family(args.model) if args.model else family.family_available()
        handles = {}
        for pooling, engine in engines.items():
            if all(h is not engine.handle for h in handles.values()):
                handles[pooling if per_pooling else "-"] = engine.handle
        result = evaluate_convis.run_convis_eval(plan, handles, hierarchy, progress=progress)
        print(f"{result['dataset']} - {result['method']} - {result['protocol']}")
        print(format_table(result["rows"], result["columns"]))
        if args.json:
            atomic_write_json(args.json, result, overwrite=True)
        return 0
    result = run_eval(args.dataset, args.method, engines, limit=args.limit, progress=progress)
    print(f"{result['dataset']} - {result['method']} - {result['protocol']}")
    print(format_table(result["rows"], ["pooling", "model", "miou_fg", "theta_fg", "miou_mean", "msc",
                                        "pointing", "bg_preferred", "zero_shot", "n"]))
    if args.json:
        atomic_write_json(args.json, result, overwrite=True)
    return 0


def cmd_models(args) -> int:
    from eclip_desktop.core import family
    from eclip_desktop.core.models import is_tag_cached, list_architectures, list_pretrained_tags
    rows = []
    # The embedded families first: they are what works offline, and --model takes their names.
    for name in family.embedded_families():
        if args.filter and args.filter.lower() not in name.lower():
            continue
        poolings, architecture = family.available_poolings(name), family.family_architecture(name)
        rows.append({"model": name, "tags": [], "cached": [], "family": True, "poolings": poolings,
                     "architecture": architecture})
        if not args.json:
            print(f"{name}: embedded family of {architecture}, one model per pooling ({', '.join(poolings)})")
    for arch in list_architectures():
        if args.filter and args.filter.lower() not in arch.lower():
            continue
        tags = list_pretrained_tags(arch)
        marks = [f"{t}{' (cached)' if is_tag_cached(arch, t) else ''}" for t in tags]
        rows.append({"model": arch, "tags": tags, "cached": [is_tag_cached(arch, t) for t in tags]})
        if not args.json:
            print(f"{arch}: {', '.join(marks) if marks else '(no published weights; use a checkpoint or random)'}")
    if args.json:
        print(json.dumps(rows, indent=2))
    return 0


def cmd_bench(args) -> int:
    from eclip_desktop.core.bench import run_bench
    result = run_bench(_spec(args), repeats=args.repeats, input_size=args.input_size)
    print(json.dumps(result, indent=2) if args.json else result["table"])
    if args.out:
        from eclip_desktop.core.atomic import atomic_write_json
        atomic_write_json(args.out, result, overwrite=True)
    return 0


def cmd_train(args) -> int:
    from eclip_desktop.core.errors import EclipError
    from eclip_desktop.core.poolings import pooling_names
    from eclip_desktop.core.training.trainer import process_group
    # --pooling all trains one model per pooling into --out: a family folder, --model DIR elsewhere.
    poolings = pooling_names() if args.pooling == "all" else [args.pooling]
    if args.base_steps is not None and args.guide:
        raise EclipError("--guide applies to one masked-max fine-tune; a family's masked-max sibling is guided by "
                         "its base")
    family_flags = [f for f, v in (("--finetune-steps", args.finetune_steps), ("--overwrite", args.overwrite),
                                   ("--base-pooling", args.base_pooling)) if v]
    if args.base_steps is None and family_flags:
        raise EclipError(f"{family_flags[0]} belongs to a family run: add --base-steps N (the base's length)")
    if args.base_steps is not None:
        if args.steps is not None:
            raise EclipError("--steps sets one run's length; a family run takes --base-steps and --finetune-steps")
        return _train_family(args, poolings)
    if len(poolings) > 1 and args.name:
        raise EclipError("--name names one model; with --pooling all each model is named after its pooling")
    tty = sys.stderr.isatty()

    def progress(info):
        eta = info["s_per_step"] * (info["steps"] - info["step"])
        line = (f"step {info['step']}/{info['steps']}  loss {info['loss']:.3f}  batch acc {info['acc']:.2f}  "
                f"lr {info['lr']:.1e}  {info['s_per_step']:.2f} s/step  eta {eta / 60:.1f} min"
                + (f"  zero-shot {info['zero_shot']:.2f}" if "zero_shot" in info else ""))
        if tty:
            print("\r" + line, end="", file=sys.stderr, flush=True)
        elif info["step"] % 100 == 0 or info["step"] in (1, info["steps"]) or "zero_shot" in info:
            print(line, file=sys.stderr, flush=True)

    with process_group():
        for i, pooling in enumerate(poolings):
            _train_one(args, pooling, i, len(poolings), progress, tty)
    return 0


def _family_command(args) -> str:
    """The command that makes (or, with --resume, continues) this family, every value spelled out."""
    import shlex
    parts = ["eclip-desktop", "train", "--pooling", args.pooling, "--model", args.model,
             "--base-pooling", args.base_pooling or "native", "--base-steps", str(args.base_steps)]
    for flag, value in (("--init", args.init), ("--scenes", args.scenes), ("--objects", args.objects),
                        ("--captions", args.captions), ("--batch-size", args.batch_size), ("--lr", args.lr),
                        ("--warmup", args.warmup), ("--schedule", args.schedule), ("--seed", args.seed),
                        ("--data-seed", args.data_seed), ("--tau", args.tau),
                        ("--finetune-steps", args.finetune_steps or FINETUNE_DEFAULTS["steps"]),
                        ("--finetune-lr", args.finetune_lr), ("--finetune-batch-size", args.finetune_batch_size),
                        ("--finetune-scenes", args.finetune_scenes), ("--finetune-objects", args.finetune_objects),
                        ("--finetune-warmup", args.finetune_warmup), ("--unlock-blocks", args.unlock_blocks),
                        ("--eval-every", args.eval_every), ("--checkpoint-every", args.checkpoint_every)):
        if value is not None:
            parts += [flag, str(value)]
    if args.allow_untrained_guide:
        parts.append("--allow-untrained-guide")
    return " ".join(shlex.quote(p) for p in parts + ["--out", args.out])


FINETUNE_DEFAULTS = {"steps": 400, "lr": 5e-4, "batch_size": 64, "scenes": 8000, "objects": "1-3", "warmup": 20}


def _train_family(args, poolings: list[str]) -> int:
    from eclip_desktop.core.training.family_run import plan_family, run_family
    from eclip_desktop.core.training.trainer import TrainConfig, process_group
    base_pooling = args.base_pooling or "native"
    init = args.init
    if init and Path(init).is_dir():
        init = str(Path(init) / f"{base_pooling}.safetensors")
    base = TrainConfig(pooling=base_pooling, architecture=args.model, init=init, data=args.data,
                       scenes=args.scenes, steps=args.base_steps, batch_size=args.batch_size, lr=args.lr,
                       tau=args.tau, seed=args.seed, data_seed=args.data_seed, device=args.device,
                       amp=not args.no_amp, out=args.out, name=args.name, checkpoint_every=args.checkpoint_every,
                       eval_every=args.eval_every, captions=args.captions, objects=args.objects,
                       schedule=args.schedule, warmup=args.warmup, allow_untrained_guide=args.allow_untrained_guide)
    finetune = {"steps": args.finetune_steps or FINETUNE_DEFAULTS["steps"], "lr": args.finetune_lr,
                "batch_size": args.finetune_batch_size, "scenes": args.finetune_scenes,
                "objects": args.finetune_objects, "warmup": args.finetune_warmup, "unlock_blocks": args.unlock_blocks}
    plan = plan_family(base, poolings, finetune, _family_command(args))
    tty = sys.stderr.isatty()

    def progress(info):
        if info["step"] % 100 == 0 or info["step"] in (1, info["steps"]) or "zero_shot" in info:
            print(f"step {info['step']}/{info['steps']}  loss {info['loss']:.3f}  {info['s_per_step']:.2f} s/step"
                  + (f"  zero-shot {info['zero_shot']:.2f}" if "zero_shot" in info else ""),
                  file=sys.stderr, flush=True)

    with process_group():
        cards = run_family(plan, resume=args.resume, overwrite=args.overwrite, progress=progress,
                           log=lambda line: print(line, file=sys.stderr, flush=True))
    del tty
    print(f"wrote the family ({', '.join(c['pooling'] for c in cards)}) to {args.out}, its base to "
          f"{Path(args.out) / 'base'}", file=sys.stderr)
    return 0


def _train_one(args, pooling: str, i: int, n: int, progress, tty: bool) -> None:
    from eclip_desktop.core.training import recipe
    from eclip_desktop.core.training.trainer import TrainConfig, train
    init = args.init
    if init and Path(init).is_dir():  # a family folder: start each pooling from its own sibling
        init = str(Path(init) / f"{pooling}.safetensors")
    cfg = TrainConfig(pooling=pooling, architecture=args.model, pretrained=args.pretrained, init=init,
                      data=args.data,
                      scenes=args.scenes, steps=args.steps if args.steps is not None else recipe.STEPS,
                      batch_size=args.batch_size, lr=args.lr, allow_untrained_guide=args.allow_untrained_guide,
                      guide=args.guide,
                      tau=args.tau, seed=args.seed, data_seed=args.data_seed, unlock_blocks=args.unlock_blocks,
                      device=args.device, amp=not args.no_amp, out=args.out, name=args.name,
                      checkpoint_every=args.checkpoint_every, resume=args.resume,
                      eval_every=args.eval_every, captions=args.captions, objects=args.objects,
                      schedule=args.schedule, warmup=args.warmup)
    if n > 1 and int(os.environ.get("RANK", "0")) == 0:
        print(f"training {pooling} ({i + 1}/{n})", file=sys.stderr, flush=True)
    card = train(cfg, progress=progress)
    if int(os.environ.get("RANK", "0")) != 0:
        return  # under torchrun only rank 0 writes the weights (and reports progress)
    if tty:
        print(file=sys.stderr)
    print(f"wrote {Path(args.out) / card['weights']} and its model card "
          f"({card['wall_seconds'] / 60:.1f} min, final loss {card['final_loss']:.3f})", file=sys.stderr)


def _poolings(args) -> list[str]:
    """--pooling as given (default native); with a family, 'all' means every sibling it has, and a
    family without a native sibling starts from its default one."""
    from eclip_desktop.core import family
    from eclip_desktop.core.poolings import expand_poolings
    name = args.model if args.model is not None else (family.FAMILY if family.family_available() else None)
    have = family.available_poolings(name) if name is not None and family.is_family(name) else None
    asked = list(args.pooling or [])
    if not asked:
        asked = ["native" if have is None or "native" in have else family.default_pooling(name)]
    if have is not None and "all" in asked:
        asked = [p for p in asked if p != "all"] + have
    return expand_poolings(asked)


def _convis_spec(args):
    """The model `concepts` runs: as `explain` picks it (the embedded family's default sibling if installed)."""
    from eclip_desktop.core import family
    from eclip_desktop.core.models import ModelSpec
    model = args.model
    if model is None:
        if family.family_available():
            return family.default_spec(args.device)
        model = "ViT-B-16"
    if family.is_family(model):
        return family.default_spec(args.device, name=model)
    return ModelSpec(model, args.pretrained, args.device, args.dtype)


def _concept_set(hierarchy, spec: str):
    from eclip_desktop.core.convis.sets import concept_set_by_name
    cs = concept_set_by_name(hierarchy, spec)
    for number, text, reason in cs.rejected:
        print(f"{PROG}: warning: {spec} line {number}: skipped '{text}': {reason}", file=sys.stderr)
    return cs


def cmd_concepts(args) -> int:
    import time

    from eclip_desktop.core.atomic import ensure_writable_dir
    from eclip_desktop.core.convis.report import ConceptsRequest, plan_concepts, run_concepts
    from eclip_desktop.core.convis.sets import resolve_in_set
    from eclip_desktop.core.errors import ConceptError
    from eclip_desktop.core.imageio import load_image
    from eclip_desktop.core.models import load_model
    from eclip_desktop.core.wordnet.hierarchy import Hierarchy

    if args.top < 0:
        raise ConceptError("--top must be 0 or more")
    # Every check that needs no model comes first, and all of them before the first file.
    out = ensure_writable_dir(args.out)
    images = [load_image(p) for p in args.images]
    t0 = time.perf_counter()
    hierarchy = Hierarchy()
    concept_set = _concept_set(hierarchy, args.concept_set)
    synsets = resolve_in_set(hierarchy, args.synset, concept_set, args.concept_set)
    req = ConceptsRequest(images=args.images, synsets=synsets, out_dir=str(out),
                          concept_set_spec=args.concept_set, top_k=args.top, seed=args.seed, mode=args.mode,
                          cmap=args.colormap, alpha=args.alpha, overwrite=args.overwrite)
    plan_concepts(req, images)  # refuses existing outputs before the model loads
    setup = time.perf_counter() - t0
    handle = load_model(_convis_spec(args))

    def progress(done, total, what):
        if args.verbose:
            print(f"  {what}: {done}/{total}", file=sys.stderr, flush=True)

    records = run_concepts(handle, hierarchy, concept_set, req, images, progress=progress,
                           extra_timings={"wordnet_and_set": setup})
    print(f"wrote {len(records)} concept maps (png + npy + json each) to {args.out}", file=sys.stderr)
    return 0


def _export_synsets(args):
    """Resolves --synset up front (before any model loads); returns (hierarchy, concept set, names)."""
    if not args.synset:
        return None, None, []
    from eclip_desktop.core.convis.sets import resolve_in_set
    from eclip_desktop.core.wordnet.hierarchy import Hierarchy
    hierarchy = Hierarchy()
    concept_set = _concept_set(hierarchy, args.concept_set)
    return hierarchy, concept_set, resolve_in_set(hierarchy, args.synset, concept_set, args.concept_set)


def cmd_export(args) -> int:
    import signal
    import threading

    from eclip_desktop.core.atomic import ensure_writable_dir
    from eclip_desktop.core.batch_export import ExportRequest, run_export
    from eclip_desktop.core.errors import TextError
    from eclip_desktop.core.export_inputs import collect_images
    from eclip_desktop.core.family import engines_for, is_family

    if args.top < 0:
        from eclip_desktop.core.errors import ConceptError
        raise ConceptError("--top must be 0 or more")
    from eclip_desktop.core.errors import OutputError
    from eclip_desktop.core.figure_panel import parse_contour
    try:
        parse_contour(args.contour)
    except ValueError as exc:
        raise OutputError(str(exc)) from None
    if not 0 <= args.width <= 16384:
        raise OutputError(f"--width must be 0 (the image's own) to 16384 px, got {args.width}")
    images = collect_images(args.images)
    texts = list(args.text or []) + (_read_labels(args.labels_file) if args.labels_file else [])
    if any(not t.strip() for t in texts):
        raise TextError("empty prompt: type what to look for, e.g. --text 'a photo of a cat'")
    hierarchy, concept_set, synsets = _export_synsets(args)
    if not texts and not synsets:
        raise TextError("nothing to export: pass --text/--labels-file for CLIP maps and/or --synset for ConVis")
    if set(args.grid or []) - {"concept"} and not texts:
        raise TextError("--grid pooling/method/prompt compares CLIP maps: pass --text or --labels-file too")
    if "concept" in (args.grid or []) and not synsets:
        raise TextError("--grid concept compares ConVis maps: pass --synset too")
    ensure_writable_dir(args.out)  # a read-only target fails before a model loads
    poolings = _poolings(args)
    methods = list(dict.fromkeys(args.method or ["itsm"]))
    surgery = {"vv": not args.no_vv, "feature": not args.no_feature_surgery}
    req = ExportRequest(images=images, out_dir=args.out, texts=texts, synsets=synsets, methods=methods,
                        poolings=poolings, figure_format=args.format, raw=list(dict.fromkeys(args.raw or ["npy"])),
                        overwrite=args.overwrite, ensemble=args.ensemble, input_size=args.input_size,
                        tau=args.tau, cmap=args.colormap, alpha=args.alpha, method_options={"surgery": surgery},
                        grids=list(dict.fromkeys(args.grid or [])), contour=args.contour, layout=args.layout,
                        width=args.width)
    engines = engines_for(args.model, args.pretrained, poolings, args.device, args.dtype)

    def concepts():
        from eclip_desktop.core.convis.report import ConceptsRequest, prepare_concepts
        from eclip_desktop.core.models import load_model
        handle = (load_model(_convis_spec(args)) if args.model is None or is_family(args.model)
                  else engines[poolings[0]].handle)  # a single model is shared with the CLIP maps
        creq = ConceptsRequest(images=images, synsets=synsets, out_dir=args.out, concept_set_spec=args.concept_set,
                               top_k=args.top, seed=args.convis_seed, mode=args.convis_mode,
                               cmap=args.colormap, alpha=args.alpha, overwrite=args.overwrite)
        return prepare_concepts(handle, hierarchy, concept_set, creq)

    def progress(info):
        left = info["eta_s"]
        eta = ("" if left is None else f", about {left:.0f} s left" if left < 90 else
               f", about {left / 60:.1f} min left")
        print(f"[{info['done']}/{info['total']}] {info['image']}: {info['written']} written, {info['skipped']} "
              f"skipped, {info['failed']} failed ({info['seconds']:.1f} s{eta})", file=sys.stderr, flush=True)

    # First Ctrl+C: finish the current image, write the index, stop; a second one stops at once.
    stop = threading.Event()

    def on_sigint(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print(f"{PROG}: stopping after this image (Ctrl+C again to stop now)", file=sys.stderr, flush=True)

    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, on_sigint) if main_thread else None
    try:
        result = run_export(engines, req, concepts=concepts if synsets else None, progress=progress,
                            cancelled=stop.is_set)
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, previous)
    ok, skipped, failed = result.count("ok"), result.count("skipped"), result.count("failed")
    print(f"{ok} maps written, {skipped} skipped (already complete), {failed} failed; index: "
          f"{Path(args.out) / 'index.csv'} ({result.seconds:.1f} s)", file=sys.stderr)
    if result.cancelled:
        print(f"{PROG}: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    if failed:
        print(f"{PROG}: error: {failed} map(s) failed; see the error column of the index", file=sys.stderr)
        return 1
    return 0


def cmd_reproduce(args) -> int:
    from eclip_desktop.core.reproduce import TOLERANCE, reproduce_check
    values, diff, npy = reproduce_check(args.sidecar, device=args.device)
    print(f"recomputed {values.shape[1]}x{values.shape[0]} map; max |difference| to {npy}: {diff:.3g}")
    if args.check and not diff <= TOLERANCE:  # 'not <=' so a NaN difference fails too
        print(f"{PROG}: error: the map differs from {npy} by {diff:.3g} (more than {TOLERANCE:g})", file=sys.stderr)
        return 1
    return 0


def cmd_wordnet(args) -> int:
    from eclip_desktop.core.wordnet.hierarchy import Hierarchy
    hierarchy = Hierarchy()
    cs = _concept_set(hierarchy, args.concept_set) if args.concept_set else None
    rows = []
    for name in hierarchy.search(args.query, limit=args.limit, concept_set=cs):
        info = hierarchy.details(name, cs)
        rows.append({"synset": name, "gloss": info.gloss, "lemmas": info.lemmas, "lexname": info.lexname,
                     "hypernym_paths": info.hypernym_paths, "hyponyms": info.n_hyponyms,
                     "subtree_size": info.subtree_size})
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    if not rows:
        where = f" in the concept set '{cs.name}'" if cs else ""
        print(f"no noun synset matches '{args.query}'{where}", file=sys.stderr)
        return 1
    for r in rows:
        print(f"{r['synset']}  [{', '.join(r['lemmas'])}]  ({r['lexname']})")
        print(f"    {r['gloss']}")
        for path in r["hypernym_paths"]:
            print(f"    < {' > '.join(path)}")
        scope = f" in {cs.name}" if cs else ""
        print(f"    {r['hyponyms']} direct hyponyms, subtree of {r['subtree_size']}{scope}")
    return 0


def cmd_gui(args) -> int:
    from eclip_desktop.app import run
    return run(images=getattr(args, "images", None) or [], model=getattr(args, "model", None),
               pretrained=getattr(args, "pretrained", None), device=getattr(args, "device", "auto"),
               texts=getattr(args, "text", None))


def build_parser() -> argparse.ArgumentParser:
    from eclip_desktop.core.methods import method_names
    from eclip_desktop.core.poolings import TAU_CHOICES, pooling_names
    from eclip_desktop.core.render import colormap_names
    from eclip_desktop.core.training import recipe

    parser = argparse.ArgumentParser(prog=PROG, description="See why a CLIP model matches an image with a text.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("explain", help="heatmaps of image-text similarity (ITSM, CLIP Surgery) per pooling")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--text", action="append", help="a prompt; repeat for a label set")
    p.add_argument("--labels-file", help="a file of prompts, one per line")
    p.add_argument("--method", default="itsm", choices=method_names())
    p.add_argument("--pooling", action="append", choices=pooling_names() + ["all"],
                   help="pooling readout(s) for scores and contribution maps (repeatable; default native)")
    p.add_argument("--ensemble", action="store_true", help="encode each text with the prompt ensemble")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--input-size", type=int, default=None,
                   help="square input size for the image encoder (default: the model's; larger = finer map)")
    p.add_argument("--tau", default="mean", choices=TAU_CHOICES, help="free-attention mask threshold")
    p.add_argument("--colormap", default="jet", choices=colormap_names())
    p.add_argument("--alpha", type=float, default=0.5, help="overlay opacity 0..1")
    p.add_argument("--no-vv", action="store_true", help="surgery: skip the v-v attention path")
    p.add_argument("--no-feature-surgery", action="store_true", help="surgery: skip feature surgery")
    p.add_argument("-v", "--verbose", action="store_true")
    _add_model_args(p)
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("eval", help="explainability metrics (mIoU, mSC, pointing) and zero-shot accuracy")
    p.add_argument("--dataset", required=True, help="shapes[:N[:SEED[:OBJECTS]]] (held-out seed 1000, 1-3 objects by default), "
                                                    "gen[:N[:SEED[:OBJECTS]]] (the generalisation suite: other "
                                                    "renderer and backgrounds, 96-320 px, JPEG; seed 2000), "
                                                    "voc:DIR, coco:DIR; cub:DIR (convis), imagefolder:DIR (ood)")
    p.add_argument("--method", default="itsm", choices=method_names() + ["convis", "ood"],
                   help="convis: ConVis maps (shapes, cub); ood: OOD AUROC on an image folder (docs/CONVIS.md)")
    p.add_argument("--concept-set", default=None,
                   help="convis/ood: default, all, shapes or a vocabulary file (default: shapes for Shapes "
                        "World, default otherwise)")
    p.add_argument("--synset", default=None, help="convis on cub: the concept to map (default bird.n.01)")
    p.add_argument("--in-synset", default=None, help="ood: the concept of the in-distribution class")
    p.add_argument("--in-class", action="append", default=None,
                   help="ood: an in-distribution class folder name (repeatable; default: the folder named "
                        "like --in-synset or its first lemma)")
    p.add_argument("--pooling", action="append", choices=pooling_names() + ["all"],
                   help="repeatable; with the embedded family each pooling is its own trained model")
    p.add_argument("--limit", type=int, default=None, help="use at most this many images (ood: per class folder)")
    p.add_argument("--json", help="write the result table as JSON here")
    p.add_argument("-v", "--verbose", action="store_true")
    _add_model_args(p, default_model=None)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("models", help="list open_clip architectures and pretrained tags (cached or not)")
    p.add_argument("--filter", default="")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("bench", help="speed of the encoder, the first map and a switch of text")
    _add_model_args(p, default_model="ViT-B-16")
    p.set_defaults(pretrained="random")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--input-size", type=int, default=None)
    p.add_argument("--json", action="store_true")
    p.add_argument("--out", help="also write the result as JSON here")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("train", help="train a small CLIP on Shapes World, or fine-tune one, with a pooling")
    p.add_argument("--pooling", required=True, choices=pooling_names() + ["all"],
                   help="the pooling to train with; all: one model per pooling into --out (a family folder)")
    p.add_argument("--model", default=recipe.ARCHITECTURE, help="architecture (project configs or open_clip)")
    p.add_argument("--pretrained", default=None, help="fine-tune these weights (tag or file); default: from scratch")
    p.add_argument("--init", default=None,
                   help="start a from-scratch run from these weights (.safetensors or checkpoint) of the same "
                        "architecture family at any input size; positional embeddings are resized, everything trains; "
                        "a folder: its <pooling>.safetensors")
    p.add_argument("--data", default="shapes", help="'shapes' or an image+caption folder / CSV / JSONL manifest")
    p.add_argument("--scenes", type=int, default=recipe.SCENES, help="Shapes World training scenes")
    p.add_argument("--captions", default=recipe.CAPTIONS,
                   help="Shapes World caption kinds: all, a comma list of template, short, name, gloss, "
                        "hypernym_gloss, or weighted as template:0.3,name:0.4 (default: the family's mix)")
    p.add_argument("--objects", default=recipe.OBJECTS, help="Shapes World objects per training scene: N or MIN-MAX")
    p.add_argument("--schedule", default="cosine", choices=["cosine", "constant"],
                   help="learning rate after warmup")
    p.add_argument("--warmup", type=int, default=100, help="linear warmup steps")
    p.add_argument("--steps", type=int, default=None, help=f"training steps (default {recipe.STEPS})")
    p.add_argument("--batch-size", type=int, default=recipe.BATCH_SIZE)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--tau", default="mean", choices=TAU_CHOICES)
    p.add_argument("--seed", type=int, default=0, help="weights and batch order")
    p.add_argument("--data-seed", type=int, default=0, help="which Shapes World scenes")
    p.add_argument("--unlock-blocks", type=int, default=1, help="fine-tuning: last visual blocks to train")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--no-amp", action="store_true", help="no bf16 autocast on CUDA")
    p.add_argument("--out", required=True, help="directory for <name>.safetensors and <name>.json")
    p.add_argument("--name", default=None, help="file name stem (default: the pooling)")
    p.add_argument("--checkpoint-every", type=int, default=250)
    p.add_argument("--eval-every", type=int, default=0, help="zero-shot probe on held-out scenes every N steps")
    p.add_argument("--resume", action="store_true",
                   help="continue from <out>/<name>.ckpt.pt; with --base-steps: continue whichever stage of the "
                        "family was interrupted and skip the finished ones")
    p.add_argument("--allow-untrained-guide", action="store_true",
                   help="fine-tune masked max from weights not trained with native pooling (their class token / "
                        "attention pool is untrained, so the free attention that guides the mask is noise)")
    p.add_argument("--guide", default=None,
                   help="masked-max fine-tune: take the free attention from these weights (a frozen copy) instead "
                        "of --pretrained's, e.g. the family's base when fine-tuning a shifted sibling")
    g = p.add_argument_group("a family in one command (a long base, then every pooling fine-tuned from it)")
    g.add_argument("--base-steps", type=int, default=None,
                   help="train a family: the base runs this many steps with --base-pooling (from scratch, or from "
                        "--init), using --scenes/--batch-size/--lr/--warmup/--objects; written to <out>/base")
    g.add_argument("--base-pooling", default=None, choices=pooling_names(),
                   help="the base's pooling (default native: its class token / attention pool is then trained and "
                        "can guide masked max)")
    g.add_argument("--finetune-steps", type=int, default=None,
                   help=f"each sibling: steps of fine-tuning the base with its pooling (default "
                        f"{400}; text tower frozen, last --unlock-blocks visual blocks trained)")
    g.add_argument("--finetune-lr", type=float, default=5e-4)
    g.add_argument("--finetune-batch-size", type=int, default=64)
    g.add_argument("--finetune-scenes", type=int, default=8000, help="Shapes World scenes for the fine-tunes")
    g.add_argument("--finetune-objects", default="1-3", help="objects per fine-tune scene: N or MIN-MAX")
    g.add_argument("--finetune-warmup", type=int, default=20)
    g.add_argument("--overwrite", action="store_true", help="a family run: replace existing outputs")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("concepts", help="ConVis: where an image shows a WordNet concept (maps per synset)")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--synset", action="append", required=True,
                   help="a noun synset (dog.n.01) or a word (its first sense); repeatable")
    p.add_argument("--concept-set", default="default",
                   help="default (derived everyday nouns), all (every noun), shapes, or a file of words/synsets")
    p.add_argument("--top", type=int, default=10, help="concepts listed in each sidecar")
    p.add_argument("--seed", type=int, default=0, help="the noise border's seed")
    p.add_argument("--mode", default="grid", choices=["grid", "stochastic"])
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--colormap", default="jet", choices=colormap_names())
    p.add_argument("--alpha", type=float, default=0.5, help="overlay opacity 0..1")
    p.add_argument("-v", "--verbose", action="store_true")
    _add_model_args(p)
    p.set_defaults(func=cmd_concepts)

    p = sub.add_parser("export", help="batch export: images x texts x poolings x methods (and synsets), "
                                      "resumable, with an index")
    p.add_argument("--images", action="append", required=True,
                   help="a folder, a glob (quote it), an image, or a text file of image paths; repeatable")
    p.add_argument("--text", action="append", help="a prompt; repeat for a label set")
    p.add_argument("--labels-file", help="a file of prompts, one per line")
    p.add_argument("--synset", action="append", help="ConVis concept maps for this synset or word; repeatable")
    p.add_argument("--concept-set", default="default", help="default, all, shapes, or a file of words/synsets")
    p.add_argument("--top", type=int, default=10, help="ConVis: concepts listed in each sidecar")
    p.add_argument("--convis-mode", default="grid", choices=["grid", "stochastic"],
                   help="ConVis windows: the paper's grid, or its stochastic variant")
    p.add_argument("--convis-seed", type=int, default=0, help="ConVis: the noise border's seed")
    p.add_argument("--method", action="append", choices=method_names(), help="repeatable; default itsm")
    p.add_argument("--pooling", action="append", choices=pooling_names() + ["all"],
                   help="repeatable; default native")
    p.add_argument("--out", required=True, help="output directory (index.csv and index.json go here too)")
    p.add_argument("--overwrite", action="store_true", help="recompute and replace existing outputs")
    p.add_argument("--format", default="png", choices=["png", "jpeg", "tiff", "svg"],
                   help="annotated figure format (svg: vector title and colorbar, the overlay embedded as PNG)")
    p.add_argument("--grid", action="append", choices=["pooling", "method", "prompt", "concept"],
                   help="also write <stem>__grid-KIND.png per image: one tile per pooling / method / prompt "
                        "(first text, method and pooling held fixed) or per --synset (concept); repeatable")
    p.add_argument("--contour", default="none",
                   help="outline where the map passes a threshold: none, otsu, fixed:LEVEL (0..1) or "
                        "percentile:P (0..100)")
    p.add_argument("--layout", default="overlay", choices=["overlay", "side"],
                   help="figure: the overlay alone, or the image and the overlay side by side")
    p.add_argument("--width", type=int, default=0, help="figure: width of the image panel(s) in px (0: the image's)")
    p.add_argument("--raw", action="append", choices=["npy", "png16", "tiff16"],
                   help="raw map files besides the float32 .npy (always written): 16-bit PNG/TIFF; repeatable")
    p.add_argument("--ensemble", action="store_true", help="encode each text with the prompt ensemble")
    p.add_argument("--input-size", type=int, default=None, help="square encoder input size")
    p.add_argument("--tau", default="mean", choices=TAU_CHOICES, help="free-attention mask threshold")
    p.add_argument("--colormap", default="jet", choices=colormap_names())
    p.add_argument("--alpha", type=float, default=0.5, help="overlay opacity 0..1")
    p.add_argument("--no-vv", action="store_true", help="surgery: skip the v-v attention path")
    p.add_argument("--no-feature-surgery", action="store_true", help="surgery: skip feature surgery")
    _add_model_args(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("reproduce", help="recompute a map from its JSON sidecar and compare it with the saved .npy")
    p.add_argument("sidecar", metavar="SIDECAR.json")
    p.add_argument("--check", action="store_true", help="exit 1 if the maps differ by more than 1e-4")
    p.add_argument("--device", default=None, choices=["auto", "cpu", "cuda", "mps"],
                   help="default: the sidecar's device when available here, else auto")
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser("wordnet", help="look up WordNet noun synsets: gloss, lemmas, hypernym paths")
    p.add_argument("query", help="a word, part of a word, or a synset name")
    p.add_argument("--limit", type=int, default=10)
    p.add_argument("--concept-set", default=None, help="search only inside default, all, shapes or a FILE")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_wordnet)

    p = sub.add_parser("gui", help="start the desktop application (the default without a subcommand)")
    p.add_argument("images", nargs="*", metavar="IMAGE", help="images (or folders) to open")
    p.add_argument("--text", action="append", help="a prompt; repeat for a label set")
    p.add_argument("--model", default=None,
                   help="open_clip architecture or eclip-shapes (default: the embedded family if installed)")
    p.add_argument("--pretrained", default=None, help="weights: tag, checkpoint file, or 'random'")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    p.set_defaults(func=cmd_gui)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        return cmd_gui(args)
    if getattr(args, "alpha", 0.5) is not None and not 0.0 <= getattr(args, "alpha", 0.5) <= 1.0:
        parser.error("--alpha must be between 0 and 1")
    if getattr(args, "input_size", None) is not None and not 32 <= args.input_size <= 2048:
        parser.error("--input-size must be between 32 and 2048")
    from eclip_desktop.core.errors import EclipError
    try:
        return args.func(args)
    except EclipError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print(f"{PROG}: error: out of memory; try fewer or smaller images, or --device cpu", file=sys.stderr)
        return 1
    except RuntimeError as exc:
        if "out of memory" in str(exc).lower():
            print(f"{PROG}: error: the device ran out of memory; try --device cpu or a smaller --input-size",
                  file=sys.stderr)
            return 1
        raise
