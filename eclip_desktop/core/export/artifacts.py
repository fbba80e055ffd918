"""The one writer of output artifacts: names, sidecars and the figure + .npy + .json set of files.

`explain`, `concepts`, `export` (CLI and the window's batch) and every export from the window go
through here, so a name, a sidecar key or a check exists once:

- names: ``<stem>__<method>__<pooling>__<text-slug>``, ``<stem>__contribution__<pooling>``,
  ``<stem>__convis__<synset>``, ``<stem>__grid-<kind>``; a name longer than a file system allows
  (255 bytes) is refused before any work.
- sidecars: one builder per kind of artifact (map, contribution, grid; ConVis adds its own fields
  to the common base); a sidecar is the complete recipe that `reproduce --check` recomputes.
- writing: values and sidecar are checked for NaN/inf first (a sidecar with a bare NaN is not
  JSON, and a NaN map breaks the [0, 1] promise); then the .npy, the raw extras, the figure, and
  the sidecar last, each atomically: a sidecar on disk says its row is complete.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import time
from collections import Counter
from pathlib import Path

import numpy as np

from eclip_desktop import __version__
from eclip_desktop.core.errors import OutputError
from eclip_desktop.core.io.atomic import (
    atomic_save_image,
    atomic_save_npy,
    atomic_write_bytes,
    json_bytes,
    json_default,
    slugify,
)
from eclip_desktop.core.model import training_domain
from eclip_desktop.core.model.trained import readout_tau

NAME_MAX = 255  # bytes in one path component on Linux, macOS and Windows file systems
MAP_COLORBAR = "similarity (min\u2013max normalised)"
CONTRIBUTION_COLORBAR = "share of pooling evidence"
POOLING_NOTE = ("this model was trained with one pooling; switching the pooling readout changes the "
                "zero-shot scores and the contribution map, not the ITSM (that needs a model trained "
                "with that pooling)")


# --- names -------------------------------------------------------------------------------------

def image_stems(paths: list[str], hashes: list[str]) -> list[str]:
    """Each image's file stem; two inputs with one stem each get '-<first 8 of sha256>'."""
    stems = [Path(p).stem or "image" for p in paths]
    counts = Counter(stems)
    return [f"{s}-{h[:8]}" if counts[s] > 1 else s for s, h in zip(stems, hashes)]


# Texts written this way keep their plain slug: lowercase ASCII words, optionally one closing '.'
# (the CLIP prompt convention). Any other punctuation or case would be lost by the slug, so such a
# text gets a hash of its exact wording: "a photo of a circle?" never lands on "...circle."'s files.
_PLAIN_TEXT = re.compile(r"[a-z0-9]+(?: [a-z0-9]+)*\.?")


def _hash8(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def text_slug(text: str) -> str:
    slug = slugify(text)
    if _PLAIN_TEXT.fullmatch(text) or slug.endswith(_hash8(text)):
        return slug  # plain, or slugify already marked it (cut or non-ASCII)
    return f"{slug}-{_hash8(text)}"


def text_slugs(texts: list[str]) -> dict[str, str]:
    """Slug per text; texts of one label set whose slugs still collide ('a dog' and 'a dog.') get a hash."""
    slugs = {t: text_slug(t) for t in texts}
    counts = Counter(slugs.values())
    return {t: s if counts[s] == 1 or s.endswith(_hash8(t)) else f"{s}-{_hash8(t)}" for t, s in slugs.items()}


def map_stem(image_stem: str, method: str, pooling: str, slug: str) -> str:
    return f"{image_stem}__{method}__{pooling}__{slug}"


def contribution_stem(image_stem: str, pooling: str) -> str:
    return f"{image_stem}__contribution__{pooling}"


def grid_stem(image_stem: str, kind: str) -> str:
    return f"{image_stem}__grid-{kind}"


def synset_slug(name: str) -> str:
    # Synset names are mostly file-safe already (dog.n.01); a few hold quotes or slashes.
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name)


def convis_stem(image_stem: str, synset: str) -> str:
    return f"{image_stem}__convis__{synset_slug(synset)}"


def triple_targets(stem: str, out: Path, figure_suffix: str = ".png") -> list[Path]:
    return [out / f"{stem}{ext}" for ext in (figure_suffix, ".npy", ".json")]


def check_name_lengths(names) -> None:
    """Refuses (before any work) an output name the file system would reject; names carry the
    image's stem and the text, so a long file name or prompt can pass NAME_MAX."""
    for name in names:
        size = len(str(name).encode("utf-8", "surrogatepass"))
        if size > NAME_MAX:
            raise OutputError(f"output name too long ({size} bytes, the limit is {NAME_MAX}): "
                              f"{str(name)[:60]}\u2026; rename the image or shorten the text")


def refuse_existing(targets, overwrite: bool, hint: str = "pass --overwrite to replace it") -> None:
    """Every target is checked before the first write, so a refusal leaves the folder as it was."""
    if overwrite:
        for t in targets:
            if Path(t).is_dir():
                raise OutputError(f"cannot write {t}: it is a directory")
        return
    for t in targets:
        if os.path.lexists(t):
            raise OutputError(f"{t} exists; {hint}")


