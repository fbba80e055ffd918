"""Sweep open_clip's zoo: which architectures with a pretrained tag eclip-desktop explains, and why not.

    python scripts/zoo_sweep.py [--max-params 1.25e9] [--filter SigLIP] [--json out.json]

Every architecture that has a pretrained tag is built with `open_clip.create_model(name,
pretrained=None)` (random weights, offline), each in its own process (one torch thread; its peak
memory is that process's), and checked on one random image: the project's pooled embedding equals
`encode_image` (relative error <= 1e-4), an ITSM map comes out (and the v-v tokens of CLIP Surgery
where the tower has attention blocks). Input: the native size, which attention towers need for
`encode_image` to run at all; convolutional towers take the smallest input that still leaves a
2 x 2 map (64 px). Text: the architecture's tokenizer, or, where it needs the optional
`transformers` package that is missing, fixed token ids (the image side is what is checked; such a
row's status is needs-transformers). Architectures over --max-params parameters are not built (memory)
and are listed as skipped.
Prints one row per architecture and the counts over (architecture, tag) pairs.
"""
from __future__ import annotations

import argparse
import json
import logging
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CONV_INPUT = 64
TOLERANCE = 1e-4


def count_params(arch: str) -> int:
    """Parameters of the image and text towers, counted on the meta device (nothing allocated)."""
    import open_clip
    import torch
    from open_clip.model import _build_text_tower, _build_vision_tower
    cfg = open_clip.get_model_config(arch)
    with torch.device("meta"):
        n = sum(p.numel() for p in _build_vision_tower(cfg["embed_dim"], cfg["vision_cfg"]).parameters())
        try:
            n += sum(p.numel() for p in _build_text_tower(cfg["embed_dim"], cfg["text_cfg"]).parameters())
        except Exception:  # a Hugging Face text tower without transformers: the child reports it
            pass
    return n


def check_one(arch: str) -> dict:
    """Runs in the child process: build, compare, map."""
    import open_clip
    import torch

    from eclip_desktop.core.errors import ModelError
    from eclip_desktop.core.explain.methods.itsm import cosine_map
    from eclip_desktop.core.model import kinds
    from eclip_desktop.core.model.features import encode_dense, surgery_tokens
    from eclip_desktop.core.model.loading import quiet_open_clip, visual_kind
    from eclip_desktop.core.model.tokenizers import build_tokenizer

    torch.set_num_threads(1)
    row: dict = {"model": arch}
    t0 = time.perf_counter()
    try:
        with quiet_open_clip():
            model = open_clip.create_model(arch, pretrained=None).eval()
    except Exception as exc:
        row.update(status="refused", reason=f"cannot build: {str(exc).splitlines()[0][:160]}")
        return row
    row["build_s"] = round(time.perf_counter() - t0, 1)
    try:
        kind = visual_kind(model.visual)
    except ModelError as exc:
        row.update(status="refused", reason=str(exc))
        return row
    row["kind"] = kind
    size = model.visual.image_size
    size = int(size[0] if isinstance(size, (tuple, list)) else size)
    size = CONV_INPUT if kind == kinds.TIMM_CONV else size
    row["input"] = size
    torch.manual_seed(0)
    pixels = torch.randn(1, 3, size, size)
    with torch.no_grad():
        t0 = time.perf_counter()
        reference = model.encode_image(pixels)
        row["encode_image_s"] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        feats = encode_dense(model.visual, kind, pixels)
        row["dense_s"] = round(time.perf_counter() - t0, 2)
        err = float((feats.pooled - reference.float()).norm() / reference.float().norm().clamp_min(1e-12))
        row["rel_err"] = err
        try:
            tokens = build_tokenizer(arch)(["a photo of a cat"])
            row["text"] = "tokenizer"
        except ModelError as exc:
            context = getattr(model, "context_length", 77) or 77
            tokens = torch.zeros(1, int(context), dtype=torch.long)
            row["text"] = f"fixed token ids ({str(exc).split(',')[0]})"
            row["needs"] = "transformers"
            row["reason"] = "image side checked; the tokenizer needs transformers"
        text = torch.nn.functional.normalize(model.encode_text(tokens).float(), dim=-1)
        itsm = cosine_map(feats.tokens[0], text)
        row["grid"] = list(feats.grid)
        row["map_ok"] = bool(itsm.shape == (1, feats.grid[0] * feats.grid[1]) and torch.isfinite(itsm).all())
        row["free_sum"] = round(float(feats.free_attention[0].sum()), 4)
        if kind != kinds.TIMM_CONV:
            vv = surgery_tokens(model.visual, kind, [s[:1] for s in feats.surgery_states])
            row["surgery_ok"] = bool(vv.shape == feats.tokens.shape and torch.isfinite(vv).all())
    ok = err <= TOLERANCE and row["map_ok"] and row.get("surgery_ok", True)
    # The image side passed; without its tokenizer the tool refuses the model with one line.
    row["status"] = ("needs-transformers" if row.get("needs") else "explainable") if ok else "FAIL"
    if not ok:
        row["reason"] = f"pooled vs encode_image relative error {err:.1e}" if err > TOLERANCE else "map or v-v tokens"
    return row


