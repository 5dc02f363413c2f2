"""A toy Hydra app that keeps the training job's side of the sweeper contract, in milliseconds.

Its "training" climbs towards a score over `epochs` steps, reporting each step to Optuna so that
the pruner can stop it; `kind=boom` raises and `kind=diverge` returns NaN, to exercise failures,
and an existing `interrupt_file` is removed and stands for a Ctrl-C.
Every run logs an MLflow child run under the sweeper's parent, as `genre.train` does.
"""

import math
import os
import time

import hydra
import mlflow
import optuna
from omegaconf import DictConfig

from genre.study import job_trial


def score(cfg: DictConfig) -> float:
    bonus = {"a": 0.0, "b": 0.5}.get(cfg.kind, 0.0)
    return bonus - (cfg.x - 0.5) ** 2


def train(cfg: DictConfig, trial: optuna.Trial | None) -> float:
    if cfg.interrupt_file and os.path.exists(cfg.interrupt_file):
        os.remove(cfg.interrupt_file)  # once: as if the user pressed Ctrl-C during this job
        raise KeyboardInterrupt
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


def child_run_tags(cfg: DictConfig, trial: optuna.Trial | None) -> dict[str, str]:
    if trial is None:
        return {}
    return {
        "mlflow.parentRunId": cfg.mlflow.parent_run_id,
        "optuna.trial_number": str(trial.number),
        "optuna.study_name": trial.study.study_name,
    }


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float:
    mlflow.set_tracking_uri(cfg.mlflow.tracking_uri)
    mlflow.set_experiment(cfg.mlflow.experiment)
    with job_trial(cfg.optuna) as trial:
        run = mlflow.start_run(tags=child_run_tags(cfg, trial))
        if trial is not None:
            trial.set_user_attr("mlflow_run_id", run.info.run_id)
            trial.set_user_attr("pid", os.getpid())  # which worker ran it (basic launcher)
        mlflow.log_params({"x": cfg.x, "kind": cfg.kind})
        try:
            value = train(cfg, trial)
        except optuna.TrialPruned:
            mlflow.set_tag("trial_state", "PRUNED")
            mlflow.end_run("KILLED")
            raise
        except Exception as e:
            mlflow.set_tags({"trial_state": "FAIL", "error": str(e)})
            mlflow.end_run("FAILED")
            raise
        mlflow.set_tag("trial_state", "COMPLETE")
        mlflow.log_metric(cfg.objective, value)
        mlflow.end_run()
        return value


if __name__ == "__main__":
    main()
