import dataclasses
import errno
import hashlib
import os
import pathlib

import numpy as np
import pytest
from PIL import Image

from eclip_desktop.core.errors import EclipError, ImageLoadError
from eclip_desktop.core.io import imageio
from eclip_desktop.core.io.imageio import (
    DEFAULT_MAX_PIXELS,
    LoadedImage,
    image_sha256,
    load_image,
)


def _gradient_rgb(h=20, w=30):
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([xx * 8, yy * 12, np.full_like(xx, 77)], axis=-1).astype(np.uint8)


def _save(tmp_path, name, img, **kw):
    path = tmp_path / name
    img.save(path, **kw)
    return path


def _expect_error(path, *fragments, **kw):
    with pytest.raises(ImageLoadError) as info:
        load_image(path, **kw)
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    return message


# --- good files -------------------------------------------------------------------------------


def test_rgb_png_round_trip_and_metadata(tmp_path):
    arr = _gradient_rgb()
    path = _save(tmp_path, "rgb.png", Image.fromarray(arr))
    loaded = load_image(str(path))
    assert isinstance(loaded, LoadedImage)
    assert loaded.path == str(path)
    assert loaded.source_mode == "RGB"
    assert loaded.rgb.dtype == np.uint8 and loaded.rgb.flags.c_contiguous
    assert (loaded.width, loaded.height) == (30, 20)
    np.testing.assert_array_equal(loaded.rgb, arr)
    assert loaded.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert image_sha256(path) == loaded.sha256


def test_path_is_kept_exactly_as_given(tmp_path, monkeypatch):
    _save(tmp_path, "a.png", Image.fromarray(_gradient_rgb()))
    monkeypatch.chdir(tmp_path)
    assert load_image("./a.png").path == "./a.png"
    assert load_image(pathlib.Path("a.png")).path == "a.png"


def test_loaded_image_is_frozen(tmp_path):
    loaded = load_image(_save(tmp_path, "a.png", Image.fromarray(_gradient_rgb())))
    with pytest.raises(dataclasses.FrozenInstanceError):
        loaded.path = "other"  # type: ignore[misc]


def test_rgba_is_composited_over_white(tmp_path):
    arr = np.zeros((2, 3, 4), np.uint8)
    arr[..., 0] = 200
    arr[0, 0, 3] = 0  # fully transparent -> white
    arr[0, 1, 3] = 255  # opaque -> the colour itself
    arr[0, 2, 3] = 128  # half -> halfway to white
    path = _save(tmp_path, "rgba.png", Image.fromarray(arr))
    loaded = load_image(path)
    assert loaded.source_mode == "RGBA"
    assert loaded.rgb[0, 0].tolist() == [255, 255, 255]
    assert loaded.rgb[0, 1].tolist() == [200, 0, 0]
    r, g, b = loaded.rgb[0, 2].tolist()
    assert abs(r - 228) <= 1 and abs(g - 127) <= 1 and g == b


def test_grayscale_l_la_and_1(tmp_path):
    gray = np.arange(0, 250, 10, dtype=np.uint8).reshape(5, 5)
    loaded = load_image(_save(tmp_path, "l.png", Image.fromarray(gray)))
    assert loaded.source_mode == "L"
    np.testing.assert_array_equal(loaded.rgb, np.repeat(gray[..., None], 3, axis=2))

    la = Image.merge("LA", [Image.fromarray(gray), Image.fromarray(np.where(gray > 100, 255, 0).astype(np.uint8))])
    loaded = load_image(_save(tmp_path, "la.png", la))
    assert loaded.source_mode == "LA"
    assert (loaded.rgb[gray <= 100] == 255).all()
    np.testing.assert_array_equal(loaded.rgb[gray > 100][:, 0], gray[gray > 100])

    bits = Image.fromarray(np.array([[0, 255], [255, 0]], np.uint8)).convert("1")
    loaded = load_image(_save(tmp_path, "bits.png", bits))
    assert loaded.source_mode == "1"
    assert loaded.rgb[:, :, 0].tolist() == [[0, 255], [255, 0]]


