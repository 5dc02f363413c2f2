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
from mlflow.data.dataset import Dataset
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
PRUNED_AT_TAG = "genre.pruned_at_epoch"
# Each split as the run's input, under MLflow's context names for training and evaluation data.
CONTEXTS = {"train": "training", "val": "validation", "test": "testing"}
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
        self.datasets: dict[str, Dataset] = {}  # the run's input per split, once logged

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
        self.datasets = log_datasets(cfg.data, data)
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
        best_epoch: int,
        test: dict | None,
    ) -> None:
        """The model (the waveform network ``net``, whatever ``module`` trained) with the best
        epoch's metrics, then the best objective and the test metrics and report (where there
        was a test split), which the model carries too, each with the split it was measured on.
        ``best_epoch``: the epoch of the checkpoint whose weights ``net`` holds."""
        model_id = log_model(net, logged_config(cfg), best_epoch)
        if test is not None:
            log_metrics(test, model_id, self.datasets.get("test"))
            if net.multilabel:
                log_tag_report(net.genres, module.test_result)
            else:
                log_test_report(net.genres, module.test_result.numpy())
        log_metrics({f"best_{cfg.objective}": best}, model_id, self.datasets.get("val"))
        description = mlflow.get_run(self.run_id).data.tags.get(DESCRIPTION_TAG, "")
        mlflow.set_tag(DESCRIPTION_TAG, f"{description} · best {cfg.objective} {best:.3f}")
        log_learning_curves(self.run_id, cfg.objective)


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
        best_epoch: int,
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
    name = cfg.mlflow.run_name or run_name(cfg, trial)
    # A run reproduced from a config older than the key monitors too.
    system_metrics = bool(OmegaConf.select(cfg, "mlflow.system_metrics", default=True))
    run = mlflow.start_run(run_name=name, tags=tags, log_system_metrics=system_metrics)
    try:
        # Inside: where the study refuses it (a trial a lost batch left behind), the run still
        # ends, and a process that runs the next jobs (a Ray worker) starts them afresh.
        if trial is not None:
            trial.set_user_attr(RUN_ID_ATTR, run.info.run_id)
        yield Run(run.info.run_id)
    except optuna.TrialPruned:
        mark_pruned(run.info.run_id, name, cfg.objective)
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


def run_name(cfg: DictConfig, trial: optuna.Trial | None) -> str:
    """The network and its spectrogram (musicnn hears its own), then for a trial its number and
    the values searched (``trial 3 · lr=0.00123 n_mels=64``), else a fresh token."""
    model = str(cfg.model.name)
    what = model if model == "musicnn" else f"{model}-{cfg.features.name}"
    if trial is None:
        # seed_everything also seeds MLflow's name generator: name runs from a fresh token.
        return f"{what}-{token_hex(3)}"
    params = trial.params
    short = [key.rsplit(".", 1)[-1] for key in params]
    values = " ".join(
        f"{key if short.count(part) > 1 else part}={shown_value(value)}"
        for key, part, value in zip(params, short, params.values(), strict=True)
    )
    return f"trial {trial.number} · {values or what}"[:250]


def shown_value(value: object) -> str:
    """A value for a name or a description: floats to 3 significant digits."""
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def mark_pruned(run_id: str, name: str, objective: str) -> None:
    """Say in the run's name and description where Optuna's pruner stopped it: MLflow has no
    such status, so the run ends KILLED, as an interrupted one does."""
    client = mlflow.MlflowClient()
    epochs = [m.step for m in client.get_metric_history(run_id, objective)]
    where = f"pruned at epoch {max(epochs)}" if epochs else "pruned before its first validation"
    description = client.get_run(run_id).data.tags.get(DESCRIPTION_TAG, "")
    mlflow.set_tags(
        {
            "trial_state": "PRUNED",
            PRUNED_AT_TAG: str(max(epochs)) if epochs else "none",
            DESCRIPTION_TAG: f"{description} · {where} by Optuna's pruner (ended KILLED: "
            "MLflow has no pruned status)",
        }
    )
    client.update_run(run_id, name=f"{name} · {where}"[:250])


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


