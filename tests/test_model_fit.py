"""Which architecture a weights file fits, from its tensor shapes (core/model/fit.py): what the window's
architecture dialog proposes when a checkpoint is opened."""
import pytest
import torch
from safetensors.torch import save_file

from eclip_desktop.core.model import fit
from eclip_desktop.core.model.loading import list_architectures

TINY = ["eclip-tiny-rn", "eclip-tiny-vit", "RN50", "ViT-B-16"]


def _state(tiny_handles, name):
    return {k: v.contiguous() for k, v in tiny_handles[name].model.state_dict().items()}


def test_a_safetensors_file_is_proposed_its_own_architecture(saved_tiny):
    assert "eclip-tiny-vit" in fit.fitting_architectures(saved_tiny, TINY)
    assert "eclip-tiny-rn" not in fit.fitting_architectures(saved_tiny, TINY)
    # what the picker showed before (a fresh window shows eclip-tiny-rn) does not win over the file
    assert fit.proposed_architecture(saved_tiny, TINY, current="eclip-tiny-rn") == "eclip-tiny-vit"


@pytest.mark.parametrize("wrap", ["plain", "state_dict+module", "training checkpoint"])
def test_torch_files_in_their_usual_wrappings(tiny_handles, tmp_path, wrap):
    state = _state(tiny_handles, "eclip-tiny-rn")
    if wrap == "state_dict+module":
        state = {"state_dict": {"module." + k: v for k, v in state.items()}}
    elif wrap == "training checkpoint":
        state = {"model": state, "optimizer": {}, "step": 3}
    path = tmp_path / "weights.pt"
    torch.save(state, path)
    assert fit.proposed_architecture(path, TINY, current="eclip-tiny-vit") == "eclip-tiny-rn"


def test_one_wrong_shape_or_a_non_weights_file_proposes_nothing(tiny_handles, tmp_path):
    state = _state(tiny_handles, "eclip-tiny-vit")
    name = next(k for k, v in state.items() if v.ndim == 2)
    state[name] = torch.zeros(state[name].shape[0] + 1, state[name].shape[1])
    save_file(state, str(tmp_path / "wrong.safetensors"))
    assert fit.proposed_architecture(tmp_path / "wrong.safetensors", TINY) is None
    (tmp_path / "notes.pt").write_text("not weights")
    assert fit.file_shapes(tmp_path / "notes.pt") == {}
    assert fit.fitting_architectures(tmp_path / "notes.pt", TINY) == []


@pytest.mark.parametrize("arch", ["ViT-B-16", "RN50", "ViT-L-14-336", "ViT-B-16-SigLIP", "convnext_base"])
def test_the_quick_filter_never_drops_an_architectures_own_shapes(arch):
    """The filter before building compares widths and depths a config states; a real checkpoint of
    `arch` (its meta-built shapes) must pass it for `arch` and fit it."""
    shapes = dict(fit.architecture_shapes(arch))
    found = [n for n in list_architectures() if fit._could_fit(fit._signature(shapes), n)]
    assert arch in found and len(found) <= 8, found
    assert fit.fits(shapes, arch)
