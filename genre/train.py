"""The Hydra entry point: compose, seed, build, fit, test, log; return the objective.

python -m genre.train data=synth features=mel model=cnn3 trainer.max_epochs=3
python -m genre.train -m sweeps=demo
"""

from __future__ import annotations

import json
import math
import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from secrets import token_hex

import hydra
import lightning.pytorch as pl
import mlflow
import optuna
import torch
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from genre.build import build_callbacks, build_module, build_network, build_trainer
from genre.datamodule import GenreDataModule
from genre.errors import GenreError
from genre.study import job_trial, pruning_callback
from genre.tracking import (
    PROJECT_ROOT,
    MlflowMetrics,
    code_version,
    flat_params,
    log_model,
    log_test_report,
    logged_config,
)

CONF_DIR = str(PROJECT_ROOT / "conf")

DDP_JOB_ENV = "GENRE_DDP_JOB"
"""Set while a job fits and tests: its resolved config and output folder, for the DDP processes
that Lightning's launcher starts for the other local ranks (see ``ddp_worker``)."""
# What that launcher and torch.distributed leave in os.environ (and so to the next job).
_LAUNCHER_ENV = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE")


def compose_config(overrides: list[str], return_hydra_config: bool = False) -> DictConfig:
    """The config ``python -m genre.train OVERRIDES`` would run, for the tools that are not Hydra
    apps; a composition error (unknown key or option) becomes a GenreError."""
    try:
        with initialize_config_dir(CONF_DIR, version_base="1.3"):
            return compose("config", overrides=overrides, return_hydra_config=return_hydra_config)
    except HydraException as exc:
        raise GenreError(str(exc)) from exc