def run_child(arch: str, timeout: float) -> dict:
    cmd = [sys.executable, __file__, "--one", arch]
    t0 = time.perf_counter()
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"model": arch, "status": "FAIL", "reason": f"over {timeout:.0f} s"}
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("{")]
    if res.returncode != 0 or not lines:
        tail = (res.stderr.strip().splitlines() or ["no output"])[-1][:200]
        return {"model": arch, "status": "FAIL", "reason": f"rc {res.returncode}: {tail}"}
    row = json.loads(lines[-1])
    row["wall_s"] = round(time.perf_counter() - t0, 1)
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-params", type=float, default=1.25e9, help="skip architectures with more parameters")
    ap.add_argument("--filter", default="", help="only architectures whose name contains this")
    ap.add_argument("--json", default="", help="also write the rows to this file")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per architecture")
    ap.add_argument("--one", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    if args.one:
        row = check_one(args.one)
        row["peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        print(json.dumps(row), flush=True)
        return 0
    import open_clip
    pairs = open_clip.list_pretrained()
    tags: dict[str, int] = {}
    for arch, _ in pairs:
        tags[arch] = tags.get(arch, 0) + 1
    rows = []
    for arch in sorted(tags, key=str.lower):
        text_note = ""
        if args.filter and args.filter.lower() not in arch.lower():
            continue
        n = count_params(arch)
        if n > args.max_params:
            row = {"model": arch, "status": "skipped", "reason": f"{n / 1e9:.2f} B parameters (over --max-params)"}
        else:
            row = run_child(arch, args.timeout)
        row["pairs"], row["params_m"] = tags[arch], round(n / 1e6)
        if row.get("text") not in (None, "tokenizer"):
            text_note = f" [text: {row['text']}]"
        rows.append(row)
        print(f"{arch:32s} {row['pairs']:2d} {row.get('kind', '-'):13s} {row['status']:11s} "
              f"err {row.get('rel_err', float('nan')):8.1e} {row.get('params_m', 0):5d}M "
              f"build {row.get('build_s', '-')}s image {row.get('encode_image_s', '-')}s dense {row.get('dense_s', '-')}s "
              f"peak {row.get('peak_mb', '-')} MB {row.get('reason', '')}{text_note}",
              flush=True)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + row["pairs"]
    total = sum(row["pairs"] for row in rows)
    print(f"\npairs: {total}; " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    reasons: dict[str, int] = {}
    for row in rows:
        if row["status"] != "explainable":
            key = f"{row['status']}: {row.get('reason', '')}"
            reasons[key] = reasons.get(key, 0) + row["pairs"]
    for key, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
        print(f"  {n:3d}  {key}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0 if not counts.get("FAIL") else 1


if __name__ == "__main__":
    sys.exit(main())
