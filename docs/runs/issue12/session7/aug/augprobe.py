"""Probe (issue 12 follow-up): does generic, label-preserving augmentation of Shapes World training
images raise recognition on scenes unlike the training world? Continue the family's base for 300
steps (native pooling, every parameter training, as the base stage did) with and without it; then
zero-shot on the suite and on Shapes World. Nothing here is shipped.

    python augprobe.py aug|plain OUT
Augmentation (numpy/OpenCV, per image, on the 64 px training scenes): random resized crop (area
0.6-1, aspect 3/4-4/3), horizontal/vertical flips and 90-degree turns (shape classes are invariant;
captions name no positions), brightness/contrast/gamma/saturation jitter (hue kept: captions name
colours), Gaussian noise (sigma 0-12), blur (sigma 0.3-1.0, p 0.3). No JPEG (a suite factor).
"""
import sys

import cv2
import numpy as np

from eclip_desktop.core.training import trainer
from eclip_desktop.core.training.data import CaptionData

MODE, OUT = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(12345)


def augment(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    area = rng.uniform(0.6, 1.0) * h * w
    aspect = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
    ch, cw = min(h, int(round(np.sqrt(area / aspect)))), min(w, int(round(np.sqrt(area * aspect))))
    y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
    out = cv2.resize(img[y:y + ch, x:x + cw], (w, h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        out = out[:, ::-1]
    if rng.random() < 0.5:
        out = out[::-1]
    out = np.rot90(out, int(rng.integers(4)))
    f = out.astype(np.float32) / 255.0
    grey = f.mean(axis=2, keepdims=True)
    f = grey + (f - grey) * rng.uniform(0.7, 1.3)  # saturation
    f = (f - f.mean()) * rng.uniform(0.7, 1.3) + f.mean() + rng.uniform(-0.12, 0.12)  # contrast, brightness
    f = np.clip(f, 0, 1) ** rng.uniform(0.75, 1.35)  # gamma
    f = f * 255.0 + rng.normal(0, rng.uniform(0, 12), f.shape)
    if rng.random() < 0.3:
        f = cv2.GaussianBlur(f.astype(np.float32), (0, 0), rng.uniform(0.3, 1.0))
    return np.ascontiguousarray(np.clip(np.rint(f), 0, 255).astype(np.uint8))


class Augmented:
    def __init__(self, images):
        self.images = images

    def __getitem__(self, idx):
        return np.stack([augment(im) for im in self.images[idx]])

    def __len__(self):
        return len(self.images)


original = trainer.shapes_training_data


def patched(*a, **k):
    d = original(*a, **k)
    return CaptionData(Augmented(d.images), d.captions, d.skipped, d.source + ":augmented")


if MODE == "aug":
    trainer.shapes_training_data = patched
cfg = trainer.TrainConfig(pooling="native", architecture="eclip-tiny-vit64",
                          init="resources/models/eclip-shapes-vit-ft/base/native.safetensors", scenes=30000,
                          steps=300, batch_size=128, lr=3e-4, warmup=20, objects="1-3",
                          captions="name:0.35,template:0.25,short:0.2,gloss:0.1,hypernym_gloss:0.1",
                          device="cpu", out=OUT, checkpoint_every=100, eval_every=100)
trainer.train(cfg, progress=lambda info: print(info, flush=True) if info.get("step", 0) % 50 == 0 else None)
