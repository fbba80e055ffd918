"""Load an image file into an 8-bit RGB array, or fail with one line the user can act on."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import re
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from eclip_desktop.core.errors import ImageLoadError
from eclip_desktop.core.io.guards import check_regular, read_bytes, shown

# Files that folders, globs and list files of images are filtered by.
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
# The only decoders an image reaches, whatever its name says: raster formats Pillow decodes itself.
# Never EPS/PostScript (Pillow hands those to Ghostscript, an interpreter: a 58-byte `{ } loop`
# named .png ran forever), nor PDF, WMF or any other format that calls out of the process.
RASTER_FORMATS = ("PNG", "JPEG", "TIFF", "WEBP", "BMP", "DIB", "GIF", "PPM")  # JPEG opens MPO too

DEFAULT_MAX_PIXELS = 100_000_000
# Longer side over shorter side. Models resize the shorter side to their input size, so a 10000x1
# strip became 2.2 million x 224 pixels per channel (11 GB); 20:1 is wider than any panorama.
MAX_ASPECT = 20
# A 100 MP image compresses to far less; a bigger file is not an image this tool should read whole.
MAX_IMAGE_BYTES = 1 << 30

# EXIF orientation tag value -> the transpose that undoes it (same table as ImageOps.exif_transpose).
_ORIENTATION_FIX = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_EXIF_ORIENTATION = 0x0112

_PLAIN_MODES = {"RGB", "RGBX", "L", "1", "P", "CMYK", "YCbCr"}
_ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}
_HIGH_DEPTH_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I", "F"}


# eq=False: the generated __eq__/__hash__ would compare/hash the ndarray field, which raises.
@dataclass(frozen=True, eq=False)
class LoadedImage:
    path: str
    rgb: np.ndarray
    sha256: str
    source_mode: str

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])


def _read_error(path: str, exc: OSError) -> ImageLoadError:
    if isinstance(exc, FileNotFoundError):
        return ImageLoadError(f"image not found: {path}")
    if isinstance(exc, IsADirectoryError):
        return ImageLoadError(f"{path} is a directory, not an image file")
    if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM):
        return ImageLoadError(f"cannot read {path}: permission denied")
    reason = exc.strerror or str(exc) or type(exc).__name__
    return ImageLoadError(f"cannot read {path}: {reason}")


def _file_error(path: str):
    def fail(why: str) -> ImageLoadError:
        if why == "not found":
            return ImageLoadError(f"image not found: {shown(path)}")
        if why.startswith("it is a directory"):
            return ImageLoadError(f"{shown(path)} is a directory, not an image file")
        if why.startswith("it is "):  # a FIFO, a device, a socket, or too large
            return ImageLoadError(f"{shown(path)} is not an image file: {why.removeprefix('it is ')}")
        if why == "permission denied":
            return ImageLoadError(f"cannot read {shown(path)}: permission denied")
        return ImageLoadError(f"cannot read {shown(path)}: {why}")
    return fail


def _read_bytes(path: str) -> bytes:
    # Only a regular file, opened without blocking and bounded: a FIFO hung the reader until killed,
    # /dev/zero was read until memory ran out.
    return read_bytes(path, _file_error(path), MAX_IMAGE_BYTES)


def image_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of the file bytes, read in chunks so huge files need no extra memory."""
    name = os.fspath(path)
    check_regular(name, _file_error(name))
    digest = hashlib.sha256()
    try:
        with open(name, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise _read_error(shown(name), exc) from exc
    return digest.hexdigest()


def check_aspect(path: str, width: int, height: int) -> None:
    """Refuse a strip thinner than MAX_ASPECT:1 before anything is decoded or resized."""
    long, short = max(width, height), min(width, height)
    if long > MAX_ASPECT * short:
        raise ImageLoadError(f"{shown(path)} is {width}×{height} pixels, an aspect ratio of {long / short:.0f}:1, "
                             f"beyond the {MAX_ASPECT}:1 this tool explains (the model would resize its short side "
                             f"to the input size); crop it or pad it to at most {MAX_ASPECT}:1 first")


def _too_large(path: str, pixels: int, limit: int, size: tuple[int, int] | None = None) -> ImageLoadError:
    dims = f"{size[0]}×{size[1]} = " if size else ""
    return ImageLoadError(
        f"{path} is {dims}{_megapixels(pixels)} MP, above the {_megapixels(limit)} MP limit; downscale it first"
    )


def _megapixels(pixels: int) -> str:
    mp = pixels / 1e6
    return f"{mp:.0f}" if mp >= 10 else f"{mp:.2g}"


def _bomb_error(path: str, exc: Exception, max_pixels: int) -> ImageLoadError:
    # Pillow reports only pixel counts ("Image size (N pixels) exceeds limit of M pixels ...").
    numbers = [int(n) for n in re.findall(r"\d+", str(exc))]
    pixels = numbers[0] if numbers else max_pixels + 1
    limit = min(max_pixels, numbers[1]) if len(numbers) > 1 else max_pixels
    return _too_large(path, pixels, limit)


def _scale_to_uint8(values: np.ndarray, mode: str) -> np.ndarray:
    """Stretch a 16/32-bit integer or float plane over its own value range to 0..255."""
    data = values.astype(np.float64)
    finite = np.isfinite(data)
    if not finite.any():
        return np.zeros(data.shape, np.uint8)
    lo = float(data[finite].min())
    hi = float(data[finite].max())
    if hi > lo:
        scaled = (data - lo) * (255.0 / (hi - lo))
    elif mode == "F":
        # A constant float plane has no range to stretch; read it as a 0..1 intensity.
        scaled = np.full(data.shape, np.clip(lo, 0.0, 1.0) * 255.0)
    else:
        # A constant integer plane: interpret on the 16-bit scale these files nominally use.
        scaled = np.full(data.shape, np.clip(lo, 0.0, 65535.0) * (255.0 / 65535.0))
    scaled = np.where(finite, scaled, 0.0)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _composite_over_white(rgba: Image.Image) -> np.ndarray:
    arr = np.asarray(rgba, dtype=np.uint16)
    alpha = arr[..., 3:4]
    # Integer blend with rounding: exact for alpha 0 and 255, no float noise.
    out = (arr[..., :3] * alpha + 255 * (255 - alpha) + 127) // 255
    return out.astype(np.uint8)


def _to_rgb_array(img: Image.Image, path: str) -> np.ndarray:
    mode = img.mode
    if mode in _HIGH_DEPTH_MODES:
        gray = _scale_to_uint8(np.asarray(img), mode)
        return np.repeat(gray[..., None], 3, axis=2)
    if mode in _ALPHA_MODES or (mode in _PLAIN_MODES and "transparency" in img.info):
        return _composite_over_white(img.convert("RGBA"))
    if mode in _PLAIN_MODES:
        return np.array(img.convert("RGB"), dtype=np.uint8)
    raise ImageLoadError(f"{path} uses the unsupported colour mode '{mode}'")


def _apply_orientation(rgb: np.ndarray, orientation: int) -> np.ndarray:
    fix = _ORIENTATION_FIX.get(orientation)
    if fix is None:
        return rgb
    return np.array(Image.fromarray(rgb).transpose(fix), dtype=np.uint8)


def _orientation(img: Image.Image) -> int:
    try:
        value = img.getexif().get(_EXIF_ORIENTATION, 1)
        return int(value)
    except Exception:
        # A damaged EXIF block should not make otherwise good pixels unusable.
        return 1


def load_image(path: str | os.PathLike[str], max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Decode ``path`` fully into uint8 H×W×3 RGB with EXIF orientation applied."""
    name = os.fspath(path)
    shown_ = shown(name)
    data = _read_bytes(name)
    if not data:
        raise ImageLoadError(f"{shown_} is empty (0 bytes)")
    sha = hashlib.sha256(data).hexdigest()

    with warnings.catch_warnings():
        # Our own max_pixels check below is the authority and gives the better message.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data), formats=RASTER_FORMATS)
        except Image.DecompressionBombError as exc:
            raise _bomb_error(shown_, exc, max_pixels) from exc
        except UnidentifiedImageError as exc:
            raise ImageLoadError(f"{shown_} is not an image file this tool reads (PNG, JPEG, TIFF, WebP, BMP, GIF or "
                                 "PPM)") from exc
        except Exception as exc:
            raise ImageLoadError(f"{shown_} is corrupt and cannot be opened ({exc})") from exc

        with img:
            width, height = img.size
            if width <= 0 or height <= 0:
                raise ImageLoadError(f"{shown_} has an empty size ({width}×{height})")
            if width * height > max_pixels:
                raise _too_large(shown_, width * height, max_pixels, (width, height))
            check_aspect(name, width, height)
            source_mode = img.mode
            try:
                img.load()
            except Image.DecompressionBombError as exc:
                raise _bomb_error(shown_, exc, max_pixels) from exc
            except MemoryError as exc:
                raise ImageLoadError(f"not enough memory to decode {shown_} ({width}×{height})") from exc
            except Exception as exc:
                # Pillow's decoders raise OSError, SyntaxError, ValueError, struct.error, ...
                detail = str(exc) or type(exc).__name__
                raise ImageLoadError(f"{shown_} is corrupt or truncated and cannot be decoded ({detail})") from exc
            orientation = _orientation(img)
            rgb = _to_rgb_array(img, shown_)

    rgb = np.ascontiguousarray(_apply_orientation(rgb, orientation), dtype=np.uint8)
    return LoadedImage(path=name, rgb=rgb, sha256=sha, source_mode=source_mode)
