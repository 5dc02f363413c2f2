"""The Hydra entry point: compose, seed, build data and network, fit, test, log; return the
objective for the sweeper.

python -m genre.train data=synth features=mel model=cnn3 trainer.max_epochs=3
python -m genre.train -m sweeps=demo
"""

from __future__ import annotations

import math
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import hydra
import lightning.pytorch as pl
import optuna
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.errors import CompactHydraException
from hydra_plugins.genre_optuna_sweeper.job import job_trial
from omegaconf import DictConfig, OmegaConf

from genre.build import build_callbacks, build_module, build_network, build_trainer
from genre.config import is_tagging, settings, validate
from genre.console import in_sweep, setup_console
from genre.data.datamodule import GenreDataModule
from genre.ddp import ddp_job, ddp_job_of_worker, is_ddp_worker
from genre.embed.plan import plan
from genre.embed.probe import ProbeNet
from genre.errors import GenreError, user_errors
from genre.launchers import check_installed
from genre.pruning import DistributedPruning, pruning_callback
from genre.tracking import NoRun, Run, metric_value, open_tracking, run_summary, tracked_run
from genre.util import CONF_DIR, torch_threads, tracking_overrides


def train(
    cfg: DictConfig, output_dir: Path, tags: dict[str, str] | None = None
) -> tuple[float, str | None]:
    """One tracked run: the best validation value of ``cfg.objective`` and the MLflow run id.
    The best checkpoint is kept as ``output_dir/checkpoints/best.ckpt``; ``tags`` go on the run.

    Under DDP every process runs this: rank 0 tracks the run and its Optuna trial, the other
    ranks only take their share of fitting and testing (and return no run id)."""
    validate(cfg)
    pl.seed_everything(int(cfg.seed), workers=True, verbose=False)
    # Built before the run for its global rank, which only the Trainer knows for sure (Lightning's
    # launcher, a node of trainer.num_nodes, torchrun or SLURM); so a bad trainer option fails
    # before any run exists.
    checkpoint, callbacks = build_callbacks(cfg, output_dir)
    trainer = build_trainer(cfg, callbacks, output_dir)
    if trainer.global_rank == 0:
        open_tracking(cfg)  # a dead server is said before the data's decoding, not after
    # The data before the run: a typo in data.root, a table without rows or a dataset that
    # cannot train is one sentence, not a FAILED run left in MLflow.
    data = GenreDataModule(settings(cfg, "data"), is_tagging(cfg))
    data.load()
    check_labels(data, cfg)
    with _trial_and_run(cfg, trainer, tags or {}) as (trial, run):
        net = build_network(cfg, data.labels)
        # A frozen pretrained network's head trains on its cached embeddings (genre.embed).
        embed, augment, features = (settings(cfg, g) for g in ("embed", "augment", "features"))
        data, trained, trained_on = plan(embed, augment, features, data, net)
        run.log_setup(cfg, data, net, trained_on)
        module = build_module(cfg, trained, data.class_weights())
        pruning = _pruning(cfg, trainer, trial)
        trainer.callbacks.extend([*run.callbacks(), *pruning])
        # A probe's matrices are too small to gain from more threads, which only wait on each
        # other (and on a sweep's other trials); the audio path keeps every core.
        probe = isinstance(trained, ProbeNet)
        with ddp_job(cfg, output_dir), torch_threads(1 if probe else None):
            trainer.fit(module, datamodule=data)
            for callback in pruning:
                if isinstance(callback, DistributedPruning):
                    callback.check_pruned()
            best = checkpoint.best_model_score
            best = None if best is None else metric_value(best)
            if best is None or not math.isfinite(best):
                raise GenreError(
                    f"No finite {cfg.objective} was reached: the run diverged (lower optim.lr "
                    "or enable trainer.gradient_clip_val)."
                )
            # Test, and log, the selected epoch's weights rather than the last epoch's.
            state = torch.load(checkpoint.best_model_path, map_location="cpu", weights_only=True)
            module.load_state_dict(state["state_dict"])
            # The epoch as MlflowMetrics logs it (its step), for the model's metrics.
            best_epoch = int(state["epoch"])
            test = None
            if (data.clips["split"] == "test").any():
                (test,) = trainer.test(module, datamodule=data, verbose=False)
        run.log_results(cfg, net, module, best, best_epoch, test)
    return best, run.run_id