# --- provenance --------------------------------------------------------------------------------

_WEIGHT_HASHES: dict[tuple, str] = {}


def weights_sha256(pretrained) -> str | None:
    """SHA-256 of a weights file (None for a tag or 'random'); cached per path, size and mtime so a
    run hashes each checkpoint once. Resume compares it: a retrained file under the same name is
    another model."""
    if not pretrained or not isinstance(pretrained, str):
        return None
    path = Path(pretrained).expanduser()
    try:
        st = path.stat()
    except OSError:
        return None
    if not path.is_file():
        return None
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _WEIGHT_HASHES:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        _WEIGHT_HASHES[key] = digest.hexdigest()
    return _WEIGHT_HASHES[key]


def model_provenance(model_info: dict) -> dict:
    """The model fields of a sidecar: handle.describe() plus the weights file's SHA-256 when it is a file."""
    info = dict(model_info)
    digest = weights_sha256(info.get("pretrained"))
    if digest:
        info["weights_sha256"] = digest
    return info


def domain_fields(path: str, model_info: dict) -> dict:
    """`out_of_domain` (bool) and its reason: the one decision of core/model/training_domain.py."""
    v = training_domain.verdict(path, model_info)
    return {"out_of_domain": v["out_of_domain"], "out_of_domain_reason": v["reason"]}


def with_domain_line(lines: list[str], sidecar: dict) -> list[str]:
    """A figure's title block says what its sidecar says: an image outside the model's world is named so."""
    note = training_domain.note({"out_of_domain": sidecar.get("out_of_domain"),
                                 "reason": sidecar.get("out_of_domain_reason", "")})
    return [*lines, note] if note else list(lines)


def base_sidecar(path: str, image, model_info: dict, method: str) -> dict:
    """What every sidecar starts with: the image (path, SHA-256, size), the model, the method, the version,
    and whether the image is outside the world the model was trained on."""
    return {"image": path, "image_sha256": image.sha256, "image_size": [image.width, image.height],
            **model_provenance(model_info), "method": method, "version": __version__,
            **domain_fields(path, model_info)}


def map_sidecar(path: str, image, model_info: dict, *, method: str, method_options: dict, pooling: str,
                tau: str, text: str, index: int, labels: list[str], ensemble: bool, input_size: int,
                raw_range, normalisation: str, scores_by_pooling: dict | None = None,
                scores: dict | None = None, colormap: str | None = None, extra: dict | None = None) -> dict:
    """A CLIP map's recipe. scores_by_pooling ({pooling: {"cosine": [T], "probability": [T]}}, as the
    CLI has them) gives "scores" per pooling; scores (one pooling's, as the window has them) gives
    the flat form the window has always written."""
    sidecar = {**base_sidecar(path, image, model_info, method), "input_size": input_size,
               "normalisation": normalisation}
    if colormap is not None:
        sidecar["colormap"] = colormap
    tau = readout_tau(tau, model_info.get("trained_tau", "mean"))  # sidecars state the concrete threshold
    sidecar.update({"method_options": dict(method_options or {}), "pooling": pooling, "tau": tau, "text": text,
                    "text_index": index, "labels": list(labels), "ensemble": bool(ensemble)})
    if scores_by_pooling is not None:
        sidecar["scores"] = {q: {"cosine": s["cosine"][index], "probability": s["probability"][index]}
                             for q, s in scores_by_pooling.items()}
        sidecar["label_scores"] = scores_by_pooling
    else:
        sidecar["scores"] = {"cosine": scores["cosine"][index], "probability": scores["probability"][index]}
        sidecar["label_scores"] = scores
    sidecar["raw_range"] = [float(v) for v in raw_range]
    sidecar.update(extra or {})
    return sidecar


def contribution_sidecar(path: str, image, model_info: dict, *, pooling: str, tau: str, labels: list[str],
                         input_size: int, normalisation: str, scores: dict, colormap: str | None = None,
                         extra: dict | None = None) -> dict:
    sidecar = {**base_sidecar(path, image, model_info, "contribution"), "input_size": input_size,
               "normalisation": normalisation}
    if colormap is not None:
        sidecar["colormap"] = colormap
    tau = readout_tau(tau, model_info.get("trained_tau", "mean"))
    sidecar.update({"pooling": pooling, "tau": tau, "text": None, "scores": scores, "labels": list(labels)})
    sidecar.update(extra or {})
    return sidecar


TILE_FIELDS = ("model", "pretrained", "weights_sha256", "method", "pooling", "text", "synset", "raw_range", "uniform",
               "support")


def tile_source(caption: str, meta: dict, name: str | None = None) -> dict:
    """What made one tile of a grid, from its map's sidecar (or the same fields the window holds)."""
    src = {"caption": caption, **{k: meta.get(k) for k in TILE_FIELDS if meta.get(k) is not None}}
    if name:
        src["map"] = name
    return src


