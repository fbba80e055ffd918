"""Every registered pooling is one unit: its single-image readout and its batched training form agree,
and training takes any registered pooling (including one added at run time) with no pooling names in
the training code."""
from __future__ import annotations

import math

import pytest
import torch

from eclip_desktop.core.model.poolings import (
    POOLING_LABELS,
    POOLING_SHORT,
    POOLINGS,
    TAU_CHOICES,
    Pooling,
    PoolingReadout,
    get_pooling,
    pooling_names,
    register,
    unregister,
)
from eclip_desktop.core.training.trainer import TrainConfig, train


def _first_token_readout(tokens, pooled, attention, **_):
    contribution = torch.zeros(tokens.shape[0])
    contribution[0] = 1.0
    return PoolingReadout(tokens[0], contribution)


def _first_token_batched(tokens, pooled, attention, **_):
    return tokens[:, 0]


FIRST_TOKEN = Pooling("first_token", "first token (test)", "first", _first_token_readout, _first_token_batched)


@pytest.fixture
def first_token():
    register(FIRST_TOKEN)
    try:
        yield FIRST_TOKEN
    finally:
        unregister(FIRST_TOKEN.name)


@pytest.fixture(autouse=True)
def _cache_env(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("ECLIP_DESKTOP_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def _batch(seed: int, b: int = 3, n: int = 12, d: int = 8):
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randn(b, n, d, generator=g)
    pooled = torch.randn(b, d, generator=g)
    attention = torch.rand(b, n, generator=g) + 1e-3
    return tokens, pooled, attention


def _check_forms_agree(unit: Pooling, tau: str, seed: int = 0) -> None:
    tokens, pooled, attention = _batch(seed)
    batched = unit.batched(tokens, pooled, attention, tau=tau, topk=0.3)
    assert batched.shape == pooled.shape, unit.name
    for i in range(tokens.shape[0]):
        r = unit.readout(tokens[i], pooled[i], attention[i], tau=tau, topk=0.3)
        assert torch.allclose(batched[i], r.embedding, rtol=1e-5, atol=1e-6), (unit.name, tau, i)
        c = r.contribution
        assert c.shape == (tokens.shape[1],) and (c >= 0).all() and math.isclose(float(c.sum()), 1.0, abs_tol=1e-5)
        assert r.mask is None or (r.mask.shape == c.shape and (c[~r.mask] == 0).all())


@pytest.mark.parametrize("tau", TAU_CHOICES)
@pytest.mark.parametrize("name", pooling_names())
def test_batched_form_equals_single_image_readout(name, tau):
    _check_forms_agree(get_pooling(name), tau)


def test_registered_units_are_complete_and_named(first_token):
    for name, unit in POOLINGS.items():
        assert unit.name == name and POOLING_LABELS[name] == unit.label and POOLING_SHORT[name] == unit.short
    _check_forms_agree(first_token, "mean")
    with pytest.raises(TypeError, match="needs both"):
        Pooling("half", "half", "half", _first_token_readout, None)
    with pytest.raises(ValueError, match="already registered"):
        register(Pooling("avg", "other", "other", _first_token_readout, _first_token_batched))
    unregister("first_token")
    assert "first_token" not in POOLINGS and "first_token" not in POOLING_SHORT


def test_a_disagreeing_pooling_is_caught():
    wrong = Pooling("wrong", "wrong", "wrong", get_pooling("max").readout, get_pooling("avg").batched)
    with pytest.raises(AssertionError):
        _check_forms_agree(wrong, "mean")


def _tiny(out, pooling: str) -> TrainConfig:
    return TrainConfig(pooling=pooling, architecture="eclip-tiny-vit", scenes=8, batch_size=4, steps=1, warmup=1,
                       device="cpu", out=str(out), checkpoint_every=0)


@pytest.mark.parametrize("name", pooling_names())
def test_train_takes_every_registered_pooling(tmp_path, name):
    card = train(_tiny(tmp_path, name))
    assert card["pooling"] == name and math.isfinite(card["final_loss"])
    assert (tmp_path / f"{name}.safetensors").is_file()


def test_train_takes_a_pooling_added_at_run_time(tmp_path, first_token):
    card = train(_tiny(tmp_path, first_token.name))
    assert card["pooling"] == "first_token" and math.isfinite(card["final_loss"])
