"""Turn heatmaps into pictures: colormaps, overlays and annotated figures (outlines: outline.py).

Only numpy, OpenCV and Pillow are used so the same code serves the GUI and the CLI.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from eclip_desktop.core.figures.checks import check_rgb
from eclip_desktop.core.figures.outline import contour_mask, draw_contour, region_outlines  # noqa: F401 (public here too)

# cv2 has no plain grey ramp, so this id is ours; colormap_lut() builds it directly.
_GRAY_ID = -1

# Perceptually uniform maps first: they are the honest default for scientific figures.
COLORMAPS: dict[str, int] = {
    "viridis": cv2.COLORMAP_VIRIDIS,
    "inferno": cv2.COLORMAP_INFERNO,
    "magma": cv2.COLORMAP_MAGMA,
    "plasma": cv2.COLORMAP_PLASMA,
    "cividis": cv2.COLORMAP_CIVIDIS,
    "turbo": cv2.COLORMAP_TURBO,
    "jet": cv2.COLORMAP_JET,
    "hot": cv2.COLORMAP_HOT,
    "gray": _GRAY_ID,
}

# One default for the window, the command line and every export: a perceptually uniform map.
DEFAULT_COLORMAP = "viridis"
DEFAULT_COLORBAR_LABEL = "similarity (min–max normalised)"
_MIN_SHORT_SIDE = 256


OVERLAY_MODES = ("blend", "alpha", "heatmap")
_WEIGHT_FILES = (".safetensors", ".pt", ".pth", ".bin", ".ckpt")


def short_model_name(model: str, weights: str | None = "") -> str:
    """'architecture (weights)' for a picture: a checkpoint path is cut to its folder and file name,
    so a figure neither leaks a local path nor loses its pooling to a long title (the sidecar keeps
    the full path)."""
    w = str(weights or "")
    if "/" in w or "\\" in w or w.lower().endswith(_WEIGHT_FILES):
        parts = [p for p in w.replace("\\", "/").split("/") if p]
        w = "/".join(parts[-2:])
    return f"{model} ({w})" if w else str(model)


def colormap_names() -> list[str]:
    return list(COLORMAPS)


def _cmap_id(name: str) -> int:
    key = str(name).strip().lower()
    if key not in COLORMAPS:
        raise ValueError(f"unknown colormap {name!r}; choose one of: {', '.join(COLORMAPS)}")
    return COLORMAPS[key]


@lru_cache(maxsize=None)
def _lut(cmap_id: int) -> np.ndarray:
    ramp = np.arange(256, dtype=np.uint8)
    if cmap_id == _GRAY_ID:
        lut = np.repeat(ramp[:, None], 3, axis=1)
    else:
        bgr = cv2.applyColorMap(ramp.reshape(256, 1), cmap_id).reshape(256, 3)
        lut = bgr[:, ::-1]
    lut = np.ascontiguousarray(lut, dtype=np.uint8)
    lut.setflags(write=False)
    return lut


def colormap_lut(name: str) -> np.ndarray:
    """256×3 uint8 RGB table; row 0 is the colour of 0.0, row 255 of 1.0."""
    return _lut(_cmap_id(name)).copy()


def colorize(heat: np.ndarray, cmap: str = DEFAULT_COLORMAP) -> np.ndarray:
    """Map a float H×W array in [0, 1] to uint8 RGB; NaN reads as 0, out-of-range values are clipped."""
    h = np.asarray(heat, dtype=np.float32)
    if h.ndim != 2:
        raise ValueError(f"heat must be a 2-D array, got shape {h.shape}")
    lut = _lut(_cmap_id(cmap))
    h = np.nan_to_num(h, nan=0.0, posinf=1.0, neginf=0.0)
    idx = np.rint(np.clip(h, 0.0, 1.0) * 255.0).astype(np.uint8)
    return lut[idx]


def check_levels(levels: Sequence[float]) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in levels)
    except (TypeError, ValueError):
        raise ValueError(f"levels must be two numbers (low, high), got {levels!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"levels must be finite with low < high, got ({lo}, {hi})")
    return lo, hi


def overlay(
    rgb: np.ndarray,
    heat: np.ndarray,
    cmap: str = DEFAULT_COLORMAP,
    alpha: float = 0.5,
    levels: Sequence[float] = (0.0, 1.0),
    mode: str = "blend",
) -> np.ndarray:
    """Blend the coloured heatmap over the image; ``levels`` stretch heat before colouring.

    mode: "blend" (one opacity everywhere), "alpha" (opacity grows with the value, so low values
    leave the image untouched and high ones keep their true colour instead of mixing with it), or
    "heatmap" (the map alone)."""
    if mode not in OVERLAY_MODES:
        raise ValueError(f"unknown overlay mode {mode!r}; choose {', '.join(OVERLAY_MODES)}")
    img = check_rgb(rgb)
    h = np.asarray(heat, dtype=np.float32)
    if h.shape != img.shape[:2]:
        raise ValueError(f"heat shape {h.shape} does not match image size {img.shape[:2]}")
    a = float(alpha)
    if not 0.0 <= a <= 1.0:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    lo, hi = check_levels(levels)
    stretched = (h - lo) / (hi - lo)
    coloured = colorize(stretched, cmap)
    if mode == "heatmap":
        return coloured
    if mode == "alpha":
        a = (a * np.clip(np.nan_to_num(stretched), 0.0, 1.0))[..., None]
    out = img.astype(np.float32) * (1.0 - a) + coloured.astype(np.float32) * a
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


# --- text -----------------------------------------------------------------------------------

# The font bundled with Pillow covers little beyond ASCII; these keep common symbols readable.
_ASCII_STAND_INS = {
    "–": "-", "—": "-", "−": "-", "×": "x", "‘": "'", "’": "'", "“": '"', "”": '"',
    "≤": "<=", "≥": ">=", "±": "+/-", "°": " deg", "µ": "u", "\t": " ", "\n": " ", "\r": " ",
}


# A system DejaVu (Debian fonts-dejavu-core, installed by packaging/bootstrap.sh) draws accented
# and Greek/Cyrillic prompts; Pillow's bundled font is the fallback everywhere else.
_FONT_FILES = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "DejaVuSans.ttf")


@lru_cache(maxsize=64)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for name in _FONT_FILES:
        try:
            return ImageFont.truetype(name, size=size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


@lru_cache(maxsize=1)
def _missing_glyph_mask() -> bytes:
    # U+FFFF is a non-character, so any font renders it with its "missing glyph" box.
    return bytes(_font(24).getmask("\uffff"))


@lru_cache(maxsize=4096)
def _has_glyph(ch: str) -> bool:
    if ch == " " or (ch.isascii() and ch.isprintable()):
        return True
    if not ch.isprintable():
        return False
    return bytes(_font(24).getmask(ch)) != _missing_glyph_mask()


def _printable(text: str) -> str:
    """Replace characters the bundled font cannot draw by the nearest ASCII, or '?'."""
    out = []
    for ch in str(text):
        if _has_glyph(ch):
            out.append(ch)
        elif ch in _ASCII_STAND_INS:
            out.append(_ASCII_STAND_INS[ch])
        else:
            plain = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode("ascii")
            out.append(plain if plain and all(_has_glyph(c) for c in plain) else "?")
    return "".join(out)


def _ellipsize(text: str, font, max_width: float) -> str:
    """Longest prefix of ``text`` that, with '…' appended, fits ``max_width`` pixels."""
    if font.getlength(text) <= max_width:
        return text
    ellipsis = "…" if _has_glyph("…") else "..."
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if font.getlength(text[:mid].rstrip() + ellipsis) <= max_width:
            lo = mid
        else:
            hi = mid - 1
    if lo == 0:
        return ellipsis if font.getlength(ellipsis) <= max_width else ""
    return text[:lo].rstrip() + ellipsis


def _wrap(text: str, font, max_width: float) -> list[str]:
    """Rows of ``text`` that each fit ``max_width`` pixels, broken at spaces (inside a word only
    when the word alone is too wide)."""
    rows: list[str] = []
    row = ""
    for word in text.split(" "):
        candidate = f"{row} {word}" if row else word
        if font.getlength(candidate) <= max_width:
            row = candidate
            continue
        if row:
            rows.append(row)
        row = word
        while font.getlength(row) > max_width and len(row) > 1:
            cut = len(row) - 1
            while cut > 1 and font.getlength(row[:cut]) > max_width:
                cut -= 1
            rows.append(row[:cut])
            row = row[cut:]
    if row or not rows:
        rows.append(row)
    return rows


def _line_height(font) -> int:
    ascent, descent = font.getmetrics()
    return int(ascent + descent)


def upscale_for_text(panel: np.ndarray) -> np.ndarray:
    short = min(panel.shape[:2])
    if short >= _MIN_SHORT_SIDE:
        return panel
    # Integer nearest-neighbour keeps heatmap cells crisp instead of blurring them.
    factor = math.ceil(_MIN_SHORT_SIDE / max(short, 1))
    return np.repeat(np.repeat(panel, factor, axis=0), factor, axis=1)


def figure_sizes(panel_h: int, panel_w: int) -> dict[str, int]:
    # Scale with the panel's short side so text keeps its proportion to the picture.
    short = min(panel_h, panel_w)
    body = int(np.clip(round(short / 22), 12, 72))
    return {
        "body": body,
        "title": int(round(body * 1.3)),
        "margin": max(8, round(body * 0.9)),
        "bar_w": max(12, round(short * 0.045)),
        "bar_gap": max(6, round(body * 0.6)),
        "tick_len": max(3, round(body * 0.35)),
        "line_w": max(1, round(body / 16)),
    }


def annotate(
    panel_rgb: np.ndarray,
    title_lines: Sequence[str],
    cmap: str,
    levels: Sequence[float] = (0.0, 1.0),
    colorbar_label: str = DEFAULT_COLORBAR_LABEL,
) -> np.ndarray:
    """Compose a figure on white: title block, the panel, and a labelled vertical colorbar."""
    panel = upscale_for_text(check_rgb(panel_rgb, "panel"))
    lo, hi = check_levels(levels)
    lut = _lut(_cmap_id(cmap))
    ph, pw = panel.shape[:2]
    s = figure_sizes(ph, pw)
    body_font, title_font = _font(s["body"]), _font(s["title"])
    body_h = _line_height(body_font)

    tick_values = (hi, (lo + hi) / 2.0, lo)
    tick_texts = [f"{v:.2f}" for v in tick_values]
    tick_w = max(math.ceil(body_font.getlength(t)) for t in tick_texts)
    label_room = body_h if colorbar_label else 0

    margin = s["margin"]
    bar_x = margin + pw + s["bar_gap"]
    ticks_x = bar_x + s["bar_w"] + s["tick_len"] + max(2, s["tick_len"] // 2)
    label_x = ticks_x + tick_w + s["bar_gap"]
    width = label_x + label_room + margin

    # A bare string would otherwise be drawn one character per line.
    lines = [title_lines] if isinstance(title_lines, str) else list(title_lines)
    titles = [_printable(t) for t in lines]
    title_w = width - 2 * margin
    bold_shift = max(1, round(s["title"] / 30))
    title_rows = []
    for i, text in enumerate(titles):
        font = title_font if i == 0 else body_font
        room = title_w - (bold_shift if i == 0 else 0)
        # Wrapped, never cut: a title's last words (the pooling, the method) are what it is for.
        title_rows += [(row, font, i == 0) for row in _wrap(text, font, room)]
    title_h = sum(int(round(_line_height(f) * 1.2)) for _, f, _ in title_rows)
    # The top tick label is centred on the bar's top edge, so half a line must fit above it.
    panel_y = max(margin + title_h + (margin // 2 if title_rows else 0), body_h // 2 + 2)
    # The lowest tick label is centred on the bar's bottom edge, so half a line must fit below.
    height = panel_y + ph + max(margin, body_h // 2 + margin // 2)

    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)

    y = margin
    for text, font, first in title_rows:
        draw.text((margin, y), text, font=font, fill=(0, 0, 0))
        if first:
            # Pillow's bundled font has no bold face; re-drawing shifted sideways thickens the
            # vertical strokes without closing the letters' counters as stroke_width does.
            for dx in range(1, bold_shift + 1):
                draw.text((margin + dx, y), text, font=font, fill=(0, 0, 0))
        y += int(round(_line_height(font) * 1.2))

    canvas.paste(Image.fromarray(np.ascontiguousarray(panel)), (margin, panel_y))

    # Row 0 of the bar is the top, i.e. the high end of the map.
    rows = np.linspace(255, 0, ph).round().astype(np.intp)
    bar = np.repeat(lut[rows][:, None, :], s["bar_w"], axis=1)
    canvas.paste(Image.fromarray(np.ascontiguousarray(bar)), (bar_x, panel_y))
    lw = s["line_w"]
    draw.rectangle(
        (bar_x - lw, panel_y - lw, bar_x + s["bar_w"] - 1 + lw, panel_y + ph - 1 + lw),
        outline=(0, 0, 0),
        width=lw,
    )

    tick_x0 = bar_x + s["bar_w"] + lw
    for text, frac in zip(tick_texts, (0.0, 0.5, 1.0)):
        ty = panel_y + round(frac * (ph - 1))
        draw.line((tick_x0, ty, tick_x0 + s["tick_len"], ty), fill=(0, 0, 0), width=lw)
        draw.text((ticks_x, ty - body_h // 2), text, font=body_font, fill=(0, 0, 0))

    if colorbar_label:
        label = _ellipsize(_printable(colorbar_label), body_font, ph)
        label_w = max(1, math.ceil(body_font.getlength(label)))
        strip = Image.new("RGB", (label_w, body_h), "white")
        ImageDraw.Draw(strip).text((0, 0), label, font=body_font, fill=(0, 0, 0))
        # Rotated counter-clockwise so it reads bottom-to-top, the usual colorbar convention.
        strip = strip.transpose(Image.Transpose.ROTATE_90)
        canvas.paste(strip, (label_x, panel_y + (ph - label_w) // 2))

    return np.array(canvas, dtype=np.uint8)


def _as_rgb_panel(panel: np.ndarray, index: int) -> np.ndarray:
    arr = np.asarray(panel)
    if arr.dtype != np.uint8:
        raise ValueError(f"panel {index} must be uint8, got {arr.dtype}")
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"panel {index} must be H×W×3 RGB or H×W grey, got shape {np.asarray(panel).shape}")
    return arr


def side_by_side(
    panels: Sequence[np.ndarray],
    captions: Sequence[str] | None = None,
    pad: int = 8,
) -> np.ndarray:
    """Tile panels left to right on white at the first panel's height; optional captions below, a row per
    line, each line wrapped to its panel's width (never cut: a caption's last words are often its numbers)."""
    if len(panels) == 0:
        raise ValueError("side_by_side needs at least one panel")
    if captions is not None and len(captions) != len(panels):
        raise ValueError(f"got {len(captions)} captions for {len(panels)} panels")
    if int(pad) < 0:
        raise ValueError(f"pad must be >= 0, got {pad}")
    pad = int(pad)

    arrays = [_as_rgb_panel(p, i) for i, p in enumerate(panels)]
    target_h = arrays[0].shape[0]
    resized = []
    for arr in arrays:
        h, w = arr.shape[:2]
        if h != target_h:
            new_w = max(1, round(w * target_h / h))
            interp = cv2.INTER_AREA if target_h < h else cv2.INTER_LINEAR
            arr = cv2.resize(np.ascontiguousarray(arr), (new_w, target_h), interpolation=interp)
        resized.append(arr)

    font, caption_h, line_h, rows = None, 0, 0, [[] for _ in resized]
    if captions is not None and any(str(c) for c in captions):
        font = _font(int(np.clip(round(target_h / 16), 12, 48)))
        line_h = int(round(_line_height(font) * 1.3))
        rows = [[r for line in str(c).split("\n") for r in _wrap(_printable(line), font, arr.shape[1])]
                for c, arr in zip(captions, resized)]
        caption_h = line_h * max(len(r) for r in rows)

    width = pad + sum(a.shape[1] + pad for a in resized)
    height = pad + target_h + caption_h + pad
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    x = pad
    for i, arr in enumerate(resized):
        canvas.paste(Image.fromarray(np.ascontiguousarray(arr)), (x, pad))
        if font is not None:
            for k, text in enumerate(rows[i]):
                tx = x + (arr.shape[1] - font.getlength(text)) / 2
                draw.text((round(tx), pad + target_h + k * line_h + line_h // 8), text, font=font, fill=(0, 0, 0))
        x += arr.shape[1] + pad
    return np.array(canvas, dtype=np.uint8)