def grid_sidecar(path: str, image, *, kind: str, tiles: list[dict], title: list[str],
                 extra: dict | None = None) -> dict:
    """A grid figure: "tile_sources" names, per tile, the model, weights, pooling, method and text (and
    its map file, when it has one), so a grid of four siblings names four weights files. The top-level
    "model"/"pretrained" are set only when every tile shares them."""
    sidecar = {"image": path, "image_sha256": image.sha256, "image_size": [image.width, image.height]}
    for key in ("model", "pretrained", "weights_sha256"):
        values = {t.get(key) for t in tiles}
        if len(values) == 1 and None not in values:
            sidecar[key] = values.pop()
    sidecar.update({"method": f"grid-{kind}", "version": __version__, "grid": kind, "title": list(title),
                    "tiles": [t.get("caption", "") for t in tiles], "tile_sources": tiles})
    sidecar.update(extra or {})
    return sidecar


# --- checks and writing ------------------------------------------------------------------------

def check_finite(values: np.ndarray | None, sidecar: dict, name: str) -> bytes:
    """The sidecar as JSON bytes, refusing NaN/inf in the map or any number of the sidecar (a model
    whose weights went NaN writes nothing instead of an all-NaN map and a sidecar that is not JSON)."""
    if values is not None and not np.all(np.isfinite(values)):
        bad = int(np.size(values) - np.count_nonzero(np.isfinite(values)))
        raise OutputError(f"{name}: the map has {bad} NaN/inf value(s) (are the model's weights finite?); "
                          "nothing written")
    try:
        text = json.dumps(sidecar, indent=2, ensure_ascii=False, allow_nan=False, default=json_default)
    except ValueError:
        raise OutputError(f"{name}: the sidecar holds NaN/inf ({', '.join(_non_finite_keys(sidecar))}); "
                          "nothing written") from None
    return json_bytes(text + "\n")  # a file name that is not UTF-8 round-trips as \udcXX


def _non_finite_keys(obj, prefix: str = "") -> list[str]:
    found = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            found += _non_finite_keys(v, f"{prefix}{k}.")
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            found += _non_finite_keys(v, prefix)
    elif isinstance(obj, (float, np.floating)) and not math.isfinite(float(obj)):
        found.append(prefix.rstrip("."))
    return sorted(set(found))[:5] or ["a value"]


def write_artifacts(figure_target: Path, npy_target: Path, json_target: Path, values: np.ndarray, figure,
                    sidecar: dict, overwrite: bool, raw16: list[Path] | tuple = ()) -> dict:
    """Writes the map (.npy float32), its 16-bit copies, the figure (uint8 array, or bytes for SVG)
    and the sidecar last; returns the sidecar. Checks every target and every number first."""
    values = np.asarray(values, dtype=np.float32)
    sidecar.setdefault("files", {})
    payload = check_finite(values, sidecar, json_target.stem)
    targets = [npy_target, *raw16, figure_target, json_target]
    check_name_lengths(t.name for t in targets)
    refuse_existing(targets, overwrite)
    atomic_save_npy(npy_target, values, overwrite=overwrite)
    for t in raw16:
        atomic_save_image(t, np.rint(np.clip(values, 0.0, 1.0) * 65535.0).astype(np.uint16), overwrite=overwrite)
    if isinstance(figure, (bytes, bytearray)):
        atomic_write_bytes(figure_target, bytes(figure), overwrite=overwrite)
    else:
        atomic_save_image(figure_target, figure, overwrite=overwrite)
    atomic_write_bytes(json_target, payload, overwrite=overwrite)  # last: the sidecar says it is complete
    return sidecar


def write_figure_only(figure_target: Path, json_target: Path, figure, sidecar: dict, overwrite: bool) -> dict:
    """A figure without a map of its own (a grid): the figure, then its sidecar."""
    payload = check_finite(None, sidecar, json_target.stem)
    check_name_lengths([figure_target.name, json_target.name])
    refuse_existing([figure_target, json_target], overwrite)
    atomic_save_image(figure_target, figure, overwrite=overwrite)
    atomic_write_bytes(json_target, payload, overwrite=overwrite)
    return sidecar


def write_triple(stem: str, out: Path, rgb: np.ndarray, values: np.ndarray, lines: list[str],
                 sidecar: dict, cmap: str, alpha: float, colorbar_label: str, overwrite: bool) -> dict:
    """The plain png + npy + json set of `explain` and `concepts`: overlay, title block and colorbar."""
    from eclip_desktop.core.figures.render import annotate, overlay
    check_finite(values, sidecar, stem)  # before rendering: a NaN map must not reach the colormap
    t0 = time.perf_counter()
    lines = with_domain_line(lines, sidecar)
    figure = annotate(overlay(rgb, values, cmap=cmap, alpha=alpha), lines, cmap=cmap, colorbar_label=colorbar_label)
    png, npy, js = triple_targets(stem, out)
    sidecar["files"] = {"png": png.name, "npy": npy.name}
    sidecar.setdefault("timings", {})["render"] = time.perf_counter() - t0
    return write_artifacts(png, npy, js, values, figure, sidecar, overwrite)
