"""The sweep's outlier re-measured: EVA01-g-14's dense pass against its bare encode_image, paired.

    python docs/runs/issue23/eva01_g_pair.py > docs/runs/issue23/eva01_g_pair.txt
"""
import statistics
import time

import open_clip
import torch

from eclip_desktop.core.model.features import encode_dense
from eclip_desktop.core.model.loading import quiet_open_clip, visual_kind

torch.set_num_threads(1)
with quiet_open_clip():
    model = open_clip.create_model("EVA01-g-14", pretrained=None).eval()
kind = visual_kind(model.visual)
x = torch.randn(1, 3, 224, 224)
bare, dense = [], []
with torch.no_grad():
    model.encode_image(x)
    encode_dense(model.visual, kind, x)
    for _ in range(3):
        t = time.perf_counter()
        model.encode_image(x)
        bare.append(time.perf_counter() - t)
        t = time.perf_counter()
        encode_dense(model.visual, kind, x)
        dense.append(time.perf_counter() - t)
a, b = statistics.median(bare), statistics.median(dense)
print(f"EVA01-g-14 paired, 1 thread, median of 3 after a warm-up: encode_image {a:.2f} s, dense {b:.2f} s, ratio {b / a:.2f}")
