"""A training run in MLflow: the run itself (started, ended with its outcome, and a do-nothing
twin for DDP ranks other than 0), its params, config, data, per-epoch metrics, test report and
model."""

from __future__ import annotations

import re
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from secrets import token_hex
from typing import TYPE_CHECKING

import lightning.pytorch as pl
import mlflow
import numpy as np
import optuna
import pandas as pd
import torch
from mlflow.data.dataset_source_registry import resolve_dataset_source
from mlflow.exceptions import MlflowException
from omegaconf import DictConfig, OmegaConf
from sklearn.metrics import classification_report

from genre import mlflow_model
from genre.errors import GenreError, tracking_reason
from genre.figures import (
    PER_GENRE,
    confusion_figure,
    inputs_figure,
    learning_curves_figure,
    tag_scores_figure,
)
from genre.model.net import GenreNet
from genre.model.spectrogram import Spectrogram
from genre.saved_model import save_network
from genre.study_run import RUN_ID_ATTR
from genre.util import (
    credentials_to_environment,
    git_version,
    mlflow_fail_fast,
    ui_link,
    without_password,
)

if TYPE_CHECKING:
    from genre.data.datamodule import GenreDataModule
    from genre.model.module import GenreClassifier

COMMIT_TAG = "mlflow.source.git.commit"
DIRTY_TAG = "genre.code_dirty"
FINGERPRINT_TAG = "data.fingerprint"
INPUT_TAG = "genre.training_input"  # cached embeddings or audio, and why (genre.embed.plan)
THREADS_TAG = "genre.torch_threads"
MAX_TAG_ROWS = 12  # the inputs figure of a tagging run shows clips of this many tags at most
DESCRIPTION_TAG = "mlflow.note.content"  # the run's description in the MLflow UI
# Marks the experiment as model training, so MLflow 3's UI asks no "which kind?" question; which
# view opens is the browser's choice in 3.17, hence genre's links (genre.util.ui_link).
EXPERIMENT_KIND_TAG, MODEL_TRAINING = "mlflow.experimentKind", "custom_model_development"


class Run:
    """The MLflow run of a training run, as rank 0 keeps it."""

    def __init__(self, run_id: str):
        self.run_id: str | None = run_id

    def log_setup(
        self, cfg: DictConfig, data: GenreDataModule, net: GenreNet, trained_on: str
    ) -> None:
        """The config (as params and as a file), what the data were (as the run's inputs, one
        per split), what the network trained on (cached embeddings or audio), a description,
        and a figure of what the network sees."""
        shown = logged_config(cfg)
        mlflow.set_tags({FINGERPRINT_TAG: data.cache.fingerprint, INPUT_TAG: trained_on})
        mlflow.log_params(flat_params(shown))
        mlflow.log_text(OmegaConf.to_yaml(shown), "config.yaml")
        # The cache's own file, byte for byte: names that are not UTF-8 survive.
        mlflow.log_artifact(str(data.cache.path / "rejected.csv"), "data")
        mlflow.log_text(data.counts_per_split().to_csv(), "data/clips_per_split.csv")
        log_dataset(cfg.data, data)
        mlflow.set_tag(DESCRIPTION_TAG, describe(cfg, data))
        log_inputs_figure(net, data, spectrogram_text(cfg))

    def callbacks(self) -> list[pl.Callback]:
        return [MlflowMetrics(self.run_id)]

    def log_results(
        self,
        cfg: DictConfig,
        net: GenreNet,
        module: GenreClassifier,
        best: float,
        test: dict | None,
    ) -> None:
        """The best objective, the test metrics and report (where there was a test split), and
        the model: the waveform network ``net``, whatever ``module`` trained."""
        if test is not None:
            mlflow.log_metrics({name: float(value) for name, value in test.items()})
            if net.multilabel:
                log_tag_report(net.genres, module.test_result)
            else:
                log_test_report(net.genres, module.test_result.numpy())
        mlflow.log_metric(f"best_{cfg.objective}", best)
        description = mlflow.get_run(self.run_id).data.tags.get(DESCRIPTION_TAG, "")
        mlflow.set_tag(DESCRIPTION_TAG, f"{description} · best {cfg.objective} {best:.3f}")
        log_learning_curves(self.run_id, cfg.objective)
        log_model(net, logged_config(cfg))


class NoRun(Run):
    """The do-nothing twin, for DDP ranks other than 0: rank 0 keeps every record."""

    def __init__(self) -> None:
        self.run_id = None

    def log_setup(
        self, cfg: DictConfig, data: GenreDataModule, net: GenreNet, trained_on: str
    ) -> None:
        pass

    def callbacks(self) -> list[pl.Callback]:
        return []

    def log_results(
        self,
        cfg: DictConfig,
        net: GenreNet,
        module: GenreClassifier,
        best: float,
        test: dict | None,
    ) -> None:
        pass


