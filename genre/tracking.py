"""What a run leaves in MLflow beside its metrics: flattened params, code version, figures and
the per-class report."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import lightning.pytorch as pl
import matplotlib
import mlflow
import numpy as np
import pandas as pd
import torch
from omegaconf import DictConfig, OmegaConf
from sklearn.metrics import classification_report

from genre import mlflow_model
from genre.module import GenreNet
from genre.saved_model import save_network
from genre.study import display_storage

matplotlib.use("Agg")  # runs headless, in worker processes too
import matplotlib.pyplot as plt  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parents[1]


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
        shown.optuna.storage = display_storage(shown.optuna.storage)
    return shown


def code_version() -> dict[str, str]:
    """Git commit of the project and whether the tree had uncommitted changes."""

    def git(*args: str) -> str:
        result = subprocess.run(
            ["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False
        )
        return result.stdout.strip() if result.returncode == 0 else ""

    commit = git("rev-parse", "HEAD") or "unknown"
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    return {"mlflow.source.git.commit": commit, "genre.code_dirty": str(dirty).lower()}


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
