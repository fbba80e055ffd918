"""K = 1 against K = 2 torchrun processes on one `export` job (docs/SCALE.md, docs/RESULTS.md).

Runs the same export of N images with one process and with `torchrun --nproc_per_node=2`, alternating
(1, 2, 2, 1, ...) so both see the same machine load, each into a fresh folder, one intra-op thread per
process (OMP_NUM_THREADS=1), and prints wall time and images/min per run and the median per K. Also
times model loading alone, the per-job part of every rank.

    python scripts/bench_shards.py --model eclip-tiny-vit --images 40 --repeats 2
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def _env() -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    for var in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)
    return env


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="eclip-tiny-vit")
    ap.add_argument("--pretrained", default="random")
    ap.add_argument("--images", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--text", action="append", default=None)
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-shards-"))
    try:
        folder = base / "images"
        folder.mkdir()
        rng = np.random.default_rng(0)
        for i in range(args.images):
            Image.fromarray(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)).save(folder / f"im{i:03d}.png")
        common = ["export", "--images", str(folder), "--model", args.model, "--pretrained", args.pretrained,
                  "--device", "cpu", *[a for t in (args.text or ["a cat", "a dog"]) for a in ("--text", t)]]
        launch = {1: [sys.executable, "-m", "eclip_desktop"],
                  2: [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                      "-m", "eclip_desktop"]}
        times: dict[int, list[float]] = {1: [], 2: []}
        order = [k for r in range(args.repeats) for k in ((1, 2) if r % 2 == 0 else (2, 1))]
        for n, k in enumerate(order):
            out = base / f"out{n}"
            t0 = time.perf_counter()
            proc = subprocess.run([*launch[k], *common, "--out", str(out)], env=_env(), capture_output=True, text=True)
            wall = time.perf_counter() - t0
            if proc.returncode != 0:
                print(proc.stderr[-2000:], file=sys.stderr)
                return 1
            times[k].append(wall)
            print(f"K={k}: {wall:6.1f} s  {args.images / wall * 60:6.1f} images/min", flush=True)
            shutil.rmtree(out)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import sys; from eclip_desktop.core.model.loading import ModelSpec, "
                        "load_model; load_model(ModelSpec(sys.argv[1], sys.argv[2], 'cpu'))", args.model,
                        args.pretrained], env=_env(), check=True)
        load = time.perf_counter() - t0
        for k in (1, 2):
            med = statistics.median(times[k])
            print(f"median K={k}: {med:.1f} s, {args.images / med * 60:.1f} images/min")
        print(f"python start + imports + model load alone: {load:.1f} s")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
