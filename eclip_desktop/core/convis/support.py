"""Does the image support a concept? A permutation-style test on ConVis's window ranks.

ConVis ranks every concept of the set for every window. A concept's map takes, per window, the best
rank over its subtree (the concept and its hyponyms in the set), so a concept with a large subtree
ranks well by chance alone, and some window among hundreds ranks almost anything high. The test
therefore compares the concept with concepts that had the same chance:

- statistic T: the mean, over the best decile of windows, of the window score 1 - r / (n - 1), where
  r is the window's best rank over the subtree and n the set's size (the windows where the concept is
  strongest, whatever the object's size);
- null: T for `samples` random sets of as many concepts of the same concept set (the same subtree
  size), on the same rank matrix, i.e. for this image and these windows; drawn from the concepts
  outside the subtree and its ancestors (whose maps contain the concept's own evidence). A set too
  small to give p < level (k = 1 among 19 others: p >= 1/20) is not tested, and the verdict says so;
- p = (1 + #{null T >= observed T}) / (1 + samples); effect = (T - mean null) / sd null.
  The null sets are drawn from a generator seeded by the synset's name, so a verdict is reproducible.

The draws are not subtrees: members of a real subtree have similar glosses and so correlated ranks,
whose minimum is less extreme than that of independent concepts. For the test this errs on the
side of "not supported" (conservative), which is the safe side for a claim of presence.

Where the outside-set null cannot decide (a set too small for the level, or a subtree of more than
half the set) and the model was trained on Shapes World, the reference null decides instead
(core/convis/reference.py): the same concept on reference scenes of the model's world that do not
show it. Its statistic D is the mean over the best decile of windows of the window score minus that
window's mean score over this image and those scenes: a concept the model ranks well everywhere (or
windows that are mostly the noise border, alike in every scene) add nothing, and what is left is how
much better the concept ranks where this image differs. Every scene's D is taken against the same
mean, so this image and the m reference scenes are exchangeable when the image does not show the
concept, and p = (1 + #{reference D >= D}) / (1 + m) is uniform (or conservative with ties).
`null_kind` in the sidecar says which null decided: "outside_set" or "reference".

Hierarchy: a concept not supported on its own is "supported through" its best-supported hyponym
when one is (its map is the minimum over its subtree, so its evidence is that hyponym's); a hypernym
of a supported concept is therefore never called absent without that being said.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass

import numpy as np

LEVEL = 0.01  # significance level of `supported`
SAMPLES = 999
# Each null draw copies a (windows x subtree) block: past this many elements in all, fewer draws are made
# (at least MIN_SAMPLES; the p-value's resolution is then 1 / (1 + draws), recorded in `samples`).
WORK_LIMIT = 200_000_000
MIN_SAMPLES = 199
TOP_WINDOWS = 0.10  # the best decile of windows
MAX_THROUGH = 8  # hyponyms tried, best first, for "supported through"
OUTSIDE_SET, REFERENCE = "outside_set", "reference"
NULL = ("random concept sets of the subtree's size from the same concept set (outside the subtree and its "
        "ancestors), on this image's rank matrix; statistic: mean window score 1 - r/(n-1) over the best 10 % "
        "of windows")
REFERENCE_NULL = ("the same concept on {m} Shapes World reference scenes that do not show it (seed {seed}); "
                  "statistic: mean over the best 10 % of windows of the window score minus that window's mean "
                  "score over this image and those scenes")


@dataclass
class Support:
    synset: str
    statistic: float
    null_mean: float | None  # None when no test was made (reason says why); sidecars hold no NaN
    null_sd: float | None
    p_value: float
    effect: float
    supported: bool
    level: float
    subtree: int
    set_size: int
    samples: int
    through: str | None = None  # a hyponym that carries the support
    reason: str = ""  # why no test was possible, when none was
    null: str = NULL
    null_kind: str = OUTSIDE_SET

    def as_json(self) -> dict:
        return asdict(self)

    def verdict(self) -> str:
        if self.supported and self.through:
            own = f"not tested on its own: {self.reason}" if self.reason else f"its own p = {self.p_value:.3g}"
            return f"supported through {self.through} ({own})"
        if self.reason:
            return f"not tested: {self.reason}"
        if self.supported:
            return f"supported (p = {self.p_value:.3g}, effect {self.effect:+.1f} sd)"
        # Not "absent": on the embedded models the test finds only a few present shapes (docs/RESULTS.md).
        return (f"not supported (p = {self.p_value:.3g}, effect {self.effect:+.1f} sd): no evidence beyond chance, "
                "which is not evidence of absence")


def window_statistic(best_ranks: np.ndarray, set_size: int) -> np.ndarray:
    """T for (..., W) best ranks per window: the mean score over the best decile of windows."""
    scores = 1.0 - best_ranks.astype(np.float64) / max(set_size - 1, 1)
    k = max(1, int(math.ceil(TOP_WINDOWS * scores.shape[-1])))
    return np.sort(scores, axis=-1)[..., -k:].mean(axis=-1)


def _rng(synset: str) -> np.random.Generator:
    return np.random.default_rng(int.from_bytes(hashlib.sha256(synset.encode("utf-8")).digest()[:8], "little"))


def support_test(ranks: np.ndarray, columns: np.ndarray, synset: str, samples: int = SAMPLES,
                 level: float = LEVEL, exclude: np.ndarray | None = None) -> Support:
    """ranks: (W, n) the set's rank of every concept per window; columns: the subtree's column indices;
    exclude: columns the null must not draw (the concept's subtree and its ancestors, whose maps contain
    its own evidence; by default the subtree)."""
    n_windows, n = ranks.shape
    k = len(columns)
    pool = np.setdiff1d(np.arange(n), columns if exclude is None else np.union1d(columns, exclude))
    observed = float(window_statistic(ranks[:, columns].min(axis=1), n))
    base = dict(synset=synset, statistic=observed, level=level, subtree=k, set_size=n, samples=samples)
    if n_windows == 0:
        return Support(**base, null_mean=None, null_sd=None, p_value=1.0, effect=0.0, supported=False,
                       reason="no windows")
    if 2 * k > n or len(pool) < k:
        return Support(**base, null_mean=None, null_sd=None, p_value=1.0, effect=0.0, supported=False,
                       reason=f"its subtree holds {k} of the set's {n} concepts, so any image ranks it well")
    distinct = math.comb(len(pool), k)
    if 1 / (1 + distinct) >= level:
        # A small set cannot give a small p: with k = 1 and 19 other concepts the smallest p is 1/20.
        return Support(**base, null_mean=None, null_sd=None, p_value=1.0, effect=0.0, supported=False,
                       reason=f"the set is too small: {distinct} distinct null set(s) of {k} concept(s) cannot give "
                              f"p < {level:g}; use a larger concept set")
    samples = min(samples, max(MIN_SAMPLES, WORK_LIMIT // max(k * n_windows, 1)))
    base["samples"] = samples
    rng = _rng(synset)
    null = np.empty(samples)
    # (W, n) column-major: a random subset's minimum per window, drawn without replacement.
    for i in range(samples):
        pick = rng.choice(pool, size=k, replace=False)
        null[i] = window_statistic(ranks[:, np.sort(pick)].min(axis=1), n)
    mean, sd = float(null.mean()), float(null.std(ddof=1)) if samples > 1 else 0.0
    p = (1 + int((null >= observed).sum())) / (1 + samples)
    effect = (observed - mean) / sd if sd > 0 else 0.0
    return Support(**base, null_mean=mean, null_sd=sd, p_value=p, effect=effect, supported=p < level)


def _ancestors(concept_set, synset: str) -> set[str]:
    parents = getattr(concept_set, "parents", {}) or {}
    seen: set[str] = set()
    stack = list(parents.get(synset, ()))
    while stack:
        p = stack.pop()
        if p not in seen:
            seen.add(p)
            stack.extend(parents.get(p, ()))
    return seen


def reference_statistic(best_ranks: np.ndarray, set_size: int) -> np.ndarray:
    """D for (S, W) best ranks of S scenes on the same windows: per scene, the mean over its best decile
    of windows of the window score minus that window's mean score over the S scenes."""
    scores = 1.0 - best_ranks.astype(np.float64) / max(set_size - 1, 1)
    centred = scores - scores.mean(axis=0, keepdims=True)
    k = max(1, int(math.ceil(TOP_WINDOWS * scores.shape[-1])))
    return np.sort(centred, axis=-1)[..., -k:].mean(axis=-1)


