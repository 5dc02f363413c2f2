"""A training run in MLflow: the run itself (started, ended with its outcome, and a do-nothing
twin for DDP ranks other than 0), its params, config, data, per-epoch metrics, test report and
model."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from secrets import token_hex
from typing import TYPE_CHECKING

import lightning.pytorch as pl
import matplotlib
import mlflow
import numpy as np
import optuna
import pandas as pd
import torch
from omegaconf import DictConfig, OmegaConf
from sklearn.metrics import classification_report

from genre import mlflow_model
from genre.model.net import GenreNet
from genre.saved_model import save_network
from genre.util import git_version, without_password
from hydra_plugins.genre_optuna_sweeper.job import RUN_ID_ATTR

if TYPE_CHECKING:
    from genre.data.datamodule import GenreDataModule
    from genre.model.module import GenreClassifier

matplotlib.use("Agg")  # runs headless, in worker processes too
import matplotlib.pyplot as plt  # noqa: E402

COMMIT_TAG = "mlflow.source.git.commit"
DIRTY_TAG = "genre.code_dirty"
FINGERPRINT_TAG = "data.fingerprint"
THREADS_TAG = "genre.torch_threads"


class Run:
    """The MLflow run of a training run, as rank 0 keeps it."""

    def __init__(self, run_id: str):
        self.run_id: str | None = run_id

    def log_setup(self, cfg: DictConfig, data: GenreDataModule) -> None:
        """The config (as params and as a file) and what the data were."""
        shown = logged_config(cfg)
        mlflow.set_tag(FINGERPRINT_TAG, data.cache.fingerprint)
        mlflow.log_params(flat_params(shown))
        mlflow.log_text(OmegaConf.to_yaml(shown), "config.yaml")
        mlflow.log_text(data.cache.rejected.to_csv(index=False), "data/rejected.csv")
        counts = data.clips.groupby(["genre", "split"]).size().unstack(fill_value=0)
        mlflow.log_text(counts.to_csv(), "data/clips_per_split.csv")

    def callbacks(self) -> list[pl.Callback]:
        return [MlflowMetrics(self.run_id)]

    def log_results(
        self, cfg: DictConfig, module: GenreClassifier, best: float, test: dict | None
    ) -> None:
        """The best objective, the test metrics and report (where there was a test split), and
        the model."""
        if test is not None:
            mlflow.log_metrics({name: float(value) for name, value in test.items()})
            log_test_report(module.net.genres, module.test_matrix.numpy())
        mlflow.log_metric(f"best_{cfg.objective}", best)
        log_model(module.net, logged_config(cfg))


class NoRun(Run):
    """The do-nothing twin, for DDP ranks other than 0: rank 0 keeps every record."""

    def __init__(self) -> None:
        self.run_id = None

    def log_setup(self, cfg: DictConfig, data: GenreDataModule) -> None:
        pass

    def callbacks(self) -> list[pl.Callback]:
        return []

    def log_results(
        self, cfg: DictConfig, module: GenreClassifier, best: float, test: dict | None
    ) -> None:
        pass


@contextmanager
def tracked_run(cfg: DictConfig, trial: optuna.Trial | None, tags: dict[str, str]) -> Iterator[Run]:
    """An MLflow run for the block, in ``cfg.mlflow``'s store and experiment (a child of the
    sweep's parent run, if any), ended FINISHED, or KILLED (pruned, interrupted) or FAILED with
    the error as a tag; the trial learns the run's id."""
    mlflow.set_tracking_uri(cfg.mlflow.tracking_uri)
    mlflow.set_experiment(cfg.mlflow.experiment)
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
    """The resolved config as a run records it: the study storage's password masked, since a
    sweep hands every job the full URL."""
    shown = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    if OmegaConf.select(shown, "optuna.storage"):
        shown.optuna.storage = without_password(shown.optuna.storage)
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
                "genres": net.genres,
                "sample_rate": net.sample_rate,
                "chunk_samples": net.chunk_samples,
            },
        )


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
    mlflow.log_metrics({f"test/f1/{g}": report[g]["f1-score"] for g in genres})
    mlflow.log_figure(confusion_figure(matrix, genres), "confusion_matrix.png")


def confusion_figure(matrix: np.ndarray, genres: list[str]) -> plt.Figure:
    """Row-normalised (recall per true genre) with the raw counts written in each cell."""
    recall = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    size = 1.0 + 0.6 * len(genres)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    image = ax.imshow(recall, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(genres)), genres, rotation=45, ha="right")
    ax.set_yticks(range(len(genres)), genres)
    ax.set_xlabel("predicted genre")
    ax.set_ylabel("true genre")
    for (i, j), count in np.ndenumerate(matrix):
        if count:
            colour = "white" if recall[i, j] > 0.6 else "black"
            ax.text(j, i, str(count), ha="center", va="center", color=colour, fontsize=8)
    fig.colorbar(image, ax=ax, label="share of the true genre's test clips")
    ax.set_title(f"Test confusion matrix ({matrix.sum()} clips)")
    fig.tight_layout()
    plt.close(fig)
    return fig
