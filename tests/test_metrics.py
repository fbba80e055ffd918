"""Explainability metrics on hand-made maps whose scores can be worked out on paper."""
import math

import numpy as np
import pytest

from eclip_desktop.core.evaluation.metrics import (
    BOX_THETAS,
    THETA_GRID,
    ExplainabilityMeter,
    IoUAccumulator,
    MaxBoxAccMeter,
    auroc,
    box_from_map,
    box_iou,
    format_table,
    iou_curves,
    pointing_hit,
    prefers_background,
    score_contrast,
)


def square_mask(size=20, r0=5, r1=10, c0=5, c1=10):
    mask = np.zeros((size, size), bool)
    mask[r0:r1, c0:c1] = True
    return mask


def theta_index(theta):
    return int(np.flatnonzero(np.isclose(THETA_GRID, theta))[0])


def test_grids():
    assert THETA_GRID.size == 21 and THETA_GRID[0] == 0 and THETA_GRID[-1] == 1.0 and THETA_GRID[7] == 0.35
    assert BOX_THETAS.size == 100 and BOX_THETAS[-1] == 0.99


def test_perfect_map_scores_full_marks():
    mask = square_mask()
    meter = ExplainabilityMeter()
    meter.add(mask.astype(np.float32), mask)
    s = meter.summary()
    assert s["n"] == 1
    assert s["miou_fg"] == pytest.approx(100.0) and s["miou_mean"] == pytest.approx(100.0)
    # θ = 0 switches every pixel on, so the first perfect threshold is the next one.
    assert s["theta_fg"] == 0.05 and s["theta_mean"] == 0.05
    assert s["pointing"] == 1.0 and s["bg_preferred"] == 0.0
    assert s["msc"] == pytest.approx(100.0)
    assert all(type(s[k]) is float for k in s if k != "n")


def test_inverted_map_prefers_background():
    mask = square_mask()
    inverted = 1.0 - mask
    assert prefers_background(inverted, mask)
    assert score_contrast(inverted, mask) == pytest.approx(-1.0)
    assert not pointing_hit(inverted, mask)
    meter = ExplainabilityMeter()
    meter.add(inverted, mask)
    s = meter.summary()
    assert s["bg_preferred"] == 1.0 and s["msc"] == pytest.approx(-100.0) and s["pointing"] == 0.0
    # The best it can do is θ = 0: everything on, fg-IoU = object share of the image.
    assert s["theta_fg"] == 0.0 and s["miou_fg"] == pytest.approx(100 * 25 / 400)


def test_iou_curves_hand_values():
    saliency = np.array([[0.9, 0.6, 0.3, 0.0]])
    mask = np.array([[True, True, False, False]])
    fg, bg = iou_curves(saliency, mask)
    assert fg[theta_index(0.5)] == pytest.approx(1.0) and bg[theta_index(0.5)] == pytest.approx(1.0)
    # θ = 0.25: fg {0,1,2} vs {0,1} -> 2/3; bg {3} vs {2,3} -> 1/2
    assert fg[theta_index(0.25)] == pytest.approx(2 / 3) and bg[theta_index(0.25)] == pytest.approx(1 / 2)
    # θ = 0.7: fg {0} vs {0,1} -> 1/2; bg {1,2,3} vs {2,3} -> 2/3
    assert fg[theta_index(0.7)] == pytest.approx(1 / 2) and bg[theta_index(0.7)] == pytest.approx(2 / 3)
    # θ = 0.95: nothing on; bg everything vs {2,3} -> 1/2
    assert fg[theta_index(0.95)] == 0.0 and bg[theta_index(0.95)] == pytest.approx(1 / 2)


def test_iou_curves_match_direct_thresholding():
    rng = np.random.default_rng(3)
    saliency = rng.random((17, 23)).astype(np.float32)
    mask = rng.random((17, 23)) < 0.3
    fg, bg = iou_curves(saliency, mask)
    m = saliency.astype(np.float64)
    for k, theta in enumerate(THETA_GRID):
        on = m >= theta
        assert fg[k] == pytest.approx((on & mask).sum() / (on | mask).sum())
        off = ~on
        assert bg[k] == pytest.approx((off & ~mask).sum() / (off | ~mask).sum())


