"""Time each method's map against a bare encode_image of the same image, paired in one run.

    python scripts/bench_methods.py [--model ViT-B-16] [--device cpu] [--threads 1] [--repeats 5]

Random weights: the timings depend on the architecture, not on what it learnt. Each repeat encodes
the image afresh (untimed, a new analysis, so nothing is memoised from an earlier repeat), then
times a bare `handle.model.encode_image` and every method's `scores` for one text right after it;
"again" is the same method for a second text on that analysis (what a memoised method costs once
the image is known). Rows give medians and the ratio method / encode_image.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="ViT-B-16")
    ap.add_argument("--pretrained", default="random")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: torch default)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--methods", nargs="*", default=None,
                    help="default: every registered method that applies, except those of many forwards (RISE)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from eclip_desktop.core.explain.analysis import encode_images
    from eclip_desktop.core.explain.methods import METHODS, MethodInput
    from eclip_desktop.core.io.imageio import load_image
    from eclip_desktop.core.model.loading import ModelSpec, load_model
    from eclip_desktop.core.model.text import TextBank

    torch.manual_seed(0)
    handle = load_model(ModelSpec(args.model, args.pretrained, args.device))
    bank = TextBank(handle)
    texts = {t: bank.encode([t]) for t in ("a photo of a cat", "a photo of a dog")}
    asked = args.methods or [m for m, info in METHODS.items() if info.needs != "forwards"]
    names = [m for m in asked if METHODS[m].refusal(handle.kind) is None]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "image.png"
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)).save(path)
        image = load_image(str(path))
        encode, first, again = [], {m: [] for m in names}, {m: [] for m in names}
        for _ in range(args.repeats + 1):  # the first round warms up and is dropped
            analyses = {m: encode_images(handle, [image])[0] for m in names}
            pixels = analyses[names[0]].pixels()
            with torch.no_grad():
                encode.append(_timed(lambda pixels=pixels: handle.model.encode_image(pixels)))
            for m in names:
                info = METHODS[m]
                for bucket, text in ((first, "a photo of a cat"), (again, "a photo of a dog")):
                    job = MethodInput(analyses[m], texts[text], bank, n_texts=1)
                    bucket[m].append(_timed(lambda info=info, job=job: info.scores(job, **info.defaults())))
    encode, first, again = encode[1:], {m: v[1:] for m, v in first.items()}, {m: v[1:] for m, v in again.items()}
    base = statistics.median(encode)
    print(f"{args.model} ({args.pretrained}), {args.device}, {torch.get_num_threads()} thread(s), "
          f"{handle.image_size}px, median of {args.repeats}")
    print(f"{'encode_image':<12} {base * 1e3:9.1f} ms")
    print(f"{'method':<12} {'first ms':>9} {'x encode':>9} {'again ms':>9} {'x encode':>9}")
    for m in names:
        f, a = statistics.median(first[m]), statistics.median(again[m])
        print(f"{m:<12} {f * 1e3:9.1f} {f / base:9.2f} {a * 1e3:9.1f} {a / base:9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
