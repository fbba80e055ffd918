"""The ConVis support test (core/convis/support.py) on planted rank matrices."""
import numpy as np
import pytest

from eclip_desktop.core.convis.support import Support, support_in_hierarchy, support_test, unknown_set_reason

W, N = 240, 300


def random_ranks(seed: int) -> np.ndarray:
    """Every window ranks the set in a random order (rows are permutations), as for an unrelated image."""
    rng = np.random.default_rng(seed)
    return np.argsort(rng.random((W, N)), axis=1).argsort(axis=1).astype(np.int32)


def plant(ranks: np.ndarray, column: int, share: float, seed: int = 1) -> np.ndarray:
    """The concept ranks among the set's best in `share` of the windows (where the object is)."""
    rng = np.random.default_rng(seed)
    out = ranks.copy()
    for w in np.flatnonzero(rng.random(W) < share):
        best = int(rng.integers(0, 3))
        j = int(np.flatnonzero(out[w] == best)[0])
        out[w, j], out[w, column] = out[w, column], best  # swap: rows stay permutations
    return out


def test_a_planted_concept_is_supported_and_a_random_one_is_not():
    ranks = plant(random_ranks(0), column=7, share=0.3)
    s = support_test(ranks, np.array([7]), "planted.n.01", samples=199)
    assert s.supported and s.p_value == pytest.approx(1 / 200) and s.effect > 3
    r = support_test(ranks, np.array([11]), "other.n.01", samples=199)
    assert not r.supported and r.p_value > 0.05
    assert "not supported" in r.verdict() and "supported (p" in s.verdict()


def test_p_values_are_uniform_under_the_null():
    """Concepts of an unrelated image: P(p <= a) is about a (within binomial error), for single concepts
    and for subtrees of several concepts."""
    ps = []
    for seed in range(6):
        ranks = random_ranks(100 + seed)
        rng = np.random.default_rng(seed)
        for _ in range(20):
            k = int(rng.integers(1, 6))
            cols = np.sort(rng.choice(N, size=k, replace=False))
            ps.append(support_test(ranks, cols, f"c{seed}-{k}-{cols[0]}.n.01", samples=99).p_value)
    ps = np.array(ps)
    for a in (0.1, 0.25, 0.5):
        assert abs((ps <= a).mean() - a) < 3 * np.sqrt(a * (1 - a) / len(ps)) + 0.02, a


def test_the_test_is_reproducible_and_a_huge_subtree_is_not_tested():
    ranks = random_ranks(3)
    a = support_test(ranks, np.array([1, 2, 3]), "x.n.01", samples=99)
    b = support_test(ranks, np.array([1, 2, 3]), "x.n.01", samples=99)
    assert a == b
    huge = support_test(ranks, np.arange(200), "entity.n.01", samples=99)
    assert not huge.supported and "any image ranks it well" in huge.reason and huge.verdict().startswith("not tested")


class Tree:
    """A concept set with one parent over many members: 'parent' first, then its hyponyms."""

    def __init__(self, members: int):
        self.synsets = ["parent.n.01"] + [f"m{i}.n.01" for i in range(1, N)]
        self.index = {s: i for i, s in enumerate(self.synsets)}
        self.members = self.synsets[:members]

    def subtree(self, name):
        return list(self.members) if name == "parent.n.01" else [name]


def test_a_hypernym_of_a_supported_concept_is_supported_through_it():
    tree = Tree(members=100)
    ranks = plant(random_ranks(5), column=tree.index["m3.n.01"], share=0.12)

    def columns(name):
        return np.array(sorted(tree.index[s] for s in tree.subtree(name)))

    child = support_test(ranks, columns("m3.n.01"), "m3.n.01", samples=199)
    assert child.supported
    parent = support_in_hierarchy(ranks, tree, "parent.n.01", columns, samples=199)
    assert parent.supported and (parent.through == "m3.n.01" or parent.p_value < 0.01)
    if parent.through:
        assert "supported through m3.n.01" in parent.verdict()


def test_a_shapes_world_model_does_not_know_the_everyday_set():
    from eclip_desktop.core.model.family import family_spec

    class Set:
        name = "default"
        synsets = ("dog.n.01", "circle.n.01")

        def __len__(self):
            return 2

    spec = family_spec("native", "cpu")
    info = {"model": spec.architecture, "pretrained": spec.pretrained}
    assert "trained only on Shapes World" in unknown_set_reason(info, Set())
    Set.synsets = ("circle.n.01", "ellipse.n.01")
    assert unknown_set_reason(info, Set()) == ""
    assert unknown_set_reason({"model": "ViT-B-16", "pretrained": "random"}, Set()) == ""


def test_support_is_json():
    s = support_test(random_ranks(9), np.array([4]), "y.n.01", samples=19)
    d = s.as_json()
    assert set(d) >= {"p_value", "effect", "supported", "null", "level"} and Support(**d) == s


def test_a_set_too_small_for_the_level_is_not_tested():
    """20 concepts, one of them tested: only 19 distinct null sets exist, so p < 0.01 is impossible;
    the verdict says so instead of calling the concept absent."""
    rng = np.random.default_rng(0)
    ranks = np.argsort(rng.random((50, 20)), axis=1).argsort(axis=1)
    s = support_test(ranks, np.array([3]), "circle.n.01")
    assert not s.supported and "too small" in s.reason and s.verdict().startswith("not tested")
