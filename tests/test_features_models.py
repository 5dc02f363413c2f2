"""The spectrogram layer against torchaudio computed directly, and the models' shapes."""

from __future__ import annotations

import pytest
import torch
import torchaudio

from genre.model.cnn import CNN, CNN3, ShortChunkResNet
from genre.model.spectrogram import Spectrogram

RATE = 16000


@pytest.fixture
def waves() -> torch.Tensor:
    torch.manual_seed(0)
    t = torch.arange(RATE) / RATE
    return torch.stack([torch.sin(2 * torch.pi * 440 * t), 0.1 * torch.randn(RATE)])


def test_mel_db_matches_torchaudio(waves):
    layer = Spectrogram(
        RATE,
        kind="mel",
        n_fft=1024,
        hop_length=256,
        n_mels=64,
        f_max=8000,
        scale="db",
        top_db=80.0,
        normalize="none",
    )
    mel = torchaudio.transforms.MelSpectrogram(
        RATE, n_fft=1024, hop_length=256, n_mels=64, f_max=8000
    )
    to_db = torchaudio.transforms.AmplitudeToDB("power", top_db=80.0)
    expected = torch.stack([to_db(mel(w)) for w in waves]).unsqueeze(1)
    assert torch.allclose(layer(waves), expected, atol=1e-4)


def test_stft_band_keeps_bins_between_f_min_and_f_max(waves):
    layer = Spectrogram(
        RATE, kind="stft", n_fft=1024, f_min=0, f_max=4000, scale="linear", normalize="none"
    )
    full = torchaudio.transforms.Spectrogram(n_fft=1024, hop_length=256)(waves)
    out = layer(waves)
    assert out.shape == (2, 1, 257, full.shape[-1])  # 0..4000 Hz at 15.6 Hz per bin
    assert torch.allclose(out[:, 0], full[:, :257])
    peak_bin = out[0, 0].mean(-1).argmax().item()
    assert peak_bin * RATE / 1024 == pytest.approx(440, abs=16)


def test_instance_normalisation_and_batch_independence(waves):
    layer = Spectrogram(RATE, kind="mel", n_mels=32)
    out = layer(waves)
    assert torch.allclose(out.mean(dim=(-2, -1)), torch.zeros(2, 1), atol=1e-4)
    # A clip's features do not depend on what else is in the batch.
    assert torch.allclose(layer(waves[:1]), out[:1], atol=1e-5)


def test_specaugment_only_in_training(waves):
    layer = Spectrogram(
        RATE,
        kind="mel",
        n_mels=32,
        normalize="none",
        freq_masks=2,
        freq_mask=8,
        time_masks=2,
        time_mask=10,
    )
    layer.eval()
    clean = layer(waves)
    assert torch.equal(layer(waves), clean)
    layer.train()
    torch.manual_seed(1)
    assert not torch.equal(layer(waves), clean)


@pytest.mark.parametrize(
    "model",
    [
        CNN3(10),
        CNN(10, depth=3, width=8, batch_norm=True, pool="avg"),
        ShortChunkResNet(10, n_blocks=3, channels=8),
    ],
)
@pytest.mark.parametrize("shape", [(4, 1, 96, 188), (2, 1, 513, 63)])
def test_models_give_logits_for_any_spectrogram_size(model, shape):
    logits = model(torch.randn(*shape))
    assert logits.shape == (shape[0], 10)
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_configs_logged_before_the_move_still_build():
    from genre.build import build_network
    from genre.config import compose_config

    cfg = compose_config(["model=cnn3"])
    cfg.model._target_ = "genre.models.CNN3"  # as runs of earlier versions logged it
    assert isinstance(build_network(cfg, ["a", "b"]).classifier, CNN3)
