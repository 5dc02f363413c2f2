"""Every config value with a range or a set of choices, one bad value each, through the real
entry point in this process (``genre.train.main``, as ``python -m genre.train`` runs it): one
sentence on stderr naming the key, exit status 2, nothing started."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
import torch
from helpers import exit_2_in_process, write_genre_folder

FOLDER = ["data=folder", "data.root=/nowhere"]  # never read: validation comes first
CASES = [
    # data
    (["data.sample_rate=0"], "data.sample_rate=0"),
    (["data.clip_seconds=0"], "data.clip_seconds=0"),
    (["data.min_seconds=-1"], "data.min_seconds=-1"),
    (["data.chunk_seconds=0"], "data.chunk_seconds=0"),
    (["data.chunk_seconds=40"], "data.chunk_seconds=40"),  # longer than clip_seconds
    (["data.eval_crops=0"], "data.eval_crops=0"),
    (["data.eval_crops=every"], "data.eval_crops"),
    (["data.hop_seconds=0"], "data.hop_seconds=0"),
    (["data.hop_seconds=4"], "data.hop_seconds=4"),  # longer than a crop: windows would skip
    (["embed.batch_size=0"], "embed.batch_size=0"),
    (["data.conflicts=maybe"], "Unknown data.conflicts 'maybe'"),
    (["data.val_fraction=1.5"], "data.val_fraction=1.5"),
    (["data.test_fraction=0.9"], "data.test_fraction=0.9"),  # with val_fraction 0.15
    (["data.balance=oversample"], "data.balance"),
    (["data.batch_size=0"], "data.batch_size=0"),
    (["data.num_workers=-1"], "data.num_workers=-1"),
    (["data.decode_workers=-1"], "data.decode_workers=-1"),
    (["data=synth", "data.clips_per_genre=1"], "data.clips_per_genre=1"),
    (["data=synth", "data.difficulty=1.5"], "data.difficulty=1.5"),
    (["data=synth", "data.mp3_share=2"], "data.mp3_share=2"),
    (["data=fma", "data.subset=tiny"], "data.subset"),
    (["data.cache_dir=/dev/null/cache"], "data.cache_dir=/dev/null/cache cannot be created"),
    # a folder that exists but takes no new entry, not even root's (a read-only mount alike)
    (["data.cache_dir=/sys/fs"], "data.cache_dir=/sys/fs is not writable"),
    # features
    (["features.kind=cqt"], "features.kind"),
    (["features.n_fft=8"], "features.n_fft=8"),
    (["features.n_fft=65536"], "features.n_fft=65536 is longer than a crop"),
    (["features.hop_length=0"], "features.hop_length=0"),
    (["features.win_length=1"], "features.win_length=1"),
    (["features.n_mels=0"], "features.n_mels=0"),
    # empty mel filters: more than n_fft=1024 has bins up to 8 kHz at 16 kHz
    (["features.n_mels=1000"], "features.n_mels=1000 is more mel filters than features.n_fft"),
    (["features.f_min=-1"], "features.f_min=-1"),
    (["features.f_min=4000", "features.f_max=3000"], "features.f_max=3000"),
    (["features.f_max=12000"], "features.f_max=12000 is above 8000 Hz"),
    (["features.scale=bark"], "features.scale"),
    (["features.top_db=0"], "features.top_db=0"),
    (["features.log_gain=0"], "features.log_gain=0"),
    (["features.normalize=global"], "features.normalize"),
    (["features.mel_scale=erb"], "features.mel_scale"),
    (["features.mel_norm=area"], "features.mel_norm"),
    (["features.pad_mode=wrap"], "features.pad_mode"),
    (["features.power_dtype=float64"], "features.power_dtype"),
    (["features.freq_masks=-1"], "features.freq_masks=-1"),
    (["features.freq_mask=-1"], "features.freq_mask=-1"),
    (["features.time_masks=-1"], "features.time_masks=-1"),
    (["features.time_mask=-1"], "features.time_mask=-1"),
    # models
    (["model.dropout=1.5"], "model.dropout=1.5"),
    (["model.kernel_size=0"], "model.kernel_size=0"),
    (["model.channels=[8,16]"], "model.channels=[8, 16] must list three widths"),
    (["model=cnn", "model.depth=0"], "model.depth=0"),
    (["model=cnn", "model.width=0"], "model.width=0"),
    (["model=cnn", "model.max_width=8"], "model.max_width=8"),
    (["model=cnn", "model.pool=min"], "model.pool"),
    (["model=resnet", "model.n_blocks=0"], "model.n_blocks=0"),
    (["model=resnet", "model.channels=0"], "model.channels=0"),
    (["model=musicnn", "model.arch=resnet"], "model.arch"),
    (["model=musicnn", "model.variant=fma"], "model.variant"),
    (["model=musicnn", "model.freeze=some"], "model.freeze"),
    (["model=musicnn", "model.embedding=pool"], "model.embedding"),
    (["model=musicnn", "model.embedding=max_pool+logits"], "Unknown model.embedding 'logits'"),
    (["model=musicnn", "model.variant=msd+msd"], "model.variant=msd+msd names a member twice"),
    (["model=musicnn", "model.head_layers=0"], "model.head_layers=0"),
    (["model=musicnn", "model.clip_pool=median"], "model.clip_pool"),
    (["model=musicnn", "model.head_hidden=-1"], "model.head_hidden=-1"),
    (["model=musicnn", "model.head_dropout=1.5"], "model.head_dropout=1.5"),
    (["model=musicnn", "model.pretrained_lr=-1"], "model.pretrained_lr=-1"),
    # optimiser, trainer, objective
    (["optim.lr=-1"], "optim.lr=-1"),
    (["optim.weight_decay=-1"], "optim.weight_decay=-1"),
    (["optim=sgd", "optim.momentum=1.5"], "optim.momentum=1.5"),
    (["optim.schedule=step"], "optim.schedule"),
    (["optim.warmup_epochs=-1"], "optim.warmup_epochs=-1"),
    (["optim.warmup_epochs=20"], "optim.warmup_epochs=20"),  # beyond trainer.max_epochs
    (["trainer.max_epochs=0"], "trainer.max_epochs=0"),
    (["trainer.devices=4096"], "trainer.devices=4096 asks for more"),  # before any process
    (["+trainer.max_epoch=3"], "trainer.max_epoch is not a setting of trainer"),
    (
        ["trainer.enable_progress_bar=maybe"],
        "Unknown trainer.enable_progress_bar 'maybe': choose one of true, false, null.",
    ),
    (["+optim.lrr=0.1"], "optim.lrr is not a setting of optim=adam: did you mean optim.lr?"),
    (["+model.dropuot=0.1"], "did you mean model.dropout?"),
    (["seed=-1"], "seed=-1 is out of range"),
    (["seed=4294967296"], "seed=4294967296 is out of range"),
    (["objective=val/loss"], "objective"),
    # tasks
    (["task.name=regression"], "Unknown task 'regression'"),
    (["task=tagging", "objective=val/macro_f1"], "objective=val/macro_f1 is not a metric of task"),
    (["objective=val/pr_auc"], "objective=val/pr_auc is not a metric of task=genre"),
    (["task=tagging", "data.balance=sampler"], "data.balance=sampler balances genres"),
    (["task=tagging", "loss.label_smoothing=0.1"], "loss.label_smoothing smooths one genre"),
    (["data=mtat", "data.top_tags=0"], "data.top_tags=0"),
    (["data=fma", "data.min_tag_tracks=0"], "data.min_tag_tracks=0"),
    (["model=resnet", "model.downsample=conv"], "model.downsample"),
    (["model=resnet", "model.widths=[]"], "model.widths (number of blocks)=0"),
    # training-time options
    (["augment.mixup=-1"], "augment.mixup=-1"),
    (["augment.gain_db=-3"], "augment.gain_db=-3"),
    (["augment.shift=2"], "augment.shift=2"),
    (["training.early_stopping=0"], "training.early_stopping=0"),
    (["training.ema_decay=1.5"], "training.ema_decay=1.5"),
    (["loss.label_smoothing=1"], "loss.label_smoothing=1"),
]
if not torch.cuda.is_available():
    CASES.append((["trainer=gpu"], "trainer.accelerator=gpu, but this machine has no usable GPU"))


@pytest.mark.parametrize(("overrides", "expected"), CASES, ids=lambda c: " ".join(c))
def test_each_bad_value_is_one_sentence_and_exit_2(
    overrides: list[str],
    expected: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    argv = [*FOLDER, *overrides, f"mlflow.tracking_uri={uri}"]
    argv += [f"hydra.run.dir={tmp_path}/run", "hydra.output_subdir=null"]
    (line,) = exit_2_in_process(argv, monkeypatch, capsys).strip().splitlines()
    assert line.startswith("genre: ") and expected in line, line
    assert not (tmp_path / "mlflow.db").exists()  # stopped before any run was opened


# Hydra's own refusals while composing: it prints them; genre makes the exit status a user
# error's.
COMPOSITION = [
    (["model=nope"], "Could not find 'model/nope'"),
    (["sweeps=nope"], "Could not find 'sweeps/nope'"),
    (["features.n_mels=many"], "features.n_mels"),
    (["data.sample_rate=16kHz"], "data.sample_rate"),
    (["optim.lrr=0.1"], "optim.lrr"),
]


@pytest.mark.parametrize(("overrides", "expected"), COMPOSITION, ids=lambda c: " ".join(c))
def test_hydra_composition_errors_exit_2(
    overrides: list[str],
    expected: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    argv = [*overrides, f"hydra.run.dir={tmp_path}/run", "hydra.output_subdir=null"]
    stderr = exit_2_in_process(argv, monkeypatch, capsys)
    assert expected in stderr, stderr


def _one_genre(root: Path) -> list[str]:
    write_genre_folder(root / "clips", {"Jazz": 440.0}, 4, 1.5)
    return ["data=folder", f"data.root={root / 'clips'}"]


def _header_only(root: Path) -> list[str]:
    (root / "clips.csv").write_text("path,genre\n")
    return ["data=csv", f"data.root={root / 'clips.csv'}"]


def _root_is_a_file(root: Path) -> list[str]:
    (root / "a.wav").write_bytes(b"RIFF")
    return ["data=folder", f"data.root={root / 'a.wav'}"]


def _one_clip_genre(root: Path) -> list[str]:
    write_genre_folder(root / "clips", {"Jazz": 440.0, "Rock": 900.0}, 4, 1.5)
    for extra in range(1, 4):
        (root / "clips" / "Rock" / f"clip {extra}.wav").unlink(missing_ok=True)
        (root / "clips" / "Rock" / f"clip {extra}.mp3").unlink(missing_ok=True)
    return ["data=folder", f"data.root={root / 'clips'}"]


DATA_SHAPES = [
    (_one_genre, "has one genre (Jazz) among its usable clips"),
    (_header_only, "has a header but no rows"),
    (lambda root: ["data=folder", f"data.root={root / 'nowhere'}"], "does not exist"),
    (_root_is_a_file, "is not a folder"),
    (_one_clip_genre, "only 1 clip(s)"),
]


@pytest.mark.parametrize(("make", "expected"), DATA_SHAPES, ids=lambda c: getattr(c, "__name__", c))
def test_data_that_cannot_train_is_one_sentence_and_no_run(
    make, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """A dataset's shape is checked before the MLflow run opens: a typo leaves no FAILED run."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    argv = [*make(tmp_path), "data.clip_seconds=1.5", "data.chunk_seconds=1"]
    argv += ["data.min_seconds=0.5"]
    argv += [f"mlflow.tracking_uri={uri}", f"data.cache_dir={tmp_path}/cache"]
    argv += [f"hydra.run.dir={tmp_path}/run", "hydra.output_subdir=null"]
    stderr = exit_2_in_process(argv, monkeypatch, capsys)
    (line,) = [x for x in stderr.splitlines() if x.startswith("genre: ")]  # beside the progress
    assert expected in line, line
    client = mlflow.MlflowClient(uri)
    assert client.search_runs([e.experiment_id for e in client.search_experiments()]) == []
