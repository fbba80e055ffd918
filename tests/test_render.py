import numpy as np
import pytest

from eclip_desktop.core.figures import render
from eclip_desktop.core.figures.render import (
    COLORMAPS,
    annotate,
    colorize,
    colormap_lut,
    colormap_names,
    contour_mask,
    draw_contour,
    overlay,
    region_outlines,
    side_by_side,
)


def _image(h=40, w=60):
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([xx * 4, yy * 6, np.full_like(xx, 90)], axis=-1).astype(np.uint8)


def _blob(h=40, w=60):
    heat = np.zeros((h, w), np.float32)
    heat[10:20, 30:45] = 1.0
    return heat


# --- colormaps --------------------------------------------------------------------------------


def test_colormap_names_order_perceptual_first():
    names = colormap_names()
    assert names[:6] == ["viridis", "inferno", "magma", "plasma", "cividis", "turbo"]
    assert {"jet", "hot", "gray"} <= set(names)
    assert names == list(COLORMAPS)
    assert all(n == n.lower() for n in names)


@pytest.mark.parametrize("name", list(COLORMAPS))
def test_every_lut_is_256_by_3_uint8(name):
    lut = colormap_lut(name)
    assert lut.shape == (256, 3) and lut.dtype == np.uint8
    assert len({tuple(c) for c in lut}) > 50  # a real ramp, not a constant


def test_viridis_is_rgb_dark_purple_to_yellow():
    lut = colormap_lut("viridis")
    r, g, b = lut[0].astype(int)
    assert b > r and b > g and r + g + b < 250  # dark purple-blue (68, 1, 84)
    r, g, b = lut[255].astype(int)
    assert r > 200 and g > 200 and b < 80  # yellow (253, 231, 37); BGR order would put the blue high


def test_gray_is_a_plain_ramp_and_name_is_case_insensitive():
    lut = colormap_lut("Gray")
    np.testing.assert_array_equal(lut[:, 0], np.arange(256))
    assert (lut[:, 0] == lut[:, 1]).all() and (lut[:, 1] == lut[:, 2]).all()


def test_lut_copy_cannot_corrupt_the_cache():
    lut = colormap_lut("jet")
    lut[:] = 0
    assert colormap_lut("jet").any()


def test_unknown_colormap_lists_valid_names():
    with pytest.raises(ValueError) as info:
        colormap_lut("rainbow-unicorn")
    assert "rainbow-unicorn" in str(info.value) and "viridis" in str(info.value) and "gray" in str(info.value)


def test_colorize_is_nan_safe_and_clips():
    heat = np.array([[np.nan, -1.0, 0.0], [0.5, 1.0, 7.0]], np.float32)
    out = colorize(heat, "viridis")
    lut = colormap_lut("viridis")
    assert out.shape == (2, 3, 3) and out.dtype == np.uint8
    for y, x in [(0, 0), (0, 1), (0, 2)]:
        np.testing.assert_array_equal(out[y, x], lut[0])
    np.testing.assert_array_equal(out[1, 1], lut[255])
    np.testing.assert_array_equal(out[1, 2], lut[255])
    np.testing.assert_array_equal(out[1, 0], lut[128])


def test_colorize_rejects_non_2d():
    with pytest.raises(ValueError):
        colorize(np.zeros((2, 2, 2)), "jet")


# --- overlay ----------------------------------------------------------------------------------


def test_overlay_alpha_zero_is_the_image():
    img = _image()
    np.testing.assert_array_equal(overlay(img, _blob(), "jet", alpha=0.0), img)


def test_overlay_alpha_one_is_the_colormap():
    heat = _blob()
    np.testing.assert_array_equal(overlay(_image(), heat, "viridis", alpha=1.0), colorize(heat, "viridis"))


def test_overlay_half_changes_hot_pixels_more_than_cold():
    img = _image()
    heat = _blob()
    out = overlay(img, heat, "jet", alpha=0.5)
    assert out.shape == img.shape and out.dtype == np.uint8
    hot = np.abs(out[heat > 0.5].astype(int) - img[heat > 0.5].astype(int)).mean()
    expected = (img.astype(np.float32) + colorize(heat, "jet").astype(np.float32)) / 2
    assert np.abs(out.astype(np.float32) - expected).max() <= 1.0
    assert hot > 20


def test_overlay_levels_rescale_heat():
    img = _image()
    heat = np.full(img.shape[:2], 0.6, np.float32)
    # With levels (0.2, 0.6) the value 0.6 is the top of the range.
    out = overlay(img, heat, "gray", alpha=1.0, levels=(0.2, 0.6))
    assert (out == 255).all()
    out = overlay(img, heat, "gray", alpha=1.0, levels=(0.6, 1.0))
    assert (out == 0).all()


@pytest.mark.parametrize(
    "kwargs",
    [dict(heat=np.zeros((10, 10))), dict(alpha=1.5), dict(levels=(0.5, 0.5)), dict(levels=(0.0, float("nan")))],
)
def test_overlay_rejects_bad_arguments(kwargs):
    args = dict(rgb=_image(), heat=_blob(), cmap="jet")
    args.update(kwargs)
    with pytest.raises(ValueError):
        overlay(**args)


