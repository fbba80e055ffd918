"""The window's ConVis side: a synset selected in the WordNet dock turns the side-by-side map pane
into that synset's concept map of the current image ("convis" jobs on the worker that owns the
model); picking a Method or a prompt under Controls returns the pane to the prompt maps."""
from __future__ import annotations

import os
from dataclasses import replace

from eclip_desktop.app.views.layouts import ConVisPane
from eclip_desktop.app.workers.convis import ConVisRequest, ConVisResult, convis_job
from eclip_desktop.app.workers.jobs import Job


class ConVisMixin:

    _convis_cancelled = False  # the coarse preview on screen will not be refined (its job was cancelled)

    def show_convis(self, synset: str) -> None:
        """Show a synset's ConVis map of the current image (the WordNet dock's selection)."""
        self.selected_synset = synset
        self.convis_on = True
        if self._convis_cancelled:
            self._convis_asked = None  # selecting it again finishes what Cancel stopped
        self._request_convis()

    def _concept_set_changed(self, _key: str) -> None:
        """Another concept set: the map, its caption and the image's concept list belonged to the old
        one, so they go, and the selected synset is computed again against the new set."""
        self.wordnet_dock.show_image_concepts(None)
        self._concepts_context = None
        self._convis_asked = None
        self.convis_result = None
        if self.convis_on:
            self._request_convis()

    def _convis_was_cancelled(self) -> None:
        self._convis_asked = None
        self._convis_cancelled = True
        r = self.convis_result
        if r is not None and not r.final:
            self._convis_note = "ConVis cancelled \u2014 the coarse preview stays; press F5 or select the synset to finish"
        else:
            self._convis_note = "ConVis cancelled \u2014 press F5 or select a synset to compute it"
        if self.convis_on:
            self.wordnet_dock.set_convis_status(self._convis_note)
        self.refresh()

    def leave_convis(self) -> None:
        """Back to the prompt maps (ITSM / Surgery) in the map pane."""
        if not self.convis_on:
            return
        self.convis_on = False
        self._convis_asked = None
        self.compute.cancel("convis")
        self.wordnet_dock.set_convis_status("")
        self.status.set_job_text("")  # "ConVis map of … ready" no longer describes the pane
        self.refresh()

    def _convis_request(self) -> ConVisRequest | None:
        path = self.image_list.current_path()
        if path is None or self.model is None or not self.selected_synset or self.image_list.broken_message(path):
            return None
        req = ConVisRequest(path, self.model, self.analysis.pooling, self.selected_synset, self.wordnet_dock.key)
        return replace(req, with_concepts=req.context() != self._concepts_context)

    def _convis_current(self, req: ConVisRequest | None, preview_ok: bool = False) -> bool:
        """The result on hand is the map `req` asks for (final, or also the coarse preview)."""
        r = self.convis_result
        return (req is not None and r is not None and r.synset == req.synset
                and r.request.context() == req.context() and (r.final or preview_ok))

    def _request_convis(self) -> None:
        if not self.convis_on:
            return
        req = self._convis_request()
        if req is None:
            self._convis_note = "ConVis needs an image and a model"
            self.wordnet_dock.set_convis_status(f"ConVis map of {self.selected_synset}: open an image and "
                                                "load a model first.")
        elif self._convis_current(req):
            self.wordnet_dock.set_convis_status(f"ConVis map of {req.synset} shown.")
        elif self._convis_asked != (req.context(), req.synset):
            # A newer synset supersedes the older job (same kind); the rank matrix the older one
            # finished stays cached in the core, so nothing done is lost.
            self._convis_asked = (req.context(), req.synset)
            self._convis_cancelled = False
            self._convis_note = f"ConVis: computing {req.synset} \u2026"
            self.compute.submit(Job("convis", convis_job(req, self.wordnet_dock.service),
                                    label=f"ConVis: {req.synset} \u2026"))
            self.wordnet_dock.set_convis_status(f"ConVis map of {req.synset}: computing \u2026 "
                                                "(progress in the status bar; Esc cancels)")
        self.refresh()

    def _convis_partial(self, r: ConVisResult) -> None:
        """The coarse preview: shown at once, replaced by the final map when the job ends."""
        req = self._convis_request()
        if not self.convis_on or req is None or r.synset != req.synset or r.request.context() != req.context():
            return
        self.convis_result = r
        self._convis_cancelled = False
        if self.image_view is None or self.image_view.path != r.image.path:
            self.image_view = r.image
        self.wordnet_dock.set_convis_status(f"ConVis map of {r.synset}: coarse preview from {r.windows} windows, "
                                            "refining \u2026")
        self.refresh()

    def _convis_ready(self, r: ConVisResult) -> None:
        self._convis_asked = None
        if r.request.model != self.model and r.notices:
            # The worker fell back to the CPU: what runs now is what the controls must show.
            self.model = r.request.model
            self.controls.show_device(self.model.device)
        for notice in r.notices:
            self.banner.show_message(notice, "warning", "device")
        req = self._convis_request()
        if not self.convis_on or req is None or r.request.context() != req.context():
            return
        if r.unknown_set:
            self.wordnet_dock.show_image_concepts(None, note=r.unknown_set)
            self._concepts_context = r.request.context()
        elif r.concepts is not None:
            self.wordnet_dock.show_image_concepts(r.concepts, os.path.basename(r.request.path))
            self._concepts_context = r.request.context()
        self.convis_result = r
        if self.image_view is None or self.image_view.path != r.image.path:
            self.image_view = r.image
        self.banner.clear_source("convis")
        self.wordnet_dock.set_convis_status(f"ConVis map of {r.synset} shown ({r.windows} windows, "
                                            f"concept set \u2018{r.set_name}\u2019): {r.support_text()}.")
        self.refresh()

    def _convis_pane(self, path: str) -> ConVisPane | None:
        if not self.convis_on or self.layout_name != "side":
            return None
        req = self._convis_request()
        r = self.convis_result
        if self._convis_current(req, preview_ok=True) and r.request.path == path:
            # How strongly the image supports the concept comes first: a stretched map of an absent
            # concept looks as bright as one of a present concept.
            support = r.support_text()
            caption = (f"{support} \u00b7 rank map over {r.windows} windows \u00b7 concept set "
                       f"\u2018{r.set_name}\u2019 \u00b7 0 outside the centre square")
            if not r.final:
                state = ("cancelled, not finished \u2014 select the synset again or press F5 to finish"
                         if self._convis_cancelled else "refining \u2026")
                caption = (f"{support} \u00b7 coarse preview from {r.windows} windows (stride 32), {state} "
                           f"\u00b7 concept set \u2018{r.set_name}\u2019")
            return ConVisPane(f"ConVis \u00b7 {r.synset}: {r.gloss}", r.preview, r.values, caption)
        return ConVisPane(f"ConVis \u00b7 {self.selected_synset}", note=self._convis_note or "computing \u2026")
