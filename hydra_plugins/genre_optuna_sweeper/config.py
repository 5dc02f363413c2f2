"""Structured configs of the `genre_optuna` sweeper, registered in Hydra's ConfigStore.

Samplers and pruners are config groups (`hydra/sweeper/sampler`, `hydra/sweeper/pruner`) with the
same names as the published hydra-optuna-sweeper, so `override hydra/sweeper/sampler: grid` and
`hydra.sweeper.sampler.seed=1` keep working. They carry a `name` instead of a `_target_`: the
pruner's settings are stored in the study for the jobs, and a name maps to a fixed Optuna class
where a stored `_target_` would let the storage choose what code a job runs.
"""

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


class Direction(Enum):
    minimize = 1
    maximize = 2


@dataclass
class TPESamplerConf:
    name: str = "tpe"
    seed: int | None = None
    n_startup_trials: int = 10
    n_ei_candidates: int = 24
    constant_liar: bool = True


@dataclass
class RandomSamplerConf:
    name: str = "random"
    seed: int | None = None


@dataclass
class GridSamplerConf:
    name: str = "grid"
    seed: int | None = None


@dataclass
class CmaEsSamplerConf:
    name: str = "cmaes"
    seed: int | None = None
    n_startup_trials: int = 1
    sigma0: float | None = None
    popsize: int | None = None
    consider_pruned_trials: bool = False
    use_separable_cma: bool = False
    with_margin: bool = False


@dataclass
class GPSamplerConf:
    name: str = "gp"
    seed: int | None = None
    n_startup_trials: int = 10
    deterministic_objective: bool = False


@dataclass
class MedianPrunerConf:
    name: str = "median"
    n_startup_trials: int = 5
    n_warmup_steps: int = 0
    interval_steps: int = 1
    n_min_trials: int = 1


@dataclass
class SuccessiveHalvingPrunerConf:
    name: str = "successive_halving"
    min_resource: Any = "auto"  # int >= 1 or "auto"
    reduction_factor: int = 4
    min_early_stopping_rate: int = 0
    bootstrap_count: int = 0


@dataclass
class HyperbandPrunerConf:
    name: str = "hyperband"
    min_resource: int = 1
    max_resource: Any = "auto"  # int >= 1 or "auto"
    reduction_factor: int = 3
    bootstrap_count: int = 0


@dataclass
class NoPrunerConf:
    name: str = "none"


@dataclass
class GenreOptunaSweeperConf:
    _target_: str = "hydra_plugins.genre_optuna_sweeper.genre_optuna_sweeper.GenreOptunaSweeper"
    defaults: list[Any] = field(
        default_factory=lambda: [{"sampler": "tpe"}, {"pruner": "median"}, "_self_"]
    )
    sampler: Any = MISSING
    pruner: Any = MISSING
    # Finished (or running) trials wanted in the study; a rerun only adds the missing ones.
    n_trials: int = 20
    # Trials asked per batch and launched together through the configured Hydra launcher.
    n_jobs: int = 1
    direction: Direction = Direction.maximize
    # null: the `sweeps=` choice, else hydra.job.name.
    study_name: str | None = None
    # null: sqlite:///optuna.db in the directory the command runs in. Any SQLAlchemy URL, or a
    # journal file (`journal:PATH` or a path ending in `.log`).
    storage: str | None = None
    # Seconds between heartbeats of a running trial; null turns stale-trial detection off.
    heartbeat_interval: int | None = 60
    # Seconds without a heartbeat before a running trial counts as dead; null: 2 intervals.
    grace_period: int | None = None
    # Times a dead trial's parameters are run again.
    max_retries: int = 1
    # Search space: `name: <hydra-optuna-sweeper syntax>`.
    params: dict[str, Any] | None = None


def _store() -> None:
    store = ConfigStore.instance()
    provider = "genre_optuna_sweeper"
    store.store(
        group="hydra/sweeper", name="genre_optuna", node=GenreOptunaSweeperConf, provider=provider
    )
    groups = {
        "hydra/sweeper/sampler": [
            TPESamplerConf,
            RandomSamplerConf,
            GridSamplerConf,
            CmaEsSamplerConf,
            GPSamplerConf,
        ],
        "hydra/sweeper/pruner": [
            MedianPrunerConf,
            SuccessiveHalvingPrunerConf,
            HyperbandPrunerConf,
            NoPrunerConf,
        ],
    }
    for group, nodes in groups.items():
        for node in nodes:
            store.store(group=group, name=node.name, node=node, provider=provider)


_store()
