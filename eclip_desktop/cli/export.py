"""`export`: resumable batch export with an index."""
from __future__ import annotations

import sys
from pathlib import Path

from eclip_desktop.cli.common import (
    POOLING_DEFAULT_HELP,
    PROG,
    add_display_args,
    add_map_args,
    add_model_args,
    add_output_args,
    add_prompt_args,
    convis_spec,
    load_concept_set,
    method_options,
    pooling_choices,
    poolings_arg,
    read_labels,
    say_activation,
    say_out_of_domain,
)
from eclip_desktop.cli.limits import add_max_outputs_arg, refuse_too_many
from eclip_desktop.cli.out_dir import missing_dirs, removed_on_failure
from eclip_desktop.cli.progress import build_progress, say_wordnet_first_run


def _export_synsets(args):
    """Resolves --synset up front (before any model loads); returns (hierarchy, concept set, names)."""
    if not args.synset:
        return None, None, []
    from eclip_desktop.core.convis.sets import resolve_in_set
    from eclip_desktop.core.wordnet.hierarchy import Hierarchy
    say_wordnet_first_run()
    hierarchy = Hierarchy()
    concept_set = load_concept_set(hierarchy, args.concept_set)
    return hierarchy, concept_set, resolve_in_set(hierarchy, args.synset, concept_set, args.concept_set)


def cmd_export(args) -> int:
    from eclip_desktop.core.export.shards import run_sharded
    return run_sharded(args.device, lambda shard: _export(args, shard))


