"""The annotated figure as SVG: the same layout as render.annotate, but the title, the colorbar and
its ticks are vector elements, so a paper can scale the figure and edit or search its text.

Only the overlay panel is a raster (an embedded PNG): it *is* pixels, and resampling it into vector
shapes would only make the file large. Text is real <text> (any Unicode: the viewer's fonts draw
it, so no ASCII stand-ins are needed as in the raster figure).
"""
from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from xml.sax.saxutils import escape, quoteattr

import numpy as np
from PIL import Image

from eclip_desktop.core.figures.render import (
    DEFAULT_COLORBAR_LABEL,
    check_levels,
    check_rgb,
    colormap_lut,
    figure_sizes,
)

# Stops sampled from the 256-entry LUT; 33 keeps every map (even jet's kinks) visually identical
# to the raster bar while the file stays small.
GRADIENT_STOPS = 33
_FONT_FAMILY = "DejaVu Sans, Arial, Helvetica, sans-serif"
# Average advance of a sans-serif glyph in ems; SVG has no text measurement, so layout that must
# make room for text (tick labels, long titles) uses this estimate.
_EM_ADVANCE = 0.62


def _png_base64(rgb: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _text_w(text: str, size: float) -> float:
    return len(text) * size * _EM_ADVANCE


def _xml_text(text: str) -> str:
    # XML 1.0 forbids most control characters (a prompt could carry one); they become spaces.
    clean = "".join(" " if (ord(c) < 0x20 or 0xFFFE <= ord(c) <= 0xFFFF or 0xD800 <= ord(c) <= 0xDFFF)
                    else c for c in str(text))
    return escape(clean)


def _hex(rgb) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(int(c) for c in rgb))


def figure_svg(
    panel_rgb: np.ndarray,
    title_lines: Sequence[str],
    cmap: str,
    levels: Sequence[float] = (0.0, 1.0),
    colorbar_label: str = DEFAULT_COLORBAR_LABEL,
) -> str:
    """A standalone SVG document: title block, the panel (embedded PNG) and a vector colorbar."""
    panel = check_rgb(panel_rgb, "panel")
    lo, hi = check_levels(levels)
    lut = colormap_lut(cmap)
    ph0, pw0 = panel.shape[:2]
    # Small maps are shown larger (as the raster figure upscales them) so text keeps a sane size
    # relative to the panel; the embedded PNG keeps the panel's own pixels.
    scale = max(1, math.ceil(256 / max(min(ph0, pw0), 1)))
    ph, pw = ph0 * scale, pw0 * scale
    s = figure_sizes(ph, pw)
    body, title = s["body"], s["title"]
    margin, lw = s["margin"], s["line_w"]

    tick_values = (hi, (lo + hi) / 2.0, lo)
    tick_texts = [f"{v:.2f}" for v in tick_values]
    tick_w = max(_text_w(t, body) for t in tick_texts)
    bar_x = margin + pw + s["bar_gap"]
    ticks_x = bar_x + s["bar_w"] + s["tick_len"] + max(2, s["tick_len"] // 2)
    label_x = ticks_x + tick_w + s["bar_gap"]
    label_room = body * 1.2 if colorbar_label else 0
    lines = [title_lines] if isinstance(title_lines, str) else [str(t) for t in title_lines]
    sizes = [title if i == 0 else body for i in range(len(lines))]
    # A long title widens the figure rather than being cut: the text is the point of a vector figure.
    width = max(label_x + label_room + margin,
                max((margin * 2 + _text_w(t, z) for t, z in zip(lines, sizes)), default=0))
    title_h = sum(round(z * 1.2 * 1.2) for z in sizes)
    panel_y = max(margin + title_h + (margin // 2 if lines else 0), body // 2 + 2)
    height = panel_y + ph + max(margin, body // 2 + margin // 2)
    width, height = math.ceil(width), math.ceil(height)

    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
           f'version="1.1" width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
           "<defs>",
           # y1=1 -> y2=0: the bottom of the bar is the low end of the map, as in the raster figure.
           '<linearGradient id="colorbar" x1="0" y1="1" x2="0" y2="0">']
    for k in range(GRADIENT_STOPS):
        frac = k / (GRADIENT_STOPS - 1)
        out.append(f'<stop offset="{frac:.4f}" stop-color="{_hex(lut[round(frac * 255)])}"/>')
    out += ["</linearGradient>", "</defs>",
            f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
            f'<g font-family="{_FONT_FAMILY}" fill="#000000">']
    y = margin
    for i, (text, z) in enumerate(zip(lines, sizes)):
        weight = ' font-weight="bold"' if i == 0 else ""
        # dominant-baseline is unevenly supported; placing the baseline at ascent ~0.8 em is portable.
        out.append(f'<text x="{margin}" y="{y + 0.8 * z * 1.2:.1f}" font-size="{z}"{weight} '
                   f'xml:space="preserve">{_xml_text(text)}</text>')
        y += round(z * 1.2 * 1.2)
    out.append("</g>")
    out.append(f'<image x="{margin}" y="{panel_y}" width="{pw}" height="{ph}" preserveAspectRatio="none" '
               f'style="image-rendering:pixelated" '
               f'xlink:href="data:image/png;base64,{_png_base64(panel)}"/>')
    out.append(f'<rect x="{bar_x}" y="{panel_y}" width="{s["bar_w"]}" height="{ph}" fill="url(#colorbar)" '
               f'stroke="#000000" stroke-width="{lw}"/>')
    tick_x0 = bar_x + s["bar_w"]
    out.append(f'<g font-family="{_FONT_FAMILY}" font-size="{body}" fill="#000000">')
    for text, frac in zip(tick_texts, (0.0, 0.5, 1.0)):
        ty = panel_y + frac * ph
        out.append(f'<line x1="{tick_x0}" y1="{ty:.1f}" x2="{tick_x0 + s["tick_len"]}" y2="{ty:.1f}" '
                   f'stroke="#000000" stroke-width="{lw}"/>')
        out.append(f'<text x="{ticks_x}" y="{ty + 0.35 * body:.1f}">{escape(text)}</text>')
    if colorbar_label:
        cx, cy = label_x + 0.8 * body, panel_y + ph / 2
        # Rotated to read bottom-to-top, the usual colorbar convention.
        out.append(f'<text x="{cx:.1f}" y="{cy:.1f}" text-anchor="middle" '
                   f'transform={quoteattr(f"rotate(-90 {cx:.1f} {cy:.1f})")}>{_xml_text(colorbar_label)}</text>')
    out += ["</g>", "</svg>", ""]
    return "\n".join(out)
