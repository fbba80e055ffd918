"""What a method declares about itself: options, needs, the towers it applies to, its scores.

Everything outside a method's module (the CLI's flags, the window's controls, tile captions,
sidecar `method_options`, `reproduce`'s validation, resume's identity) is derived from these
declarations, so a method is one module plus one registry line. Nothing here imports torch: the
window reads the declarations before torch is loaded.
"""
from __future__ import annotations

import argparse
import importlib
import math
from dataclasses import dataclass, field
from typing import Any, Callable

from eclip_desktop.core.model.kinds import OPEN_CLIP_KINDS

# What a method costs beyond the cached image analysis: nothing ("forward": the encoder's one pass
# is enough), a backward per text through the layers it explains ("gradients"), or many forwards of
# the image encoder ("forwards", e.g. RISE's masked copies).
NEEDS = ("forward", "gradients", "forwards")
OPTION_KINDS = (bool, int, float, str)


@dataclass(frozen=True)
class Option:
    """One setting of a method. `name` is its key in `method_options` (sidecars, sessions)."""

    name: str
    kind: type
    default: Any
    label: str  # the window's control and tile captions
    help: str
    flag: str | None = None  # the CLI flag; None: --<method>-<name>
    choices: tuple = ()
    minimum: float | None = None
    maximum: float | None = None

    def __post_init__(self):
        if self.kind not in OPTION_KINDS:
            raise TypeError(f"option {self.name}: kind must be one of bool, int, float, str")
        self.check(self.default)

    def cli_flag(self, method: str) -> str:
        return self.flag or f"--{method}-{self.name.replace('_', '-')}"

    def dest(self, method: str) -> str:
        return self.cli_flag(method).lstrip("-").replace("-", "_")

    def check(self, value: Any) -> Any:
        """The value as this option holds it, or ValueError naming what is allowed."""
        if self.kind is bool:
            if not isinstance(value, bool):
                raise ValueError(f"{self.name} must be true or false")
            return value
        if self.kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"{self.name} must be a whole number")
        if self.kind is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{self.name} must be a finite number")
            value = float(value)
        if self.kind is str and not isinstance(value, str):
            raise ValueError(f"{self.name} must be a string")
        if self.choices and value not in self.choices:
            raise ValueError(f"{self.name} is {value!r}; choose one of {', '.join(map(str, self.choices))}")
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"{self.name} is {value!r}; it must be at least {self.minimum:g}")
        if self.maximum is not None and value > self.maximum:
            raise ValueError(f"{self.name} is {value!r}; it must be at most {self.maximum:g}")
        return value

    def describe(self) -> str:
        """The range or choices, for help texts."""
        if self.choices:
            return "/".join(map(str, self.choices))
        if self.minimum is not None and self.maximum is not None:
            return f"{self.minimum:g}..{self.maximum:g}"
        return self.kind.__name__