def _export(args, shard) -> int:
    """The export of this process: the whole job, or under torchrun this rank's part (docs/SCALE.md)."""
    import signal
    import threading

    from eclip_desktop.core.errors import TextError
    from eclip_desktop.core.explain.engine import engines_for
    from eclip_desktop.core.export.batch import ExportRequest, run_export
    from eclip_desktop.core.export.inputs import collect_images
    from eclip_desktop.core.io.atomic import ensure_writable_dir
    from eclip_desktop.core.io.guards import shown
    from eclip_desktop.core.model.family import is_family

    if args.top < 0:
        from eclip_desktop.core.errors import ConceptError
        raise ConceptError("--top must be 0 or more")
    from eclip_desktop.core.errors import OutputError
    from eclip_desktop.core.figures.panel import parse_contour
    try:
        parse_contour(args.contour)
    except ValueError as exc:
        raise OutputError(str(exc)) from None
    if not 0 <= args.width <= 16384:
        raise OutputError(f"--width must be 0 (the image's own) to 16384 px, got {args.width}")
    images = collect_images(args.images, exclude=args.out)  # never the run's own outputs
    texts = list(args.text or []) + (read_labels(args.labels_file) if args.labels_file else [])
    if any(not t.strip() for t in texts):
        raise TextError("empty prompt: type what to look for, e.g. --text 'a photo of a cat'")
    hierarchy, concept_set, synsets = _export_synsets(args)
    if not texts and not synsets:
        raise TextError("nothing to export: pass --text/--labels-file for CLIP maps and/or --synset for ConVis")
    if set(args.grid or []) - {"concept"} and not texts:
        raise TextError("--grid pooling/method/prompt compares CLIP maps: pass --text or --labels-file too")
    if "concept" in (args.grid or []) and not synsets:
        raise TextError("--grid concept compares ConVis maps: pass --synset too")
    poolings = poolings_arg(args)
    methods = list(dict.fromkeys(args.method or ["itsm"]))
    req = ExportRequest(images=images, out_dir=args.out, texts=texts, synsets=synsets, methods=methods,
                        poolings=poolings, figure_format=args.format, raw=list(dict.fromkeys(args.raw or ["npy"])),
                        overwrite=args.overwrite, ensemble=args.ensemble, input_size=args.input_size,
                        tau=args.tau, cmap=args.colormap, alpha=args.alpha,
                        method_options={m: method_options(args, m) for m in methods},
                        grids=list(dict.fromkeys(args.grid or [])), contour=args.contour, layout=args.layout,
                        width=args.width, convis_options={"mode": args.convis_mode, "seed": args.convis_seed,
                                                          "concept_set": args.concept_set})
    from eclip_desktop.core.export.batch import plan_rows
    planned = plan_rows(req, hashes=[""] * len(images))  # names need no content: counted before anything is read
    refuse_too_many(len(planned), sum(len(r.files) for r in planned),
                    f"{len(images)} image(s) x ({len(texts)} text(s) x {len(methods)} method(s) + a contribution "
                    f"map) x {len(poolings)} pooling(s), {len(synsets)} synset(s), {len(req.grids)} grid(s)",
                    args.max_outputs)
    made = missing_dirs(args.out)  # taken back if the model fails to load
    ensure_writable_dir(args.out)  # a read-only target fails before a model loads
    args.device = shard.device  # under torchrun on GPUs: cuda:LOCAL_RANK
    with removed_on_failure(made):
        engines = engines_for(args.model, args.pretrained, poolings, args.device, args.dtype, args.activation)
    if shard.leader:
        say_activation(e.handle for e in engines.values())
        say_out_of_domain(images, [e.handle.describe() for e in engines.values()])

    def concepts():
        from eclip_desktop.core.export.concepts_job import ConceptsRequest, prepare_concepts
        from eclip_desktop.core.model.loading import load_model
        handle = (load_model(convis_spec(args)) if args.model is None or is_family(args.model)
                  else engines[poolings[0]].handle)  # a single model is shared with the CLIP maps
        if shard.leader:
            say_activation([handle])
        creq = ConceptsRequest(images=images, synsets=synsets, out_dir=args.out, concept_set_spec=args.concept_set,
                               top_k=args.top, seed=args.convis_seed, mode=args.convis_mode,
                               cmap=args.colormap, alpha=args.alpha, overwrite=args.overwrite)
        return prepare_concepts(handle, hierarchy, concept_set, creq,
                                progress=build_progress(False) if shard.leader else None)

    def progress(info):
        if info["image"] is None:  # rank 0 waits for the other ranks: the job's count only
            print(f"[{info['done']}/{info['total']}] (other ranks)", file=sys.stderr, flush=True)
            return
        left = info["eta_s"]
        eta = ("" if left is None else f", about {left:.0f} s left" if left < 90 else
               f", about {left / 60:.1f} min left")
        print(f"[{info['done']}/{info['total']}] {shown(info['image'])}: {info['written']} written, {info['skipped']} "
              f"skipped, {info['failed']} failed ({info['seconds']:.1f} s{eta})", file=sys.stderr, flush=True)

    # First Ctrl+C: finish the current image, write the index, stop; a second one stops at once.
    stop = threading.Event()

    def on_sigint(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        if shard.leader:  # under torchrun every rank gets the Ctrl+C; one says so
            print(f"{PROG}: stopping after this image (Ctrl+C again to stop now)", file=sys.stderr, flush=True)

    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, on_sigint) if main_thread else None
    try:
        result = run_export(engines, req, concepts=concepts if synsets else None, progress=progress,
                            cancelled=stop.is_set, shard=shard,
                            note=lambda text: print(f"{PROG}: note: {text}", file=sys.stderr, flush=True))
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, previous)
    ok, skipped, failed = result.count("ok"), result.count("skipped"), result.count("failed")
    if not shard.leader:  # rank 0 reports for the whole job
        return 130 if result.cancelled else 1 if failed else 0
    print(f"{ok} maps written, {skipped} skipped (already complete), {failed} failed; index: "
          f"{Path(args.out) / 'index.csv'} ({result.seconds:.1f} s)", file=sys.stderr)
    if result.cancelled:
        print(f"{PROG}: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    if failed:
        first = next(r for r in result.rows if r.status == "failed")
        print(f"{PROG}: error: {failed} map(s) failed; see the error column of the index (first: {shown(first.name)}: "
              f"{shown(first.error)})", file=sys.stderr)
        return 1
    return 0


def register(sub) -> None:
    from eclip_desktop.core.explain.methods import method_names

    p = sub.add_parser("export", help="batch export: images x texts x poolings x methods (and synsets), "
                                      "resumable, with an index")
    # nargs="+" with extend: a shell-expanded `--images photos/*.jpg` and the repeated single-value form
    # (`--images a --images b`) both give one list, in the order given.
    p.add_argument("--images", action="extend", nargs="+", required=True, metavar="IMAGES",
                   help="images, folders, globs (quoted: expanded here, recursive with **) or text files of "
                        "image paths; several after one --images, or --images repeated")
    add_prompt_args(p)
    p.add_argument("--synset", action="append", help="ConVis concept maps for this synset or word; repeatable")
    p.add_argument("--concept-set", default="default",
                   help="default, paper (the ConVis paper's 7,080 synsets), all, shapes, or a file of words/synsets")
    p.add_argument("--top", type=int, default=10, help="ConVis: concepts listed in each sidecar")
    p.add_argument("--convis-mode", default="grid", choices=["grid", "stochastic"],
                   help="ConVis windows: the paper's grid, or its stochastic variant")
    p.add_argument("--convis-seed", type=int, default=0, help="ConVis: the noise border's seed")
    p.add_argument("--method", action="append", choices=method_names(), help="repeatable; default itsm")
    p.add_argument("--pooling", action="append", choices=pooling_choices(),
                   help=f"repeatable; {POOLING_DEFAULT_HELP}")
    add_output_args(p, "output directory (index.csv and index.json go here too)",
                    "recompute and replace existing outputs")
    add_max_outputs_arg(p)
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
    add_map_args(p)
    add_display_args(p)
    add_model_args(p)
    p.set_defaults(func=cmd_export)
