"""The model card beside trained weights (<pooling>.json, written by `train`), read through one
reader: a regular file of bounded size and depth whose fields the tool uses have their types, so a
card that is a list, or names its architecture with a number, is one line naming the card and field.

Unlisted keys (the training config, history, metrics' inner numbers) are kept as they are: cards
grow with new keys, and a reader that uses one checks it there (core/model/shift.py).
"""
from __future__ import annotations

from pathlib import Path

from eclip_desktop.core.errors import ModelError
from eclip_desktop.core.io.guards import check_schema, read_json, shown

NONE = type(None)

CARD = {
    "format": str, "version": int, "name": (str, NONE), "architecture": str, "pooling": (str, NONE),
    "tau": (str, NONE), "data": ({"source": (str, NONE)}, NONE), "model_config": ({"quick_gelu": (bool, NONE)}, NONE),
    "metrics": (dict, NONE), "weights": (str, NONE),
}


def read_card(path: str | Path) -> dict:
    """The card's fields; ModelError naming the card and the field when it is not a card."""
    def unreadable(why: str) -> ModelError:
        return ModelError(f"model card {shown(path)} is missing or unreadable: {why}")

    def fail(why: str) -> ModelError:
        return ModelError(f"model card {shown(path)} is unusable: {why}")
    data = read_json(path, unreadable, non_finite_as_null=True)  # metrics may have been NaN when written
    if not isinstance(data, dict):
        raise fail("the file is not a JSON object of fields")
    check_schema(data, CARD, fail)
    return data
