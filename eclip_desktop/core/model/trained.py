"""What a weights file says about how it was trained, read without loading it."""
from __future__ import annotations

from pathlib import Path

from eclip_desktop.core.errors import ModelError
from eclip_desktop.core.model.card_schema import read_card
from eclip_desktop.core.model.poolings import TAU_CHOICES, TAU_TRAINED


def trained_tau(weights: str) -> str:
    """The free-attention threshold a masked-max model was trained with: the weights' metadata, else
    the model card beside them; "mean" (the method's default) for anything that does not say.
    A readout should threshold the mask as training did: a top-k-trained model read out with the
    mean threshold pools over a different set of tokens than the one its max was learned on."""
    path = Path(weights).expanduser()
    if not path.is_file():
        return "mean"
    if path.name.endswith(".safetensors"):
        try:
            from safetensors import safe_open
            with safe_open(str(path), framework="pt") as f:
                tau = (f.metadata() or {}).get("tau")
            if tau in TAU_CHOICES:
                return tau
        except Exception:  # an unreadable file is the loader's to report, with its own message
            pass
    card = path.with_name(path.name.split(".")[0] + ".json")
    try:
        tau = read_card(card).get("tau") if card.is_file() else None
    except ModelError:  # an unusable card is reported where the family reads it
        tau = None
    return tau if tau in TAU_CHOICES else "mean"


def readout_tau(tau: str, trained: str) -> str:
    """The concrete threshold of a readout: `trained` (the weights' own) when asked for "trained"."""
    return trained if tau == TAU_TRAINED else tau
