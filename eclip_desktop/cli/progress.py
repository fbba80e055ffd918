"""Progress on stderr for `concepts` and `export`: what a first run builds once (the WordNet cache,
a gloss bank, the support test's reference scenes) is always said, with its count, so a first run is
never a silent minute; the per-window counts only with -v."""
from __future__ import annotations

import sys

PROG = "eclip-desktop"
# What a first run builds, once per model (and set): the phrase for its first line.
BUILDS = {
    "glosses": "building the gloss bank (once per model and concept set): {total:,} glosses",
    "support reference scenes": "building the support test's reference (once per model, concept set and "
                                "windows): {total:,} Shapes World scenes",
}


def say_wordnet_first_run() -> None:
    """The WordNet cache is parsed on the first run only (seconds to a minute); say so before it starts."""
    from eclip_desktop.core.wordnet import provider
    from eclip_desktop.core.wordnet.hierarchy import CACHE_FORMAT
    if not (provider.user_cache_dir() / "wordnet" / f"nouns-v{CACHE_FORMAT}.npz").is_file():
        print(f"{PROG}: building the WordNet cache (first run only): every noun synset", file=sys.stderr, flush=True)


def build_progress(verbose: bool):
    """A progress(done, total, what) callback: builds announced with their count and reported about
    every tenth; anything else (windows per image) only when verbose."""
    step: dict[str, int] = {}

    def progress(done: int, total: int, what: str) -> None:
        if what in BUILDS:
            if what not in step:
                step[what] = max(1, total // 10)
                print(f"{PROG}: {BUILDS[what].format(total=total)}", file=sys.stderr, flush=True)
            if done == total or done % step[what] == 0:
                print(f"  {what}: {done:,}/{total:,}", file=sys.stderr, flush=True)
            if done == total:
                del step[what]
        elif verbose:
            print(f"  {what}: {done}/{total}", file=sys.stderr, flush=True)
    return progress