def test_palette_with_and_without_transparency(tmp_path):
    pal = Image.new("P", (4, 1))
    pal.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (256 * 3 - 9))
    pal.putdata([0, 1, 2, 1])
    loaded = load_image(_save(tmp_path, "p.png", pal))
    assert loaded.source_mode == "P"
    assert loaded.rgb[0].tolist() == [[255, 0, 0], [0, 255, 0], [0, 0, 255], [0, 255, 0]]

    loaded = load_image(_save(tmp_path, "pt.png", pal, transparency=1))
    assert loaded.source_mode == "P"
    # Index 1 is transparent: white, not green.
    assert loaded.rgb[0].tolist() == [[255, 0, 0], [255, 255, 255], [0, 0, 255], [255, 255, 255]]


def test_16bit_png_with_full_range_is_scaled_not_clipped(tmp_path):
    values = np.linspace(0, 65535, 64 * 64).round().astype(np.uint16).reshape(64, 64)
    loaded = load_image(_save(tmp_path, "deep.png", Image.fromarray(values)))
    assert loaded.source_mode.startswith("I")
    gray = loaded.rgb[..., 0]
    assert gray.min() == 0 and gray.max() == 255
    assert 100 < gray.mean() < 155  # a linear ramp stays mid-grey on average, not white
    assert (np.diff(gray.ravel().astype(int)) >= 0).all()


def test_16bit_narrow_range_is_stretched(tmp_path):
    values = np.linspace(1000, 3000, 100).astype(np.uint16).reshape(10, 10)
    loaded = load_image(_save(tmp_path, "narrow.png", Image.fromarray(values)))
    assert loaded.rgb.min() == 0 and loaded.rgb.max() == 255


def test_16bit_big_endian_tiff(tmp_path):
    values = np.linspace(0, 40000, 100).astype(">u2").reshape(10, 10)
    img = Image.frombytes("I;16B", (10, 10), values.tobytes())
    loaded = load_image(_save(tmp_path, "be.tif", img))
    assert loaded.source_mode == "I;16B"
    assert loaded.rgb[0, 0, 0] == 0 and loaded.rgb[-1, -1, 0] == 255


def test_32bit_int_and_float_tiffs(tmp_path):
    ints = (np.arange(100, dtype=np.int32).reshape(10, 10) - 50) * 1000
    loaded = load_image(_save(tmp_path, "i.tif", Image.fromarray(ints)))
    assert loaded.source_mode == "I"
    assert loaded.rgb[0, 0, 0] == 0 and loaded.rgb[-1, -1, 0] == 255

    floats = np.linspace(-3.0, 7.0, 100, dtype=np.float32).reshape(10, 10)
    loaded = load_image(_save(tmp_path, "f.tif", Image.fromarray(floats)))
    assert loaded.source_mode == "F"
    assert loaded.rgb[0, 0, 0] == 0 and loaded.rgb[-1, -1, 0] == 255
    assert 120 <= loaded.rgb[4, 9, 0] <= 135  # midpoint of the range maps near 127


def test_cmyk_jpeg_is_converted(tmp_path):
    img = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # pure red in CMYK
    loaded = load_image(_save(tmp_path, "cmyk.jpg", img, quality=95))
    assert loaded.source_mode == "CMYK"
    r, g, b = loaded.rgb[8, 8].astype(int)
    assert r > 200 and g < 60 and b < 60


def test_ycbcr_tiff_is_converted(tmp_path):
    img = Image.new("RGB", (8, 8), (10, 200, 30)).convert("YCbCr")
    loaded = load_image(_save(tmp_path, "ycc.tif", img))
    assert loaded.source_mode == "YCbCr"
    assert np.abs(loaded.rgb[4, 4].astype(int) - [10, 200, 30]).max() <= 4


def test_unsupported_mode_names_the_mode(tmp_path):
    path = _save(tmp_path, "lab.tif", Image.new("LAB", (4, 4)))
    _expect_error(path, "LAB", str(path))


