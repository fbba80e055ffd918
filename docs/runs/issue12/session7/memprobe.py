"""Has the family's base memorised its training scenes? The in-batch contrastive loss (the training
objective, batch 128, no gradient) of the shipped base on scenes of the training seed (0) and of
unseen seeds, same generator and caption mix."""
import numpy as np
import torch

from eclip_desktop.core.model.loading import ModelSpec, load_model
from eclip_desktop.core.model.text import encode_text_trimmed
from eclip_desktop.core.training.data import shapes_training_data
from eclip_desktop.core.training.objective import contrastive_loss
from eclip_desktop.core.training.trainer import _pixels  # a probe reading the trainer's own input path

W = {"name": 0.35, "template": 0.25, "short": 0.2, "gloss": 0.1, "hypernym_gloss": 0.1}
for name, weights in (("base", "resources/models/eclip-shapes-vit-ft/base/native.safetensors"),
                      ("seed-1 base", "/work/runs/seed1/base/native.safetensors")):
    h = load_model(ModelSpec("eclip-tiny-vit64", weights, "cpu"))
    model = h.model.eval()
    for seed in (0, 1, 5):
        data = shapes_training_data(seed, 30000 if seed in (0, 1) else 2048, 64, W, (1, 3))
        rng = np.random.default_rng(0)
        losses, accs = [], []
        with torch.no_grad():
            for _ in range(8):
                idx = rng.choice(len(data.captions), 128, replace=False)
                caps = [data.captions[i] for i in idx]
                uniq = {c: k for k, c in enumerate(dict.fromkeys(caps))}
                ids = torch.tensor([uniq[c] for c in caps])
                img = model.encode_image(_pixels(data.images[idx], "cpu"))
                txt = encode_text_trimmed(model, h.tokenizer(caps))
                loss, acc = contrastive_loss(img, txt, model.logit_scale, ids)
                losses.append(float(loss))
                accs.append(float(acc))
        print(f"{name}: scenes of seed {seed}: loss {np.mean(losses):.2f}, batch retrieval {np.mean(accs):.2f}", flush=True)
