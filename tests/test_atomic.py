import errno
import json
import os
import stat
import tempfile

import numpy as np
import pytest
from PIL import Image

from eclip_desktop.core.errors import OutputError
from eclip_desktop.core.io import atomic
from eclip_desktop.core.io.atomic import (
    atomic_save_image,
    atomic_save_npy,
    atomic_write_bytes,
    atomic_write_json,
    ensure_writable_dir,
    slugify,
)

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _leftovers(directory):
    return sorted(p.name for p in directory.iterdir() if ".tmp-" in p.name or p.name.startswith(".write-test-"))


# --- round trips ------------------------------------------------------------------------------


def test_write_bytes_round_trip_and_overwrite(tmp_path):
    target = tmp_path / "a.bin"
    assert atomic_write_bytes(target, b"one") == target
    assert target.read_bytes() == b"one"
    atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    assert _leftovers(tmp_path) == []


def test_written_file_gets_normal_permissions(tmp_path):
    target = tmp_path / "perm.bin"
    atomic_write_bytes(target, b"x")
    umask = os.umask(0)
    os.umask(umask)
    # mkstemp alone would leave 0600.
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


def test_npy_round_trip(tmp_path):
    arr = np.arange(12, dtype=np.float32).reshape(3, 4)
    target = tmp_path / "heat.npy"
    atomic_save_npy(target, arr)
    loaded = np.load(target)
    assert loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded, arr)
    assert _leftovers(tmp_path) == []


def test_npy_refuses_object_arrays_and_leaves_nothing(tmp_path):
    with pytest.raises(ValueError):
        atomic_save_npy(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object))
    assert list(tmp_path.iterdir()) == []


def test_json_round_trip_with_numpy_values(tmp_path):
    target = tmp_path / "meta.json"
    obj = {"z": np.float32(0.5), "a": np.arange(3), "name": "café", "n": np.int64(7), "nested": [np.bool_(True)]}
    atomic_write_json(target, obj)
    text = target.read_text(encoding="utf-8")
    assert "café" in text  # ensure_ascii=False
    assert text.index('"z"') < text.index('"a"')  # insertion order kept
    assert '\n  "z"' in text  # indent 2
    assert json.loads(text) == {"z": 0.5, "a": [0, 1, 2], "name": "café", "n": 7, "nested": [True]}


def test_json_unserialisable_value_writes_nothing(tmp_path):
    with pytest.raises(TypeError):
        atomic_write_json(tmp_path / "bad.json", {"x": object()})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix", [".png", ".tif", ".tiff"])
def test_image_round_trip_lossless(tmp_path, suffix):
    rgb = np.random.default_rng(0).integers(0, 255, (16, 24, 3), dtype=np.uint8)
    target = tmp_path / f"img{suffix}"
    atomic_save_image(target, rgb)
    with Image.open(target) as img:
        np.testing.assert_array_equal(np.asarray(img.convert("RGB")), rgb)
    assert _leftovers(tmp_path) == []


def test_jpeg_saves_close_to_input(tmp_path):
    rgb = np.full((16, 16, 3), (200, 50, 30), np.uint8)
    target = tmp_path / "img.JPG"
    atomic_save_image(target, rgb)
    with Image.open(target) as img:
        assert img.format == "JPEG"
        assert np.abs(np.asarray(img).astype(int) - rgb).max() <= 4


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_uint16_gray_keeps_16_bits(tmp_path, suffix):
    gray = np.linspace(0, 65535, 64).astype(np.uint16).reshape(8, 8)
    target = tmp_path / f"deep{suffix}"
    atomic_save_image(target, gray)
    with Image.open(target) as img:
        back = np.asarray(img)
    assert back.max() == 65535
    np.testing.assert_array_equal(back.astype(np.uint16), gray)


def test_image_rejections(tmp_path):
    with pytest.raises(OutputError, match="unsupported image type"):
        atomic_save_image(tmp_path / "x.bmp", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="16-bit"):
        atomic_save_image(tmp_path / "x.jpg", np.zeros((4, 4), np.uint16))
    with pytest.raises(ValueError):
        atomic_save_image(tmp_path / "x.png", np.zeros((4, 4, 3), np.float32))
    assert list(tmp_path.iterdir()) == []


# --- refusals and failures --------------------------------------------------------------------


@pytest.mark.parametrize(
    "writer,payload",
    [
        (atomic_write_bytes, b"new"),
        (atomic_save_npy, np.zeros(3)),
        (atomic_write_json, {"a": 1}),
        (atomic_save_image, np.zeros((4, 4, 3), np.uint8)),
    ],
)
def test_overwrite_false_refuses_existing(tmp_path, writer, payload):
    target = tmp_path / "exists.png"
    target.write_bytes(b"old")
    with pytest.raises(OutputError) as info:
        writer(target, payload, overwrite=False)
    assert str(info.value) == f"{target} exists; pass --overwrite to replace it"
    assert target.read_bytes() == b"old"
    assert _leftovers(tmp_path) == []


def test_overwrite_false_writes_new_file(tmp_path):
    target = tmp_path / "fresh.bin"
    atomic_write_bytes(target, b"data", overwrite=False)
    assert target.read_bytes() == b"data"
    assert _leftovers(tmp_path) == []


