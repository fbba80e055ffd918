"""The status bar's job line: a running job's progress goes when the workers are idle; a result line
stays until something else is said (offscreen Qt)."""
from eclip_desktop.app.widgets.status import StatusBar


def test_progress_goes_at_idle_and_results_stay(qtbot):
    bar = StatusBar()
    qtbot.addWidget(bar)
    bar.set_busy(True)
    bar.set_job_text("listing open_clip models \u2026", progress=True)
    bar.set_busy(False)
    assert bar.job_label.full_text() == ""  # not a stale "listing …" after the job ended
    bar.set_job_text("maps ready")
    bar.set_busy(True)  # another job starts without a label of its own …
    bar.set_busy(False)  # … and ends: the result line is still true
    assert bar.job_label.full_text() == "maps ready"
    bar.set_busy(True, "reading thumbnails \u2026")
    assert bar.job_label.full_text() == "reading thumbnails \u2026" and bar.cancel_button.isVisibleTo(bar)
    bar.set_busy(False)
    assert bar.job_label.full_text() == "" and not bar.cancel_button.isVisibleTo(bar)