def reference_test(ranks: np.ndarray, columns: np.ndarray, synset: str, reference_ranks: np.ndarray,
                   level: float = LEVEL, seed: int | None = None) -> Support:
    """ranks: (W, n) this image's rank matrix; reference_ranks: (m, W, n) those of m reference scenes
    that do not show the concept, on the same windows."""
    from eclip_desktop.core.convis.reference import REFERENCE_SEED
    n_windows, n = ranks.shape
    m = len(reference_ranks)
    best = np.concatenate([ranks[None, :, columns].min(axis=2), reference_ranks[:, :, columns].min(axis=2)]
                          if m else [ranks[None, :, columns].min(axis=2)])
    d = reference_statistic(best, n)
    observed, null = float(d[0]), d[1:]
    base = dict(synset=synset, statistic=observed, level=level, subtree=len(columns), set_size=n, samples=m,
                null=REFERENCE_NULL.format(m=m, seed=REFERENCE_SEED if seed is None else seed), null_kind=REFERENCE)
    if 1 / (1 + m) >= level:
        return Support(**base, null_mean=None, null_sd=None, p_value=1.0, effect=0.0, supported=False,
                       reason=f"only {m} reference scene(s) lack it, too few for p < {level:g}")
    mean, sd = float(null.mean()), float(null.std(ddof=1))
    p = (1 + int((null >= observed).sum())) / (1 + m)
    effect = (observed - mean) / sd if sd > 0 else 0.0
    return Support(**base, null_mean=mean, null_sd=sd, p_value=p, effect=effect, supported=p < level)