def test_overwrite_false_loses_race_safely(tmp_path, monkeypatch):
    target = tmp_path / "race.bin"
    real_mkstemp = tempfile.mkstemp

    def mkstemp_then_competitor_writes(*args, **kwargs):
        result = real_mkstemp(*args, **kwargs)
        target.write_bytes(b"competitor")  # appears after the early existence check
        return result

    monkeypatch.setattr(atomic.tempfile, "mkstemp", mkstemp_then_competitor_writes)
    with pytest.raises(OutputError, match="exists"):
        atomic_write_bytes(target, b"mine", overwrite=False)
    assert target.read_bytes() == b"competitor"
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "code,cause", [(errno.ENOSPC, "disk full"), (errno.EROFS, "read-only file system"), (errno.EACCES, "permission denied")]
)
def test_replace_failure_cleans_up_and_explains(tmp_path, monkeypatch, code, cause):
    target = tmp_path / "out.png"
    target.write_bytes(b"previous")

    def failing_replace(src, dst):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(atomic.os, "replace", failing_replace)
    with pytest.raises(OutputError) as info:
        atomic_save_image(target, np.zeros((4, 4, 3), np.uint8))
    assert str(info.value) == f"cannot write {target}: {cause}"
    assert target.read_bytes() == b"previous"  # old result intact, never partial
    assert _leftovers(tmp_path) == []


def test_disk_full_during_write_cleans_up(tmp_path, monkeypatch):
    def full_fsync(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", full_fsync)
    target = tmp_path / "big.npy"
    with pytest.raises(OutputError, match="disk full"):
        atomic_save_npy(target, np.zeros(1000))
    assert list(tmp_path.iterdir()) == []


def test_temp_file_creation_failure_is_explained(tmp_path, monkeypatch):
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(atomic.tempfile, "mkstemp", read_only)
    with pytest.raises(OutputError, match=r"out\.json: read-only file system"):
        atomic_write_json(tmp_path / "out.json", {})
    assert list(tmp_path.iterdir()) == []


def test_interrupt_during_write_leaves_nothing(tmp_path):
    def interrupted(f):
        f.write(b"partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic._atomic_write(tmp_path / "x.bin", interrupted, overwrite=True)
    assert list(tmp_path.iterdir()) == []


def test_read_only_directory(tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if IS_ROOT:
            # root writes through mode bits, so simulate the refusal a read-only mount gives.
            def refuse(*args, **kwargs):
                raise OSError(errno.EROFS, "Read-only file system")

            monkeypatch.setattr(atomic.tempfile, "mkstemp", refuse)
        with pytest.raises(OutputError) as info:
            ensure_writable_dir(locked)
        assert str(info.value).startswith(f"output directory {locked} is not writable: ")
        with pytest.raises(OutputError, match="cannot write"):
            atomic_write_bytes(locked / "a.bin", b"x")
    finally:
        locked.chmod(0o755)
    assert list(locked.iterdir()) == []


def test_parent_is_a_regular_file(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("I am a file")
    with pytest.raises(OutputError, match="not a directory"):
        atomic_write_bytes(blocker / "out.bin", b"x")
    with pytest.raises(OutputError) as info:
        ensure_writable_dir(blocker / "sub" / "dir")
    assert "blocker" in str(info.value) and "not writable" in str(info.value)
    with pytest.raises(OutputError, match="exists and is not a directory"):
        ensure_writable_dir(blocker)
    assert blocker.read_text() == "I am a file"


def test_target_is_a_directory(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(OutputError, match="is a directory"):
        atomic_write_bytes(tmp_path / "d", b"x")


def test_ensure_writable_dir_creates_parents(tmp_path):
    target = tmp_path / "a" / "b" / "c"
    assert ensure_writable_dir(str(target)) == target
    assert target.is_dir()
    assert list(target.iterdir()) == []  # probe file removed


# --- slugify ----------------------------------------------------------------------------------


def test_slugify_plain_text():
    assert slugify("A photo of a Dog!") == "a-photo-of-a-dog"
    assert slugify("  --hello__world--  ") == "hello-world"


def test_slugify_long_text_is_cut_with_hash():
    long_a = "a photo of a very fluffy golden retriever puppy sitting on the grass"
    long_b = long_a + " at noon"
    sa, sb = slugify(long_a), slugify(long_b)
    assert len(sa) <= 48 and len(sb) <= 48
    assert sa != sb
    assert sa.startswith("a-photo-of-a-very")
    assert sa == slugify(long_a)  # stable


def test_slugify_non_ascii_gets_hash():
    s1, s2 = slugify("café"), slugify("cafe")
    assert s2 == "cafe"
    assert s1.startswith("cafe-") and len(s1) == len("cafe-") + 8
    assert s1 != s2


def test_slugify_empty_results():
    for text in ["", "!!!", "狗"]:
        slug = slugify(text)
        assert slug.startswith("text-") and len(slug) == 13
    assert slugify("狗") != slugify("猫")


def test_slugify_only_safe_characters():
    import re

    for text in ["Ünïcödé / slashes \\ and .. dots", "x" * 500, "tab\tnew\nline", "UPPER lower 123"]:
        slug = slugify(text, max_len=32)
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slug), slug
        assert len(slug) <= 32
