"""A toy Hydra app that takes part in a sweep as genre.train does, in milliseconds.

Its "training" climbs towards a score over `epochs` steps, reporting each step to Optuna so that
the pruner can stop it; `kind=boom` raises and `kind=diverge` returns NaN, to exercise failures,
and `kind=crash` kills its own process unless its trial is the retry of a failed one.
Every run logs an MLflow child run under the study's parent run (genre's tracker of the sweeper,
named in the job's environment), as `genre.train` does, and leaves
on its trial which process ran it, when, and under which thread limit, to check parallel launchers.
"""

import math
import os
import signal
import time

import hydra
import mlflow
import optuna
from hydra_plugins.genre_optuna_sweeper.job import job_trial
from omegaconf import DictConfig

from genre.study_run import PARENT_RUN_ENV, RUN_ID_ATTR


def score(cfg: DictConfig) -> float:
    bonus = {"a": 0.0, "b": 0.5}.get(cfg.kind, 0.0)
    return bonus - (cfg.x - 0.5) ** 2


def is_retry(trial: optuna.Trial) -> bool:
    return "failed_trial" in trial.study._storage.get_trial(trial._trial_id).system_attrs


def train(cfg: DictConfig, trial: optuna.Trial | None) -> float:
    if cfg.kind == "crash" and trial is not None and not is_retry(trial):
        os.kill(os.getpid(), signal.SIGKILL)  # as the OOM killer would; its retry runs normally
    if cfg.kind == "boom":
        raise RuntimeError("boom: this configuration always fails")
    if cfg.kind == "diverge":
        return math.nan
    final = score(cfg)
    for epoch in range(cfg.epochs):
        time.sleep(cfg.epoch_seconds)
        value = final * (epoch + 1) / cfg.epochs
        if trial is not None:
            trial.report(value, step=epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at epoch {epoch}")
    return final


def child_run_tags(trial: optuna.Trial | None) -> dict[str, str]:
    if trial is None:
        return {}
    return {
        "mlflow.parentRunId": os.environ[PARENT_RUN_ENV],
        "optuna.trial_number": str(trial.number),
        "optuna.study_name": trial.study.study_name,
    }


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float:
    mlflow.set_tracking_uri(cfg.mlflow.tracking_uri)
    mlflow.set_experiment(cfg.mlflow.experiment)
    with job_trial() as trial:
        run = mlflow.start_run(tags=child_run_tags(trial))
        # Everything after start_run ends the run when it raises: a launcher's worker process
        # (Ray's, joblib's) runs the next jobs too, and must not keep this run active. (A trial
        # of a lost batch that the sweeper failed meanwhile refuses set_user_attr.)
        try:
            if trial is not None:
                trial.set_user_attr(RUN_ID_ATTR, run.info.run_id)
                trial.set_user_attr("pid", os.getpid())  # which process ran it (worker, launcher)
                # The thread limit a parallel launcher gave the job (joblib's: cores // n_jobs).
                trial.set_user_attr("omp_num_threads", os.environ.get("OMP_NUM_THREADS"))
                trial.set_user_attr("started", time.time())
            mlflow.log_params({"x": cfg.x, "kind": cfg.kind})
            value = train(cfg, trial)
        except optuna.TrialPruned:
            mlflow.set_tag("trial_state", "PRUNED")
            mlflow.end_run("KILLED")
            raise
        except BaseException as e:  # Ctrl-C included, as in genre.train
            mlflow.set_tags({"trial_state": "FAIL", "error": str(e)})
            mlflow.end_run("KILLED" if isinstance(e, KeyboardInterrupt) else "FAILED")
            raise
        finally:
            if trial is not None:
                trial.set_user_attr("ended", time.time())  # with `started`: did jobs overlap?
        mlflow.set_tag("trial_state", "COMPLETE")
        mlflow.log_metric(cfg.objective, value)
        mlflow.end_run()
        return value


if __name__ == "__main__":
    main()
