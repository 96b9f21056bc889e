"""PositionalUNet1D: shapes for any window >= 8, parameter count, timestep conditioning."""
import pytest
import torch

from conftest import tiny_model_config
from motionlab.core.model import ModelConfig, PositionalUNet1D, count_parameters, timestep_embedding


@pytest.mark.parametrize("window", [8, 9, 63, 64])
def test_output_shape_matches_input(window):
    torch.manual_seed(0)
    model = PositionalUNet1D(tiny_model_config()).eval()
    x = torch.randn(2, 40, window)
    out = model(x, torch.tensor([0, 9]))
    assert out.shape == (2, 40, window) and out.dtype == torch.float32
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("window", [8, 11, 33])
def test_three_levels_and_other_channel_counts(window):
    model = PositionalUNet1D(tiny_model_config(in_channels=6, channel_mults=(1, 2, 4))).eval()
    assert model(torch.randn(1, 6, window), torch.tensor([3])).shape == (1, 6, window)


def test_default_config_has_about_ten_million_parameters():
    n = count_parameters(PositionalUNet1D(ModelConfig()))
    assert 9_500_000 <= n <= 10_500_000


def test_tiny_config_is_tiny():
    assert count_parameters(PositionalUNet1D(tiny_model_config())) < 100_000


def test_timestep_embedding():
    t = torch.tensor([0, 1, 399])
    e = timestep_embedding(t, 16)
    assert e.shape == (3, 16)
    assert torch.allclose(e[0], torch.cat([torch.zeros(8), torch.ones(8)]))  # sin 0, cos 0
    assert not torch.allclose(e[1], e[2])
    assert timestep_embedding(t, 15).shape == (3, 15)  # odd sizes are padded


def test_output_depends_on_the_timestep():
    torch.manual_seed(0)
    model = PositionalUNet1D(tiny_model_config()).eval()
    x = torch.randn(1, 40, 16)
    with torch.no_grad():
        a, b = model(x, torch.tensor([0])), model(x, torch.tensor([9]))
    assert not torch.allclose(a, b)


def test_every_parameter_gets_a_gradient():
    torch.manual_seed(0)
    model = PositionalUNet1D(tiny_model_config())
    model(torch.randn(2, 40, 16), torch.tensor([1, 5])).pow(2).mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


def test_config_dict_round_trip():
    cfg = tiny_model_config(dropout=0.0)
    d = cfg.to_dict()
    assert d["channel_mults"] == [1, 2]
    assert ModelConfig.from_dict(d) == cfg
