"""Markdown for docs/RESULTS.md from the sweep's rows: scripts/zoo_sweep.py's --json files, or its printed
lines (a run stopped before writing its JSON); later files replace earlier rows of the same architecture.
    python docs/runs/issue23/render.py sweep.txt sweep_so400m.json ... > docs/runs/issue23/sweep.md"""
import json
import re
import sys

LINE = re.compile(r"^(\S+)\s+(\d+)\s+(\S+)\s+(\S+)\s+err\s+(\S+)\s+(\d+)M build (\S+)s image (\S+)s dense (\S+)s "
                  r"peak (\S+) MB ?(.*)$")


def _num(text):
    try:
        return float(text)
    except ValueError:
        return None


def read(path):
    if path.endswith(".json"):
        return json.load(open(path))
    out = []
    for line in open(path):
        m = LINE.match(line.rstrip("\n"))
        if not m:
            continue
        model, pairs, kind, status, err, params, build, image, dense, peak, reason = m.groups()
        row = {"model": model, "pairs": int(pairs), "status": status, "params_m": int(params)}
        if kind != "-":
            row["kind"] = kind
        for key, value in (("rel_err", err), ("build_s", build), ("encode_image_s", image), ("dense_s", dense),
                           ("peak_mb", peak)):
            if _num(value) is not None and not (key == "rel_err" and value == "nan"):
                row[key] = _num(value)
        reason = reason.split(" [text:")[0]
        if reason:
            row["reason"] = reason
        out.append(row)
    return out


merged = {}
for path in sys.argv[1:]:
    for row in read(path):
        merged[row["model"]] = row
rows = sorted(merged.values(), key=lambda r: r["model"].lower())
for row in rows:
    if "rel_err" in row and "input" not in row:  # a printed line: the input the sweep used (its CONV_INPUT rule)
        import open_clip
        size = open_clip.get_model_config(row["model"])["vision_cfg"].get("image_size", 224)
        size = size[0] if isinstance(size, (list, tuple)) else size
        row["input"] = 64 if row.get("kind") == "timm-conv" else size
    if row["status"] == "skipped":  # not built (memory); the image tower judged on the meta device instead
        from eclip_desktop.core.model.zoo import tower_support
        support = tower_support(row["model"])
        row["kind"] = support.kind or "-"
        verdict = ("needs transformers (tokenizer)" if support.needs else
                   "explainable" if support.explainable else support.reason)
        row["reason"] = f"over 1.25 B parameters, not built here; judged on the meta device: {verdict}"
total = sum(r["pairs"] for r in rows)
by_status: dict[str, int] = {}
for r in rows:
    by_status[r["status"]] = by_status.get(r["status"], 0) + r["pairs"]
checked = [r for r in rows if "rel_err" in r]
worst = max(checked, key=lambda r: r["rel_err"])
print(f"pairs {total}; " + ", ".join(f"{k} {v}" for k, v in sorted(by_status.items())))
print(f"architectures {len(rows)}; image side checked on {len(checked)}; worst pooled vs encode_image relative error "
      f"{worst['rel_err']:.1e} ({worst['model']})")
reasons: dict[str, list] = {}
for r in rows:
    if r["status"] not in ("explainable",):
        key = f"{r['status']}: {r.get('reason', '')}"
        reasons.setdefault(key, []).append(r)
print()
print("| pairs | status and reason | architectures |")
print("|---:|---|---|")
for key, rs in sorted(reasons.items(), key=lambda kv: -sum(r["pairs"] for r in kv[1])):
    reason = key.replace("|", "/")
    if key.startswith("needs-transformers"):
        reason = "needs-transformers: image side checked (pooled == encode_image, ITSM, v-v); the tokenizer is a Hugging Face one"
    print(f"| {sum(r['pairs'] for r in rs)} | {reason} | {', '.join(r['model'] for r in rs)} |")
print()
print("| architecture | pairs | kind | status | params (M) | input | rel. error | build s | encode_image s | dense s | peak MB |")
print("|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    err = f"{r['rel_err']:.1e}" if "rel_err" in r else "-"
    print(f"| {r['model']} | {r['pairs']} | {r.get('kind', '-')} | {r['status']} | {r.get('params_m', '-')} | "
          f"{r.get('input', '-')} | {err} | {r.get('build_s', '-')} | {r.get('encode_image_s', '-')} | "
          f"{r.get('dense_s', '-')} | {int(r['peak_mb']) if 'peak_mb' in r else '-'} |")
