"""A plain Hydra app that opts in to pruning with the sweeper's documented helper, `job_trial`,
and imports nothing else of genre: it climbs towards x's score over a few steps, reports each
step, and stops when the pruner says so. Without a sweep, `job_trial` yields None and the app
just returns its value."""

import hydra
import optuna
from hydra_plugins.genre_optuna_sweeper.job import job_trial
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="pruned-conf", config_name="config")
def climb(cfg: DictConfig) -> float:
    final = (cfg.x - 1.0) ** 2
    with job_trial() as trial:
        for step in range(cfg.steps):
            value = final + (cfg.steps - step)  # falls towards `final`, step by step
            if trial is not None:
                trial.report(value, step)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"pruned at step {step}")
    return final


if __name__ == "__main__":
    climb()
