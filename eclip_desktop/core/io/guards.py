"""Reading files anyone can hand the tool: only regular files, never more bytes than a stated limit,
JSON no deeper or larger than its readers expect and checked against a schema before any field is
used, and names shown without the control characters or undecodable bytes that would otherwise
reach a terminal raw.

Every reason these functions give is a short phrase; the caller's `fail` turns it into its own
error (its EclipError subclass, its wording: "cannot read labels file X: <reason>").
"""
from __future__ import annotations

import json
import math
import os
import stat
from collections.abc import Callable
from typing import Any

import numpy as np

from eclip_desktop.core.errors import EclipError
from eclip_desktop.core.io.atomic import os_cause

Fail = Callable[[str], EclipError]

# Sidecars, model cards and sessions are a few KB; the largest the tool writes (an export index of
# thousands of rows) stays well under this.
MAX_JSON_BYTES = 16 << 20
# The deepest JSON the tool writes is 4 levels (a sidecar's tile sources); readers only walk known keys.
MAX_JSON_DEPTH = 32
# Label, list and concept files: a million lines of text is far beyond any use and far below harm.
MAX_TEXT_BYTES = 16 << 20

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
# Bidirectional overrides reorder what a terminal shows: a name could display as another name.
_BIDI = frozenset([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def shown(name: Any) -> str:
    """`name` fit for one line of a terminal or a dialog: bytes that are not UTF-8 (Python's
    surrogate escapes) as \\xNN, control characters (ESC, newline, DEL, C1) and bidi overrides as
    escapes; everything printable, non-ASCII letters included, unchanged."""
    text = os.fsdecode(name) if isinstance(name, bytes) else str(name)
    if text.isprintable() and text.isascii():
        return text
    out = []
    for ch in text:
        o = ord(ch)
        if 0xDC80 <= o <= 0xDCFF:  # os.fsdecode's stand-in for one undecodable byte
            out.append(f"\\x{o - 0xDC00:02x}")
        elif o < 0x20 or 0x7F <= o < 0xA0 or o in _BIDI or 0xD800 <= o <= 0xDFFF:
            out.append(ch.encode("unicode_escape", "backslashreplace").decode("ascii"))
        else:
            out.append(ch)
    return "".join(out)


def _size(n: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"


def not_regular(mode: int) -> str | None:
    """What a non-regular file is ("a named pipe (FIFO)", ...), or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return next((kind for test, kind in _KINDS if test(mode)), "not a regular file")


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "not found"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, IsADirectoryError):
        return "it is a directory"
    return os_cause(exc)


def check_regular(path: str | os.PathLike, fail: Fail) -> os.stat_result:
    """The stat of `path` (links followed) when it is a regular file; else `fail` with why (a FIFO
    would block a reader until killed, a device such as /dev/zero never ends)."""
    try:
        st = os.stat(path)
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
        raise fail(_os_reason(exc) if isinstance(exc, OSError) else "not a valid file name") from None
    kind = not_regular(st.st_mode)
    if kind:
        raise fail(f"it is {kind}, not a regular file")
    return st


def open_nonblocking(path: str | os.PathLike) -> int:
    """A read-only descriptor that a FIFO cannot make wait for a writer."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    return os.open(path, flags)


def read_bytes(path: str | os.PathLike, fail: Fail, limit: int) -> bytes:
    """The whole file, when it is a regular file of at most `limit` bytes. Opened without blocking
    and checked again on the open descriptor, so a FIFO swapped in after the first check cannot
    hang the reader."""
    st = check_regular(path, fail)
    if st.st_size > limit:
        raise fail(f"it is {_size(st.st_size)}, above the {_size(limit)} limit")
    try:
        fd = open_nonblocking(path)
    except OSError as exc:
        raise fail(_os_reason(exc)) from None
    with os.fdopen(fd, "rb") as f:
        kind = not_regular(os.fstat(fd).st_mode)
        if kind:
            raise fail(f"it is {kind}, not a regular file")
        try:
            data = f.read(limit + 1)
        except OSError as exc:
            raise fail(_os_reason(exc)) from None
    if len(data) > limit:  # it grew since the stat
        raise fail(f"it is over the {_size(limit)} limit")
    return data


def read_text(path: str | os.PathLike, fail: Fail, limit: int = MAX_TEXT_BYTES) -> str:
    """UTF-8 text (a leading byte-order mark, as some editors write, is dropped)."""
    data = read_bytes(path, fail, limit)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise fail(f"not UTF-8 text (byte {exc.start})") from None


def json_depth(value: Any, stop: int | None = None) -> int:
    """How deep arrays and objects nest in a parsed JSON value, walked without recursion; counting
    stops past `stop` (a deeper value is refused anyway)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, level)
            if stop is not None and deepest > stop:
                return deepest
            stack.extend((v, level + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def read_json(path: str | os.PathLike, fail: Fail, *, limit: int = MAX_JSON_BYTES, depth: int = MAX_JSON_DEPTH,
              non_finite_as_null: bool = False) -> Any:
    """The parsed JSON of a regular UTF-8 file within `limit` bytes and `depth` levels. NaN and
    Infinity are not JSON: refused, or read as null where a reader treats a missing value as its
    default (a hand-edited session)."""
    data = read_bytes(path, fail, limit)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise fail(f"not a UTF-8 JSON text (byte {exc.start})") from None
    constant = (lambda _name: None) if non_finite_as_null else _refuse_constant
    try:
        value = json.loads(text, parse_constant=constant)
    except RecursionError:  # the parser guards its own recursion: 100,000 brackets end here, at once
        raise fail(f"its JSON nests more than {depth} levels deep (the limit)") from None
    except ValueError as exc:
        raise fail(f"not valid JSON ({shown(str(exc))[:100]})") from None
    if json_depth(value, stop=depth) > depth:
        raise fail(f"its JSON nests more than {depth} levels deep (the limit)")
    return value


# --- schemas ---------------------------------------------------------------------------------------
# A spec is a type (str, bool, int, float, dict, list, type(None)), a tuple of specs (any of them),
# [spec] (a list whose items all match), or {key: spec} (an object whose listed keys, where present,
# match: newer files may add keys, older ones lack some; required keys are checked by the caller).

_PLURALS = {str: "strings", int: "whole numbers", float: "numbers", bool: "true/false values", dict: "objects"}
_NAMES = {str: "a string", bool: "true or false", int: "a whole number", float: "a number", dict: "an object",
          list: "a list", type(None): "null"}


def describe(value: Any) -> str:
    """A value's JSON kind for a message ("a list", "the number 7", "the string 'abc'")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {shown(repr(value[:40]))}"
    return _NAMES.get(type(value), type(value).__name__)


def _expected(spec) -> str:
    if isinstance(spec, tuple):
        return " or ".join(_expected(s) for s in spec)
    if isinstance(spec, list):
        return f"a list of {_PLURALS[spec[0]]}" if isinstance(spec[0], type) and spec[0] in _PLURALS else "a list"
    if isinstance(spec, dict):
        return "an object"
    return _NAMES.get(spec, spec.__name__)


def _matches(value: Any, spec) -> bool:
    if isinstance(spec, tuple):
        return any(_matches(value, s) for s in spec)
    if isinstance(spec, list):
        return isinstance(value, list)
    if isinstance(spec, dict):
        return isinstance(value, dict)
    if spec is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if spec is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return isinstance(value, spec)


def schema_error(value: Any, spec, where: str = "") -> str | None:
    """None when `value` matches `spec`; else "field 'a.b' is a list; expected an object"."""
    if isinstance(spec, tuple):
        fits = [s for s in spec if _matches(value, s)]
        if fits:
            return schema_error(value, fits[0], where)
    if not _matches(value, spec):
        name = f"field '{where}'" if where else "the file"
        return f"{name} is {describe(value)}; expected {_expected(spec)}"
    if isinstance(spec, list):
        for i, item in enumerate(value):
            why = schema_error(item, spec[0], f"{where}[{i}]")
            if why:
                return why
    elif isinstance(spec, dict):
        for key, sub in spec.items():
            if key in value:
                why = schema_error(value[key], sub, f"{where}.{key}" if where else key)
                if why:
                    return why
    return None


def check_schema(value: Any, spec, fail: Fail, required: tuple[str, ...] = ()) -> None:
    """`fail` with the first field that does not match `spec`, or the required keys that are missing."""
    why = schema_error(value, spec)
    if why:
        raise fail(why)
    missing = [k for k in required if k not in value]
    if missing:
        raise fail(f"missing field(s): {', '.join(missing)}")


# --- arrays ----------------------------------------------------------------------------------------

def load_npy(path: str | os.PathLike, fail: Fail, max_items: int) -> np.ndarray:
    """A .npy file after its header is read and checked: a regular file, no pickled objects, at
    most `max_items` values, and as many bytes as the header promises (a header claiming a huge
    shape allocates nothing)."""
    st = check_regular(path, fail)
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            elif version in ((2, 0), (3, 0)):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise ValueError(f"unsupported .npy version {version}")
            offset = f.tell()
    except (OSError, ValueError, EOFError) as exc:
        raise fail(f"not a .npy array file ({shown(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)[:100]})"
                   ) from None
    if dtype.hasobject:
        raise fail("it holds Python objects (a pickle), which are never loaded (allow_pickle=False)")
    items = math.prod(shape)
    if items > max_items:
        raise fail(f"its header claims {'x'.join(map(str, shape))} = {items} values, above the {max_items} limit")
    if st.st_size - offset < items * dtype.itemsize:
        raise fail(f"it is truncated ({st.st_size - offset} of {items * dtype.itemsize} data bytes)")
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise fail(shown(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)[:120]) from None

