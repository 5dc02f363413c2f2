"""Structured configs of the `genre_optuna` sweeper, registered in Hydra's ConfigStore.

The sweeper's options are the published hydra-optuna-sweeper's, with the same meaning, plus what
genre adds (heartbeats, retries). Samplers and pruners are `_target_` configs, as there: any
Optuna sampler or pruner, or a user's own class, can be given by its dotpath. They are config
groups under the published plugin's names, `hydra/sweeper/sampler` and `hydra/sweeper/pruner`,
placed at `hydra.sweeper.sampler` and `hydra.sweeper.pruner`, so that an app written for the
published plugin changes only `hydra/sweeper=genre_optuna`. (The two plugins cannot be installed
together: the published one pins optuna<3.)

Sampler settings default to the published plugin's values, except where current Optuna
deprecates a setting: there `null` leaves it to Optuna. docs/sweeps.md lists each difference.
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
    _target_: str = "optuna.samplers.TPESampler"
    seed: int | None = None
    consider_prior: bool | None = None
    prior_weight: float | None = None
    consider_magic_clip: bool | None = None
    consider_endpoints: bool | None = None
    n_startup_trials: int = 10
    n_ei_candidates: int = 24
    multivariate: bool = False
    group: bool = False
    warn_independent_sampling: bool | None = None
    # Deliberately on (Optuna 5's default too): trials that run meanwhile, on this worker or
    # another, count as bad results, so parallel trials spread out instead of piling up.
    constant_liar: bool = True
    constraints_func: Any = None


@dataclass
class MOTPESamplerConf:
    """The published plugin's `motpe`, which Optuna 4.0 removed: the sweeper says so."""

    _target_: str = "optuna.samplers.MOTPESampler"
    seed: int | None = None


@dataclass
class RandomSamplerConf:
    _target_: str = "optuna.samplers.RandomSampler"
    seed: int | None = None


@dataclass
class GridSamplerConf:
    _target_: str = "optuna.samplers.GridSampler"
    # The sweeper makes the grid from the search space and passes it in.
    _partial_: bool = True
    seed: int | None = None


@dataclass
class CmaEsSamplerConf:
    _target_: str = "optuna.samplers.CmaEsSampler"
    seed: int | None = None
    x0: dict[str, Any] | None = None
    sigma0: float | None = None
    n_startup_trials: int = 1
    independent_sampler: Any = None
    warn_independent_sampling: bool = True
    consider_pruned_trials: bool = False
    restart_strategy: str | None = None
    popsize: int | None = None
    inc_popsize: int = -1
    use_separable_cma: bool = False
    with_margin: bool = False
    lr_adapt: bool = False
    source_trials: Any = None


@dataclass
class GPSamplerConf:
    _target_: str = "optuna.samplers.GPSampler"
    seed: int | None = None
    independent_sampler: Any = None
    n_startup_trials: int = 10
    deterministic_objective: bool = False
    constraints_func: Any = None
    warn_independent_sampling: bool = True


@dataclass
class NSGAIISamplerConf:
    _target_: str = "optuna.samplers.NSGAIISampler"
    seed: int | None = None
    population_size: int = 50
    mutation_prob: float | None = None
    crossover_prob: float = 0.9
    swapping_prob: float = 0.5
    constraints_func: Any = None


@dataclass
class NSGAIIISamplerConf(NSGAIISamplerConf):
    _target_: str = "optuna.samplers.NSGAIIISampler"
    dividing_parameter: int = 3


@dataclass
class QMCSamplerConf:
    _target_: str = "optuna.samplers.QMCSampler"
    seed: int | None = None
    qmc_type: str = "sobol"
    scramble: bool = False
    independent_sampler: Any = None
    warn_asynchronous_seeding: bool = True
    warn_independent_sampling: bool = True


@dataclass
class BruteForceSamplerConf:
    _target_: str = "optuna.samplers.BruteForceSampler"
    seed: int | None = None
    avoid_premature_stop: bool = False


@dataclass
class MedianPrunerConf:
    _target_: str = "optuna.pruners.MedianPruner"
    n_startup_trials: int = 5
    n_warmup_steps: int = 0
    interval_steps: int = 1
    n_min_trials: int = 1


@dataclass
class PercentilePrunerConf(MedianPrunerConf):
    _target_: str = "optuna.pruners.PercentilePruner"
    percentile: float = MISSING  # Optuna has no default: e.g. 25.0 keeps the top three quarters


@dataclass
class SuccessiveHalvingPrunerConf:
    _target_: str = "optuna.pruners.SuccessiveHalvingPruner"
    min_resource: Any = "auto"  # int >= 1 or "auto"
    reduction_factor: int = 4
    min_early_stopping_rate: int = 0
    bootstrap_count: int = 0


