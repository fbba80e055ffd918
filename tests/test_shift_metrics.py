"""Which of a card's evaluations the window quotes for the semantic shift (core/model/shift.py)."""
from eclip_desktop.core.model.shift import itsm_metrics


def row(msc):
    return {"msc": msc, "bg_preferred": 0.5}


def test_plain_itsm_first_then_the_first_suite_then_the_rest():
    assert itsm_metrics({"metrics": {"itsm": row(1.0), "itsm_gen300": row(2.0)}})["msc"] == 1.0
    # The second suite sorts before the first by name; the first suite is still the one quoted.
    both = {"metrics": {"itsm_gen2-300": row(3.0), "itsm_gen300": row(2.0), "itsm_shapes500": row(4.0)}}
    assert itsm_metrics(both)["msc"] == 2.0
    assert itsm_metrics({"metrics": {"itsm_shapes500": row(4.0), "itsm_1-3_objects": row(5.0)}})["msc"] == 5.0
    assert itsm_metrics({"metrics": {"itsm_gen2-300": row(3.0)}})["msc"] == 3.0


def test_cards_without_a_usable_itsm_row():
    assert itsm_metrics({}) is None and itsm_metrics({"metrics": []}) is None
    assert itsm_metrics({"metrics": {"itsm_gen300": {"msc": "n/a"}, "surgery_gen300": row(1.0)}}) is None