@contextmanager
def tracked_run(cfg: DictConfig, trial: optuna.Trial | None, tags: dict[str, str]) -> Iterator[Run]:
    """An MLflow run for the block, in ``cfg.mlflow``'s store and experiment (a child of the
    sweep's parent run, if any), ended FINISHED, or KILLED (pruned, interrupted) or FAILED with
    the error as a tag; the trial learns the run's id."""
    open_tracking(cfg)
    tags = {
        **version_tags(),
        # CPU sums are split by thread: reproduce uses the same count to match exactly.
        THREADS_TAG: str(torch.get_num_threads()),
        **tags,
    }
    if cfg.mlflow.parent_run_id:
        tags["mlflow.parentRunId"] = cfg.mlflow.parent_run_id
    if trial is not None:
        tags["optuna.trial_number"] = str(trial.number)
        tags["optuna.study_name"] = trial.study.study_name
    # seed_everything also seeds MLflow's name generator: name runs from a fresh token.
    name = cfg.mlflow.run_name or f"{cfg.model.name}-{cfg.features.name}-{token_hex(3)}"
    run = mlflow.start_run(run_name=name, tags=tags)
    if trial is not None:
        trial.set_user_attr(RUN_ID_ATTR, run.info.run_id)
    try:
        yield Run(run.info.run_id)
    except optuna.TrialPruned:
        mlflow.set_tag("trial_state", "PRUNED")
        mlflow.end_run("KILLED")
        raise
    except BaseException as exc:
        mlflow.set_tags({"trial_state": "FAIL", "error": f"{type(exc).__name__}: {exc}"[:5000]})
        mlflow.end_run("KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED")
        raise
    mlflow.set_tag("trial_state", "COMPLETE")
    mlflow.end_run("FINISHED")


def open_tracking(cfg: DictConfig) -> None:
    """Point MLflow at ``cfg.mlflow``'s store and experiment, failing fast with one sentence."""
    # A URI from a config file may still hold credentials (the command line's never reaches
    # here with them): MLflow takes them from the environment.
    mlflow.set_tracking_uri(credentials_to_environment(str(cfg.mlflow.tracking_uri)))
    try:
        with mlflow_fail_fast():
            open_experiment(cfg.mlflow.experiment)
    except MlflowException as exc:
        raise GenreError(
            f"Cannot use the MLflow store at {without_password(str(cfg.mlflow.tracking_uri))}: "
            f"{tracking_reason(exc)}."
        ) from exc


def open_experiment(name: str) -> str:
    """Make ``name`` the active experiment (created if new), marked as model training so that
    MLflow's UI opens it on its runs; its id."""
    experiment = mlflow.set_experiment(name)
    if experiment.tags.get(EXPERIMENT_KIND_TAG) is None:
        mlflow.MlflowClient().set_experiment_tag(
            experiment.experiment_id, EXPERIMENT_KIND_TAG, MODEL_TRAINING
        )
    return experiment.experiment_id


def dataset_name(data: DictConfig) -> str:
    """``source:folder-or-file name``, e.g. ``gtzan:gtzan_excerpts`` or ``synth``."""
    root = data.get("root")
    return f"{data.source}:{Path(str(root)).name}" if root else str(data.source)


def log_dataset(data_cfg: DictConfig, data: GenreDataModule) -> None:
    """The clips as the run's input: named after the dataset, its source the dataset root (or
    csv), its digest the cache fingerprint, one row per clip, the clips per split as tags."""
    root = data_cfg.get("root")
    path = str(Path(str(root)).expanduser().absolute()) if root else str(data.cache.path)
    with warnings.catch_warnings():
        # MLflow 3.17 registers its local-artifact source class twice and warns that a path
        # "can be interpreted in multiple ways" (both the same class).
        warnings.filterwarnings("ignore", message="The specified dataset source can be")
        source = resolve_dataset_source(path)
    columns = (
        ["clip_id", "genre", "split", "tags"] if data.tagging else ["clip_id", "genre", "split"]
    )
    dataset = mlflow.data.from_pandas(
        data.clips[columns].reset_index(drop=True),
        source=source,
        targets="tags" if data.tagging else "genre",
        name=dataset_name(data_cfg),
        digest=data.cache.fingerprint,
    )
    counts = data.clips["split"].value_counts()
    tags = {f"{split} clips": str(counts.get(split, 0)) for split in ("train", "val", "test")}
    mlflow.log_input(dataset, context="training", tags=tags)


