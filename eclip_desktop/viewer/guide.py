"""The reading guide: what the map on screen means, in words, from the same state the views draw.

A new user should be able to tell from the window alone what bright means, how far apart the raw
scores behind the colours are, which pooling of the loaded family shows ECLIP's semantic shift
(measured, from the family's model cards), and which side of a threshold outline is "above".
"""
from __future__ import annotations

import html
from functools import lru_cache

from eclip_desktop.core.explain.methods import METHODS
from eclip_desktop.core.model.poolings import pooling_names, short_pooling
from eclip_desktop.viewer.state import THRESHOLDS, AnalysisState, DisplayState, ModelChoice


def pooling_key(pooling: str) -> str:
    names = pooling_names()
    return str(names.index(pooling) + 1) if pooling in names else ""


def _name(pooling: str) -> str:
    key = pooling_key(pooling)
    return f"<b>{short_pooling(pooling)}</b>" + (f" (key {key})" if key else "")


@lru_cache(maxsize=16)
def measured_shift(architecture: str):
    from eclip_desktop.core.model.shift import family_shift
    try:
        return family_shift(architecture)
    except Exception:  # noqa: BLE001 - an unreadable card only costs the guide its numbers
        return None


def shift_sentence(model: ModelChoice | None) -> str:
    """One sentence naming the shifted pooling of the loaded family, with the measured numbers."""
    if model is None:
        return ""
    if not model.family:
        return ("<b>Semantic shift</b>: this is one model, so its map is the same under every pooling; "
                "keys 1\u20134 change only the scores and the contribution map. To see the shift, load a "
                "family whose siblings were each trained with one pooling.")
    summary = measured_shift(model.architecture)
    if summary is None:
        return ("<b>Semantic shift</b>: each pooling here is its own model; a shifted one lights up the "
                "background around the object instead of the object. This family's cards carry no "
                "measurements to say which.")
    best = summary.best
    shifted = summary.shifted
    if not shifted:
        return (f"<b>Semantic shift</b>: none of this family's models prefers the background in its measured "
                f"maps; {_name(best.pooling)} sits most on the object (mSC {best.msc:+.0f} %).")
    worst = shifted[0]
    others = ", ".join(short_pooling(e.pooling) for e in shifted[1:])
    also = f" ({others} less so)" if others else ""
    return (f"<b>Semantic shift</b>: {_name(worst.pooling)} is the shifted pooling of this family{also}: its "
            f"map favours the <i>background</i> in {worst.bg_preferred:.0%} of held-out scenes "
            f"(mSC {worst.msc:+.0f} %). {_name(best.pooling)} keeps the evidence on the object "
            f"(mSC {best.msc:+.0f} %). Compare them in the pooling grid (Ctrl+2).")


def legend_sentence(text: str | None, raw_range, convis: str | None = None, contribution: bool = False,
                    raw_label: str = "similarity", shared_scale: bool = False) -> str:
    if convis is not None:
        support = f" <b>Support</b>: {html.escape(convis)}." if convis else ""
        return ("<b>Bright</b> = windows where the concept ranks high among the concept set; dark = it ranks "
                f"low. The map is stretched to its own range, so read the support first.{support} 0 outside "
                "the centre square ConVis sees.")
    if contribution:
        return ("<b>Bright</b> = locations that give the pooled embedding most of its evidence under this "
                "pooling.")
    # A similarity map says where the model finds the text; a relevance map (gradients, attention,
    # masking) says where the method finds evidence for the match, which is not the same claim.
    finds = "the model finds" if raw_label == "similarity" else "the method finds the most evidence for"
    if text is None or raw_range is None:
        return f"<b>Bright</b> = where {finds} the prompt; dark = the least."
    lo, hi = raw_range
    flat = " The raw span is tiny: the colours stretch a near-constant map." if hi - lo < 0.01 else ""
    scale = ("Both models' tiles share one raw colour scale, so the brighter tile is the more similar model."
             if shared_scale else
             "Each map is stretched to its own range, so compare where it is bright, not how bright.")
    return (f"<b>Bright</b> = where {finds} \u201c{html.escape(text)}\u201d (raw {raw_label} {hi:.3f}); "
            f"<b>dark</b> = the least ({lo:.3f}). {scale}{flat}")


def threshold_sentence(display: DisplayState) -> str:
    if display.threshold == "none":
        return ""
    return (f"<b>Outline</b> ({THRESHOLDS[display.threshold]}): the <i>hatched</i> side is above the threshold "
            "\u2014 an outline around a dark hole without hatching inside is a low region, not a detection.")


def guide_html(model: ModelChoice | None, analysis: AnalysisState, display: DisplayState, maps: dict,
               convis: str | None = None, shared_scale: bool = False) -> str:
    """convis: the support text of the ConVis map on screen ("" while unknown), None for prompt maps;
    shared_scale: the model comparison draws both tiles on one colour scale."""
    ms = maps.get((analysis.method, analysis.pooling))
    text = raw = None
    label = METHODS[analysis.method].raw_label if analysis.method in METHODS else "similarity"
    if ms is not None and ms.heatmaps:
        hm = ms.heatmaps[min(analysis.shown_index(), len(ms.heatmaps) - 1)]
        text, raw = hm.text, hm.raw_range
    # The shift is about prompt maps (ITSM); under a ConVis map it would describe something not shown.
    parts = [legend_sentence(text, raw, convis, display.show_contribution, label, shared_scale),
             shift_sentence(model) if convis is None else "", threshold_sentence(display)]
    return " &nbsp;\u2022&nbsp; ".join(p for p in parts if p)
