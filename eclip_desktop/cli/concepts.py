"""`concepts`: ConVis maps of WordNet concepts."""
from __future__ import annotations

import sys

from eclip_desktop.cli.common import (
    add_display_args,
    add_model_args,
    add_output_args,
    convis_spec,
    load_concept_set,
    say_activation,
    say_out_of_domain,
)
from eclip_desktop.cli.out_dir import missing_dirs, removed_on_failure
from eclip_desktop.cli.progress import build_progress, say_wordnet_first_run


def cmd_concepts(args) -> int:
    from eclip_desktop.core.export.shards import run_sharded
    return run_sharded(args.device, lambda shard: _concepts(args, shard))


def _concepts(args, shard) -> int:
    """The maps of this process: every image, or under torchrun the images this rank owns (docs/SCALE.md)."""
    import time

    from eclip_desktop.core.convis.sets import resolve_in_set
    from eclip_desktop.core.errors import ConceptError
    from eclip_desktop.core.export.concepts_job import (
        ConceptsRequest,
        plan_concepts,
        run_concepts,
    )
    from eclip_desktop.core.io.atomic import ensure_writable_dir
    from eclip_desktop.core.io.imageio import load_image
    from eclip_desktop.core.model.loading import load_model
    from eclip_desktop.core.wordnet.hierarchy import Hierarchy

    if args.top < 0:
        raise ConceptError("--top must be 0 or more")
    # Every check that needs no model comes first, and all of them before the first file.
    images = [load_image(p) for p in args.images]
    t0 = time.perf_counter()
    say_wordnet_first_run()
    hierarchy = Hierarchy()
    concept_set = load_concept_set(hierarchy, args.concept_set)
    synsets = resolve_in_set(hierarchy, args.synset, concept_set, args.concept_set)
    made = missing_dirs(args.out)  # taken back if the model fails to load
    out = ensure_writable_dir(args.out)  # only once the request is known to be valid: no empty folders
    req = ConceptsRequest(images=args.images, synsets=synsets, out_dir=str(out),
                          concept_set_spec=args.concept_set, top_k=args.top, seed=args.seed, mode=args.mode,
                          cmap=args.colormap, alpha=args.alpha, overwrite=args.overwrite)
    plan_concepts(req, images)  # refuses existing outputs before the model loads
    setup = time.perf_counter() - t0
    args.device = shard.device  # under torchrun on GPUs: cuda:LOCAL_RANK
    with removed_on_failure(made):
        handle = load_model(convis_spec(args))
    if shard.leader:
        say_activation([handle])
        say_out_of_domain(args.images, [handle.describe()])

    records = run_concepts(handle, hierarchy, concept_set, req, images,
                           progress=build_progress(args.verbose) if shard.leader else None,
                           extra_timings={"wordnet_and_set": setup}, shard=shard)
    written = sum(shard.collect([(shard.rank, len(records))], "concepts-written"))
    if not shard.leader:
        return 0
    print(f"wrote {written} concept maps (png + npy + json each) to {args.out}", file=sys.stderr)
    return 0


def register(sub) -> None:
    p = sub.add_parser("concepts", help="ConVis: where an image shows a WordNet concept (maps per synset)")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--synset", action="append", required=True,
                   help="a noun synset (dog.n.01) or a word (its first sense); repeatable")
    p.add_argument("--concept-set", default="default",
                   help="default (derived everyday nouns), paper (the ConVis paper's 7,080 synsets), all (every noun), "
                        "shapes, or a file of words/synsets")
    p.add_argument("--top", type=int, default=10, help="concepts listed in each sidecar")
    p.add_argument("--seed", type=int, default=0, help="the noise border's seed")
    p.add_argument("--mode", default="grid", choices=["grid", "stochastic"])
    add_output_args(p)
    add_display_args(p)
    p.add_argument("-v", "--verbose", action="store_true")
    add_model_args(p)
    p.set_defaults(func=cmd_concepts)
