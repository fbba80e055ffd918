"""ConVis in the window: a synset selected in the WordNet dock turns the side-by-side map pane into
that synset's concept map of the current image ("convis" jobs on the worker that owns the model);
picking a Method or a prompt under Controls returns the pane to the prompt maps."""
from __future__ import annotations

import os
import weakref
from dataclasses import replace

from eclip_desktop.viewer.jobs.convis import ConVisRequest, ConVisResult, convis_job
from eclip_desktop.viewer.scene import ConVisPane


class ConVisPresenter:
    def __init__(self, window):
        self._window = weakref.ref(window)  # weak: see presenters/faithfulness.py
        self.on = False
        self.result = None
        self.note = ""
        self.asked = None
        self.cancelled = False
        self.concepts_context = None
        self.listed: list[dict] | None = None  # the dock's "concepts in this image" rows of concepts_context
        self.selected_synset = ""

    @property
    def window(self):
        return self._window()

    def show_convis(self, synset: str) -> None:
        """Show a synset's ConVis map of the current image (the WordNet dock's selection)."""
        self.selected_synset = synset
        self.on = True
        if self.cancelled:
            self.asked = None  # selecting it again finishes what Cancel stopped
        self.request_convis()

    def concept_set_changed(self, _key: str) -> None:
        """Another concept set: the map, its caption and the image's concept list belonged to the old
        one, so they go, and the selected synset is computed again against the new set."""
        w = self.window
        w.wordnet_dock.show_image_concepts(None)
        self.concepts_context = None
        self.listed: list[dict] | None = None  # the dock's "concepts in this image" rows of concepts_context
        self.asked = None
        self.result = None
        if self.on:
            self.request_convis()

    def _convis_was_cancelled(self) -> None:
        w = self.window
        self.asked = None
        self.cancelled = True
        r = self.result
        if r is not None and not r.final:
            self.note = "ConVis cancelled \u2014 the coarse preview stays; press F5 or select the synset to finish"
        else:
            self.note = "ConVis cancelled \u2014 press F5 or select a synset to compute it"
        if self.on:
            w.wordnet_dock.set_convis_status(self.note)
        w.refresh()

    def leave_convis(self) -> None:
        """Back to the prompt maps (ITSM / Surgery) in the map pane."""
        w = self.window
        if not self.on:
            return
        self.on = False
        self.asked = None
        w.compute.cancel("convis")
        w.wordnet_dock.set_convis_status("")
        w.status.set_job_text("")  # "ConVis map of … ready" no longer describes the pane
        w.refresh()

    def convis_request(self) -> ConVisRequest | None:
        w = self.window
        path = w.image_list.current_path()
        if path is None or w.model is None or not self.selected_synset or w.image_list.broken_message(path):
            return None
        req = ConVisRequest(path, w.model, w.analysis.pooling, self.selected_synset, w.wordnet_dock.key)
        return replace(req, with_concepts=req.context() != self.concepts_context)

    def convis_current(self, req: ConVisRequest | None, preview_ok: bool = False) -> bool:
        """The result on hand is the map `req` asks for (final, or also the coarse preview)."""
        r = self.result
        return (req is not None and r is not None and r.synset == req.synset
                and r.request.context() == req.context() and (r.final or preview_ok))

    def request_convis(self) -> None:
        w = self.window
        if not self.on:
            return
        req = self.convis_request()
        if req is None:
            self.note = "ConVis needs an image and a model"
            w.wordnet_dock.set_convis_status(f"ConVis map of {self.selected_synset}: open an image and "
                                             "load a model first.")
        elif self.convis_current(req):
            w.wordnet_dock.set_convis_status(f"ConVis map of {req.synset} shown.")
        elif self.asked != (req.context(), req.synset):
            # A newer synset supersedes the older job (same kind); the rank matrix the older one
            # finished stays cached in the core, so nothing done is lost.
            self.asked = (req.context(), req.synset)
            self.cancelled = False
            self.note = f"ConVis: computing {req.synset} \u2026"
            w.submit(w.compute, "convis", convis_job(req, w.wordnet_dock.service), f"ConVis: {req.synset} \u2026",
                     self._convis_ready, self._convis_failed, self._convis_was_cancelled, self._convis_partial,
                     done_text=lambda r: f"ConVis map of {r.synset} ready")
            w.wordnet_dock.set_convis_status(f"ConVis map of {req.synset}: computing \u2026 "
                                             "(progress in the status bar; Esc cancels)")
        w.refresh()

    def _convis_failed(self, message: str) -> None:
        w = self.window
        self.asked = None
        w.banner.show_message(message, "error", "convis")
        w.wordnet_dock.set_convis_status(message)
        self.note = "no ConVis map \u2014 see the message above"
        w.refresh()

    def _convis_partial(self, r: ConVisResult) -> None:
        """The coarse preview: shown at once, replaced by the final map when the job ends."""
        w = self.window
        req = self.convis_request()
        if not self.on or req is None or r.synset != req.synset or r.request.context() != req.context():
            return
        self.result = r
        self.cancelled = False
        if w.image_view is None or w.image_view.path != r.image.path:
            w.image_view = r.image
        w.wordnet_dock.set_convis_status(f"ConVis map of {r.synset}: coarse preview from {r.windows} windows, "
                                         "refining \u2026")
        w.refresh()

    def _convis_ready(self, r: ConVisResult) -> None:
        w = self.window
        self.asked = None
        if r.request.model != w.model and r.notices:
            # The worker fell back to the CPU: what runs now is what the controls must show.
            w.model = r.request.model
            w.controls.show_device(w.model.device)
        for notice in r.notices:
            w.banner.show_message(notice, "warning", "device")
        req = self.convis_request()
        if not self.on or req is None or r.request.context() != req.context():
            return
        if r.unknown_set:
            w.wordnet_dock.show_image_concepts(None, note=r.unknown_set)
            self.concepts_context = r.request.context()
            self.listed = None
        elif r.concepts is not None:
            w.wordnet_dock.show_image_concepts(r.concepts, os.path.basename(r.request.path))
            self.concepts_context = r.request.context()
            self.listed = r.concepts
        self.result = r
        if w.image_view is None or w.image_view.path != r.image.path:
            w.image_view = r.image
        w.banner.clear_source("convis")
        w.wordnet_dock.set_convis_status(f"ConVis map of {r.synset} shown ({r.windows} windows, "
                                         f"concept set \u2018{r.set_name}\u2019): {r.support_text()}.")
        w.refresh()

    def convis_pane(self, path: str) -> ConVisPane | None:
        w = self.window
        if not self.on or w.layout_name != "side":
            return None
        req = self.convis_request()
        r = self.result
        if self.convis_current(req, preview_ok=True) and r.request.path == path:
            # How strongly the image supports the concept comes first: a stretched map of an absent
            # concept looks as bright as one of a present concept.
            support = r.support_text()
            caption = (f"{support} \u00b7 rank map over {r.windows} windows \u00b7 concept set "
                       f"\u2018{r.set_name}\u2019 \u00b7 0 outside the centre square")
            if not r.final:
                state = ("cancelled, not finished \u2014 select the synset again or press F5 to finish"
                         if self.cancelled else "refining \u2026")
                caption = (f"{support} \u00b7 coarse preview from {r.windows} windows (stride 32), {state} "
                           f"\u00b7 concept set \u2018{r.set_name}\u2019")
            return ConVisPane(f"ConVis \u00b7 {r.synset}: {r.gloss}", r.preview, r.values, caption)
        return ConVisPane(f"ConVis \u00b7 {self.selected_synset}", note=self.note or "computing \u2026")

    def listed_for(self, result) -> list[dict] | None:
        """The image's concept listing the dock shows, when it belongs to `result`'s image, model and
        set (the listing comes with the first ConVis map of an image only): exports carry it."""
        return self.listed if result is not None and self.concepts_context == result.request.context() else None
