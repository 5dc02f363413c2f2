"""The Hydra entry point: compose, seed, build, fit, test, log; return the objective.

python -m genre.train data=synth features=mel model=cnn3 trainer.max_epochs=3
python -m genre.train -m sweeps=demo
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from secrets import token_hex

import hydra
import lightning.pytorch as pl
import mlflow
import mlflow.pytorch
import numpy as np
import optuna
import torch
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from genre.datamodule import GenreDataModule
from genre.errors import GenreError
from genre.features import Spectrogram
from genre.module import GenreClassifier, GenreNet
from genre.study import job_trial, pruning_callback
from genre.tracking import (
    PROJECT_ROOT,
    MlflowMetrics,
    code_version,
    flat_params,
    log_test_report,
)

CONF_DIR = str(PROJECT_ROOT / "conf")


def compose_config(overrides: list[str], return_hydra_config: bool = False) -> DictConfig:
    """The config ``python -m genre.train OVERRIDES`` would run, for the tools that are not Hydra
    apps; a composition error (unknown key or option) becomes a GenreError."""
    try:
        with initialize_config_dir(CONF_DIR, version_base="1.3"):
            return compose("config", overrides=overrides, return_hydra_config=return_hydra_config)
    except HydraException as exc:
        raise GenreError(str(exc)) from exc


def build_network(cfg: DictConfig, genres: list[str]) -> GenreNet:
    features = OmegaConf.to_container(cfg.features, resolve=True)
    features.pop("name", None)
    spectrogram = Spectrogram(int(cfg.data.sample_rate), **features)
    model = OmegaConf.to_container(cfg.model, resolve=True)
    model.pop("name", None)
    classifier = hydra.utils.instantiate(model, n_classes=len(genres))
    chunk = int(round(cfg.data.chunk_seconds * cfg.data.sample_rate))
    return GenreNet(spectrogram, classifier, genres, int(cfg.data.sample_rate), chunk)


def build_trainer(cfg: DictConfig, callbacks: list[pl.Callback], root: Path) -> pl.Trainer:
    options = OmegaConf.to_container(cfg.trainer, resolve=True)
    return pl.Trainer(**options, callbacks=callbacks, logger=False, default_root_dir=root)


def train(cfg: DictConfig, output_dir: Path, tags: dict[str, str] | None = None) -> float:
    """One tracked run; returns the best validation value of ``cfg.objective``. The best
    checkpoint is kept as ``output_dir/checkpoints/best.ckpt``; ``tags`` go on the MLflow run."""
    pl.seed_everything(int(cfg.seed), workers=True, verbose=False)
    mlflow.set_tracking_uri(cfg.mlflow.tracking_uri)
    mlflow.set_experiment(cfg.mlflow.experiment)
    tags = {
        **code_version(),
        # CPU sums are split by thread: reproduce uses the same count to match exactly.
        "genre.torch_threads": str(torch.get_num_threads()),
        **(tags or {}),
    }
    if cfg.mlflow.parent_run_id:
        tags["mlflow.parentRunId"] = cfg.mlflow.parent_run_id
    with job_trial(cfg.optuna) as trial:
        # seed_everything also seeds MLflow's name generator: name runs from a fresh token.
        name = cfg.mlflow.run_name or f"{cfg.model.name}-{cfg.features.name}-{token_hex(3)}"
        run = mlflow.start_run(run_name=name, tags=tags)
        try:
            if trial is not None:
                trial.set_user_attr("mlflow_run_id", run.info.run_id)
                mlflow.set_tags(
                    {
                        "optuna.trial_number": trial.number,
                        "optuna.study_name": cfg.optuna.study_name,
                    }
                )
            objective = _fit_and_log(cfg, trial, run.info.run_id, output_dir)
        except optuna.TrialPruned:
            mlflow.set_tag("trial_state", "PRUNED")
            mlflow.end_run("KILLED")
            raise
        except BaseException as exc:
            mlflow.set_tags({"trial_state": "FAIL", "error": f"{type(exc).__name__}: {exc}"[:5000]})
            mlflow.end_run("FAILED")
            raise
        mlflow.set_tag("trial_state", "COMPLETE")
        mlflow.end_run("FINISHED")
    return objective


def _fit_and_log(
    cfg: DictConfig, trial: optuna.Trial | None, run_id: str, output_dir: Path
) -> float:
    # Built inside the run, so that bad data or a bad config combination is a FAILED run with
    # its error, like any other failure of a sweep's trial.
    data = GenreDataModule(cfg.data)
    cache = data.load()
    mlflow.set_tag("data.fingerprint", cache.fingerprint)
    net = build_network(cfg, data.genres)
    module = GenreClassifier(net, cfg.optim, data.class_weights(), cfg.loss.label_smoothing)
    mlflow.log_params(flat_params(cfg))
    mlflow.log_text(OmegaConf.to_yaml(cfg, resolve=True), "config.yaml")
    mlflow.log_text(data.cache.rejected.to_csv(index=False), "data/rejected.csv")
    counts = data.clips.groupby(["genre", "split"]).size().unstack(fill_value=0)
    mlflow.log_text(counts.to_csv(), "data/clips_per_split.csv")

    checkpoint = pl.callbacks.ModelCheckpoint(
        dirpath=output_dir / "checkpoints",
        monitor=cfg.objective,
        mode="max",
        save_top_k=1,
        filename="best",
    )
    callbacks: list[pl.Callback] = [checkpoint, MlflowMetrics(run_id)]
    if trial is not None:
        callbacks.append(pruning_callback(trial, cfg.objective))
    trainer = build_trainer(cfg, callbacks, output_dir)
    trainer.fit(module, datamodule=data)

    best = checkpoint.best_model_score
    if best is None or not math.isfinite(float(best)):
        raise FloatingPointError(f"no finite {cfg.objective} was reached")
    # Test, and log, the selected epoch's weights rather than the last epoch's.
    state = torch.load(checkpoint.best_model_path, map_location="cpu", weights_only=False)
    module.load_state_dict(state["state_dict"])
    if (data.clips["split"] == "test").any():
        (results,) = trainer.test(module, datamodule=data, verbose=False)
        mlflow.log_metrics({name: float(value) for name, value in results.items()})
        log_test_report(
            module.net.genres,
            torch.cat(module.test_targets).numpy(),
            torch.cat(module.test_predictions).numpy(),
        )
    mlflow.log_metric(f"best_{cfg.objective}", float(best))
    _log_model(module.net)
    return float(best)


def _log_model(net: GenreNet) -> None:
    net = net.cpu().eval()
    example = np.zeros((1, net.chunk_samples), dtype=np.float32)
    # Pickled rather than exported (MLflow 3's default, pt2) so the loaded model is a GenreNet
    # again, with its genre names and audio settings; the metadata repeats them for other readers.
    mlflow.pytorch.log_model(
        net,
        name="model",
        input_example=example,
        serialization_format="pickle",
        pip_requirements=[f"torch=={torch.__version__.split('+')[0]}", "torchaudio", "genre"],
        metadata={
            "genres": net.genres,
            "sample_rate": net.sample_rate,
            "chunk_samples": net.chunk_samples,
        },
    )


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="config")
def main(cfg: DictConfig) -> float:
    try:
        return train(cfg, Path(HydraConfig.get().runtime.output_dir))
    except GenreError as exc:
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            raise  # the sweeper records the trial as failed and goes on
        print(f"genre: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
