"""Paint for the second generalisation suite (generalisation2.py): fractal noise, the figures'
natural-looking fill textures, photograph-like backgrounds and the whole-image light and colour
finish. Nothing here decides a mask; everything here only makes colours.

All functions draw from the generator they are given, so a scene stays a pure function of its seed.
"""
from __future__ import annotations

import cv2
import numpy as np

from eclip_desktop.core.shapes.raster import hsv

TEXTURES = ("marble", "wood", "fabric", "wash")
BACKGROUNDS2 = ("outdoor", "indoor", "stone", "cloth")
LIGHTINGS = ("gradient", "vignette", "spot")


def fbm(rng: np.random.Generator, side: int, cells: int = 3, octaves: int = 5, persistence: float = 0.5) -> np.ndarray:
    """Fractal value noise: octaves of bicubically enlarged random grids, scaled to 0..1."""
    out = np.zeros((side, side), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        n = min(cells * 2 ** o, max(2, side // 2))
        grid = rng.random((n + 1, n + 1)).astype(np.float32)
        out += amp * cv2.resize(grid, (side, side), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= persistence
    lo, hi = float(out.min()), float(out.max())
    return (out - lo) / max(hi - lo, 1e-6)


def _mix(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    return a * (1 - t[..., None]) + b * t[..., None]


def _frame(side: int, centre, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates in the figure's own rotated frame (u along the figure, v across)."""
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32)
    dx, dy = xx - centre[0], yy - centre[1]
    c, s = np.cos(angle), np.sin(angle)
    return dx * c + dy * s, -dx * s + dy * c


# ----------------------------------------------------------------------------- figure fills


def texture(kind: str, rng: np.random.Generator, side: int, centre, radius: float, angle: float,
            hue: float) -> np.ndarray:
    """An H x W x 3 float paint layer tinted in `hue` (only the figure's pixels are used)."""
    sat = rng.uniform(0.4, 0.9)
    light = hsv(hue, sat * rng.uniform(0.35, 0.7), rng.uniform(0.8, 0.97))
    dark = hsv(hue + rng.uniform(-0.04, 0.04), sat, rng.uniform(0.35, 0.6))
    u, v = _frame(side, centre, angle + rng.uniform(-0.6, 0.6))
    r = max(radius, 4.0)
    if kind == "marble":  # thin dark veins along a turbulent sine
        turb = fbm(rng, side, cells=max(2, int(side / r)), octaves=5)
        phase = 2 * np.pi * (u / r * rng.uniform(0.6, 1.4) + rng.uniform(2.0, 4.0) * turb)
        veins = (1 - np.abs(np.sin(phase))) ** rng.uniform(5, 12)
        cloud = fbm(rng, side, cells=max(2, int(2 * side / r)), octaves=3)
        return _mix(_mix(light, (light + dark) / 2, 0.5 * cloud), dark, veins)
    if kind == "wood":  # growth rings around a pith off to one side, stretched along the grain
        off = rng.uniform(0.8, 2.0) * r * rng.choice([-1, 1])
        ring = np.sqrt((u / rng.uniform(2.5, 5)) ** 2 + (v - off) ** 2) / r
        ring += 0.25 * fbm(rng, side, cells=max(2, int(side / r)), octaves=4)
        late = ((ring * rng.uniform(3, 6)) % 1.0) ** 4  # dark late wood at the end of each ring
        streak = 0.5 + 0.5 * np.sin(2 * np.pi * v / max(2.0, 0.06 * r) + 6 * fbm(rng, side, cells=4, octaves=2))
        return _mix(light, dark, 0.7 * late + 0.15 * streak)
    if kind == "fabric":  # plain weave: threads over and under, each shaded across its width
        period = max(3.0, rng.uniform(0.14, 0.24) * r)
        cu, cv = np.floor(u / period), np.floor(v / period)
        over = ((cu + cv) % 2).astype(np.float32)
        across_u = np.sin(np.pi * ((v / period) % 1.0))
        across_v = np.sin(np.pi * ((u / period) % 1.0))
        shade = 0.65 + 0.35 * (over * across_u + (1 - over) * across_v)
        weft = hsv(hue + rng.uniform(-0.08, 0.08), sat, rng.uniform(0.55, 0.85))
        base = _mix(weft, (light + dark) / 2, over)
        return base * shade[..., None] * (0.92 + 0.16 * fbm(rng, side, cells=3, octaves=2))[..., None]
    # wash (watercolour): blotchy pigment; the figure's edge is darkened by the caller, which knows its shape
    blotch = fbm(rng, side, cells=max(2, int(side / r)), octaves=4)
    return _mix(light, (light + dark) / 2, 0.9 * blotch)


def edge_darkening(cov: np.ndarray, radius: float, strength: float) -> np.ndarray:
    """0..1 weight, 1 at a figure's edge falling off inwards: watercolour pigment pooling at the rim."""
    inside = (cov >= 0.5).astype(np.uint8)
    dist = cv2.distanceTransform(inside, cv2.DIST_L2, 3)
    return strength * np.exp(-dist / max(1.0, 0.12 * radius)) * inside


def paper_grain(rng: np.random.Generator, side: int) -> np.ndarray:
    """Multiplicative fine fibre grain of paper, about 1 +- 0.05."""
    fine = cv2.GaussianBlur(rng.normal(0, 1, (side, side)).astype(np.float32), (0, 0), 0.8)
    return 1 + 0.05 * fine / max(float(fine.std()), 1e-6) * 0.6


def edge_colour(style: str, hue: float, rng: np.random.Generator) -> np.ndarray:
    """The colour of an ink stroke (dark, or a contrasting hue) or of cut paper's pale rim."""
    if style == "cut":  # the paper's pale core where the scissors cut
        return hsv(hue, rng.uniform(0.0, 0.12), rng.uniform(0.9, 1.0))
    if rng.random() < 0.7:  # dark ink
        return hsv(rng.random(), rng.uniform(0.3, 0.8), rng.uniform(0.08, 0.28))
    return hsv(hue + rng.uniform(0.33, 0.67), rng.uniform(0.6, 1.0), rng.uniform(0.75, 1.0))


def lab_mean(rgb: np.ndarray) -> np.ndarray:
    """Mean CIELAB colour (L 0..100) of N x 3 RGB values 0..255."""
    return cv2.cvtColor(np.clip(rgb, 0, 255).astype(np.float32).reshape(-1, 1, 3) / 255, cv2.COLOR_RGB2Lab).mean((0, 1))


def figure_colour(style: str, kind: str, rng: np.random.Generator, below: np.ndarray, cov: np.ndarray,
                  edge: np.ndarray, centre, radius: float, angle: float, hue: float, min_contrast: float) -> np.ndarray:
    """A figure's paint: its texture, the medium's edge treatment (brush and wash: pigment pooled at
    the rim; cut: paper grain) and its stroke or rim. A fill that would melt into what lies around it
    (`below`, mean CIELAB difference < min_contrast) turns its hue half way round the wheel, then a
    quarter either way; the most distinct try is kept."""
    side = below.shape[0]
    inside = (cov >= 0.5) & (edge < 0.5)
    grow = 2 * max(2, int(0.15 * radius)) + 1
    ring = cv2.dilate((cov >= 0.5).astype(np.uint8), np.ones((grow, grow), np.uint8)).astype(bool) & (cov < 0.5)
    around = lab_mean(below[ring]) if ring.any() and inside.any() else None
    best, best_diff, best_hue = None, -1.0, hue
    for turn in (0.0, 0.5, 0.25, 0.75):
        fill = texture(kind, rng, side, centre, radius, angle, hue + turn)
        if style == "brush" or kind == "wash":
            fill = fill * (1 - edge_darkening(cov, radius, rng.uniform(0.2, 0.35)))[..., None]
        if style == "cut":
            fill = fill * paper_grain(rng, side)[..., None]
        diff = float(np.linalg.norm(lab_mean(fill[inside]) - around)) if around is not None else np.inf
        if diff > best_diff:
            best, best_diff, best_hue = fill, diff, hue + turn
        if diff >= min_contrast:
            break
    s = np.clip(edge / np.maximum(cov, 1e-6), 0, 1)[..., None]
    return best * (1 - s) + edge_colour(style, best_hue, rng) * s


# ----------------------------------------------------------------------------- backgrounds


def _outdoor(rng: np.random.Generator, side: int) -> np.ndarray:
    """Sky over ground: a wavy horizon, clouds from fractal noise, textured ground."""
    yy = np.mgrid[0:side, 0:side][0].astype(np.float32) / side
    wave = fbm(rng, side, cells=2, octaves=4)[0] - 0.5
    horizon = rng.uniform(0.35, 0.65) + 0.08 * wave  # per column
    sky_hue = rng.uniform(0.52, 0.68) if rng.random() < 0.75 else rng.uniform(0.0, 0.12)  # day or dusk
    zenith = hsv(sky_hue, rng.uniform(0.35, 0.7), rng.uniform(0.6, 0.85))
    low = hsv(sky_hue + rng.uniform(-0.05, 0.05), rng.uniform(0.05, 0.25), rng.uniform(0.85, 1.0))
    sky = _mix(zenith, low, np.clip(yy / np.maximum(horizon, 0.05), 0, 1) ** 1.5)
    clouds = np.clip((fbm(rng, side, cells=3, octaves=5) - rng.uniform(0.45, 0.65)) * 3, 0, 1)
    sky = _mix(sky, hsv(sky_hue, 0.05, 0.97), clouds * rng.uniform(0.5, 0.9))
    g_hue = rng.uniform(0.06, 0.38)
    near = hsv(g_hue, rng.uniform(0.3, 0.65), rng.uniform(0.25, 0.45))
    far = hsv(g_hue + rng.uniform(-0.04, 0.04), rng.uniform(0.15, 0.4), rng.uniform(0.45, 0.65))
    depth = np.clip((yy - horizon) / np.maximum(1 - horizon, 0.05), 0, 1)
    ground = _mix(far, near, depth) * (0.75 + 0.5 * fbm(rng, side, cells=6, octaves=5))[..., None]
    soft = np.clip((yy - horizon) * side / 1.5 + 0.5, 0, 1)  # about 1.5 px of softness at the horizon
    return _mix(sky, ground, soft)


def _indoor(rng: np.random.Generator, side: int) -> np.ndarray:
    """Wall over floor: plaster wall with a lamp's light pool, floor grain converging in perspective."""
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32) / side
    split = rng.uniform(0.4, 0.72)
    w_hue = rng.random()
    wall = hsv(w_hue, rng.uniform(0.05, 0.35), rng.uniform(0.6, 0.9))
    wall = wall * (0.92 + 0.16 * fbm(rng, side, cells=8, octaves=4))[..., None]
    lx = rng.uniform(0.1, 0.9)
    pool = np.exp(-((xx - lx) ** 2 + (yy - split * 0.3) ** 2) / (2 * rng.uniform(0.15, 0.3) ** 2))
    wall = wall * (0.75 + 0.35 * pool)[..., None]
    f_hue = rng.uniform(0.03, 0.12) if rng.random() < 0.7 else rng.random()
    light = hsv(f_hue, rng.uniform(0.3, 0.6), rng.uniform(0.5, 0.75))
    dark = hsv(f_hue, rng.uniform(0.4, 0.7), rng.uniform(0.25, 0.45))
    vx = rng.uniform(0.2, 0.8)
    phi = np.arctan2(xx - vx, np.maximum(yy - split, 0) + 0.02)  # lines through a vanishing point
    streak = 0.5 + 0.5 * np.sin(phi * rng.uniform(40, 90) + 3 * fbm(rng, side, cells=4, octaves=3))
    floor = _mix(light, dark, 0.6 * streak ** 3 + 0.3 * fbm(rng, side, cells=10, octaves=3))
    floor = floor * (0.7 + 0.3 * np.clip((yy - split) / (1 - split), 0, 1))[..., None]
    soft = np.clip((yy - split) * side / 1.5 + 0.5, 0, 1)
    img = _mix(wall, floor, soft)
    contact = np.exp(-((yy - split) * side) ** 2 / (2 * (0.02 * side) ** 2))  # soft shade where they meet
    return img * (1 - 0.25 * contact)[..., None]


def _stone(rng: np.random.Generator, side: int) -> np.ndarray:
    """A close view of weathered stone or earth: mottling and fine ridged cracks."""
    hue = rng.random()
    a = hsv(hue, rng.uniform(0.05, 0.3), rng.uniform(0.45, 0.75))
    b = hsv(hue + rng.uniform(-0.08, 0.08), rng.uniform(0.1, 0.4), rng.uniform(0.3, 0.55))
    mottle = fbm(rng, side, cells=4, octaves=6, persistence=0.6)
    ridges = 1 - np.abs(2 * fbm(rng, side, cells=5, octaves=5) - 1)
    cracks = np.clip((ridges - 0.9) * 10, 0, 1)
    return _mix(a, b, mottle) * (1 - 0.35 * cracks)[..., None]


def _cloth(rng: np.random.Generator, side: int) -> np.ndarray:
    """A draped cloth: large soft folds shading a fine weave."""
    hue = rng.random()
    base = hsv(hue, rng.uniform(0.1, 0.5), rng.uniform(0.5, 0.85))
    u, _ = _frame(side, (0, 0), rng.uniform(0, np.pi))
    warp = fbm(rng, side, cells=2, octaves=3)
    folds = 0.5 + 0.5 * np.sin(2 * np.pi * (u / side * rng.uniform(1.5, 3.5) + 1.5 * warp))
    period = max(2.0, side / rng.uniform(60, 110))
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32)
    weave = 0.93 + 0.07 * np.sin(np.pi * xx / period) * np.sin(np.pi * yy / period)
    return base * ((0.6 + 0.45 * folds ** 1.5) * weave)[..., None]


_BACKGROUND_FN = {"outdoor": _outdoor, "indoor": _indoor, "stone": _stone, "cloth": _cloth}


def background(kind: str, rng: np.random.Generator, side: int) -> np.ndarray:
    """H x W x 3 float, with soft large-scale shading over the whole frame."""
    img = _BACKGROUND_FN[kind](rng, side)
    return img * (0.85 + 0.3 * fbm(rng, side, cells=2, octaves=2))[..., None]


# ----------------------------------------------------------------------------- shadows and finish


def shadow(cov: np.ndarray, offset: tuple[float, float], blur: float) -> np.ndarray:
    """A soft drop shadow of a figure's coverage, shifted by offset (px), blurred by sigma blur (px)."""
    h, w = cov.shape
    moved = cv2.warpAffine(cov, np.float32([[1, 0, offset[0]], [0, 1, offset[1]]]), (w, h),
                           flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return cv2.GaussianBlur(moved, (0, 0), max(0.5, blur))


def finish(img: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str, tuple[float, float, float]]:
    """Whole-image light (a gradient, a vignette or a spot), a white-balance colour cast, a gamma,
    a touch of lens softness on half the scenes and film grain; returns uint8, the lighting's name and
    the channel gains of the cast. Changes colours only, never where a figure is."""
    side = img.shape[0]
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32) / side
    lighting = LIGHTINGS[int(rng.integers(len(LIGHTINGS)))]
    if lighting == "gradient":
        u, _ = _frame(side, (0.5 * side, 0.5 * side), rng.uniform(0, 2 * np.pi))
        gain = 1 + rng.uniform(0.2, 0.4) * u / side
    elif lighting == "vignette":
        gain = 1.08 - rng.uniform(0.5, 0.9) * ((xx - 0.5) ** 2 + (yy - 0.5) ** 2)
    else:
        cx, cy = rng.uniform(0.2, 0.8, 2)
        gain = 0.7 + 0.45 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * rng.uniform(0.2, 0.4) ** 2))
    temperature, tint = rng.uniform(-1, 1, 2)
    cast = (1 + 0.14 * temperature, 1 + 0.07 * tint, 1 - 0.14 * temperature)
    out = img * gain[..., None] * np.array(cast, np.float32)
    out = 255 * (np.clip(out, 0, 255) / 255) ** rng.uniform(0.85, 1.15)
    if rng.random() < 0.5:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.4, 0.8))
    grain = cv2.GaussianBlur(rng.normal(0, 1, (side, side)).astype(np.float32), (0, 0), 0.7)
    out = out + (grain / max(float(grain.std()), 1e-6) * rng.uniform(1.5, 5))[..., None]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8), lighting, tuple(float(c) for c in cast)
