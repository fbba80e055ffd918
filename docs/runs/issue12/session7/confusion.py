"""Confusion of the default family's native sibling on single-object suite scenes (seed 2001) and
held-out Shapes World scenes (seed 1001): which shape is taken for which."""
import numpy as np
import torch

from eclip_desktop.core.evaluation.evaluate import class_prompt, loaded_image
from eclip_desktop.core.explain.engine import engines_for
from eclip_desktop.core.shapes import class_names, generate_scene
from eclip_desktop.core.shapes.generalisation import generate_gen_scene

eng = engines_for("eclip-shapes-vit-ft", None, ["native"], "cpu")["native"]
classes = class_names()
texts = eng.texts.encode([class_prompt(c) for c in classes])
for name, make in (("suite", lambda i: generate_gen_scene(2001, i, n_objects=1)),
                   ("Shapes World", lambda i: generate_scene(1001, i, size=64, n_objects=1))):
    conf = np.zeros((8, 8), int)
    for i in range(600):
        s = make(i)
        a = eng.analyse([loaded_image(s.image, f"{name}{i}")])[0]
        eng.clear()
        e = torch.nn.functional.normalize(a.readout("native").embedding, dim=-1)
        conf[classes.index(s.objects[0].shape), int((e @ texts.T).argmax())] += 1
    print(f"\n{name}: rows = true shape, columns = predicted ({', '.join(c[:4] for c in classes)})")
    for c, row in zip(classes, conf):
        print(f"{c:>10} " + " ".join(f"{v:4d}" for v in row) + f"   {row[classes.index(c)] / max(1, row.sum()):.2f}")