def test_exif_orientation_6_swaps_width_and_height(tmp_path):
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:5, :5] = (255, 0, 0)  # marker at the stored top-left
    img = Image.fromarray(arr)
    exif = img.getexif()
    exif[0x0112] = 6
    path = _save(tmp_path, "rot.jpg", img, exif=exif, quality=95)
    loaded = load_image(path)
    assert (loaded.width, loaded.height) == (20, 40)
    # Orientation 6 means "rotate 90° clockwise to display": stored top-left ends up top-right.
    assert loaded.rgb[1, -2, 0] > 200 and loaded.rgb[1, 1, 0] < 50
    assert loaded.rgb.flags.c_contiguous


# --- bad files --------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    path = tmp_path / "nope.png"
    msg = _expect_error(path, str(path))
    assert "not found" in msg


def test_directory(tmp_path):
    msg = _expect_error(tmp_path, str(tmp_path))
    assert "directory" in msg


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    msg = _expect_error(path, str(path))
    assert "empty" in msg


def test_text_file_named_png(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("hello, I am not a picture\n")
    msg = _expect_error(path, str(path))
    assert "not an image" in msg


@pytest.mark.parametrize("fmt,suffix", [("JPEG", ".jpg"), ("PNG", ".png")])
def test_truncated_image_fails_to_decode(tmp_path, fmt, suffix):
    rng = np.random.default_rng(0)
    full = tmp_path / f"full{suffix}"
    Image.fromarray(rng.integers(0, 255, (128, 128, 3), dtype=np.uint8)).save(full, format=fmt)
    data = full.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: len(data) // 2])
    msg = _expect_error(cut, str(cut))
    assert "corrupt or truncated" in msg
    assert load_image(full).width == 128  # the intact file is fine


def test_unreadable_file(tmp_path, monkeypatch):
    path = _save(tmp_path, "secret.png", Image.fromarray(_gradient_rgb()))
    if os.geteuid() != 0:
        path.chmod(0o000)
    else:
        # root ignores file modes, so simulate what the OS would report.
        def denied(path):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))

        from eclip_desktop.core.io import guards
        monkeypatch.setattr(guards, "open_nonblocking", denied)
    try:
        msg = _expect_error(path, str(path))
    finally:
        path.chmod(0o644)
    assert "permission denied" in msg


def test_image_above_max_pixels_is_refused_before_decoding(tmp_path, monkeypatch):
    path = _save(tmp_path, "big.png", Image.fromarray(np.zeros((200, 300, 3), np.uint8)))

    def must_not_decode(self):
        raise AssertionError("decoded an image that was over the limit")

    monkeypatch.setattr(Image.Image, "load", must_not_decode)
    msg = _expect_error(path, str(path), "300×200", "above the", "downscale it first", max_pixels=10_000)
    assert "0.06 MP" in msg and "0.01 MP" in msg


def test_pillow_decompression_bomb_becomes_the_same_message(tmp_path, monkeypatch):
    path = _save(tmp_path, "bomb.png", Image.fromarray(np.zeros((100, 100, 3), np.uint8)))
    # Pillow raises DecompressionBombError above twice this many pixels.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    _expect_error(path, str(path), "above the", "downscale it first", max_pixels=10**9)


def test_pillow_bomb_warning_does_not_block_images_within_our_limit(tmp_path, monkeypatch, recwarn):
    path = _save(tmp_path, "ok.png", Image.fromarray(np.zeros((40, 40, 3), np.uint8)))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 1600 px: warning range, not error
    assert load_image(path, max_pixels=10_000).width == 40
    assert not [w for w in recwarn if issubclass(w.category, Image.DecompressionBombWarning)]


def test_errors_are_eclip_errors_and_default_limit():
    assert issubclass(ImageLoadError, EclipError)
    assert DEFAULT_MAX_PIXELS == 100_000_000


def test_image_sha256_missing_file(tmp_path):
    with pytest.raises(ImageLoadError, match="not found"):
        image_sha256(tmp_path / "missing.png")


def test_corrupt_exif_does_not_block_loading(tmp_path, monkeypatch):
    path = _save(tmp_path, "x.png", Image.fromarray(_gradient_rgb()))

    def broken_exif(self):
        raise SyntaxError("bad EXIF")

    monkeypatch.setattr(Image.Image, "getexif", broken_exif)
    assert imageio.load_image(path).width == 30
