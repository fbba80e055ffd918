"""Probe: zero-shot of the default family's native sibling on held-out Shapes World scenes, crisp,
blurred (sigma 0.7 px) and resampled 4x up and down (does recognition depend on crisp pixels?)."""
import cv2
import numpy as np
import torch

from eclip_desktop.core.evaluation.evaluate import class_prompt, loaded_image
from eclip_desktop.core.explain.engine import engines_for
from eclip_desktop.core.shapes import class_names, generate_scene

eng = engines_for("eclip-shapes-vit-ft", None, ["native"], "cpu")["native"]
classes = class_names()
texts = eng.texts.encode([class_prompt(c) for c in classes])


def acc(transform, n=300):
    hits = 0
    for i in range(n):
        s = generate_scene(1001, i, size=64, n_objects=1)
        a = eng.analyse([loaded_image(np.ascontiguousarray(transform(s.image)), f"x{i}")])[0]
        eng.clear()
        e = torch.nn.functional.normalize(a.readout("native").embedding, dim=-1)
        hits += classes[int((e @ texts.T).argmax())] == s.objects[0].shape
    return hits / n


def resampled(x):
    return cv2.resize(cv2.resize(x, (256, 256), interpolation=cv2.INTER_CUBIC), (64, 64), interpolation=cv2.INTER_AREA)


print("crisp", acc(lambda x: x))
print("blur0.7", acc(lambda x: cv2.GaussianBlur(x, (0, 0), 0.7)))
print("up4-aa-down", acc(resampled))
