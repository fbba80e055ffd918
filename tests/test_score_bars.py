"""Score-bar labels in a narrow tile keep the words that tell the prompts apart (offscreen Qt)."""
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QApplication

from eclip_desktop.app.views.score_bars import ScoreBars, fitted_labels


def metrics(qtbot):
    bars = ScoreBars()
    qtbot.addWidget(bars)
    return QFontMetrics(QApplication.font())


def test_labels_that_fit_are_untouched(qtbot):
    fm = metrics(qtbot)
    labels = ["a photo of a circle.", "a photo of a square."]
    assert fitted_labels(labels, fm, 1000) == labels
    assert fitted_labels([], fm, 10) == []


def test_long_labels_lose_the_shared_template_first(qtbot):
    fm = metrics(qtbot)
    labels = ["a photo of a purple ellipse.", "a photo of a circle."]
    width = fm.horizontalAdvance("a photo of a purple") - 2
    short = fitted_labels(labels, fm, width)
    assert short[0] == "\u2026purple ellipse." and short[1] == "\u2026circle."
    assert all(fm.horizontalAdvance(t) <= width for t in short)
    # Narrower still: characters go from the front, the end (the class) stays.
    tiny = fitted_labels(labels, fm, fm.horizontalAdvance("ellipse.") + fm.horizontalAdvance("\u2026") + 2)
    assert tiny[0].endswith("ellipse.") and tiny[0].startswith("\u2026")


def test_one_long_label_keeps_its_last_words(qtbot):
    fm = metrics(qtbot)
    text = "a photo of a very large and somewhat faded purple ellipse."
    (short,) = fitted_labels([text], fm, fm.horizontalAdvance("faded purple ellipse.") + 20)
    assert short == "\u2026faded purple ellipse."


def test_prompts_that_differ_at_the_front_are_cut_from_the_front(qtbot):
    fm = metrics(qtbot)
    labels = ["circle in a photograph of many things", "square in a photograph of many things"]
    width = fm.horizontalAdvance("photograph of many things") + 5
    short = fitted_labels(labels, fm, width)
    assert all(t.endswith("many things") and fm.horizontalAdvance(t) <= width for t in short)
