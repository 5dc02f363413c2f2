"""The spectrogram layer: the first layer of the network, run on the model's device on whole
batches, so sweeping spectrogram settings costs no preprocessing."""

from __future__ import annotations

import torch
import torchaudio
from torch import nn


class Spectrogram(nn.Module):
    """Waveforms ``[batch, samples]`` to grey-scale images ``[batch, 1, freq, time]``.

    ``kind=stft`` is the report's regular spectrogram; ``f_min``/``f_max`` then keep only the
    bins in that band, so both kinds answer to the same frequency limits. SpecAugment masks
    (``freq_masks`` of up to ``freq_mask`` bins, ``time_masks`` of up to ``time_mask`` frames)
    apply in training mode only.

    ``mel_scale``, ``mel_norm`` (torchaudio's ``norm``) and ``pad_mode`` (of the centred first and
    last frames) are torchaudio's options, so that a pretrained network's front end can be
    matched: librosa's mel filters are ``mel_scale="slaney", mel_norm="slaney"``.
    ``scale="log1p"`` is ``log10(1 + log_gain * power)``, musicnn's log compression (base 10, as
    there); ``power_dtype="float16"`` rounds the power to float16 before scaling, as musicnn's
    extractor did (all else stays float32).
    """

    def __init__(
        self,
        sample_rate: int,
        kind: str = "mel",
        n_fft: int = 1024,
        hop_length: int | None = None,
        win_length: int | None = None,
        n_mels: int = 128,
        f_min: float = 0.0,
        f_max: float | None = None,
        scale: str = "db",
        top_db: float | None = 80.0,
        log_gain: float = 1.0,
        normalize: str = "instance",
        mel_scale: str = "htk",
        mel_norm: str | None = None,
        pad_mode: str = "reflect",
        power_dtype: str = "float32",
        freq_masks: int = 0,
        freq_mask: int = 0,
        time_masks: int = 0,
        time_mask: int = 0,
    ):
        super().__init__()
        nyquist = sample_rate / 2
        f_max = nyquist if f_max is None else float(f_max)
        hop_length = hop_length or n_fft // 4
        freqs = torch.linspace(0, nyquist, n_fft // 2 + 1)
        self.kind, self.scale, self.normalize = kind, scale, normalize
        self.log_gain, self.power_dtype = log_gain, power_dtype
        if kind == "mel":
            self.transform = torchaudio.transforms.MelSpectrogram(
                sample_rate,
                n_fft=n_fft,
                win_length=win_length,
                hop_length=hop_length,
                f_min=f_min,
                f_max=f_max,
                n_mels=n_mels,
                power=2.0,
                pad_mode=pad_mode,
                norm=mel_norm,
                mel_scale=mel_scale,
            )
            self.bins = slice(None)
            # Each filter's peak: the frequency its row stands for.
            centres = freqs[self.transform.mel_scale.fb.argmax(dim=0)]
        else:
            self.transform = torchaudio.transforms.Spectrogram(
                n_fft=n_fft,
                win_length=win_length,
                hop_length=hop_length,
                power=2.0,
                pad_mode=pad_mode,
            )
            band = torch.nonzero((freqs >= f_min) & (freqs <= f_max)).flatten()
            self.bins = slice(int(band[0]), int(band[-1]) + 1)
            centres = freqs[self.bins]
        self.frequencies = centres.tolist()  # Hz of each output row, for figures
        self.seconds_per_frame = hop_length / sample_rate
        self.to_db = torchaudio.transforms.AmplitudeToDB("power", top_db)
        self.augment = nn.Sequential(
            *[torchaudio.transforms.FrequencyMasking(freq_mask) for _ in range(freq_masks)],
            *[torchaudio.transforms.TimeMasking(time_mask) for _ in range(time_masks)],
        )

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        # Spectra span many orders of magnitude: compute them in fp32 even under mixed precision.
        with torch.autocast(waves.device.type, enabled=False):
            # [batch, 1, freq, time]: AmplitudeToDB's top_db clamp then acts per example, not
            # across the batch, so a clip's features never depend on its batch mates.
            spec = self.transform(waves.float())[..., self.bins, :].unsqueeze(1)
            if self.power_dtype == "float16":
                spec = spec.half().float()
            if self.scale == "db":
                spec = self.to_db(spec)
            elif self.scale == "log":
                spec = torch.log(spec + 1e-6)
            elif self.scale == "log1p":
                spec = torch.log10(1 + self.log_gain * spec)
            if self.normalize == "instance":
                mean = spec.mean(dim=(-2, -1), keepdim=True)
                std = spec.std(dim=(-2, -1), keepdim=True)
                spec = (spec - mean) / (std + 1e-5)
            if self.training and len(self.augment):
                spec = self.augment(spec)
        return spec
