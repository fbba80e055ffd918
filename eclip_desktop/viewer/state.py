"""Plain state of the window: what to compute (model, analysis) and how to show it (display).

Kept free of Qt so sessions, tests and the worker can use it; widgets read and write these
objects instead of holding the truth in their own properties.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

from eclip_desktop.core.explain.methods import METHODS, get_method, method_names
from eclip_desktop.core.figures.render import DEFAULT_COLORMAP, colormap_names
from eclip_desktop.core.model.family import (
    family_label,
    is_embedded,
)
from eclip_desktop.core.model.poolings import pooling_names
from eclip_desktop.core.model.resolve import is_family_choice, poolings_for, spec_for
from eclip_desktop.core.model.spec import ModelSpec

PERCENTILES = (100.0, 99.5, 99.0, 95.0, 90.0)
THRESHOLDS = {"none": "none", "fixed": "fixed level", "otsu": "Otsu", "percentile": "percentile"}
OVERLAYS = {"blend": "blend", "alpha": "alpha by value", "heatmap": "heatmap alone"}
DEFAULT_TEXTS = ("a photo of a cat.", "a photo of a dog.")


@dataclass(frozen=True)
class ModelChoice(ModelSpec):
    """A model as the user chose it; a family (the embedded one, or a folder of trained siblings)
    stands for one model per pooling."""

    @property
    def family(self) -> bool:
        return is_family_choice(self.architecture, self.pretrained)

    def poolings(self) -> list[str]:
        """The poolings this choice can show: a family's siblings, or every readout of one model."""
        return poolings_for(self.architecture, self.pretrained)

    def shown_pooling(self, pooling: str) -> str:
        """The pooling this choice shows for the window's pooling: a family without that sibling
        shows its masked-max one (the CLI's default), else its first."""
        have = self.poolings()
        if pooling in have:
            return pooling
        return "masked_max" if "masked_max" in have else (have[0] if have else pooling)

    def spec(self, pooling: str) -> ModelSpec:
        """The model that serves `pooling` — the command line's rule (core/model/resolve.py)."""
        return spec_for(self.architecture, self.pretrained, pooling, self.device, self.dtype)

    def on_device(self, device: str) -> "ModelChoice":
        # Half precision set for a GPU would be refused on the CPU, so the dtype follows the device.
        return replace(self, device=device, dtype="auto")

    def label(self) -> str:
        if self.family and is_embedded(self.architecture):
            return f"{self.architecture} (embedded, one model per pooling)"
        if self.family:
            return f"{family_label(self.architecture)} (family folder, one model per pooling)"
        return super().label()

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelChoice":
        if not isinstance(d, dict) or not isinstance(d.get("architecture"), str):
            raise ValueError("model entry needs an 'architecture'")
        return cls(d["architecture"], d.get("pretrained"), d.get("device", "auto"), d.get("dtype", "auto"))


def _known(value, choices, default):
    return value if value in choices else default


@dataclass
class AnalysisState:
    """What the worker computes: method, pooling, label set and method options."""

    method: str = "itsm"
    pooling: str = "native"
    texts: list[str] = field(default_factory=lambda: list(DEFAULT_TEXTS))
    shown: int = 0  # which text the single-map views show
    ensemble: bool = False
    tau: str = "trained"  # masked max read out with the threshold its weights were trained with
    # method -> {option: value}, as each method declares its options (core/explain/methods); options
    # not set here take their declared defaults.
    options: dict = field(default_factory=dict)

    def method_options(self, method: str | None = None) -> dict:
        info = METHODS.get(method or self.method)
        if info is None:
            return {}
        stored = self.options.get(info.name, {})
        return {o.name: stored.get(o.name, o.default) for o in info.options}

    def set_option(self, method: str, name: str, value) -> None:
        self.options.setdefault(method, {})[name] = get_method(method).resolve({name: value})[name]

    def shown_index(self) -> int:
        return min(max(self.shown, 0), max(len(self.texts) - 1, 0))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "AnalysisState":
        base = cls()
        d = d if isinstance(d, dict) else {}
        texts = d.get("texts", base.texts)
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            texts = base.texts
        return cls(method=_known(d.get("method"), method_names(), base.method),
                   pooling=_known(d.get("pooling"), pooling_names(), base.pooling),
                   texts=list(texts), shown=int(d.get("shown", 0) or 0),
                   ensemble=bool(d.get("ensemble", False)),
                   tau=_known(d.get("tau"), ("trained", "mean", "topk"), "trained"),
                   options=_read_options(d))


def _read_options(d: dict) -> dict:
    """Each method's options from a session, every value checked against the method's declaration;
    a value that does not fit is dropped (its default applies). Sessions saved before options were
    declared per method held Surgery's two switches as top-level "vv" and "feature"."""
    given = d.get("options") if isinstance(d.get("options"), dict) else {}
    given = {m: dict(v) for m, v in given.items() if isinstance(v, dict)}
    for old in ("vv", "feature"):
        if old in d and "surgery" in METHODS:
            given.setdefault("surgery", {}).setdefault(old, d[old])
    out: dict = {}
    for method, values in given.items():
        info = METHODS.get(method)
        if info is None:
            continue
        for o in info.options:
            if o.name in values:
                try:
                    out.setdefault(method, {})[o.name] = o.check(values[o.name])
                except ValueError:
                    pass
    return out


@dataclass
class DisplayState:
    """How maps are drawn; changing it never needs the worker."""

    colormap: str = DEFAULT_COLORMAP
    opacity: float = 0.6
    percentile: float = 100.0
    threshold: str = "none"
    fixed_level: float = 0.5
    threshold_percentile: float = 90.0
    show_contribution: bool = False
    overlay: str = "blend"  # OVERLAYS: how the map covers the image

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "DisplayState":
        base = cls()
        d = d if isinstance(d, dict) else {}
        out = {}
        for f in fields(cls):
            default = getattr(base, f.name)
            value = d.get(f.name, default)
            if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)  # a hand-edited "opacity": 1 is still a number
            out[f.name] = value if isinstance(value, type(default)) else default
        out["colormap"] = _known(out["colormap"], colormap_names(), base.colormap)
        out["percentile"] = _known(float(out["percentile"]), PERCENTILES, base.percentile)
        out["threshold"] = _known(out["threshold"], THRESHOLDS, base.threshold)
        out["overlay"] = _known(out["overlay"], OVERLAYS, base.overlay)
        out["opacity"] = min(max(float(out["opacity"]), 0.0), 1.0)
        out["fixed_level"] = min(max(float(out["fixed_level"]), 0.0), 1.0)
        out["threshold_percentile"] = min(max(float(out["threshold_percentile"]), 0.0), 100.0)
        return cls(**out)