def check_labels(data: GenreDataModule, cfg: DictConfig) -> None:
    """A genre classifier needs two genres at least (a tagging run needs tags, which the splits
    check)."""
    if is_tagging(cfg) or len(data.genres) > 1:
        return
    where = cfg.data.get("root") or cfg.data.source
    found = f"one genre ({data.genres[0]})" if data.genres else "no genre"
    raise GenreError(
        f"{where} has {found} among its usable clips, and a classifier needs two at least: add "
        f"the other genres' clips (see {data.cache.path}/rejected.csv for the clips left out)."
    )


@contextmanager
def _trial_and_run(
    cfg: DictConfig, trainer: pl.Trainer, tags: dict[str, str]
) -> Iterator[tuple[optuna.Trial | None, Run]]:
    """Rank 0's Optuna trial (None outside a sweep) and MLflow run; none on the other ranks."""
    if trainer.global_rank != 0:
        yield None, NoRun()
        return
    # DDP processes, each with data.batch_size clips per step.
    tags = {"genre.world_size": str(trainer.world_size), **tags}
    with job_trial() as trial, tracked_run(cfg, trial, tags) as run:
        yield trial, run


def _pruning(cfg: DictConfig, trainer: pl.Trainer, trial: optuna.Trial | None) -> list:
    if trainer.world_size > 1 and OmegaConf.select(cfg, "optuna.trial_id") is not None:
        # On every rank, for the verdict's broadcast; only rank 0 has the trial.
        return [DistributedPruning(trial, cfg.objective)]
    return [] if trial is None else [pruning_callback(trial, cfg.objective)]


def main() -> None:
    """``python -m genre.train ARGS``: Hydra's app, with the tracking URI's credentials moved to
    the environment before Hydra records the command line, and Hydra's own composition errors
    (an unknown option or key, a value of the wrong type) exiting with status 2 like every user
    error of genre; Hydra has printed them already."""
    sys.argv = [sys.argv[0], *tracking_overrides(sys.argv[1:])]
    try:
        _app()
    except SystemExit as stop:
        # Hydra reports an error and exits 1 from inside its handler: the error is the context.
        if stop.code == 1 and isinstance(stop.__context__, CompactHydraException):
            sys.exit(2)
        raise


def ddp_worker() -> None:
    """What a local rank after 0 runs (genre.ddp): the job rank 0 handed on, in step with rank 0
    and untracked, whatever its command line says."""
    try:
        train(*ddp_job_of_worker())
    except Exception as exc:
        # Rank 0 records how the job ended (pruned, failed). Exiting non-zero would only make
        # Lightning's process observer SIGKILL rank 0: in a sweep, the sweeper and its next trials.
        if not isinstance(exc, optuna.TrialPruned):
            traceback.print_exc()


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def _app(cfg: DictConfig) -> float:
    setup_console()  # again: a launcher may run the job in another process
    single = not in_sweep()
    try:
        objective, run_id = train(cfg, Path(HydraConfig.get().runtime.output_dir))
    except GenreError as exc:
        if not single:
            raise  # the sweeper records the trial as failed, in its line, and goes on
        print(f"genre: {exc}", file=sys.stderr)
        sys.exit(2)
    if single and run_id is not None:
        print(run_summary(cfg, run_id), flush=True)
    return objective


if __name__ == "__main__":
    setup_console()
    if is_ddp_worker():
        ddp_worker()
    else:
        with user_errors():
            check_installed(sys.argv[1:])
        main()