def test_one_threshold_is_shared_by_all_pairs():
    mask = square_mask()  # 25 of 400 pixels
    low = mask * 0.3  # perfect only for θ in 0.05..0.3
    high = np.where(mask, 1.0, 0.5)  # perfect only for θ in 0.55..1
    acc = IoUAccumulator()
    acc.add(low, mask)
    acc.add(high, mask)
    r = acc.result()
    # θ = 0.05: (1 + 25/400) / 2; the high-θ side only reaches (0 + 1) / 2.
    assert r["miou_fg"] == pytest.approx(100 * (1 + 25 / 400) / 2)
    assert r["best_theta_fg"] == 0.05
    assert len(r["curve_fg"]) == len(THETA_GRID) and r["n"] == 2
    assert max(r["curve_fg"]) == pytest.approx(r["miou_fg"])


def test_ignore_mask_is_left_out_of_every_score():
    mask = square_mask(20, 6, 12, 6, 12)
    ring = square_mask(20, 4, 14, 4, 14) & ~mask
    saliency = (mask | ring).astype(float)  # the map also lights up the void border
    assert not pointing_hit(saliency, mask)  # first maximum (row-major) is on the ring
    assert pointing_hit(saliency, mask, ignore=ring)
    assert score_contrast(saliency, mask) < 1.0
    assert score_contrast(saliency, mask, ignore=ring) == pytest.approx(1.0)
    fg_plain, _ = iou_curves(saliency, mask)
    fg_ignored, bg_ignored = iou_curves(saliency, mask, ignore=ring)
    k = theta_index(0.5)
    assert fg_plain[k] == pytest.approx(36 / 100)
    assert fg_ignored[k] == pytest.approx(1.0) and bg_ignored[k] == pytest.approx(1.0)
    meter = ExplainabilityMeter()
    meter.add(saliency, mask, ignore=ring)
    assert meter.summary()["miou_fg"] == pytest.approx(100.0)


def test_mask_fully_ignored_is_skipped():
    mask = square_mask()
    meter = ExplainabilityMeter()
    assert meter.add(mask.astype(float), mask, ignore=mask) is None
    assert meter.skipped == 1 and meter.n == 0
    s = meter.summary()
    assert s["n"] == 0 and math.isnan(s["miou_fg"]) and math.isnan(s["pointing"])


def test_score_contrast_undefined_for_empty_or_full_mask():
    saliency = np.full((4, 4), 0.5)
    assert math.isnan(score_contrast(saliency, np.zeros((4, 4), bool)))
    assert math.isnan(score_contrast(saliency, np.ones((4, 4), bool)))
    assert not prefers_background(saliency, np.ones((4, 4), bool))
    # A full mask still gets an IoU, but no contrast: msc is NaN, not 0.
    meter = ExplainabilityMeter()
    meter.add(saliency, np.ones((4, 4), bool))
    s = meter.summary()
    assert s["n"] == 1 and math.isnan(s["msc"]) and s["miou_fg"] == pytest.approx(100.0)


def test_pointing_ties_go_to_first_maximum():
    flat = np.full((5, 5), 0.7)
    corner = np.zeros((5, 5), bool)
    corner[0, 0] = True
    assert pointing_hit(flat, corner)
    assert not pointing_hit(flat, ~corner)


def test_bad_inputs_are_refused():
    mask = square_mask()
    with pytest.raises(ValueError, match="resize"):
        score_contrast(np.zeros((10, 10)), mask)
    with pytest.raises(ValueError, match="normalised"):
        IoUAccumulator().add(mask * 3.0, mask)
    with pytest.raises(ValueError, match="NaN"):
        pointing_hit(np.full((20, 20), np.nan), mask)
    with pytest.raises(ValueError, match="2-D"):
        score_contrast(np.zeros((2, 20, 20)), mask)


# ----------------------------------------------------------------------------- boxes


def test_box_iou_hand_values():
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert box_iou((0, 0, 10, 10), (10, 0, 20, 10)) == 0.0  # x1 exclusive: touching shares no pixel
    assert box_iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0
    with pytest.raises(ValueError):
        box_iou((5, 0, 1, 10), (0, 0, 1, 1))


