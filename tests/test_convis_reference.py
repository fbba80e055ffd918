"""The support test's reference null (core/convis/support.py, core/convis/reference.py) on planted
rank matrices: a small set, a per-concept bias, reference scenes that do not show the concept."""
import numpy as np
import pytest

from eclip_desktop.core.convis.reference import Reference, held
from eclip_desktop.core.convis.support import REFERENCE, reference_test, support_in_hierarchy

W, N, M = 120, 20, 199


def scene_ranks(rng, bias: np.ndarray | None = None) -> np.ndarray:
    """(W, N) rows of permutations; `bias` (N,) pushes some concepts up in every window of every scene,
    as a small model's favourite gloss does whatever the scene shows."""
    keys = rng.random((W, N)) - (0 if bias is None else bias)
    return np.argsort(np.argsort(keys, axis=1), axis=1).astype(np.int32)


def plant(ranks: np.ndarray, column: int, windows: np.ndarray) -> np.ndarray:
    """The concept ranks first in these windows (where the object is); rows stay permutations."""
    out = ranks.copy()
    for w in windows:
        j = int(np.flatnonzero(out[w] == 0)[0])
        out[w, j], out[w, column] = out[w, column], 0
    return out


BIAS = np.zeros(N)
BIAS[19] = 0.8  # the favourite: ranks near the top everywhere


def test_a_planted_concept_is_supported_and_a_random_or_favourite_one_is_not():
    rng = np.random.default_rng(0)
    refs = np.stack([scene_ranks(rng, BIAS) for _ in range(M)])
    image = plant(scene_ranks(rng, BIAS), column=3, windows=np.arange(20, 40))
    s = reference_test(image, np.array([3]), "planted.n.01", refs)
    assert s.supported and s.p_value == pytest.approx(1 / (M + 1)) and s.effect > 3
    assert s.null_kind == REFERENCE and f"{M} Shapes World reference scenes" in s.null
    # The favourite ranks well here too, but no better than in the scenes without it: not supported.
    for col in (7, 19):
        r = reference_test(image, np.array([col]), "other.n.01", refs)
        assert not r.supported and r.p_value > 0.01, col
    assert "not supported" in r.verdict()


def test_reference_p_values_are_uniform_under_the_null():
    """An image that does not show the concept is one more scene like the references: P(p <= a) is
    about a (within binomial error), for a plain concept, the favourite, and a subtree of three."""
    rng = np.random.default_rng(1)
    m = 119  # at least 100: fewer cannot reach p < 0.01, and are not a test
    ps = []
    for trial in range(120):
        scenes = np.stack([scene_ranks(rng, BIAS) for _ in range(m + 1)])
        cols = [np.array([5]), np.array([19]), np.array([2, 8, 11])][trial % 3]
        ps.append(reference_test(scenes[0], cols, "x.n.01", scenes[1:]).p_value)
    ps = np.array(ps)
    for a in (0.1, 0.25, 0.5):
        assert abs((ps <= a).mean() - a) < 3 * np.sqrt(a * (1 - a) / len(ps)) + 0.02, a


def test_too_few_reference_scenes_are_not_a_test():
    rng = np.random.default_rng(2)
    refs = np.stack([scene_ranks(rng) for _ in range(50)])
    s = reference_test(plant(scene_ranks(rng), 3, np.arange(30)), np.array([3]), "circle.n.01", refs)
    assert not s.supported and "only 50 reference scene(s)" in s.reason and s.verdict().startswith("not tested")


class ShapesSet:
    """Three shapes and their hypernym, as in the shapes set (a 20-concept set: the outside-set null
    cannot reach p < 0.01 there)."""

    def __init__(self):
        self.synsets = ["polygon.n.01", "square.n.01", "triangle.n.01", "circle.n.01"] + \
            [f"filler{i}.n.01" for i in range(N - 4)]
        self.index = {s: i for i, s in enumerate(self.synsets)}
        self.parents = {"square.n.01": ("polygon.n.01",), "triangle.n.01": ("polygon.n.01",)}
        self.name = "shapes"

    def subtree(self, name):
        return ["polygon.n.01", "square.n.01", "triangle.n.01"] if name == "polygon.n.01" else [name]

    def columns(self, name):
        return np.array(sorted(self.index[s] for s in self.subtree(name)))


def make_reference(rng) -> Reference:
    """M scenes: every third shows a square, the rest a circle; the square ranks first where it is."""
    ranks, holds = [], []
    for i in range(M + 60):
        r = scene_ranks(rng)
        if i % 3 == 0:
            ranks.append(plant(r, 1, rng.choice(W, 20, replace=False)))
            holds.append(frozenset({"square.n.01"}))
        else:
            ranks.append(r)
            holds.append(frozenset({"circle.n.01"}))
    return Reference(np.stack(ranks), holds, None, False)


def test_lacking_follows_wordnet_not_the_set():
    ref = Reference(np.zeros((3, 1, 1)), [frozenset({"square.n.01"}), frozenset({"circle.n.01"}), frozenset()],
                    None, False)
    assert list(ref.lacking({"polygon.n.01"})) == [1, 2]  # a square is a polygon
    assert list(ref.lacking({"circle.n.01"})) == [0, 2]
    assert "polygon.n.01" in held("square.n.01") and "square.n.01" in held("square.n.01")


def test_a_small_set_is_decided_by_the_reference_and_the_hierarchy_agrees():
    rng = np.random.default_rng(3)
    cs = ShapesSet()
    ref = make_reference(rng)
    image = plant(scene_ranks(rng), 2, np.arange(40, 60))  # a triangle
    asked = []

    def reference():
        asked.append(1)
        return ref

    tri = support_in_hierarchy(image, cs, "triangle.n.01", cs.columns, reference=reference)
    assert tri.supported and tri.null_kind == REFERENCE and asked
    assert tri.samples == len(ref.holds)  # no reference scene shows a triangle
    sq = support_in_hierarchy(image, cs, "square.n.01", cs.columns, reference=reference)
    assert not sq.supported and sq.null_kind == REFERENCE
    poly = support_in_hierarchy(image, cs, "polygon.n.01", cs.columns, reference=reference)
    assert poly.supported and (poly.through == "triangle.n.01" or poly.p_value < 0.01)
    # Three concepts among the 17 outside it and its ancestors give 680 null sets: the outside-set null decides.
    assert poly.null_kind == "outside_set"
    assert "supported" in poly.verdict() and "not tested" not in poly.verdict().split("(")[0]


def test_without_a_reference_a_small_set_stays_not_tested():
    rng = np.random.default_rng(4)
    cs = ShapesSet()
    s = support_in_hierarchy(scene_ranks(rng), cs, "circle.n.01", cs.columns, reference=lambda: None)
    assert not s.supported and "too small" in s.reason and s.null_kind == "outside_set"