def log_datasets(data_cfg: DictConfig, data: GenreDataModule) -> dict[str, Dataset]:
    """Each split's clips as one of the run's inputs, in MLflow's context for it (training,
    validation, testing): named ``<dataset>/<split>``, its source the dataset root (or csv), its
    digest the cache fingerprint, one row per clip; the inputs by split."""
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
    datasets = {}
    for split, context in CONTEXTS.items():
        clips = data.clips.loc[data.clips["split"] == split, columns]
        if clips.empty:
            continue
        datasets[split] = mlflow.data.from_pandas(
            clips.reset_index(drop=True),
            source=source,
            targets="tags" if data.tagging else "genre",
            name=f"{dataset_name(data_cfg)}/{split}",
            digest=data.cache.fingerprint,
        )
        mlflow.log_input(datasets[split], context=context, tags={"clips": str(len(clips))})
    return datasets


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
    units = {"db": "dB", "log": "ln(power)", "log1p": "log10(1 + gain · power)"}
    unit = units.get(spectrogram.scale, spectrogram.scale)
    if spectrogram.normalize == "instance":
        unit += ", standardised per clip"
    figure = inputs_figure(
        images,
        spectrogram.frequencies,
        spectrogram.seconds_per_frame,
        f"What the network sees: {what}",
        unit,
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


def metric_value(value: float | torch.Tensor) -> float:
    """A metric as MLflow keeps it (a double), without the float32 noise of a tensor's value
    (0.33333334, not 0.3333333432674408)."""
    value = float(value)
    single = np.float32(value)
    return float(str(single)) if float(single) == value else value


def log_metrics(metrics: dict, model_id: str, dataset: Dataset | None, step: int = 0) -> None:
    """Metrics of the run that its logged model carries too, measured on ``dataset``."""
    clean = {name: metric_value(value) for name, value in metrics.items()}
    mlflow.log_metrics(clean, step=step, model_id=model_id, dataset=dataset)


class MlflowMetrics(pl.Callback):
    """Per-epoch metrics into the active MLflow run, with the epoch as step."""

    def __init__(self, run_id: str):
        self.client, self.run_id = mlflow.MlflowClient(), run_id

    def _log(self, trainer: pl.Trainer, split: str) -> None:
        metrics = [
            mlflow.entities.Metric(
                name,
                metric_value(value),
                int(mlflow.utils.time.get_current_time_millis()),
                trainer.current_epoch,
            )
            for name, value in trainer.callback_metrics.items()
            if name.startswith(f"{split}/")
        ]
        if metrics:
            self.client.log_batch(self.run_id, metrics=metrics)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._log(trainer, "train")

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._log(trainer, "val")


def log_model(net: GenreNet, cfg: DictConfig, epoch: int) -> str:
    """The network as the run's MLflow model ``model``, logged as code (``genre.mlflow_model``)
    with the saved network (``genre.saved_model``) as its artifact: loading it runs no pickle,
    and pretrained weights it left unchanged are named by their checksum, not copied. The model
    is the checkpoint of ``epoch``, and carries that epoch's metrics; its id."""
    net = net.cpu().eval()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / mlflow_model.ARTIFACT
        save_network(net, cfg, folder)
        info = mlflow.pyfunc.log_model(
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
            step=epoch,  # MLflow links the run's metrics of this step to the model
        )
    return info.model_id


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
    # sklearn's accuracy is one number; as a row, its support is every clip, not the number.
    rows = {name: row for name, row in report.items() if name != "accuracy"}
    if "accuracy" in report:
        rows["accuracy"] = {"f1-score": report["accuracy"], "support": int(matrix.sum())}
    table = pd.DataFrame(rows).T.rename_axis("genre").reset_index()
    table["support"] = table["support"].astype(int)
    mlflow.log_text(table.to_csv(index=False, float_format="%.4f"), "per_class.csv")
    mlflow.log_metrics({f"test/f1/{metric_label(g)}": report[g]["f1-score"] for g in genres})
    mlflow.log_figure(confusion_figure(matrix, genres), "confusion_matrix.png")