def test_overlay_rejects_non_rgb_image():
    with pytest.raises(ValueError):
        overlay(np.zeros((40, 60), np.uint8), _blob())
    with pytest.raises(ValueError):
        overlay(_image().astype(np.float32), _blob())


# --- contours ---------------------------------------------------------------------------------


def test_contour_mask_is_the_outline_only():
    mask = np.zeros((10, 10), bool)
    mask[2:7, 3:8] = True
    edge = contour_mask(mask)
    assert edge.dtype == bool and edge.shape == mask.shape
    assert not edge[4, 5]  # interior
    assert edge[2, 3] and edge[6, 7] and edge[4, 3] and edge[2, 5]
    assert not (edge & ~mask).any()
    assert edge.sum() == 2 * 5 + 2 * 3


def test_contour_mask_empty_and_full():
    assert not contour_mask(np.zeros((5, 5), bool)).any()
    # A mask covering the whole image has no outline inside it.
    assert not contour_mask(np.ones((5, 5), bool)).any()


def test_draw_contour_draws_colour_on_a_copy():
    img = np.zeros((30, 30, 3), np.uint8)
    mask = np.zeros((30, 30), bool)
    mask[10:20, 10:20] = True
    out = draw_contour(img, mask, color=(255, 0, 0), thickness=2)
    assert not img.any()  # input untouched
    assert out[10, 15].tolist() == [255, 0, 0]
    assert out[15, 15].tolist() == [0, 0, 0]  # interior stays
    assert out[0, 0].tolist() == [0, 0, 0]
    with pytest.raises(ValueError):
        draw_contour(img, np.zeros((5, 5), bool))


# --- annotate ---------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(64, 64), (300, 400), (1500, 2000)])
def test_annotate_adds_title_and_colorbar(shape):
    h, w = shape
    panel = np.full((h, w, 3), 128, np.uint8)
    fig = annotate(panel, ["a photo of a cat", "ViT-B-16 / layer 11"], "viridis", levels=(0.1, 0.9))
    assert fig.dtype == np.uint8 and fig.ndim == 3 and fig.shape[2] == 3
    assert fig.shape[0] > max(h, 256) and fig.shape[1] > max(w, 256)
    # Right of the (grey, hence never a viridis colour) panel there must be colorbar pixels.
    right = fig[:, max(w, 256) :, :]
    viridis = {tuple(c) for c in colormap_lut("viridis")}
    coloured = [tuple(p) for p in right.reshape(-1, 3)[::7] if tuple(p) in viridis]
    assert len(coloured) > 20
    # Title block above the panel contains dark text.
    assert (fig[: fig.shape[0] - max(h, 256), :, :] < 80).any()
    # Corners of the canvas are white.
    assert fig[0, 0].tolist() == [255, 255, 255] and fig[-1, -1].tolist() == [255, 255, 255]


def test_annotate_small_panel_is_upscaled_nearest():
    panel = np.zeros((64, 64, 3), np.uint8)
    panel[:32, :32] = (255, 0, 255)  # a colour neither jet nor the text uses
    fig = annotate(panel, ["t"], "jet")
    marked = np.all(fig == (255, 0, 255), axis=-1)
    assert marked.sum() == 128 * 128  # 4x nearest: a 32x32 block becomes exactly 128x128, no blur


def test_annotate_is_deterministic():
    panel = np.random.default_rng(1).integers(0, 255, (120, 90, 3), dtype=np.uint8)
    a = annotate(panel, ["title", "sub"], "magma", (0.2, 0.8))
    b = annotate(panel, ["title", "sub"], "magma", (0.2, 0.8))
    np.testing.assert_array_equal(a, b)
    # A bare string is one title line, not one line per character.
    np.testing.assert_array_equal(annotate(panel, "title", "magma"), annotate(panel, ["title"], "magma"))


def test_annotate_long_title_does_not_widen_the_figure():
    panel = np.full((300, 300, 3), 128, np.uint8)
    short = annotate(panel, ["short", "s"], "viridis")
    long = annotate(panel, ["x" * 2000, "y" * 2000], "viridis")
    # Wrapped, not cut: the figure grows downwards only, and the text stops before the right margin.
    assert short.shape[1] == long.shape[1] and long.shape[0] > short.shape[0]
    margin_cols = long[: long.shape[0] - 300, -5:, :]
    assert (margin_cols == 255).all()


def test_annotate_unknown_colormap_and_bad_panel():
    with pytest.raises(ValueError):
        annotate(np.zeros((10, 10, 3), np.uint8), ["t"], "nope")
    with pytest.raises(ValueError):
        annotate(np.zeros((10, 10), np.uint8), ["t"], "jet")
    with pytest.raises(ValueError):
        annotate(np.zeros((10, 10, 3), np.uint8), ["t"], "jet", levels=(1.0, 0.0))