def train(cfg: DictConfig, output_dir: Path, tags: dict[str, str] | None = None) -> float:
    """One tracked run; returns the best validation value of ``cfg.objective``. The best
    checkpoint is kept as ``output_dir/checkpoints/best.ckpt``; ``tags`` go on the MLflow run.

    Under DDP every process runs this: rank 0 tracks the run and its Optuna trial, the other
    ranks only take their share of fitting and testing."""
    pl.seed_everything(int(cfg.seed), workers=True, verbose=False)
    # Built before the run for its global rank, which only the Trainer knows for sure (Lightning's
    # launcher, a node of trainer.num_nodes, torchrun or SLURM); so a bad trainer option fails
    # before any run exists.
    checkpoint, callbacks = build_callbacks(cfg, output_dir)
    trainer = build_trainer(cfg, callbacks, output_dir)
    if trainer.global_rank != 0:
        return _fit_and_log(cfg, trainer, checkpoint, output_dir)
    mlflow.set_tracking_uri(cfg.mlflow.tracking_uri)
    mlflow.set_experiment(cfg.mlflow.experiment)
    tags = {
        **code_version(),
        # CPU sums are split by thread: reproduce uses the same count to match exactly.
        "genre.torch_threads": str(torch.get_num_threads()),
        "genre.world_size": str(trainer.world_size),  # DDP processes, each with data.batch_size
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
            objective = _fit_and_log(cfg, trainer, checkpoint, output_dir, trial, run.info.run_id)
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
    return objective


def _fit_and_log(
    cfg: DictConfig,
    trainer: pl.Trainer,
    checkpoint: pl.callbacks.ModelCheckpoint,
    output_dir: Path,
    trial: optuna.Trial | None = None,
    run_id: str | None = None,
) -> float:
    """Fit and test; with ``run_id`` (rank 0) log to that run. DDP ranks other than 0 come
    without trial and run, and leave every record to rank 0."""
    # Built inside the run, so that bad data or a bad config combination is a FAILED run with
    # its error, like any other failure of a sweep's trial.
    data = GenreDataModule(cfg.data)
    cache = data.load()
    if run_id is not None:
        mlflow.set_tag("data.fingerprint", cache.fingerprint)
    module = build_module(cfg, build_network(cfg, data.genres), data.class_weights())
    if run_id is not None:
        shown = logged_config(cfg)
        mlflow.log_params(flat_params(shown))
        mlflow.log_text(OmegaConf.to_yaml(shown), "config.yaml")
        mlflow.log_text(data.cache.rejected.to_csv(index=False), "data/rejected.csv")
        counts = data.clips.groupby(["genre", "split"]).size().unstack(fill_value=0)
        mlflow.log_text(counts.to_csv(), "data/clips_per_split.csv")
        trainer.callbacks.append(MlflowMetrics(run_id))
    ddp_pruning = None
    if trainer.world_size > 1 and OmegaConf.select(cfg, "optuna.trial_id") is not None:
        # On every rank, for the verdict's broadcast; only rank 0 has the trial.
        ddp_pruning = _DistributedPruning(trial, cfg.objective)
        trainer.callbacks.append(ddp_pruning)
    elif trial is not None:
        trainer.callbacks.append(pruning_callback(trial, cfg.objective))

    results = None
    with _ddp_job(cfg, output_dir):
        trainer.fit(module, datamodule=data)
        if ddp_pruning is not None:
            ddp_pruning.check_pruned()
        best = checkpoint.best_model_score
        if best is None or not math.isfinite(float(best)):
            raise FloatingPointError(f"no finite {cfg.objective} was reached")
        # Test, and log, the selected epoch's weights rather than the last epoch's.
        state = torch.load(checkpoint.best_model_path, map_location="cpu", weights_only=True)
        module.load_state_dict(state["state_dict"])
        if (data.clips["split"] == "test").any():
            (results,) = trainer.test(module, datamodule=data, verbose=False)
    if run_id is None:
        return float(best)
    if results is not None:
        mlflow.log_metrics({name: float(value) for name, value in results.items()})
        log_test_report(module.net.genres, module.test_matrix.numpy())
    mlflow.log_metric(f"best_{cfg.objective}", float(best))
    log_model(module.net, logged_config(cfg))
    return float(best)


class _DistributedPruning(pl.Callback):
    """Optuna pruning under DDP, with any study storage: rank 0 holds the trial, reports the
    objective and asks the pruner, and its verdict is broadcast so that every rank stops after
    the same epoch; ``check_pruned`` then raises TrialPruned on each. (optuna-integration's
    callback wants the trial on every rank and an RDB storage, so no journal file.)"""

    def __init__(self, trial: optuna.Trial | None, monitor: str):
        self.trial, self.monitor = trial, monitor
        self.pruned_at: int | None = None

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        prune, score = False, trainer.callback_metrics.get(self.monitor)
        if self.trial is not None and score is not None:  # no score: ModelCheckpoint says why
            self.trial.report(float(score), trainer.current_epoch)
            prune = self.trial.should_prune()
        if trainer.strategy.broadcast(prune):
            self.pruned_at = trainer.current_epoch
            trainer.should_stop = True

    def check_pruned(self) -> None:
        if self.pruned_at is not None:
            raise optuna.TrialPruned(f"Trial was pruned at epoch {self.pruned_at}.")


@contextmanager
def _ddp_job(cfg: DictConfig, output_dir: Path) -> Iterator[None]:
    """Around fit and test. Lightning's DDP launcher starts the other local ranks by running this
    command line again, which under ``-m`` would be a second sweep: they take the job from
    DDP_JOB_ENV instead. Afterwards the process group, the launcher's variables and its thread
    limit are undone, so that the next job of a sweep in this process starts its own."""
    saved = {key: os.environ.get(key) for key in (DDP_JOB_ENV, "OMP_NUM_THREADS", *_LAUNCHER_ENV)}
    threads = torch.get_num_threads()
    job = {"config": OmegaConf.to_container(cfg, resolve=True), "output_dir": str(output_dir)}
    os.environ[DDP_JOB_ENV] = json.dumps(job)
    try:
        yield
    finally:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        torch.set_num_threads(threads)


def ddp_worker() -> None:
    """What a DDP process that Lightning's launcher started for a local rank after 0 runs: the
    job of DDP_JOB_ENV, in step with rank 0 and untracked, whatever its command line says."""
    job = json.loads(os.environ[DDP_JOB_ENV])
    try:
        train(OmegaConf.create(job["config"]), Path(job["output_dir"]))
    except Exception as exc:
        # Rank 0 records how the job ended (pruned, failed). Exiting non-zero would only make
        # Lightning's process observer SIGKILL rank 0: in a sweep, the sweeper and its next trials.
        if not isinstance(exc, optuna.TrialPruned):
            traceback.print_exc()


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
    # Lightning's DDP launcher starts local ranks 1.. with this command line and LOCAL_RANK set.
    if DDP_JOB_ENV in os.environ and os.environ.get("LOCAL_RANK", "0") != "0":
        ddp_worker()
    else:
        main()
