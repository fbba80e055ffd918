"""Time ConVis on a CLIP-sized model: window encoding, a further concept, gloss-bank reload.

    python packaging/scripts/bench_convis.py [--model ViT-B-32] [--device cpu] [--single 64]

Random weights: the timings depend on the architecture, not on what it learnt.
The default concept set's 8,197 glosses are NOT pushed through the text tower
(on a laptop CPU that takes many minutes); the encoder's gloss throughput is
measured on ``--gloss-sample`` glosses and extrapolated, and the bank is filled
with random unit vectors, saved and reopened through the real cache code.
Rows:
  windows, batched     ConVis.rank_matrix: crop + resize + encode + rank, all windows
  windows, one by one  encode_image on one window at a time (first --single windows)
  bare encode_image    batched encode_image over as many ready-made tensors
  further concept      one more concept map on the same image (rank matrix cached)
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="ViT-B-32")
    ap.add_argument("--pretrained", default="random")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--single", type=int, default=64, help="windows timed one at a time")
    ap.add_argument("--gloss-sample", type=int, default=256, help="glosses really encoded to time the text tower")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    ap.add_argument("--cache", default=None, help="cache/data dir (default: a fresh temporary one)")
    args = ap.parse_args()

    base = Path(args.cache or tempfile.mkdtemp(prefix="bench-convis-"))
    os.environ["ECLIP_DESKTOP_CACHE"] = str(base / "cache")
    os.environ["ECLIP_DESKTOP_DATA"] = str(base / "data")

    from eclip_desktop.core.convis import ConVis, WindowParams
    from eclip_desktop.core.convis import gloss_bank as gb
    from eclip_desktop.core.convis.windows import (
        crop_windows,
        make_canvas,
        window_boxes,
    )
    from eclip_desktop.core.model.loading import ModelSpec, load_model
    from eclip_desktop.core.wordnet.hierarchy import Hierarchy

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    handle = load_model(ModelSpec(args.model, args.pretrained, args.device))
    hierarchy = Hierarchy()
    cs = hierarchy.default_concept_set()
    rows: list[tuple[str, str]] = []

    glosses = hierarchy.glosses(cs)[:args.gloss_sample]
    t0 = time.perf_counter()
    gb.encode_glosses(handle, glosses)
    per_gloss = (time.perf_counter() - t0) / len(glosses)
    rows.append(("gloss encoding (extrapolated)", f"{per_gloss * 1e3:.1f} ms/gloss -> "
                                                  f"{per_gloss * len(cs):.0f} s for {len(cs)} glosses"))

    dim = int(handle.model.text_projection.shape[1]) if hasattr(handle.model, "text_projection") else 512
    rng = np.random.default_rng(0)

    def fake_encode(handle_, texts, batch_size=None, progress=None, cancelled=None):
        v = rng.standard_normal((len(texts), dim)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True), 0

    real = gb.encode_glosses
    gb.encode_glosses = fake_encode
    gb.load_gloss_bank(handle, hierarchy, cs)
    gb.encode_glosses = real
    t0 = time.perf_counter()
    bank = gb.load_gloss_bank(handle, hierarchy, cs)
    reload_s = time.perf_counter() - t0
    assert bank.from_cache
    rows.append(("gloss bank reload", f"{reload_s * 1e3:.1f} ms ({bank.embeddings.nbytes / 2**20:.1f} MiB)"))

    image = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    params = WindowParams()
    convis = ConVis(handle, hierarchy, cs, bank=bank)
    t0 = time.perf_counter()
    rm = convis.rank_matrix(image, params)
    batched = time.perf_counter() - t0
    n = len(rm.boxes)
    rows.append(("windows, batched (ConVis)", f"{batched:.1f} s for {n} windows = {batched / n * 1e3:.1f} ms/window "
                                              f"(batch {convis.batch_size})"))

    canvas = make_canvas(image, params)
    crops = crop_windows(canvas, window_boxes(params), handle.image_size)
    x = torch.from_numpy(crops).permute(0, 3, 1, 2).float().div(255).to(handle.device, handle.dtype)
    with torch.no_grad():
        t0 = time.perf_counter()
        for i in range(min(args.single, n)):
            handle.model.encode_image(x[i:i + 1])
        single = (time.perf_counter() - t0) / min(args.single, n)
        t0 = time.perf_counter()
        for i in range(0, n, convis.batch_size):
            handle.model.encode_image(x[i:i + convis.batch_size])
        bare = time.perf_counter() - t0
    rows.append(("windows, one by one", f"{single * 1e3:.1f} ms/window -> {single * n:.1f} s for {n} "
                                        f"(measured on {min(args.single, n)})"))
    rows.append(("bare batched encode_image", f"{bare:.1f} s for {n} = {bare / n * 1e3:.1f} ms/window"))
    rows.append(("batched speed-up over one by one", f"{single * n / batched:.2f}x; ConVis overhead over bare "
                                                     f"encode {100 * (batched - bare) / bare:+.0f}%"))

    times = {}
    for s in ("dog.n.01", "bird.n.01", "artifact.n.01", "physical_entity.n.01", "entity.n.01"):
        t0 = time.perf_counter()
        convis.map_from_ranks(rm, s)
        times[s] = time.perf_counter() - t0
    rows.append(("further concept (first time)", ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in times.items())))
    again = []
    for _ in range(5):
        t0 = time.perf_counter()
        convis.concept_map(image, "entity.n.01", params)
        again.append(time.perf_counter() - t0)
    rows.append(("further concept (entity.n.01, repeat)", f"median {statistics.median(again) * 1e3:.1f} ms"))
    t0 = time.perf_counter()
    convis.concepts_in_image(image, 10, params)
    rows.append(("concepts_in_image (all 8,197, own rule)", f"{(time.perf_counter() - t0) * 1e3:.0f} ms"))

    print(f"ConVis benchmark: {args.model} ({args.pretrained}) on {handle.device}, torch threads "
          f"{torch.get_num_threads()}, input {handle.image_size}, concept set default ({len(cs)} synsets)")
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