def test_text_without_glyphs_is_replaced():
    # Characters the font lacks must not be drawn as missing-glyph boxes: CJK is not in DejaVu
    # nor in Pillow's bundled font.
    assert render._printable("猫 cat") == "? cat"
    assert render._printable("ok") == "ok"
    out = render._printable("min–max × café")
    assert out in ("min–max × café", "min-max x cafe")  # DejaVu draws them; the fallback spells them


def test_ellipsize_fits_width():
    font = render._font(20)
    text = render._ellipsize("a very long title " * 20, font, 150)
    assert font.getlength(text) <= 150 and text.endswith(("…", "..."))
    assert render._ellipsize("fits", font, 150) == "fits"


# --- side_by_side -----------------------------------------------------------------------------


def test_side_by_side_resizes_to_first_height():
    a = np.zeros((50, 40, 3), np.uint8)
    b = np.zeros((100, 60, 3), np.uint8)
    out = side_by_side([a, b], None, pad=8)
    assert out.shape == (8 + 50 + 8, 8 + 40 + 8 + 30 + 8, 3)
    assert out[0, 0].tolist() == [255, 255, 255]
    assert (out[8:58, 8:48] == 0).all() and (out[8:58, 56:86] == 0).all()


def test_side_by_side_captions_add_text_below():
    panels = [np.zeros((80, 80, 3), np.uint8), np.zeros((80, 80), np.uint8)]
    plain = side_by_side(panels, None)
    captioned = side_by_side(panels, ["left", "right"])
    assert captioned.shape[0] > plain.shape[0] and captioned.shape[1] == plain.shape[1]
    below = captioned[8 + 80 :, :, :]
    assert (below < 100).any()


def test_side_by_side_caption_lines_each_get_a_row():
    panels = [np.zeros((80, 80, 3), np.uint8)] * 2
    one = side_by_side(panels, ["left", "right"])
    two = side_by_side(panels, ["left\nsecond line", "right"])
    assert two.shape[1] == one.shape[1] and two.shape[0] > one.shape[0]
    assert (two[one.shape[0] - 8:, 8:88] < 100).any(), "the second line is drawn under the first"


def test_side_by_side_rejects_bad_input():
    with pytest.raises(ValueError):
        side_by_side([], None)
    with pytest.raises(ValueError):
        side_by_side([np.zeros((4, 4, 3), np.uint8)], ["a", "b"])
    with pytest.raises(ValueError):
        side_by_side([np.zeros((4, 4, 3), np.float32)], None)


def test_long_title_wraps_instead_of_cutting():
    font = render._font(20)
    text = "eclip-tiny-vit (eclip-shapes-vit/avg.safetensors) \u00b7 ITSM \u00b7 pooling: average pooling"
    rows = render._wrap(text, font, 200)
    assert len(rows) > 1 and all(font.getlength(r) <= 200 for r in rows)
    assert "".join(rows).replace(" ", "") == text.replace(" ", "")  # nothing dropped: the pooling is there
    assert render._wrap("x" * 300, font, 100)[0] != "x" * 300  # an unbreakable word is split
    panel = np.full((300, 300, 3), 128, np.uint8)
    assert annotate(panel, ["t", text], "viridis").shape[0] > annotate(panel, ["t", "short"], "viridis").shape[0]


def test_short_model_name_hides_local_paths():
    assert render.short_model_name("eclip-tiny-rn", "/home/me/x/eclip-shapes/avg.safetensors") == \
        "eclip-tiny-rn (eclip-shapes/avg.safetensors)"
    assert render.short_model_name("ViT-B-16", "openai") == "ViT-B-16 (openai)"
    assert render.short_model_name("RN50", "C:\\Users\\me\\w.pt") == "RN50 (me/w.pt)"
    assert render.short_model_name("RN50", None) == "RN50"


def test_exported_outline_leaves_out_the_image_border():
    # A region touching the top and left edge (e.g. a lit background corner): only its inner edges
    # are outlined, the picture's frame is not.
    img = np.zeros((40, 40, 3), np.uint8)
    mask = np.zeros((40, 40), bool)
    mask[:12, :16] = True
    out = draw_contour(img, mask, color=(255, 0, 0), thickness=1)
    red = (out == [255, 0, 0]).all(axis=2)
    assert red[11, 1:15].all() and red[1:11, 15].all()  # the inner edges
    assert not red[0, 1:14].any() and not red[1:10, 0].any()  # no line along the border
    assert not red[12:].any() and not red[:, 17:].any()
    # a region away from the border keeps its closed outline
    inner = np.zeros((40, 40), bool)
    inner[20:30, 20:30] = True
    ring = (draw_contour(img, inner, color=(0, 255, 0), thickness=1) == [0, 255, 0]).all(axis=2)
    assert ring[20, 20:30].all() and ring[29, 20:30].all() and ring[20:30, 20].all() and ring[20:30, 29].all()
    # a contour that starts on an inner edge and wraps round is one line, not two
    side = np.zeros((40, 40), bool)
    side[10:20, :10] = True
    assert len(region_outlines(side)) == 1
