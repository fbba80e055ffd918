"""Probe (issue 12 follow-up, not shipped): does a training world with more kinds of appearance raise
recognition on scenes unlike it? Shapes World scenes (same objects, captions and masks) re-rendered
with other backgrounds (hard stripes, checkers, colour noise, saturated gradients, scribbles) and
other fills of the object's own colour (gradient, noise texture, stripes, outline), plus blur/JPEG.
This borrows the FIRST suite's vocabulary of appearances on purpose: its gain on `gen` is therefore
an upper bound, and only the second suite (`gen2`, designed independently, without sight of this
file) says whether it generalises. Then the family's base is continued for STEPS steps (native
pooling, every parameter training), as the base stage did.

    python divprobe.py div|plain OUT STEPS
"""
import sys

import cv2
import numpy as np

from eclip_desktop.core.shapes import generate_scene
from eclip_desktop.core.training import trainer
from eclip_desktop.core.training.data import CaptionData

MODE, OUT, STEPS = sys.argv[1], sys.argv[2], int(sys.argv[3])
N_SCENES = 12000
WEIGHTS = {"name": 0.35, "template": 0.25, "short": 0.2, "gloss": 0.1, "hypernym_gloss": 0.1}


def _colour(rng):
    hsv = np.uint8([[[rng.integers(0, 180), rng.integers(60, 256), rng.integers(60, 256)]]])
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def _background(rng, size):
    kind = rng.choice(["orig", "stripes", "checker", "noise", "gradient", "scribble"], p=[.3, .14, .14, .14, .14, .14])
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    c1, c2 = _colour(rng), _colour(rng)
    if kind == "stripes":
        a, period = rng.uniform(0, np.pi), rng.uniform(4, 12)
        w = (np.floor((xx * np.cos(a) + yy * np.sin(a)) / (period / 2)) % 2)[..., None]
        return kind, c1 * (1 - w) + c2 * w
    if kind == "checker":
        cell = rng.uniform(4, 12)
        w = ((np.floor(xx / cell) + np.floor(yy / cell)) % 2)[..., None]
        return kind, c1 * (1 - w) + c2 * w
    if kind == "noise":
        f = rng.uniform(0, 255, (size, size, 3)).astype(np.float32)
        return kind, cv2.GaussianBlur(f, (0, 0), rng.uniform(0.3, 1.2))
    if kind == "gradient":
        a = rng.uniform(0, 2 * np.pi)
        t = (xx * np.cos(a) + yy * np.sin(a))
        t = ((t - t.min()) / (np.ptp(t) + 1e-6))[..., None]
        return kind, c1 * (1 - t) + c2 * t
    if kind == "scribble":
        img = np.broadcast_to(c1, (size, size, 3)).copy()
        for _ in range(rng.integers(2, 6)):
            pts = rng.uniform(0, size, (4, 2)).astype(np.int32)
            cv2.polylines(img, [pts.reshape(-1, 1, 2)], False, _colour(rng).tolist(), int(rng.integers(1, 4)))
        return kind, img
    return kind, None


def _fill(rng, obj, image, bg):
    c = np.float32(obj.rgb)
    m = obj.mask
    kind = rng.choice(["flat", "gradient", "texture", "stripes", "outline"], p=[.4, .15, .15, .15, .15])
    size = m.shape[0]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    if kind == "flat":
        image[m] = c
    elif kind == "gradient":
        a = rng.uniform(0, 2 * np.pi)
        t = xx * np.cos(a) + yy * np.sin(a)
        t = (t - t[m].min()) / (np.ptp(t[m]) + 1e-6)
        image[m] = np.clip(c[None] * (0.65 + 0.7 * t[m][:, None]), 0, 255)
    elif kind == "texture":
        n = cv2.GaussianBlur(rng.normal(0, 1, (size, size)).astype(np.float32), (0, 0), 1.0)
        image[m] = np.clip(c[None] + (n[m] * 40)[:, None], 0, 255)
    elif kind == "stripes":
        a, period = rng.uniform(0, np.pi), rng.uniform(3, 7)
        w = (np.floor((xx * np.cos(a) + yy * np.sin(a)) / (period / 2)) % 2)
        image[m] = np.where(w[m][:, None] > 0, c[None], c[None] * 0.55)
    else:  # outline: the figure's edge in its colour, the background inside
        inner = cv2.erode(m.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=int(rng.integers(1, 3))).astype(bool)
        image[m & ~inner] = c
        image[inner] = bg[inner]


def rerender(scene, rng):
    size = scene.image.shape[0]
    kind, bg = _background(rng, size)
    if bg is None:  # Shapes World's own background: take it from the scene outside the objects
        bg = scene.image.astype(np.float32)
    image = bg.copy()
    for obj in scene.objects:
        _fill(rng, obj, image, bg)
    image = image + rng.normal(0, 3, image.shape)
    if rng.random() < 0.25:
        image = cv2.GaussianBlur(image.astype(np.float32), (0, 0), rng.uniform(0.4, 0.9))
    out = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        ok, buf = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(25, 90))])
        out = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    return np.ascontiguousarray(out)


def data(*_a, **_k):
    rng = np.random.default_rng(777)
    images = np.empty((N_SCENES, 64, 64, 3), np.uint8)
    captions = []
    for i in range(N_SCENES):
        s = generate_scene(0, i, size=64, n_objects=(1, 3), caption_kinds=WEIGHTS)
        images[i] = rerender(s, rng) if MODE == "div" else s.image
        captions.append(s.caption)
    return CaptionData(images, captions, [], f"shapes:{N_SCENES}:0:{MODE}")


if __name__ == "__main__":
    trainer.shapes_training_data = data
    cfg = trainer.TrainConfig(pooling="native", architecture="eclip-tiny-vit64",
                              init="resources/models/eclip-shapes-vit-ft/base/native.safetensors", scenes=N_SCENES,
                              steps=STEPS, batch_size=128, lr=3e-4, warmup=20, objects="1-3",
                              device="cpu", out=OUT, checkpoint_every=200, eval_every=200)
    trainer.train(cfg, progress=lambda info: print(info, flush=True) if info.get("step", 0) % 100 == 0 else None)
