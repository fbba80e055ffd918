"""Find WordNet 3.0 for nltk on a machine that may be offline.

``nltk.download()`` needs the internet, but most Linux and macOS machines can
get WordNet from their package manager. nltk cannot read those files as they
are: it wants a ``lexnames`` file that Debian does not ship, and it refuses
paths outside its data path (symlinks included). So a system WordNet is
*copied* once into the user's nltk data directory with the lexnames table
added, and that directory is put on ``nltk.data.path``.

Search order of :func:`find_wordnet` / :func:`ensure_wordnet`:

1. a ``corpora/wordnet`` (directory or zip) that already works in our data
   directory or any other ``nltk.data.path`` entry;
2. a system WordNet dict directory: ``$ECLIP_DESKTOP_WORDNET``,
   ``$WNSEARCHDIR``, ``$WNHOME/dict``, Debian ``/usr/share/wordnet``, Homebrew
   locations, then the directories the caller passes; it is copied (into a
   temporary directory, then renamed, so a copy is never half there);
3. ``nltk.download('wordnet')`` when allowed and a 2 s network probe succeeds;
4. otherwise :class:`WordNetError` naming the fix for this platform.

The user data directory is ``$ECLIP_DESKTOP_DATA`` or
``$XDG_DATA_HOME/eclip-desktop`` (default ``~/.local/share/eclip-desktop``);
the nltk data directory is its ``nltk_data`` subdirectory. The cache
directory (used by :mod:`.hierarchy`) is ``$ECLIP_DESKTOP_CACHE`` or
``$XDG_CACHE_HOME/eclip-desktop`` (default ``~/.cache/eclip-desktop``).

nltk is imported lazily so that code that only reads the derived cache never
pays for importing it.
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import sys
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from eclip_desktop.core.errors import WordNetError
from eclip_desktop.core.io.paths import user_cache_dir, user_data_dir  # noqa: F401  (re-exported)

#: The lexicographer files of WordNet 3.0, in file-number order (lexnames(5WN)).
#: The index is the number stored in every data.* line, so the order is fixed.
LEXNAMES: tuple[str, ...] = (
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal",
    "noun.artifact", "noun.attribute", "noun.body", "noun.cognition",
    "noun.communication", "noun.event", "noun.feeling", "noun.food",
    "noun.group", "noun.location", "noun.motive", "noun.object", "noun.person",
    "noun.phenomenon", "noun.plant", "noun.possession", "noun.process",
    "noun.quantity", "noun.relation", "noun.shape", "noun.state",
    "noun.substance", "noun.time", "verb.body", "verb.change",
    "verb.cognition", "verb.communication", "verb.competition",
    "verb.consumption", "verb.contact", "verb.creation", "verb.emotion",
    "verb.motion", "verb.perception", "verb.possession", "verb.social",
    "verb.stative", "verb.weather", "adj.ppl",
)
_SYNTACTIC_CATEGORY = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}

#: Files nltk's WordNetCorpusReader opens (its ``_FILES``).
NLTK_FILES: tuple[str, ...] = (
    "cntlist.rev", "lexnames", "index.sense",
    "index.adj", "index.adv", "index.noun", "index.verb",
    "data.adj", "data.adv", "data.noun", "data.verb",
    "adj.exc", "adv.exc", "noun.exc", "verb.exc",
)
#: What a system dict directory must have; lexnames we can supply ourselves.
SYSTEM_FILES: tuple[str, ...] = tuple(f for f in NLTK_FILES if f != "lexnames")

WORDNET_VERSION = "3.0"
#: entity.n.01 is the first synset of data.noun in 3.0 (and 1740 is its offset).
_ENTITY_LINE = b"00001740 03 n 01 entity "
_VERSION_RE = re.compile(rb"WordNet (\d+\.\d+) Copyright")
_DOWNLOAD_HOST = ("raw.githubusercontent.com", 443)  # where nltk's index lives
_PROBE_SECONDS = 2.0
_SOURCE_MARKER = ".eclip-desktop-source"

_LOCK = threading.RLock()
_READERS: dict[tuple, object] = {}


def lexnames_text() -> str:
    """The lexnames file nltk expects: ``NN<TAB>name<TAB>category`` per line."""
    return "".join(
        f"{i:02d}\t{name}\t{_SYNTACTIC_CATEGORY[name.split('.')[0]]}\n"
        for i, name in enumerate(LEXNAMES)
    )


def default_nltk_data_dir() -> Path:
    return user_data_dir() / "nltk_data"


def default_system_dirs() -> list[Path]:
    """System places where a WordNet dict directory usually lives, best first."""
    dirs: list[Path] = []
    for var in ("ECLIP_DESKTOP_WORDNET", "WNSEARCHDIR"):
        if os.environ.get(var):
            dirs.append(Path(os.environ[var]).expanduser())
    if os.environ.get("WNHOME"):
        dirs.append(Path(os.environ["WNHOME"]).expanduser() / "dict")
    dirs += [
        Path("/usr/share/wordnet"),              # Debian/Ubuntu wordnet-base
        Path("/opt/homebrew/share/wordnet"),     # Homebrew, Apple silicon
        Path("/usr/local/share/wordnet"),        # Homebrew, Intel / source installs
        Path("/opt/homebrew/opt/wordnet/dict"),  # Homebrew keg layouts
        Path("/usr/local/opt/wordnet/dict"),
        Path("/usr/local/WordNet-3.0/dict"),     # Princeton's own `make install`
    ]
    return dirs


@dataclass(frozen=True)
class WordNetLocation:
    """Where nltk can read WordNet 3.0.

    ``root`` is an nltk PathPointer (a directory or a directory inside a zip);
    ``origin`` is ``"nltk"`` (found on the nltk data path), ``"system"``
    (copied from ``source``) or ``"download"``.
    """

    root: object
    origin: str
    data_dir: Path
    source: str = ""

    @property
    def path(self) -> str:
        return str(getattr(self.root, "path", self.root))


# ---------------------------------------------------------------- validation

def _check(has: Callable[[str], bool], head: Callable[[str], bytes],
           files: Iterable[str]) -> str | None:
    """Why this WordNet is unusable, or None. Cheap: reads only file heads."""
    missing = [f for f in files if not has(f)]
    if missing:
        return "missing " + ", ".join(missing)
    try:
        match = _VERSION_RE.search(head("data.adj"))
        version = match.group(1).decode() if match else "unknown"
        if version != WORDNET_VERSION:
            return f"it is WordNet {version}, eclip-desktop needs {WORDNET_VERSION}"
        if _ENTITY_LINE not in head("data.noun"):
            return "data.noun does not start with entity.n.01 at offset 1740"
        if "lexnames" in files:
            names = tuple(line.split()[1] for line in
                          head("lexnames").decode("utf-8").splitlines() if line.strip())
            if names != LEXNAMES:
                return "its lexnames file is not the WordNet 3.0 table"
    except (OSError, ValueError, IndexError) as exc:
        return f"unreadable ({exc})"
    return None


def _check_dir(path: Path, files: Iterable[str] = NLTK_FILES) -> str | None:
    def has(name: str) -> bool:
        p = path / name
        return p.is_file() and p.stat().st_size > 0

    def head(name: str) -> bytes:
        with open(path / name, "rb") as fh:
            return fh.read(4096)

    return _check(has, head, tuple(files))


def _check_pointer(root) -> str | None:
    def has(name: str) -> bool:
        try:
            root.join(name)
            return True
        except (OSError, ValueError, LookupError):
            return False

    def head(name: str) -> bytes:
        with root.join(name).open() as fh:
            return fh.read(4096)

    return _check(has, head, NLTK_FILES)


def read_wordnet_file(root, fileid: str) -> str:
    """The whole text of one WordNet file under an nltk PathPointer (dir or zip)."""
    try:
        with root.join(fileid).open() as fh:
            return fh.read().decode("utf-8")
    except (OSError, ValueError, LookupError) as exc:
        raise WordNetError(f"Cannot read WordNet file {fileid} in {root}: {exc}") from exc


# ---------------------------------------------------------------- locating

def _nltk_wordnet_at(data_path: str):
    import nltk

    for resource in ("corpora/wordnet", "corpora/wordnet.zip/wordnet/"):
        try:
            return nltk.data.find(resource, paths=[data_path])
        except (LookupError, OSError, ValueError):
            continue
    return None


def _register_data_dir(data_dir: Path) -> None:
    import nltk

    # First place, so our own verified copy wins over stale ones elsewhere.
    if str(data_dir) not in nltk.data.path:
        nltk.data.path.insert(0, str(data_dir))


def _copy_system_wordnet(src: Path, data_dir: Path) -> Path:
    corpora = data_dir / "corpora"
    final = corpora / "wordnet"
    tmp: Path | None = None
    try:
        corpora.mkdir(parents=True, exist_ok=True)
        # Same directory as the target, so the final rename cannot cross filesystems.
        tmp = Path(tempfile.mkdtemp(prefix=".wordnet-", dir=corpora))
        for name in SYSTEM_FILES:
            shutil.copyfile(src / name, tmp / name)
            if (tmp / name).stat().st_size != (src / name).stat().st_size:
                raise WordNetError(f"Copying {src / name} was incomplete (disk full?).")
        if _check_dir(src, ("lexnames",) + SYSTEM_FILES) is None:
            shutil.copyfile(src / "lexnames", tmp / "lexnames")
        else:
            (tmp / "lexnames").write_text(lexnames_text(), encoding="utf-8")
        (tmp / _SOURCE_MARKER).write_text(f"{src}\n", encoding="utf-8")
        problem = _check_dir(tmp)
        if problem:
            raise WordNetError(f"The copy of WordNet from {src} is unusable: {problem}.")
        if final.exists():
            if _check_dir(final) is None:  # another process finished first
                return final
            aside = corpora / f".wordnet-broken-{os.getpid()}"
            final.rename(aside)
            shutil.rmtree(aside, ignore_errors=True)
        try:
            os.rename(tmp, final)
        except OSError:
            if final.exists() and _check_dir(final) is None:
                return final
            raise
        tmp = None
        return final
    except OSError as exc:
        raise WordNetError(
            f"Cannot copy WordNet from {src} into {corpora}: {exc.strerror or exc}. "
            "Check that the directory is writable or set ECLIP_DESKTOP_DATA."
        ) from exc
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _online(timeout: float = _PROBE_SECONDS) -> bool:
    # A thread bounds the whole probe: DNS lookups ignore socket timeouts.
    result: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection(_DOWNLOAD_HOST, timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    worker = threading.Thread(target=probe, daemon=True)
    worker.start()
    worker.join(timeout)
    return bool(result and result[0])


def _download(data_dir: Path):
    import nltk

    try:
        ok = nltk.download("wordnet", download_dir=str(data_dir), quiet=True,
                           raise_on_error=True)
    except Exception as exc:  # nltk raises assorted network/zip errors
        raise WordNetError(f"Downloading WordNet with nltk failed: {exc}. "
                           f"{install_hint()}") from exc
    root = _nltk_wordnet_at(str(data_dir)) if ok else None
    return root


def _os_release_ids() -> set[str]:
    ids: set[str] = set()
    try:
        text = Path("/etc/os-release").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ids
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key in ("ID", "ID_LIKE"):
            ids.update(value.strip().strip('"').lower().split())
    return ids


def install_hint(platform: str | None = None) -> str:
    """One sentence telling the user how to get WordNet 3.0 on this platform."""
    platform = platform or sys.platform
    online = "or, when online, run: python -m nltk.downloader wordnet"
    env = "or set ECLIP_DESKTOP_WORDNET to a WordNet 3.0 dict directory"
    if platform.startswith("linux") and _os_release_ids() & {"debian", "ubuntu"}:
        first = "Install it with: sudo apt-get install wordnet-base wordnet-sense-index"
    elif platform == "darwin":
        first = "Install it with: brew install wordnet"
    elif platform.startswith("linux"):
        first = "Install WordNet 3.0 with your package manager"
    else:
        return f"Run, when online: python -m nltk.downloader wordnet; {env}."
    return f"{first}; {online}; {env}."


def find_wordnet(data_dir: Path | None = None, system_dirs: Iterable[Path] | None = None,
                 allow_download: bool = True) -> WordNetLocation:
    """Locate (copying or downloading if needed) a WordNet 3.0 nltk can read.

    Does not load nltk's reader; see :func:`ensure_wordnet` for that.
    """
    import nltk

    data_dir = Path(data_dir or default_nltk_data_dir()).expanduser().absolute()
    _register_data_dir(data_dir)
    problems: list[str] = []

    candidates = [str(data_dir)] + [p for p in nltk.data.path
                                    if isinstance(p, str) and p != str(data_dir)]
    for data_path in candidates:
        root = _nltk_wordnet_at(data_path)
        if root is None:
            continue
        problem = _check_pointer(root)
        if problem is None:
            return WordNetLocation(root, "nltk", data_dir)
        problems.append(f"{getattr(root, 'path', root)}: {problem}")

    dirs = default_system_dirs() + [Path(p).expanduser() for p in (system_dirs or ())]
    seen: set[Path] = set()
    for src in dirs:
        if src in seen or not src.is_dir():
            continue
        seen.add(src)
        problem = _check_dir(src, SYSTEM_FILES)
        if problem:
            problems.append(f"{src}: {problem}")
            continue
        final = _copy_system_wordnet(src, data_dir)
        root = _nltk_wordnet_at(str(data_dir))
        if root is None:
            raise WordNetError(f"nltk cannot see the WordNet copy in {final}.")
        return WordNetLocation(root, "system", data_dir, str(src))

    if allow_download and _online():
        root = _download(data_dir)
        if root is not None and _check_pointer(root) is None:
            return WordNetLocation(root, "download", data_dir, "nltk downloader")
        problems.append("nltk download gave no usable WordNet")

    found = f" (found but unusable: {'; '.join(problems)})" if problems else ""
    raise WordNetError(f"WordNet {WORDNET_VERSION} was not found{found}. {install_hint()}")


def _load_reader(location: WordNetLocation):
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    try:
        with warnings.catch_warnings():
            # We pass no Open Multilingual WordNet on purpose (English only,
            # offline), and nltk warns about that on every load.
            warnings.filterwarnings("ignore", message=".*multilingual functions.*")
            reader = WordNetCorpusReader(location.root, None)
        version = reader.get_version()
        entity = reader.synset_from_pos_and_offset("n", 1740)
    except WordNetError:
        raise
    except Exception as exc:  # nltk reports corrupt files with many exception types
        raise WordNetError(f"nltk cannot read WordNet in {location.path}: {exc}. "
                           "Delete that directory to have it rebuilt.") from exc
    if version != WORDNET_VERSION or entity is None or entity.name() != "entity.n.01":
        raise WordNetError(f"{location.path} holds WordNet {version}, "
                           f"eclip-desktop needs {WORDNET_VERSION}.")
    return reader


def ensure_wordnet(data_dir: Path | None = None, system_dirs: Iterable[Path] | None = None,
                   allow_download: bool = True):
    """nltk's ``WordNetCorpusReader`` for WordNet 3.0, loaded once per process.

    Raises :class:`WordNetError` with a platform-specific fix when no WordNet
    can be found, copied or downloaded.
    """
    data_dir = Path(data_dir or default_nltk_data_dir()).expanduser().absolute()
    key = (str(data_dir), tuple(str(p) for p in (system_dirs or ())))
    with _LOCK:
        reader = _READERS.get(key)
        if reader is None:
            reader = _load_reader(find_wordnet(data_dir, system_dirs, allow_download))
            _READERS[key] = reader
        return reader
