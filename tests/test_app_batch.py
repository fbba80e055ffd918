
"""The GUI's batch export dialog: the CLI's export run on the window's worker, with progress and cancel."""
import csv
import errno

import pytest
from PIL import Image
from PySide6.QtCore import Qt
from test_app import (  # noqa: F401
    WAIT_MS,
    make_window,
    no_dangling_threads_or_timers,
    settings,
    wait_for_map,
)

from eclip_desktop.app.dialogs.batch import BatchExportDialog, eta_text
from eclip_desktop.viewer.samples import sample_path


def _variant(target, i):
    """A copy of the sample with one pixel changed: distinct content, so no cached analysis applies."""
    img = Image.open(sample_path()).convert("RGB")
    img.putpixel((i % img.width, 0), (i % 256, 0, 0))
    img.save(target)


def _rows(out):
    with open(out / "index.csv", newline="") as f:
        return list(csv.DictReader(f))


def _dialog(qtbot, w, out, images=None):
    d = BatchExportDialog(w)
    qtbot.addWidget(d)
    if images is not None:
        d.use_other.setChecked(True)
        d.other.setText(images)
    d.out.setText(str(out))
    return d


def _long_export(qtbot, w, tmp_path, n):
    """Starts an export of n distinct images (both methods) into tmp_path/out; returns the dialog."""
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(n):
        _variant(folder / f"img{i:02d}.png", i + 1)
    d = _dialog(qtbot, w, tmp_path / "out", str(folder))
    d.methods["surgery"].setChecked(True)
    d.start()
    return d


def _finished(d):
    return not d._running and (d.outcome is not None or "cancelled" in d.status.text()
                               or d.status.styleSheet())


def test_batch_export_writes_resumes_and_encodes_each_image_once(qtbot, make_window, tmp_path):
    w = make_window()
    wait_for_map(qtbot, w)
    folder = tmp_path / "imgs"
    folder.mkdir()
    _variant(folder / "a.png", 1)
    _variant(folder / "b.png", 2)
    out = tmp_path / "out"
    d = _dialog(qtbot, w, out, str(folder))
    d.texts.setPlainText("a photo of a circle.\na photo of a star.")
    d.poolings["max"].setChecked(True)
    d.grids["pooling"].setChecked(True)
    engine = w.models.current_engine()
    calls = engine.image_encoder_calls
    d.start()
    assert d._running and not d.start_btn.isEnabled() and d.cancel_btn.isEnabled()
    qtbot.waitUntil(lambda: _finished(d), timeout=WAIT_MS * 3)
    assert d.outcome is not None, d.status.text()
    rows = _rows(out)
    # 2 images x 1 method x 2 poolings x 2 texts + 2 contributions + 1 grid each
    assert len(rows) == 2 * (4 + 2 + 1)
    assert {r["status"] for r in rows} == {"ok"}
    assert engine.image_encoder_calls - calls == 2, "one encoder run per image for every text and pooling"
    assert (out / "a__itsm__max__a-photo-of-a-star.png").is_file()
    assert (out / "b__grid-pooling.png").is_file()
    assert d.bar.value() == d.bar.maximum() == 2
    assert "2 images done, 0 failed" in d.status.text() and d.open_btn.isEnabled()

    d.start()  # same settings again: everything is complete, nothing is recomputed
    qtbot.waitUntil(lambda: _finished(d), timeout=WAIT_MS)
    assert "2 images done (2 already complete), 0 failed" in d.status.text()
    assert engine.image_encoder_calls - calls == 2


@pytest.mark.slow
def test_batch_export_cancel_leaves_a_resumable_index(qtbot, make_window, tmp_path):
    w = make_window()
    wait_for_map(qtbot, w)
    out = tmp_path / "out"
    d = _long_export(qtbot, w, tmp_path, 40)
    qtbot.waitUntil(lambda: d.bar.value() >= 1, timeout=WAIT_MS)
    d.cancel()
    qtbot.waitUntil(lambda: not d._running, timeout=WAIT_MS)
    assert "cancelled" in d.status.text() and "resume" in d.status.text()
    statuses = [r["status"] for r in _rows(out)]
    assert "ok" in statuses and "pending" in statuses, "cancel landed after the last image, not between"
    assert d.start_btn.isEnabled()
    d.start()
    qtbot.waitUntil(lambda: _finished(d), timeout=WAIT_MS * 6)
    assert {r["status"] for r in _rows(out)} <= {"ok", "skipped"}
    assert "already complete" in d.status.text()


def test_batch_export_bad_input_gives_messages_and_no_job(qtbot, make_window, tmp_path):
    w = make_window()
    wait_for_map(qtbot, w)
    d = _dialog(qtbot, w, tmp_path / "out")
    jobs = w.compute.submitted
    d.texts.setPlainText("")
    d.synsets.setText("")
    d.start()
    assert "nothing to export" in d.status.text()
    d.texts.setPlainText("a photo of a circle.")
    for cb in d.poolings.values():
        cb.setChecked(False)
    d.start()
    assert "at least one method and one pooling" in d.status.text()
    d.poolings["native"].setChecked(True)
    d.use_other.setChecked(True)
    d.other.setText(str(tmp_path / "no-such-folder"))
    d.start()
    assert "no-such-folder" in d.status.text()
    d.other.setText("")
    d.start()
    assert "name a folder" in d.status.text()
    d.use_list.setChecked(True)
    d.out.setText("")
    d.start()
    assert "output folder" in d.status.text()
    assert w.compute.submitted == jobs and not d._running