@dataclass
class HyperbandPrunerConf:
    _target_: str = "optuna.pruners.HyperbandPruner"
    min_resource: int = 1
    max_resource: Any = "auto"  # int >= 1 or "auto"
    reduction_factor: int = 3
    bootstrap_count: int = 0


@dataclass
class ThresholdPrunerConf:
    _target_: str = "optuna.pruners.ThresholdPruner"
    lower: float | None = None
    upper: float | None = None
    n_warmup_steps: int = 0
    interval_steps: int = 1


@dataclass
class WilcoxonPrunerConf:
    _target_: str = "optuna.pruners.WilcoxonPruner"
    p_threshold: float = 0.1
    n_startup_steps: int = 2


@dataclass
class NoPrunerConf:
    _target_: str = "optuna.pruners.NopPruner"


@dataclass
class GenreOptunaSweeperConf:
    _target_: str = "hydra_plugins.genre_optuna_sweeper.genre_optuna_sweeper.GenreOptunaSweeper"
    # The sweeper makes the sampler and pruner itself: the grid sampler needs the search space.
    _recursive_: bool = False
    defaults: list[Any] = field(
        default_factory=lambda: [{"sampler": "tpe"}, {"pruner": "median"}, "_self_"]
    )
    sampler: Any = MISSING
    # Used only by jobs that report intermediate values (see job.job_trial).
    pruner: Any = MISSING
    # `minimize` or `maximize`, or a list of them for a multi-objective study.
    direction: Any = Direction.minimize
    # null: in memory, for this run alone. A SQLAlchemy URL (`sqlite:///optuna.db`,
    # `postgresql://...`) or an Optuna journal file (`journal:PATH` or a path ending in `.log`)
    # keeps the study for resuming and for other workers.
    storage: str | None = None
    # null: the `sweeps=` choice, else hydra.job.name.
    study_name: str | None = None
    # Trials wanted in the study, counting every worker's; a rerun only adds the missing ones.
    n_trials: int = 20
    # Trials asked per batch and launched together through the configured Hydra launcher.
    n_jobs: int = 1
    # The share of a batch's trials that may fail before the sweep stops (0.0: any failure).
    max_failure_rate: float = 0.0
    # Search space: `name: <hydra-optuna-sweeper syntax>`.
    params: dict[str, Any] | None = None
    # Dotpath of a function (DictConfig, optuna.Trial) -> None that suggests more parameters.
    custom_search_space: str | None = None
    # hydra-optuna-sweeper 1.1's search space syntax: refused with its rewrite as `params`.
    search_space: Any = None
    # Seconds between heartbeats of a running trial; null turns stale-trial detection off.
    heartbeat_interval: int | None = 60
    # Seconds without a heartbeat before a running trial counts as dead; null: 2 intervals.
    grace_period: int | None = None
    # Times a dead trial's parameters are run again.
    max_retries: int = 1
    # Dotpath of a function (DictConfig, optuna.Study, dict) -> StudyTracker | None that records
    # the study elsewhere, e.g. in an experiment tracker: see .tracker. null: no record.
    tracker: str | None = None


SAMPLER_GROUP = "hydra/sweeper/sampler"
PRUNER_GROUP = "hydra/sweeper/pruner"


def _store() -> None:
    store = ConfigStore.instance()
    provider = "genre_optuna_sweeper"
    store.store(
        group="hydra/sweeper", name="genre_optuna", node=GenreOptunaSweeperConf, provider=provider
    )
    groups: dict[tuple[str, str], dict[str, type]] = {
        (SAMPLER_GROUP, "hydra.sweeper.sampler"): {
            "tpe": TPESamplerConf,
            "motpe": MOTPESamplerConf,
            "random": RandomSamplerConf,
            "grid": GridSamplerConf,
            "cmaes": CmaEsSamplerConf,
            "gp": GPSamplerConf,
            "nsgaii": NSGAIISamplerConf,
            "nsgaiii": NSGAIIISamplerConf,
            "qmc": QMCSamplerConf,
            "bruteforce": BruteForceSamplerConf,
        },
        (PRUNER_GROUP, "hydra.sweeper.pruner"): {
            "median": MedianPrunerConf,
            "percentile": PercentilePrunerConf,
            "successive_halving": SuccessiveHalvingPrunerConf,
            "hyperband": HyperbandPrunerConf,
            "threshold": ThresholdPrunerConf,
            "wilcoxon": WilcoxonPrunerConf,
            "none": NoPrunerConf,
        },
    }
    for (group, package), nodes in groups.items():
        for name, node in nodes.items():
            store.store(group=group, name=name, node=node, package=package, provider=provider)


_store()