def _one(ranks, concept_set, synset, columns_of, samples, level, reference) -> Support:
    """The outside-set null where it can decide; else the reference null when there is a reference."""
    idx = concept_set.index
    exclude = np.array(sorted(idx[a] for a in _ancestors(concept_set, synset)), dtype=np.int64)
    cols = columns_of(synset)
    outside = support_test(ranks, cols, synset, samples, level, exclude)
    if not outside.reason or len(ranks) == 0 or reference is None:
        return outside
    ref = reference()
    if ref is None:
        return outside
    lacking = ref.lacking(set(concept_set.subtree(synset)))
    return reference_test(ranks, cols, synset, ref.ranks[lacking], level)


def support_in_hierarchy(ranks: np.ndarray, concept_set, synset: str, columns_of, samples: int = SAMPLES,
                         level: float = LEVEL, reference=None) -> Support:
    """The concept's test; when it fails, its hyponyms in the set (best own statistic first, a few) are
    tested, and the first supported one carries the verdict ("supported through"). `reference`: a
    callable giving the reference scenes (core/convis/reference.py) or None, asked only when the
    outside-set null cannot decide."""
    own = _one(ranks, concept_set, synset, columns_of, samples, level, reference)
    if own.supported:
        return own
    below = [s for s in concept_set.subtree(synset) if s != synset]
    if not below:
        return own
    idx = concept_set.index
    n = ranks.shape[1]
    strength = {s: float(window_statistic(ranks[:, idx[s]], n)) for s in below}
    for s in sorted(below, key=lambda s: -strength[s])[:MAX_THROUGH]:
        if _one(ranks, concept_set, s, columns_of, samples, level, reference).supported:
            own.supported, own.through = True, s
            return own
    return own


def shapes_world_synsets() -> set[str]:
    """The Shapes World classes' synsets and every hypernym on their paths: all such a model was taught."""
    from eclip_desktop.core.shapes.vocabulary import class_names, hypernym_paths, synset_for
    out: set[str] = set()
    for c in class_names():
        s = synset_for(c)
        out.add(s)
        for path in hypernym_paths(s):
            out.update(path)
    return out


def unknown_set_reason(model_info: dict, concept_set) -> str:
    """Why the model cannot know this concept set ('' when it can, or when the tool cannot tell): a
    Shapes World model (its card says so) asked about concepts outside Shapes World."""
    from eclip_desktop.core.model.training_domain import shapes_world_model
    if not shapes_world_model(model_info):
        return ""
    outside = [s for s in concept_set.synsets if s not in shapes_world_synsets()]
    if not outside:
        return ""
    return (f"the model was trained only on Shapes World; {len(outside):,} of the {len(concept_set):,} concepts of "
            f"\u2018{concept_set.name}\u2019 (e.g. {outside[0]}) are outside what it was taught, so their ranks say "
            "nothing \u2014 use the shapes concept set")
