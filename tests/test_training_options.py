"""The training options for small real datasets, in process: waveform augmentation, mixup,
the warm-up + cosine schedule, early stopping, the weight average, class balancing, and the
divergence check; with the real LightningModule, DataModule and Trainer on real audio files."""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from helpers import TINY_RUN, run_module
from lightning.pytorch.callbacks import EMAWeightAveraging
from torch import nn

from genre.build import build_callbacks, build_module, build_network, build_trainer
from genre.config import compose_config, settings
from genre.data.datamodule import GenreDataModule
from genre.errors import GenreError
from genre.model.augment import Mixup, WaveAugment

RATE = 16000


def tiny_config(root: Path, *overrides: str):
    return compose_config(
        ["data=folder", f"data.root={root}", "data.clip_seconds=3", *TINY_RUN, *overrides]
    )


def fit(cfg, output_dir: Path):
    """Fit ``cfg`` in this process as genre.train does; the trainer and module come back."""
    pl.seed_everything(int(cfg.seed), verbose=False)
    data = GenreDataModule(settings(cfg, "data"))
    data.load()
    module = build_module(cfg, build_network(cfg, data.genres), data.class_weights())
    checkpoint, callbacks = build_callbacks(cfg, output_dir)
    options = {"enable_model_summary": False, "enable_progress_bar": False}
    cfg.trainer.update(options)
    trainer = build_trainer(cfg, callbacks, output_dir)
    trainer.fit(module, datamodule=data)
    return trainer, module, checkpoint


# --- waveform augmentation and mixup ------------------------------------------------------------


def test_gain_scales_each_example_within_its_range():
    torch.manual_seed(0)
    waves = torch.randn(64, 4000)
    augment = WaveAugment(gain_db=6.0).train()
    out = augment(waves)
    db = 20 * torch.log10(out.norm(dim=1) / waves.norm(dim=1))
    assert db.abs().max() <= 6.0 + 1e-4
    assert db.std() > 1.0  # a gain per example, not one per batch
    assert torch.equal(augment.eval()(waves), waves)


def test_shift_rolls_each_example_by_at_most_its_share():
    torch.manual_seed(0)
    waves = torch.arange(1000.0).repeat(32, 1)
    out = WaveAugment(shift=0.1).train()(waves)
    for row in out:
        offset = int(-row[0]) % 1000  # where sample 0 went
        assert torch.equal(row, torch.roll(waves[0], offset))
        assert min(offset, 1000 - offset) <= 100
    assert len({float(r[0]) for r in out}) > 1


def test_mixup_mixes_waves_and_pairs_targets():
    torch.manual_seed(0)
    waves, targets = torch.randn(8, 100), torch.arange(8)
    mixed, first, second, lam = Mixup(0.4)(waves, targets)
    assert 0.0 <= lam <= 1.0
    assert torch.equal(first, targets)
    assert torch.allclose(mixed, lam * waves + (1 - lam) * waves[second])
    assert not Mixup(0.0)


# --- schedule ------------------------------------------------------------------------------


def test_warmup_then_cosine_per_step(tiny_folder, tmp_path):
    cfg = tiny_config(
        tiny_folder, "optim.schedule=cosine", "optim.warmup_epochs=1", "trainer.max_epochs=4"
    )
    seen: list[float] = []

    class Record(pl.Callback):
        def on_train_batch_start(self, trainer, *args):
            seen.append(trainer.optimizers[0].param_groups[0]["lr"])

    pl.seed_everything(0, verbose=False)
    data = GenreDataModule(settings(cfg, "data"))
    module = build_module(cfg, build_network(cfg, data.genres), None)
    _, callbacks = build_callbacks(cfg, tmp_path)
    cfg.trainer.update({"enable_model_summary": False})
    build_trainer(cfg, [*callbacks, Record()], tmp_path).fit(module, datamodule=data)
    steps_per_epoch = len(seen) // 4
    lr = float(cfg.optim.lr)
    # Up from lr/steps to lr over the first epoch, then down to nearly 0 at the last step.
    assert seen[0] == pytest.approx(lr / steps_per_epoch)
    assert max(seen) == pytest.approx(lr) == seen[steps_per_epoch]
    warmup, decay = seen[:steps_per_epoch], seen[steps_per_epoch - 1 :]
    assert all(a < b for a, b in zip(warmup, warmup[1:], strict=False))
    assert all(a >= b for a, b in zip(decay, decay[1:], strict=False))
    assert seen[-1] < 0.05 * lr


