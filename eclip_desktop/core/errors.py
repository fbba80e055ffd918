"""Errors the user can act on. Each carries one readable line; the CLI prints it, the GUI shows it."""


class EclipError(Exception):
    """Base class: the message is meant for the user, not a traceback."""


class ImageLoadError(EclipError):
    """An input image is missing, unreadable, corrupt, too large or of an unsupported kind."""


class ModelError(EclipError):
    """A model or its weights cannot be loaded (unknown name, missing weights, bad checkpoint)."""


class DeviceError(EclipError):
    """The requested device is not available."""


class TextError(EclipError):
    """A prompt is empty or cannot be encoded."""


class OutputError(EclipError):
    """Results cannot be written (directory not writable, disk full, file exists)."""


class CancelledError(EclipError):
    """A long job was cancelled by the user."""


class WordNetError(EclipError):
    """WordNet 3.0 cannot be found, copied, downloaded or read."""


class ConceptError(EclipError):
    """A concept (synset name or word) or a concept set is unknown, empty or malformed."""

    #: Near matches for an unknown word or synset name, best first (at most 5).
    suggestions: tuple[str, ...] | list[str] = ()


class DatasetError(EclipError):
    """A dataset or training folder is missing, empty or malformed."""


class ShardError(EclipError):
    """A job split across torchrun processes cannot start or go on (another rank failed or stopped)."""
