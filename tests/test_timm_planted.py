"""A planted pattern on hand-built timm ViTs (issue 23): weights set so that a patch's token points
along one direction exactly when the patch is red; the ITSM map for that direction must peak on the red
patch, through the whole path (image file, engine, prefix tokens, the MAP head's per-token path, the
grid's row order). One tower per attention kind: MAP head (with a register token), class token, average.

Convolutional towers (ConvNeXt, FastViT) are not hand-built here: their stages downsample through
LayerNorm and strided convolutions that have no simple identity setting; their per-location head is
checked by pooled == encode_image and Grad-CAM against pytorch-grad-cam instead.
"""
import numpy as np
import pytest
import torch
from PIL import Image

from eclip_desktop.core.explain.engine import Engine
from eclip_desktop.core.explain.methods.itsm import cosine_map
from eclip_desktop.core.io.imageio import load_image
from eclip_desktop.core.model import kinds
from eclip_desktop.core.model.loading import ModelSpec, load_model
from tests.test_timm_towers import registered  # noqa: F401 (fixture)

PATCH = 16  # the test towers' patch size, at 160 px: a 10 x 10 grid


def _identity_(linear: torch.nn.Linear, offset: int = 0) -> None:
    """Rows [offset, offset + in) of the weight become the identity; everything else zero."""
    linear.weight.zero_()
    n = min(linear.in_features, linear.out_features - offset)
    linear.weight[offset:offset + n, :n] = torch.eye(n)
    if linear.bias is not None:
        linear.bias.zero_()


@torch.no_grad()
def _plant(handle) -> None:
    """Channel 0 of a patch's embedding: its mean red minus green (normalised pixels); channel 1: a
    constant. Blocks pass their input through (residual branches zeroed), norms are plain, every head
    layer is the identity on those channels."""
    trunk = handle.visual.trunk
    for m in trunk.modules():
        if isinstance(m, torch.nn.LayerNorm):
            m.weight.fill_(1.0)
            m.bias.zero_()
    proj = trunk.patch_embed.proj
    proj.weight.zero_()
    proj.weight[0, 0] = 1.0 / PATCH ** 2
    proj.weight[0, 1] = -1.0 / PATCH ** 2
    proj.bias.zero_()
    proj.bias[1] = 1.0
    for t in (trunk.pos_embed, trunk.cls_token, getattr(trunk, "reg_token", None)):
        if t is not None:
            t.zero_()
    for blk in trunk.blocks:
        for layer in (blk.attn.proj, blk.mlp.fc2):
            layer.weight.zero_()
            layer.bias.zero_()
    pool = getattr(trunk, "attn_pool", None)
    if pool is not None:
        _identity_(pool.kv, offset=pool.kv.out_features // 2)  # v = x (k's half zero)
        _identity_(pool.proj)
        pool.mlp.fc2.weight.zero_()
        pool.mlp.fc2.bias.zero_()
    if isinstance(trunk.head, torch.nn.Linear):
        _identity_(trunk.head)
    for m in handle.visual.head.modules():
        if isinstance(m, torch.nn.Linear):
            _identity_(m)


def _scene(path, row: int, col: int, size: int = 160) -> str:
    rgb = np.full((size, size, 3), 128, np.uint8)
    rgb[row * PATCH:(row + 1) * PATCH, col * PATCH:(col + 1) * PATCH] = (255, 0, 0)
    Image.fromarray(rgb).save(path)
    return str(path)


@pytest.mark.parametrize("name,kind", [("eclip-t-map", kinds.TIMM_VIT_MAP), ("eclip-t-cls", kinds.TIMM_VIT_CLS),
                                       ("eclip-t-avg", kinds.TIMM_VIT_AVG)])
def test_itsm_peaks_on_the_planted_patch(registered, tmp_path, name, kind):  # noqa: F811
    handle = load_model(ModelSpec(name, "random", "cpu"))
    assert handle.kind == kind and handle.image_size == 160
    _plant(handle)
    engine = Engine(handle)
    for row, col in ((3, 7), (8, 1)):  # rows and columns differ: a transposed grid would miss
        analysis = engine.analyse([load_image(_scene(tmp_path / f"s{row}{col}.png", row, col))])[0]
        assert analysis.grid == (10, 10)
        text = torch.zeros(1, analysis.tokens.shape[-1])
        text[0, 0] = 1.0  # the planted direction
        grid = analysis.grid_map(cosine_map(analysis.tokens, text)[0])
        assert np.unravel_index(np.argmax(grid), grid.shape) == (row, col)
        # Only that patch points along it: every other patch is well below.
        others = np.delete(grid.ravel(), row * 10 + col)
        assert grid[row, col] > 0.5 and others.max() < grid[row, col] - 0.5