def test_batch_export_read_only_folder_fails_cleanly(qtbot, make_window, tmp_path, monkeypatch):
    from eclip_desktop.core.io import atomic
    w = make_window()
    wait_for_map(qtbot, w)
    out = tmp_path / "ro"
    out.mkdir()
    real = atomic.tempfile.mkstemp

    def refuse(*args, **kwargs):  # what a read-only mount says, for root too (root ignores mode bits)
        if str(kwargs.get("dir", "")).startswith(str(out)):
            raise OSError(errno.EROFS, "Read-only file system")
        return real(*args, **kwargs)

    monkeypatch.setattr(atomic.tempfile, "mkstemp", refuse)
    d = _dialog(qtbot, w, out)
    d.start()
    qtbot.waitUntil(lambda: not d._running, timeout=WAIT_MS)
    assert "read-only file system" in d.status.text() and d.status.styleSheet()
    assert list(out.iterdir()) == []


def test_batch_export_counts_images_and_names_the_bad_ones(qtbot, make_window, tmp_path):
    """7 files, 2 of them bad: the dialog said "110 maps written, 44 failed" (rows, not images)."""
    w = make_window()
    wait_for_map(qtbot, w)
    folder = tmp_path / "seven"
    folder.mkdir()
    for i in range(5):
        _variant(folder / f"good{i}.png", i + 1)
    (folder / "garbage.png").write_bytes(b"not an image at all")
    good = (folder / "good0.png").read_bytes()
    (folder / "truncated.png").write_bytes(good[: len(good) // 2])
    d = _dialog(qtbot, w, tmp_path / "out", str(folder))
    d.texts.setPlainText("a photo of a circle.\na photo of a star.")
    shown = []  # the dialog's line after each progress report (its slot was connected first)
    w.compute.partial.connect(lambda *_: shown.append(d.status.text()))
    qtbot.mouseClick(d.start_btn, Qt.LeftButton)
    qtbot.waitUntil(lambda: d.start_btn.isEnabled() and "images done" in d.status.text(), timeout=WAIT_MS * 3)
    progress = [line for line in shown if line.startswith("[")]
    assert progress and progress[-1].startswith("[7/7] truncated.png \u2014 5 images done, 2 failed"), progress
    text = d.status.text()
    assert text.startswith("5 images done, 2 failed"), text
    assert "garbage.png is not an image file" in text and "truncated.png is corrupt" in text and "index.csv" in text
    assert "Pillow" not in text and "PIL" not in text and "maps" not in text.splitlines()[0]


def test_eta_text():
    assert eta_text(None).startswith("estimating")
    assert eta_text(30) == "about 30 s left"
    assert eta_text(600) == "about 10.0 min left"


def test_maps_still_answer_during_a_batch_export(qtbot, make_window, tmp_path):
    w = make_window()
    wait_for_map(qtbot, w)
    d = _long_export(qtbot, w, tmp_path, 60)
    qtbot.waitUntil(lambda: d.bar.value() >= 1, timeout=WAIT_MS)
    w.controls.prompts.setPlainText("a photo of a star.")
    # the maps of a new context start empty and fill when the worker's result arrives
    qtbot.waitUntil(lambda: "a photo of a star." in str(w.map_controller.cache.context) and bool(w.maps), timeout=WAIT_MS)
    # the new prompt's map came between two exported images, not after the whole export
    assert d._running and d.bar.value() < d.bar.maximum()
    d.cancel()
    qtbot.waitUntil(lambda: not d._running, timeout=WAIT_MS)
    assert "ok" in {r["status"] for r in _rows(tmp_path / "out")}


def test_window_batch_states_its_convis_settings_so_resume_checks_them():
    from eclip_desktop.core.export.batch import ExportRequest
    from eclip_desktop.core.export.concepts_job import ConceptsRequest
    from eclip_desktop.viewer.jobs.batch import stated_convis
    req = ExportRequest(images=["a.png"], out_dir="o", synsets=["circle.n.01"])
    stated = stated_convis(req, "shapes")
    drawn_with = ConceptsRequest(images=[], synsets=[], out_dir="")
    assert stated.convis_options == {"mode": drawn_with.mode, "seed": drawn_with.seed, "concept_set": "shapes"}
    assert req.convis_options == {}  # the dialog's request is not changed in place
    # what a caller states wins over the window's defaults
    assert stated_convis(ExportRequest(images=[], out_dir="o", convis_options={"seed": 4}), "x").convis_options["seed"] == 4


def test_the_dialog_says_which_maps_each_grid_is_built_from(qtbot, make_window, tmp_path):
    w = make_window()
    d = _dialog(qtbot, w, tmp_path / "out")
    note = d.grid_note.text()
    assert "first prompt and method" in note and "first prompt and pooling" in note
    assert "first method and pooling" in note