def test_box_from_map_uses_exclusive_corners():
    m = np.zeros((40, 40))
    m[10:20, 5:15] = 0.8
    assert box_from_map(m, 0.5) == (5, 10, 15, 20)
    assert box_from_map(m, 0.9) is None
    assert box_from_map(m, 0.0) == (0, 0, 40, 40)


def test_largest_component_wins():
    m = np.zeros((40, 40))
    m[2:6, 2:6] = 1.0  # 16 pixels
    m[20:30, 25:37] = 0.6  # 120 pixels, dimmer but larger
    assert box_from_map(m, 0.5) == (25, 20, 37, 30)
    assert box_from_map(m, 0.7) == (2, 2, 6, 6)


def test_components_are_four_connected():
    m = np.zeros((20, 20))
    m[0:3, 0:3] = 1.0  # 9 pixels
    m[3:7, 3:7] = 1.0  # 16 pixels, touching the first only at a corner
    assert box_from_map(m, 0.5) == (3, 3, 7, 7)  # 8-connectivity would give (0, 0, 7, 7)


def test_maxboxacc_matching_and_far_box():
    m = np.zeros((40, 40))
    m[10:20, 5:15] = 1.0
    hit = MaxBoxAccMeter()
    hit.add(m, [(5, 10, 15, 20)])
    r = hit.result()
    assert r["maxboxacc"] == 100.0 and r["best_theta"] == 0.01 and r["n"] == 1
    assert r["curve"][0] == 0.0  # θ = 0 boxes the whole image
    miss = MaxBoxAccMeter()
    miss.add(m, [(25, 25, 35, 35)])
    assert miss.result()["maxboxacc"] == 0.0
    either = MaxBoxAccMeter()
    either.add(m, [(25, 25, 35, 35), (6, 10, 15, 20)])  # a hit with ANY box counts
    assert either.result()["maxboxacc"] == 100.0


def test_maxboxacc_picks_the_threshold_and_averages_images():
    m = np.full((40, 40), 0.3)  # a wide haze at 0.3 around a core at 0.8
    m[10:20, 5:15] = 0.8
    meter = MaxBoxAccMeter()
    meter.add(m, [(5, 10, 15, 20)])
    r = meter.result()
    assert r["maxboxacc"] == 100.0 and r["best_theta"] == 0.31
    meter.add(np.zeros((40, 40)), [(5, 10, 15, 20)])  # nothing on above θ = 0: never a hit
    assert meter.result()["maxboxacc"] == 50.0
    with pytest.raises(ValueError):
        meter.add(m, [])


# ----------------------------------------------------------------------------- AUROC


def test_auroc_extremes_and_ties():
    assert auroc([3, 4, 5], [1, 2]) == 1.0
    assert auroc([1, 2], [3, 4, 5]) == 0.0
    assert auroc([2, 2, 2], [2, 2]) == 0.5
    assert auroc([1, 2, 3], [2]) == pytest.approx(0.5)
    assert auroc([0.9, 0.8, 0.4], [0.5, 0.1]) == pytest.approx(5 / 6)
    with pytest.raises(ValueError):
        auroc([], [1.0])


def test_auroc_matches_pair_counting():
    rng = np.random.default_rng(7)
    a, b = rng.integers(0, 6, 40), rng.integers(0, 6, 31)  # many ties
    pairs = (a[:, None] > b[None]).sum() + 0.5 * (a[:, None] == b[None]).sum()
    assert auroc(a, b) == pytest.approx(pairs / (a.size * b.size))


# ----------------------------------------------------------------------------- table


def test_format_table_aligns_and_rounds():
    rows = [
        {"method": "itsm", "miou_fg": 45.678, "theta_fg": 0.35, "n": 12},
        {"method": "clip-surgery", "miou_fg": float("nan"), "theta_fg": 0.4, "n": 3},
    ]
    text = format_table(rows, ["method", "miou_fg", "theta_fg", "n"])
    lines = text.splitlines()
    assert len(lines) == 4
    assert len({len(line) for line in lines}) == 1  # last column numeric and right-aligned
    assert "45.7" in lines[2] and "0.350" in lines[2] and "0.400" in lines[3]
    assert lines[3].split()[1] == "-"
    assert lines[2].startswith("itsm ")
    # Numbers right-aligned: the 'n' column ends at the same place in every line.
    assert lines[2].endswith("12") and lines[3].endswith(" 3") and lines[0].endswith(" n")