def test_label_smoothing_changes_the_loss(tiny_folder):
    cfg = tiny_config(tiny_folder)
    smooth = tiny_config(tiny_folder, "loss.label_smoothing=0.2")
    data = GenreDataModule(settings(cfg, "data"))
    net = build_network(cfg, data.genres)
    logits, targets = torch.tensor([[4.0, 0.0, 0.0]]), torch.tensor([0])
    plain = build_module(cfg, net, None).task.loss(logits, targets)
    smoothed = build_module(smooth, net, None).task.loss(logits, targets)
    assert float(smoothed) > float(plain) + 0.1


# --- callbacks -----------------------------------------------------------------------------


@pytest.mark.slow
def test_early_stopping_ends_a_run_that_stops_improving(tiny_folder, tmp_path):
    # With a learning rate of 0 the objective never improves after the first epoch.
    cfg = tiny_config(
        tiny_folder, "optim.lr=0", "training.early_stopping=2", "trainer.max_epochs=20"
    )
    trainer, _, _ = fit(cfg, tmp_path)
    assert trainer.current_epoch == 3  # the first epoch, then 2 without improvement


def test_ema_weights_are_validated_kept_and_restored(tiny_folder, tmp_path):
    cfg = tiny_config(tiny_folder, "training.ema_decay=0.5", "trainer.max_epochs=2")
    trainer, module, checkpoint = fit(cfg, tmp_path)
    saved = torch.load(checkpoint.best_model_path, map_location="cpu", weights_only=True)
    name = next(k for k in saved["state_dict"] if k.endswith("weight") and "classifier" in k)
    # The checkpoint holds the average; the raw weights of the last step sit beside it.
    assert not torch.equal(saved["state_dict"][name], saved["current_model_state"][name])
    (ema,) = [c for c in trainer.callbacks if isinstance(c, EMAWeightAveraging)]
    # After fitting, the module holds the average too.
    assert torch.equal(module.state_dict()[name], ema._average_model.module.state_dict()[name])


# --- balancing and mixup with the sampler ----------------------------------------------------


@pytest.fixture(scope="module")
def skewed(tmp_path_factory) -> Path:
    """Three genres of 12, 4 and 4 clips with a fixed split column, as a csv."""
    import soundfile as sf

    root = tmp_path_factory.mktemp("skewed")
    rows = ["path,genre,split"]
    for genre, count, freq in (("Big", 12, 300.0), ("Small", 4, 900.0), ("Tiny", 4, 2500.0)):
        for i in range(count):
            t = np.arange(3 * RATE) / RATE
            # A pitch per clip: identical audio would be dropped as duplicates.
            pitch = freq * (1 + 0.02 * i)
            sf.write(root / f"{genre}{i}.wav", 0.3 * np.sin(2 * np.pi * pitch * t), RATE)
            split = "val" if i == 0 else "test" if i == 1 else "train"
            rows.append(f"{genre}{i}.wav,{genre},{split}")
    (root / "clips.csv").write_text("\n".join(rows) + "\n")
    return root / "clips.csv"


def skewed_config(csv: Path, *overrides: str):
    return compose_config(
        ["data=csv", f"data.root={csv}", "data.clip_seconds=3", *TINY_RUN, *overrides]
    )


def test_class_weights_are_inverse_frequency(skewed):
    data = GenreDataModule(settings(skewed_config(skewed, "data.balance=weights"), "data"))
    assert data.class_counts().tolist() == [10, 2, 2]
    weights = data.class_weights()
    assert torch.allclose(weights, torch.tensor([14 / 30, 14 / 6, 14 / 6]))
    assert GenreDataModule(settings(skewed_config(skewed), "data")).class_weights() is None


def test_balanced_sampler_draws_genres_alike(skewed):
    data = GenreDataModule(settings(skewed_config(skewed, "data.balance=sampler"), "data"))
    data.load()
    torch.manual_seed(0)
    labels = torch.cat([targets for _ in range(40) for _, targets in data.train_dataloader()])
    share = torch.bincount(labels, minlength=3) / len(labels)
    assert torch.allclose(share, torch.full((3,), 1 / 3), atol=0.05)  # 10:2:2 on disk


