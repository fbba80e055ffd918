"""Write result files so that a crash, a full disk or a refusal never leaves a half-written file.

Every writer goes through a temp file in the target's own directory (so ``os.replace`` is a
rename on one file system), fsyncs it, then swaps it into place.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import re
import tempfile
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from PIL import Image

from eclip_desktop.core.errors import OutputError

_CAUSES = {
    errno.ENOSPC: "disk full",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENOTDIR: "a parent path is not a directory",
    errno.EISDIR: "it is a directory",
    errno.ENOENT: "the directory does not exist",
    errno.ENAMETOOLONG: "file name too long",
}
if hasattr(errno, "EDQUOT"):
    _CAUSES[errno.EDQUOT] = "disk quota exceeded"


def os_cause(exc: OSError) -> str:
    """The cause of an OSError in a few words ("disk full", "file name too long", ...)."""
    if exc.errno in _CAUSES:
        return _CAUSES[exc.errno]
    if exc.errno is None and re.search(r"\d+ requested and \d+ written", str(exc)):
        # numpy reports a short write (the file system took fewer bytes than asked) without an errno;
        # on a local disk that is a full disk.
        return "disk full"
    return exc.strerror or str(exc) or type(exc).__name__


def _read_umask() -> int:
    # The umask can only be read by setting it; done once at import, before worker threads exist.
    current = os.umask(0o022)
    os.umask(current)
    return current


_FILE_MODE = 0o666 & ~_read_umask()


def ensure_writable_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` (with parents) and prove it accepts new files; return it as a Path."""
    target = Path(path)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise OutputError(f"output directory {target} is not writable: it exists and is not a directory") from exc
    except OSError as exc:
        raise OutputError(f"output directory {target} is not writable: {os_cause(exc)}") from exc
    if not target.is_dir():
        raise OutputError(f"output directory {target} is not writable: it exists and is not a directory")
    try:
        fd, probe = tempfile.mkstemp(dir=target, prefix=".write-test-")
    except OSError as exc:
        raise OutputError(f"output directory {target} is not writable: {os_cause(exc)}") from exc
    os.close(fd)
    try:
        os.unlink(probe)
    except OSError:
        pass
    return target


def _refuse_existing(target: Path) -> OutputError:
    return OutputError(f"{target} exists; pass --overwrite to replace it")


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not possible on every platform, and not fatal if it fails.
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], Any], overwrite: bool) -> Path:
    target = Path(path)
    if not overwrite and os.path.lexists(target):
        raise _refuse_existing(target)
    if target.is_dir():
        raise OutputError(f"cannot write {target}: it is a directory")
    directory = target.parent
    # Keep the temp name within NAME_MAX even for very long target names.
    prefix = f".{target.name[:200]}.tmp-"
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=prefix)
        with os.fdopen(fd, "wb") as f:
            if hasattr(os, "fchmod"):
                # mkstemp creates 0600; results should get the permissions a plain open() would.
                os.fchmod(f.fileno(), _FILE_MODE)
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if overwrite:
            os.replace(tmp, target)
        else:
            _place_without_clobbering(tmp, target)
        tmp = None
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {os_cause(exc)}") from exc
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    _fsync_dir(directory)
    return target


def _place_without_clobbering(tmp: str, target: Path) -> None:
    # link() fails if the target appeared since the early check, which replace() would clobber.
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise _refuse_existing(target) from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        # File systems without hard links (FAT, some network shares): best effort.
        if os.path.lexists(target):
            raise _refuse_existing(target) from None
        os.replace(tmp, target)
        return
    os.unlink(tmp)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, overwrite: bool = True) -> Path:
    payload = bytes(data)
    return _atomic_write(path, lambda f: f.write(payload), overwrite)


def atomic_save_npy(path: str | os.PathLike[str], array: np.ndarray, overwrite: bool = True) -> Path:
    arr = np.asarray(array)
    # Pickled object arrays would make the files unsafe to load; refuse them up front.
    return _atomic_write(path, lambda f: np.save(f, arr, allow_pickle=False), overwrite)


def json_default(obj: Any) -> Any:
    """What json.dumps cannot store by itself: arrays, numpy scalars, paths, sets."""
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=repr)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def json_bytes(text: str) -> bytes:
    """JSON text as UTF-8. A file name that is not UTF-8 reaches Python as lone surrogates, which
    UTF-8 cannot encode; they occur only inside JSON strings, where `\\udcXX` is a valid escape that
    reads back as the same surrogate, so the name round-trips to the same bytes on disk."""
    return text.encode("utf-8", "backslashreplace")


def atomic_write_json(path: str | os.PathLike[str], obj: Any, overwrite: bool = True) -> Path:
    # Serialised first so an unserialisable value fails before any file is touched.
    text = json.dumps(obj, indent=2, sort_keys=False, ensure_ascii=False, default=json_default) + "\n"
    return atomic_write_bytes(path, json_bytes(text), overwrite)


_IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF"}


def _to_pil(arr: np.ndarray, fmt: str, target: Path) -> Image.Image:
    a = np.asarray(arr)
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim == 2 and a.dtype == np.uint16:
        if fmt == "JPEG":
            raise ValueError(f"cannot save {target}: JPEG has no 16-bit grey; use .png or .tiff")
    elif a.dtype != np.uint8:
        raise ValueError(f"cannot save {target}: expected uint8 RGB/grey or uint16 grey, got {a.dtype}")
    elif not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (3, 4))):
        raise ValueError(f"cannot save {target}: expected H×W, H×W×3 or H×W×4, got shape {a.shape}")
    elif a.ndim == 3 and a.shape[2] == 4 and fmt == "JPEG":
        raise ValueError(f"cannot save {target}: JPEG has no alpha channel; use .png or .tiff")
    return Image.fromarray(np.ascontiguousarray(a))


def atomic_save_image(path: str | os.PathLike[str], rgb_or_gray: np.ndarray, overwrite: bool = True) -> Path:
    """Save uint8 RGB/RGBA/grey (or uint16 grey for PNG/TIFF); the format follows the suffix."""
    target = Path(path)
    fmt = _IMAGE_FORMATS.get(target.suffix.lower())
    if fmt is None:
        raise OutputError(
            f"cannot save {target}: unsupported image type '{target.suffix}'; use .png, .jpg or .tiff"
        )
    if not overwrite and os.path.lexists(target):
        raise _refuse_existing(target)
    img = _to_pil(rgb_or_gray, fmt, target)
    buf = io.BytesIO()
    options = {"quality": 95} if fmt == "JPEG" else {}
    # Encoded in memory first so an encoder failure cannot leave a file behind.
    img.save(buf, format=fmt, **options)
    return atomic_write_bytes(target, buf.getvalue(), overwrite)


def _hash8(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def slugify(text: str, max_len: int = 48) -> str:
    """A file-name-safe [a-z0-9-] form of ``text``, at most ``max_len`` characters.

    When the text had to be cut or lost non-ASCII characters, a hash of the original is appended
    so that different prompts do not end up sharing one file name.
    """
    if max_len < 16:
        raise ValueError(f"max_len must be at least 16, got {max_len}")
    original = str(text)
    ascii_text = unicodedata.normalize("NFKD", original).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if not slug:
        return f"text-{_hash8(original)}"
    lossy = not original.isascii()
    if len(slug) > max_len:
        lossy = True
    if not lossy:
        return slug
    base = slug[: max_len - 9].rstrip("-")
    return f"{base}-{_hash8(original)}" if base else f"text-{_hash8(original)}"