@dataclass(frozen=True)
class Method:
    name: str
    label: str
    description: str
    module: str  # the module that holds `scores`: a name under core/explain/methods, or a dotted path
    options: tuple[Option, ...] = ()
    needs: str = "forward"
    # Tower kinds ("vit", "resnet") the method does not apply to, with the reason shown to the user.
    refuses: dict = field(default_factory=dict)
    # Tower kinds (core/model/kinds.py) the method was written for; any other is refused with a generic
    # reason, so a kind added later (the timm towers) is refused until the method declares it.
    kinds: tuple = OPEN_CLIP_KINDS
    # The map for one text does not depend on the other texts of the label set (export's resume
    # then need not compare label sets).
    label_free: bool = True
    # Methods that read the model per request (gradients, many forwards) cost more than a cached
    # readout; the window says so while they run.
    slow: bool = False
    hint: str = ""  # one line under the method's controls in the window
    # What the raw map's numbers are, for captions ("raw similarity [lo, hi]"): a cosine for the
    # similarity maps, a method-specific relevance (gradients, attention, weighted masks) otherwise.
    raw_label: str = "relevance"

    def __post_init__(self):
        if self.needs not in NEEDS:
            raise ValueError(f"method {self.name}: needs must be one of {', '.join(NEEDS)}")
        names = [o.name for o in self.options]
        if len(set(names)) != len(names):
            raise ValueError(f"method {self.name}: option names repeat")

    def _module(self):
        name = self.module if "." in self.module else f"eclip_desktop.core.explain.methods.{self.module}"
        return importlib.import_module(name)

    def scores(self, job: "MethodInput", **options):
        """Raw relevance: (T, N) on the token grid, or (T, h, w) on a grid of the method's own."""
        return self._module().scores(job, **options)

    def map_meta(self, job: "MethodInput", options: dict) -> dict:
        """Extra provenance a method records with its maps (e.g. which empty text Surgery subtracted)."""
        fn: Callable | None = getattr(self._module(), "map_meta", None)
        return dict(fn(job, options)) if fn else {}

    def defaults(self) -> dict:
        return {o.name: o.default for o in self.options}

    def resolve(self, options: dict | None, legacy: dict | None = None) -> dict:
        """Every option with a value: the given ones checked, the rest their defaults. `legacy` is
        the whole sidecar, for a method whose module knows how older sidecars recorded an option."""
        options = dict(options or {})
        unknown = sorted(set(options) - {o.name for o in self.options})
        if unknown:
            known = ", ".join(o.name for o in self.options) or "none"
            raise ValueError(f"{self.name} has no option {', '.join(unknown)} (its options: {known})")
        fn = getattr(self._module(), "legacy_options", None) if legacy is not None else None
        if fn:
            options = fn(options, legacy)
        return {o.name: o.check(options[o.name]) if o.name in options else o.default for o in self.options}

    def prepare(self, kind: str, architecture: str, options: dict | None) -> dict:
        """The resolved options for a model with this tower kind, or the one-line error saying why not."""
        from eclip_desktop.core.errors import EclipError, ModelError
        why = self.refusal(kind)
        if why:
            raise ModelError(f"{self.label} does not apply to {architecture}: {why}")
        try:
            return self.resolve(options)
        except ValueError as exc:
            raise EclipError(f"{self.label}: {exc}") from None

    def refusal(self, kind: str) -> str | None:
        """Why the method does not apply to a tower of this kind, or None."""
        if kind in self.refuses:
            return self.refuses[kind]
        if kind not in self.kinds:
            return f"not implemented for {kind} image towers (only for {', '.join(self.kinds)})"
        return None

    def changed(self, options: dict | None) -> list[str]:
        """Labels of the options that differ from their defaults ('no v-v path'), for captions."""
        options = options or {}
        out = []
        for o in self.options:
            if o.name in options and options[o.name] != o.default:
                v = options[o.name]
                out.append(f"no {o.label}" if o.kind is bool and not v else
                           o.label if o.kind is bool else f"{o.label} {v}")
        return out

    def summary(self, options: dict | None) -> str:
        """Every option with its value ('v-v path on, feature surgery off, empty text matched')."""
        options = self.resolve(options)
        return ", ".join(f"{o.label} {('on' if options[o.name] else 'off') if o.kind is bool else options[o.name]}"
                         for o in self.options)

    def caption(self, options: dict | None) -> str:
        changed = self.changed(options)
        return f"{self.label} ({', '.join(changed)})" if changed else self.label

    # --- the command line ------------------------------------------------------------------------

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        for o in self.options:
            flag = o.cli_flag(self.name)
            if o.kind is bool:
                # A switch: the flag turns the default around (--no-vv, --gradeclip-no-ksim).
                parser.add_argument(flag, dest=o.dest(self.name), action="store_true",
                                    help=f"{self.name}: {o.help}")
            else:
                parser.add_argument(flag, dest=o.dest(self.name), type=o.kind, default=None,
                                    choices=o.choices or None, metavar=None if o.choices else o.kind.__name__.upper(),
                                    help=f"{self.name}: {o.help} (default {o.default}; {o.describe()})")

    def from_args(self, args: argparse.Namespace) -> dict:
        """The options the command line gave (defaults filled in), checked."""
        out = {}
        for o in self.options:
            value = getattr(args, o.dest(self.name), None)
            if o.kind is bool:
                out[o.name] = (not o.default) if value else o.default
            elif value is not None:
                try:
                    out[o.name] = o.check(value)
                except ValueError as exc:
                    raise ValueError(f"{o.cli_flag(self.name)}: {exc}") from None
            else:
                out[o.name] = o.default
        return out


@dataclass
class MethodInput:
    """What a method's `scores` gets: the cached analysis of one image and the texts to explain."""

    analysis: Any  # ImageAnalysis
    texts: Any  # (T, D) normalised text embeddings, float32 CPU
    bank: Any = None  # the model's TextBank (for reference texts such as Surgery's empty string)
    ensemble: bool = False
    n_texts: int = 0
    # progress(done, total) for methods with many forwards; it raises CancelledError when the user
    # cancelled, so a long method stops between batches.
    progress: Callable[[int, int], None] | None = None

    def report(self, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(done, total)