@pytest.mark.slow
def test_mixup_trains_with_the_balanced_sampler(skewed, tmp_path):
    cfg = skewed_config(skewed, "data.balance=sampler", "augment.mixup=0.4")
    trainer, _, checkpoint = fit(cfg, tmp_path)
    assert trainer.current_epoch == 2
    assert np.isfinite(float(checkpoint.best_model_score))


# --- crops and divergence ------------------------------------------------------------------


def test_crops_of_padded_clips_stay_in_the_decoded_audio(skewed, tmp_path):
    # 3 s clips kept as 5 s: 2 s of padding each, which crops must not reach.
    data = GenreDataModule(settings(skewed_config(skewed, "data.clip_seconds=5"), "data"))
    data.load()
    dataset = data.train_dataloader().dataset
    assert set(dataset.last_start) == {2 * RATE}
    torch.manual_seed(0)
    for i in range(len(dataset)):
        wave, _ = dataset[i]
        assert wave.shape == (RATE,)
        assert wave[-100:].abs().max() > 0  # not padding
    crops, _ = data.val_dataloader().dataset[0]
    assert crops.shape == (2, RATE) and crops[-1, -100:].abs().max() > 0


class NotFinite(nn.Module):
    def __init__(self, n_classes: int):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(n_classes))

    def forward(self, x):
        return x.mean(dim=(1, 2, 3))[:, None] * self.scale * float("nan")


@pytest.mark.slow
def test_divergence_is_checked_per_epoch_without_a_per_step_sync(tiny_folder, tmp_path):
    cfg = tiny_config(tiny_folder, "trainer.max_epochs=3")
    calls = []

    def count_syncs(module):
        def wrapped(*args, **kwargs):
            calls.append(args)
            return original(*args, **kwargs)

        strategy = module.trainer.strategy
        original = strategy.reduce_boolean_decision
        strategy.reduce_boolean_decision = wrapped

    class Hook(pl.Callback):
        def on_fit_start(self, trainer, pl_module):
            count_syncs(pl_module)

    pl.seed_everything(0, verbose=False)
    data = GenreDataModule(settings(cfg, "data"))
    module = build_module(cfg, build_network(cfg, data.genres), None)
    checkpoint, callbacks = build_callbacks(cfg, tmp_path)
    cfg.trainer.update({"enable_model_summary": False})
    trainer = build_trainer(cfg, [*callbacks, Hook()], tmp_path)
    trainer.fit(module, datamodule=data)
    steps = trainer.global_step
    assert steps >= 9
    assert len(calls) <= trainer.current_epoch  # ModelCheckpoint's, one per epoch at most

    module.net.classifier = NotFinite(3)
    trainer = build_trainer(cfg, build_callbacks(cfg, tmp_path / "nan")[1], tmp_path / "nan")
    with pytest.raises(GenreError, match=r"not finite \(nan\) in epoch 0: the run diverged"):
        trainer.fit(module, datamodule=data)


# --- through the entry point ----------------------------------------------------------------


@pytest.mark.slow
def test_a_chunk_longer_than_most_clips_is_one_sentence(tiny_folder, tmp_path):
    result = run_module(
        "genre.train",
        "data=folder",
        f"data.root={tiny_folder}",
        "data.clip_seconds=5",
        "data.chunk_seconds=3.5",
        f"mlflow.tracking_uri=sqlite:///{tmp_path}/mlflow.db",
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("genre: ")]
    assert "shorter than data.chunk_seconds=3.5 (median 3.00 s)" in line
    assert "data.chunk_seconds=3" in line
    assert "Traceback" not in result.stderr


def test_fast_dev_run_fits_and_tests_the_module(tiny_folder):
    cfg = tiny_config(tiny_folder)
    data = GenreDataModule(settings(cfg, "data"))
    module = build_module(cfg, build_network(cfg, data.genres), None)
    trainer = pl.Trainer(
        fast_dev_run=True, logger=False, enable_progress_bar=False, enable_model_summary=False
    )
    trainer.fit(module, datamodule=data)
    (results,) = trainer.test(module, datamodule=data, verbose=False)
    assert set(results) >= {"test/acc", "test/macro_f1", "test/balanced_acc", "test/loss"}
    assert module.test_result.shape == (3, 3) and int(module.test_result.sum()) > 0