def spectrogram_text(cfg: DictConfig) -> str:
    """The run's spectrogram in a few words."""
    f = cfg.features
    if OmegaConf.select(cfg, "model.name") == "musicnn":
        return "musicnn's own mel front end (96 mels, 16 kHz)"
    band = "Nyquist" if f.f_max is None else f"{float(f.f_max):g} Hz"
    bins = f"{f.n_mels} mels, " if f.kind == "mel" else ""
    return f"{f.kind} (n_fft {f.n_fft}, {bins}up to {band}, {f.scale})"


def describe(cfg: DictConfig, data: GenreDataModule) -> str:
    """One line for the run's description: network, spectrogram, data (and for tagging, how
    many tags)."""
    counts = data.clips["split"].value_counts()
    split = "/".join(str(counts.get(s, 0)) for s in ("train", "val", "test"))
    tags = f", {len(data.tags)} tags" if data.tagging else ""
    return (
        f"{cfg.model.name} on {spectrogram_text(cfg)} · {dataset_name(cfg.data)}: "
        f"{len(data.clips)} clips ({split} train/val/test){tags}"
    )


def log_inputs_figure(net: GenreNet, data: GenreDataModule, what: str) -> None:
    """A few training clips per genre (for tagging, of the most frequent tags), a crop from the
    middle of each, as the network's spectrogram layer sees them (eval mode: no SpecAugment),
    with the run's settings."""
    spectrogram = next(m for m in net.spectrogram.modules() if isinstance(m, Spectrogram))
    rows, labels = data.split_rows("train")
    # One boolean column per label: which training clips have it.
    has = labels.astype(bool) if net.multilabel else labels[:, None] == np.arange(len(net.genres))
    shown = np.argsort(-has.sum(0), kind="stable")[:MAX_TAG_ROWS] if net.multilabel else None
    audio, seconds = data.cache.audio, data.cache.clips["seconds"].to_numpy()
    chunk, rate = net.chunk_samples, net.sample_rate
    images: dict[str, np.ndarray] = {}
    was_training = net.spectrogram.training
    net.spectrogram.eval()
    with torch.no_grad():
        for index, genre in enumerate(net.genres):
            if shown is not None and index not in shown:
                continue
            crops = []
            for row in rows[has[:, index]][:PER_GENRE]:
                valid = min(int(seconds[row] * rate), audio.shape[1])
                start = max(0, (valid - chunk) // 2)
                crops.append(torch.from_numpy(np.array(audio[row, start : start + chunk])))
            if crops:
                images[genre] = net.spectrogram(torch.stack(crops).float())[:, 0].numpy()
    net.spectrogram.train(was_training)
    figure = inputs_figure(
        images,
        spectrogram.frequencies,
        spectrogram.seconds_per_frame,
        f"What the network sees: {what}",
    )
    mlflow.log_figure(figure, "inputs.png")


def log_learning_curves(run_id: str, objective: str) -> None:
    client = mlflow.MlflowClient()
    curves = {
        name: [(m.step, m.value) for m in client.get_metric_history(run_id, name)]
        for name in ("train/loss", "val/loss", objective)
    }
    mlflow.log_figure(
        learning_curves_figure(curves, objective, "Learning curves"), "learning_curves.png"
    )


def run_summary(cfg: DictConfig, run_id: str) -> str:
    """What a single run prints when it ends: its scores, its id, and how to open it."""
    run = mlflow.MlflowClient().get_run(run_id)
    metrics = run.data.metrics
    scores = [f"best {cfg.objective} {metrics[f'best_{cfg.objective}']:.4f}"]
    scores += [
        f"{name} {value:.4f}"
        for name, value in sorted(metrics.items())
        if name.startswith("test/") and name.count("/") == 1 and name != "test/loss"
    ]
    where = ui_link(str(cfg.mlflow.tracking_uri), run.info.experiment_id, run_id)
    return f"Run {run_id} ({run.info.run_name}): {', '.join(scores)}\n  see it: {where}"


def version_tags() -> dict[str, str]:
    """The code version as tags: the git commit, and whether tracked files had changes."""
    version = git_version()
    return {
        COMMIT_TAG: version["commit"] or "unknown",
        DIRTY_TAG: str(bool(version["dirty"])).lower(),
    }


def flat_params(cfg: DictConfig) -> dict[str, str]:
    """``{"data.batch_size": "32", ...}``: every config value, as the MLflow UI compares them."""
    out: dict[str, str] = {}

    def walk(node, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}{key}.")
        else:
            out[prefix[:-1]] = str(node)[:6000]

    walk(OmegaConf.to_container(cfg, resolve=True), "")
    return out


def logged_config(cfg: DictConfig) -> DictConfig:
    """The resolved config as a run records it: the study storage's and the tracking URI's
    passwords masked, wherever the URL came from."""
    shown = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    for key in ("optuna.storage", "mlflow.tracking_uri"):
        url = OmegaConf.select(shown, key)
        if url:
            OmegaConf.update(shown, key, without_password(str(url)))
    return shown


class MlflowMetrics(pl.Callback):
    """Per-epoch metrics into the active MLflow run, with the epoch as step."""

    def __init__(self, run_id: str):
        self.client, self.run_id = mlflow.MlflowClient(), run_id

    def _log(self, trainer: pl.Trainer, prefixes: tuple[str, ...]) -> None:
        metrics = [
            mlflow.entities.Metric(
                name,
                float(value),
                int(mlflow.utils.time.get_current_time_millis()),
                trainer.current_epoch,
            )
            for name, value in trainer.callback_metrics.items()
            if name.startswith(prefixes)
        ]
        if metrics:
            self.client.log_batch(self.run_id, metrics=metrics)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._log(trainer, ("train/",))

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._log(trainer, ("val/",))


def log_model(net: GenreNet, cfg: DictConfig) -> None:
    """The network as the run's MLflow model ``model``, logged as code (``genre.mlflow_model``)
    with the saved network (``genre.saved_model``) as its artifact: loading it runs no pickle,
    and pretrained weights it left unchanged are named by their checksum, not copied."""
    net = net.cpu().eval()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / mlflow_model.ARTIFACT
        save_network(net, cfg, folder)
        mlflow.pyfunc.log_model(
            name="model",
            python_model=mlflow_model.__file__,
            artifacts={mlflow_model.ARTIFACT: str(folder)},
            input_example=np.zeros((1, net.chunk_samples), dtype=np.float32),
            pip_requirements=[f"torch=={torch.__version__.split('+')[0]}", "torchaudio", "genre"],
            metadata={
                "task": "tagging" if net.multilabel else "genre",
                "genres": net.genres,
                "sample_rate": net.sample_rate,
                "chunk_samples": net.chunk_samples,
            },
        )


def metric_label(name: str) -> str:
    """A genre or tag as the last part of a metric name: MLflow allows letters, digits and
    ``_-. :`` there, and a slash would make another level ("Big Band/Swing")."""
    return re.sub(r"[^\w.\- :]", "_", name)


def log_tag_report(tags: list[str], result: dict[str, torch.Tensor]) -> None:
    """Each tag's test ROC-AUC and PR-AUC, with its frequency (PR-AUC's chance level), as a
    table (``per_tag.csv``), a figure (``tag_scores.png``) and ``test/roc_auc/<tag>`` and
    ``test/pr_auc/<tag>`` metrics, from the task's test details (all DDP processes' clips)."""
    table = pd.DataFrame(
        {"tag": tags, **{name: result[name].numpy() for name in ("roc_auc", "pr_auc", "frequency")}}
    )
    mlflow.log_text(table.to_csv(index=False, float_format="%.4f"), "per_tag.csv")
    mlflow.log_metrics(
        {
            f"test/{name}/{metric_label(tag)}": float(value)
            for name in ("roc_auc", "pr_auc")
            for tag, value in zip(tags, table[name], strict=True)
        }
    )
    mlflow.log_figure(tag_scores_figure(table), "tag_scores.png")


def log_test_report(genres: list[str], matrix: np.ndarray) -> None:
    """Confusion matrix figure, per-class precision/recall/F1 table and per-class F1 metrics, from
    the test confusion matrix (``[true, predicted]`` clip counts, all DDP processes' together)."""
    labels = list(range(len(genres)))
    # One (target, prediction) pair per counted clip: the report needs no more than the counts.
    cells = np.indices(matrix.shape).reshape(2, -1)
    targets, predictions = np.repeat(cells, matrix.ravel().astype(np.int64), axis=1)
    report = classification_report(
        targets,
        predictions,
        labels=labels,
        target_names=genres,
        output_dict=True,
        zero_division=0,
    )
    table = pd.DataFrame(report).T.rename_axis("genre").reset_index()
    mlflow.log_text(table.to_csv(index=False, float_format="%.4f"), "per_class.csv")
    mlflow.log_metrics({f"test/f1/{metric_label(g)}": report[g]["f1-score"] for g in genres})
    mlflow.log_figure(confusion_figure(matrix, genres), "confusion_matrix.png")
