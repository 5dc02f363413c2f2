"""The sweep loop: ask a batch of trials, launch one Hydra job per trial, tell the outcomes."""

from __future__ import annotations

import functools
import logging
import math
import os
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import optuna
import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from hydra.utils import get_method, instantiate
from omegaconf import DictConfig, OmegaConf, open_dict, read_write
from optuna.distributions import distribution_to_json
from optuna.exceptions import (
    DuplicatedStudyError,
    ExperimentalWarning,
    UpdateFinishedTrialError,
)
from optuna.pruners import BasePruner
from optuna.samplers import BaseSampler, CmaEsSampler, GPSampler, GridSampler, QMCSampler
from optuna.storages import BaseStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState

from ._console import Progress, keep_failure
from ._errors import SweeperError, first_line
from ._optuna import fail_running, job_exception, storage_of, study_id, trial_id
from ._report import objective_name, report
from ._search_space import (
    SearchSpace,
    format_value,
    params_of_search_space,
    parse_search_space,
)
from ._storage import Heartbeat, admission, normalize_storage, open_storage
from .job import (
    STORAGE_ENV,
    STUDY_ENV,
    TRIAL_ID_ENV,
    TRIAL_NUMBER_ENV,
    _sweeper_studies,
)
from .tracker import StudyTracker
from .urls import split_password, without_password

log = logging.getLogger(__name__)

# Packages Optuna imports only when a sampler first samples, after a trial was asked: checked
# before any trial is.
_SAMPLER_PACKAGES: dict[type[BaseSampler], tuple[str, ...]] = {
    CmaEsSampler: ("cmaes",),
    GPSampler: ("scipy", "torch"),
    QMCSampler: ("scipy",),
}
# Samplers of the published plugin that current Optuna no longer has, and what to use instead.
_REMOVED_SAMPLERS = {
    "optuna.samplers.MOTPESampler": (
        "hydra/sweeper/sampler=motpe: Optuna 4.0 removed MOTPESampler; TPESampler optimises "
        "several objectives itself: use hydra/sweeper/sampler=tpe (or nsgaii)."
    ),
}
# Trials that hold a place among `n_trials`; a FAIL that was queued again is replaced by its retry.
_TAKEN = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.FAIL)


def places(trials: list[FrozenTrial]) -> list[FrozenTrial]:
    """The trials that hold a place among ``n_trials``: a failed trial that was run again (a lost
    worker's) gives its place to its retry."""
    retried = {n for t in trials for n in t.system_attrs.get("retry_history", [])}
    return [t for t in trials if t.state in _TAKEN and t.number not in retried]


SPACE_ATTR = "genre_search_space"
"""Study user attr with the search space and objective, which a resuming sweep must share."""
# Seconds between looks at a study whose last trials run on other workers.
_POLL_S = 5.0
_DIRECTIONS = ("minimize", "maximize")


@contextmanager
def _quiet_optuna() -> Iterator[None]:
    """Silence warnings that say heartbeat, ask/tell or a sampler are experimental, or meant for
    optimize()."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
        yield


class FailureRateExceeded(SweeperError):
    """More of a batch's trials failed than hydra.sweeper.max_failure_rate allows."""


@dataclass(frozen=True)
class Outcome:
    """How a trial's job ended, as Optuna is told: its state, its values when COMPLETE, and why
    when FAIL."""

    state: TrialState
    values: list[float] | None = None
    error: str | None = None


class OptunaSweep(Sweeper):
    def __init__(
        self,
        *,
        sampler: DictConfig,
        pruner: DictConfig,
        direction: Any,
        storage: str | None,
        study_name: str | None,
        n_trials: int,
        n_jobs: int,
        max_failure_rate: float,
        params: DictConfig | None,
        custom_search_space: str | None,
        search_space: DictConfig | None,
        heartbeat_interval: int | None,
        grace_period: int | None,
        max_retries: int,
        tracker: str | None,
    ) -> None:
        if search_space:
            rewritten = params_of_search_space(OmegaConf.to_container(search_space))
            raise SweeperError(
                "hydra.sweeper.search_space is hydra-optuna-sweeper 1.1's syntax, which this "
                "sweeper does not read; write it as hydra.sweeper.params: "
                + yaml.safe_dump(rewritten, default_flow_style=True, width=10**6).strip()
            )
        if n_trials < 1 or n_jobs < 1:
            raise SweeperError(
                "hydra.sweeper.n_trials and hydra.sweeper.n_jobs must be at least 1."
            )
        if not 0.0 <= max_failure_rate <= 1.0:
            raise SweeperError("hydra.sweeper.max_failure_rate must be between 0.0 and 1.0.")
        self.sampler_cfg = sampler
        self.pruner_cfg = pruner
        self.directions = _directions(direction)
        self.storage_url = _password_to_environment(normalize_storage(storage, Path.cwd()))
        self.study_name = study_name
        self.n_trials = n_trials
        self.n_jobs = n_jobs
        self.max_failure_rate = max_failure_rate
        self.params: Mapping[str, Any] = OmegaConf.to_container(params) if params else {}
        self.custom_search_space = custom_search_space
        self.extend_trial = _function("custom_search_space", custom_search_space)
        self.open_tracker = _function("tracker", tracker)
        self.heartbeat_interval = heartbeat_interval
        self.grace_period = grace_period
        self.max_retries = max_retries
        self.job_idx = 0
        self.lost_batches = 0  # in a row; see _launch
        self.tracker: StudyTracker | None = None
        with _quiet_optuna():
            self._retry = RetryHeartbeatStaleTrialCallback(max_retry=max_retries)

    def setup(
        self,
        *,
        hydra_context: HydraContext,
        task_function: TaskFunction,
        config: DictConfig,
    ) -> None:
        self.config = config
        self._forget_password()
        self.hydra_context = hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> None:
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        space = parse_search_space(self.params, arguments, parser)
        sampler, n_trials = self._sampler(space)
        if not space.distributions:
            # n_trials runs of one config would be n_trials copies of one result.
            log.info(
                "The sweep has nothing to search (no override such as x=interval(0,1) or x=a,b, "
                "and hydra.sweeper.params is empty): its one config runs once, not %d times.",
                self.n_trials,
            )
            n_trials = 1
        elif n_trials < self.n_trials:
            log.info("The grid has %d points: n_trials lowered to %d", n_trials, n_trials)
        pruner = _make("pruner", self.pruner_cfg, BasePruner)
        storage = self._storage()
        study = self._study(storage, sampler, pruner, space)
        resumed = len(study.get_trials(deepcopy=False))
        if resumed and self.sampler_cfg.get("seed") is not None:
            # A seeded sampler's random numbers restart with each process: resumed with its
            # seed, it would ask the study's first trials again (their parameters, its random
            # start-up trials). Seeded by the trials so far, a resume is reproducible and new.
            study.sampler, _ = self._sampler(space, seed_offset=resumed)
        self._save_multirun_config()
        sweep_dir = Path(self.config.hydra.sweep.dir)
        with admission(storage, study_id(study)):
            self.tracker = self._open_tracker(
                study, self._description(space, n_trials, sampler, pruner)
            )
        if self.tracker is not None:
            self.tracker.close_dead(study.get_trials(deepcopy=False))
        self.progress = Progress(n_trials, self.n_jobs)
        _sweeper_studies[study.study_name] = study
        try:
            self._loop(study, storage, space, n_trials)
        except BaseException as e:
            if self.tracker is not None:
                self.tracker.end("KILLED" if isinstance(e, KeyboardInterrupt) else "FAILED")
            if isinstance(e, FailureRateExceeded):
                report(study, self.config, sweep_dir, self.tracker)
            raise
        finally:
            del _sweeper_studies[study.study_name]
        if self.tracker is not None:
            with admission(storage, study_id(study)):
                self.tracker.finish(study)
        report(study, self.config, sweep_dir, self.tracker)

    def _loop(
        self, study: optuna.Study, storage: BaseStorage, space: SearchSpace, n_trials: int
    ) -> None:
        """Ask, launch and tell batches until the study holds `n_trials` finished trials.

        A worker with no place left waits for the trials other workers run, if heartbeats are
        on: a dead worker's trial is then failed here and its retry run by a live worker.
        """
        waiting = False
        while True:
            with admission(storage, study_id(study)):
                trials, running = self._admit(study, space, n_trials)
            if trials:
                waiting = False
                self._run_batch(study, storage, trials, space)
                continue
            if not running or self.heartbeat_interval is None:
                return
            if not waiting:
                log.info(
                    "All %d trials are taken; waiting for %d running on other workers",
                    n_trials,
                    running,
                )
                waiting = True
            time.sleep(min(_POLL_S, float(self.heartbeat_interval)))

    def _admit(
        self, study: optuna.Study, space: SearchSpace, n_trials: int
    ) -> tuple[list[optuna.Trial], int]:
        """Ask this worker's next batch, as many trials as there are free places (under the
        admission lock); and how many trials run meanwhile."""
        with _quiet_optuna():
            optuna.storages.fail_stale_trials(study)
        trials = study.get_trials(deepcopy=False)
        taken = places(trials)
        running = sum(t.state == TrialState.RUNNING for t in trials)
        with _quiet_optuna():
            asked = [
                study.ask(space.distributions)
                for _ in range(min(self.n_jobs, n_trials - len(taken)))
            ]
        return asked, running

    def _run_batch(
        self,
        study: optuna.Study,
        storage: BaseStorage,
        trials: list[optuna.Trial],
        space: SearchSpace,
    ) -> None:
        self._configure(study, trials, space)
        batch = [space.overrides(trial.params) + self._context(study, trial) for trial in trials]
        log.debug("Launching trials %s", ", ".join(str(t.number) for t in trials))
        started = time.monotonic()
        results = self._launch(study, storage, trials, batch)
        if results is None:
            return
        seconds = time.monotonic() - started  # the batch's trials ran side by side
        outcomes = [_outcome(r, len(self.directions)) for t, r in zip(trials, results, strict=True)]
        failed = [
            (trial, outcome)
            for trial, outcome in zip(trials, outcomes, strict=True)
            if outcome.state == TrialState.FAIL
        ]
        lost = self.tracker.unreachable() if failed and self.tracker is not None else None
        for trial, outcome in zip(trials, outcomes, strict=True):
            if lost is None or outcome.state != TrialState.FAIL:
                self._tell(study, trial, outcome)
                told = storage_of(study).get_trial(trial_id(trial))
                finished = sum(
                    t.state.is_finished() for t in places(study.get_trials(deepcopy=False))
                )
                self.progress.report(told, finished, outcome.error, seconds)
        if lost is not None:
            # The jobs failed because they could not log; their configurations are not at fault.
            self._requeue(study, [trial for trial, _ in failed])
            raise SweeperError(
                f"{lost}. The study keeps its finished trials and trials "
                f"{', '.join(str(trial.number) for trial, _ in failed)} will run again: bring "
                "the server back and run the same command to resume."
            )
        if failed and len(failed) / len(trials) > self.max_failure_rate:
            trial, outcome = failed[0]
            raise FailureRateExceeded(
                f"Trial {trial.number} failed ({outcome.error}): {len(failed)} of the batch's "
                f"{len(trials)} trials failed, more than hydra.sweeper.max_failure_rate="
                f"{self.max_failure_rate:g} allows; fix the job, or raise max_failure_rate to go "
                "on past failing trials."
            )

    def _configure(
        self, study: optuna.Study, trials: list[optuna.Trial], space: SearchSpace
    ) -> None:
        """As the published plugin does: keep the fixed overrides' values as each trial's user
        attrs, then let `custom_search_space` suggest more parameters. A mistake there fails the
        batch's trials and stops the sweep."""
        try:
            for trial in trials:
                for key, value in space.fixed_values.items():
                    trial.set_user_attr(key, value)
                if self.extend_trial is None:
                    continue
                self.extend_trial(self.config, trial)
                fixed = sorted(trial.params.keys() & space.fixed_values.keys())
                if fixed:
                    raise SweeperError(
                        f"hydra.sweeper.custom_search_space {self.custom_search_space} suggests "
                        f"{', '.join(fixed)}, which the overrides fix; suggest only parameters "
                        "the overrides leave free."
                    )
        except Exception as e:
            for trial in trials:
                study.tell(trial, state=TrialState.FAIL)
            if isinstance(e, SweeperError):
                raise
            raise SweeperError(
                f"hydra.sweeper.custom_search_space {self.custom_search_space} raised "
                f"{type(e).__name__}: {first_line(e)}."
            ) from e

    def _launch(
        self,
        study: optuna.Study,
        storage: BaseStorage,
        trials: list[optuna.Trial],
        batch: list[list[str]],
    ) -> Sequence[JobReturn] | None:
        """The batch's results; None when the launcher lost the batch and it was queued again."""
        # The sweeper beats for its batch too: a sequential launcher holds asked trials before
        # and after their jobs run, and they must not look dead to other workers meanwhile.
        with Heartbeat(storage, [trial_id(trial) for trial in trials], self.heartbeat_interval):
            try:
                self.validate_batch_is_legal(batch)
            except Exception:
                for trial in trials:  # no config can be made of them: running again won't help
                    study.tell(trial, state=TrialState.FAIL)
                raise
            try:
                results = self.launcher.launch(batch, initial_job_idx=self.job_idx)
            except KeyboardInterrupt:
                self._requeue(study, trials)
                raise
            except Exception as e:
                # A job's process died (out of memory, a crash, a scheduler's time limit) and a
                # parallel launcher gave up on its whole batch: run the trials again, as those of
                # a dead worker are, unless the launcher fails batch after batch.
                self._requeue(study, trials)
                self.lost_batches += 1
                error = f"{type(e).__name__}: {first_line(e)}"
                if self.lost_batches > self.max_retries:
                    raise SweeperError(
                        f"The launcher lost {self.lost_batches} batches in a row ({error}); their "
                        "trials are queued again: fix the launcher or the jobs' resources and "
                        "run the same command to resume."
                    ) from e
                log.warning("The launcher lost the batch (%s); going on", error)
                return None
        self.lost_batches = 0
        self.job_idx += len(results)
        return results

    def _tell(self, study: optuna.Study, trial: optuna.Trial, outcome: Outcome) -> None:
        try:
            study.tell(trial, outcome.values, state=outcome.state, skip_if_finished=True)
        except RuntimeError as e:
            # GridSampler calls study.stop() when its grid is used up; that only works inside
            # study.optimize(), but the trial's state is stored before the error.
            if "Study.stop" not in str(e):
                raise

    def _requeue(self, study: optuna.Study, trials: list[optuna.Trial]) -> None:
        """Fail unfinished trials and run them again, so that after Ctrl-C, a lost batch or a
        lost tracking server their parameters run first (now, or when the command is rerun)."""
        log.warning(
            "Trials %s stopped unfinished; they will run again",
            ", ".join(str(t.number) for t in trials),
        )
        failed = []
        for trial in trials:
            try:
                failed.append(fail_running(study, trial))
            except UpdateFinishedTrialError:
                continue  # told already, e.g. failed as stale by another worker
        self._run_again(study, failed)

    def _on_stale_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        """Optuna failed a trial whose worker stopped beating."""
        log.warning("Trial %d lost its worker (no heartbeat); running it again", trial.number)
        self._run_again(study, [trial])

    def _run_again(self, study: optuna.Study, failed: list[FrozenTrial]) -> None:
        """Queue failed trials' parameters again (up to max_retries), and end the MLflow runs
        their dead jobs left RUNNING."""
        with _quiet_optuna():
            for trial in failed:
                self._retry(study, trial)
        if self.tracker is not None:
            self.tracker.close_dead(failed)

    def _context(self, study: optuna.Study, trial: optuna.Trial) -> list[str]:
        """How a job learns its trial (see .job): environment variables set through
        `hydra.job.env_set`, which Hydra applies around the task function under every launcher
        and keeps out of the job's own overrides and `hydra.job.override_dirname`."""
        env: dict[str, Any] = {
            STUDY_ENV: study.study_name,
            TRIAL_ID_ENV: trial_id(trial),
            TRIAL_NUMBER_ENV: trial.number,
        }
        if self.storage_url is not None:
            env[STORAGE_ENV] = self.storage_url  # no password: see _password_to_environment
        if self.tracker is not None:
            env |= self.tracker.job_env()
        # `++`: whether or not the app's config sets the variable too. (Launchers log these
        # beside the trial's parameters: they hide plain `hydra.` overrides only.)
        context = [f"++hydra.job.env_set.{key}={format_value(value)}" for key, value in env.items()]
        if self.storage_url is not None:
            # A password given in a config file would come back in each job's composed config.
            context.append(f"hydra.sweeper.storage={format_value(self.storage_url)}")
        return context

    def _sampler(self, space: SearchSpace, seed_offset: int = 0) -> tuple[BaseSampler, int]:
        """The configured sampler (its seed plus ``seed_offset``), and n_trials capped at the
        grid's size for the grid sampler (given as a partial, to which the sweeper passes the
        grid)."""
        cfg = self.sampler_cfg
        removed = _REMOVED_SAMPLERS.get(cfg.get("_target_"))
        if removed:
            raise SweeperError(removed)
        if seed_offset:
            cfg = OmegaConf.merge(cfg, {"seed": int(cfg.seed) + seed_offset})
        made = _make("sampler", cfg, object)
        n_trials = self.n_trials
        if isinstance(made, functools.partial) and _is_grid_sampler(made.func):
            grid = space.grid()
            size = math.prod(len(values) for values in grid.values())
            n_trials = min(size, n_trials)
            made = made(grid)
        if not isinstance(made, BaseSampler):
            raise SweeperError(
                f"hydra.sweeper.sampler ({self.sampler_cfg.get('_target_')}) made a "
                f"{type(made).__name__}, not an Optuna sampler."
            )
        missing = [
            package
            for kind, packages in _SAMPLER_PACKAGES.items()
            if isinstance(made, kind)
            for package in packages
            if not find_spec(package)
        ]
        if missing:
            raise SweeperError(
                f"The {type(made).__name__} needs {', '.join(missing)}: "
                f"pip install {' '.join(missing)}."
            )
        return made, n_trials

    def _storage(self) -> BaseStorage:
        try:
            return open_storage(
                self.storage_url,
                heartbeat_interval=self.heartbeat_interval,
                grace_period=self.grace_period,
                stale_trial_callback=self._on_stale_trial,
            )
        except Exception as e:
            raise SweeperError(
                f"Cannot open the Optuna storage {_shown(self.storage_url)}: {first_line(e)}"
            ) from e

    def _study(
        self, storage: BaseStorage, sampler: BaseSampler, pruner: BasePruner, space: SearchSpace
    ) -> optuna.Study:
        """Create the study, or load it to resume."""
        name = self._study_name()
        try:
            study = optuna.create_study(
                storage=storage,
                study_name=name,
                sampler=sampler,
                pruner=pruner,
                directions=self.directions,
            )
            created = True
        except DuplicatedStudyError:
            study = optuna.load_study(
                study_name=name, storage=storage, sampler=sampler, pruner=pruner
            )
            created = False
            stored = [d.name.lower() for d in study.directions]
            if stored != self.directions:
                raise SweeperError(
                    f"Study {name!r} already exists and {' and '.join(d + 's' for d in stored)}; "
                    "pick another hydra.sweeper.study_name or the same direction."
                ) from None
        self._check_space(study, space)
        log.info(
            "Study %r in %s (%s; %s, %s): %d trials so far",
            name,
            _shown(self.storage_url),
            "new" if created else "resumed",
            type(sampler).__name__,
            " and ".join(self.directions),
            len(study.trials),
        )
        return study

    def _check_space(self, study: optuna.Study, space: SearchSpace) -> None:
        """Refuse to resume a study with another search space or objective: its trials would
        not be comparable, and the sampler would learn from the wrong ones."""
        mine: dict[str, Any] = {
            "objective": objective_name(self.config),
            "params": {name: distribution_to_json(d) for name, d in space.distributions.items()},
        }
        if self.custom_search_space:
            mine["custom_search_space"] = self.custom_search_space
        stored = study.user_attrs.get(SPACE_ATTR)
        if stored is None:
            study.set_user_attr(SPACE_ATTR, mine)
            return
        if stored == mine:
            return
        differences = [
            f"{key} {stored.get(key)} then, {mine.get(key)} now"
            for key in ("objective", "custom_search_space")
            if stored.get(key) != mine.get(key)
        ]
        old, new = stored["params"], mine["params"]
        differences += [
            f"{key}: {_space_text(old.get(key))} then, {_space_text(new.get(key))} now"
            for key in sorted(old.keys() | new.keys())
            if old.get(key) != new.get(key)
        ]
        raise SweeperError(
            f"Study {study.study_name!r} was made with another search space "
            f"({'; '.join(differences)}); pick another hydra.sweeper.study_name, or the "
            "study's own space to resume it."
        )

    def _open_tracker(
        self, study: optuna.Study, description: dict[str, Any]
    ) -> StudyTracker | None:
        """The app's record of the study (see .tracker), None without `hydra.sweeper.tracker`."""
        if self.open_tracker is None:
            return None
        return self.open_tracker(self.config, study, description)

    def _study_name(self) -> str:
        if self.study_name:
            return self.study_name
        sweep_file = OmegaConf.select(self.config, "hydra.runtime.choices.sweeps")
        return str(sweep_file or self.config.hydra.job.name)

    def _description(
        self, space: SearchSpace, n_trials: int, sampler: BaseSampler, pruner: BasePruner
    ) -> dict[str, Any]:
        return {
            "n_trials": n_trials,
            "n_jobs": self.n_jobs,
            "directions": self.directions,
            "max_failure_rate": self.max_failure_rate,
            "storage": _shown(self.storage_url),
            "sampler": type(sampler).__name__,
            "sampler_settings": OmegaConf.to_container(self.sampler_cfg),
            "pruner": type(pruner).__name__,
            "pruner_settings": OmegaConf.to_container(self.pruner_cfg),
            "params": {name: str(d) for name, d in space.distributions.items()},
            "fixed": list(space.fixed.values()),
            "custom_search_space": self.custom_search_space,
            "objective": objective_name(self.config),
            "sweep_file": OmegaConf.select(self.config, "hydra.runtime.choices.sweeps"),
        }

    def _save_multirun_config(self) -> None:
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")

    def _forget_password(self) -> None:
        """Out of the config that Hydra writes (multirun.yaml) and composes every job from (each
        job's .hydra/): the storage URL's password, now in the environment."""
        with read_write(self.config), open_dict(self.config):
            if self.config.hydra.sweeper.get("storage"):
                self.config.hydra.sweeper.storage = split_password(
                    str(self.config.hydra.sweeper.storage)
                )[0]
            # Unresolved: iterating the config would resolve an override's interpolation, such
            # as hydra.sweep.subdir=${hydra.job.override_dirname}, to its value now.
            lines = OmegaConf.to_container(self.config.hydra.overrides.hydra, resolve=False)
            self.config.hydra.overrides.hydra = [_without_url_password(line) for line in lines]


def _space_text(distribution_json: str | None) -> str:
    if distribution_json is None:
        return "absent"
    return str(optuna.distributions.json_to_distribution(distribution_json))


def _directions(direction: Any) -> list[str]:
    """`hydra.sweeper.direction` as Optuna's directions, one per objective."""
    given = (
        direction
        if isinstance(direction, Sequence) and not isinstance(direction, str)
        else [direction]
    )
    names = [str(getattr(d, "name", d)).lower() for d in given]
    if not names or any(name not in _DIRECTIONS for name in names):
        raise SweeperError(
            f"hydra.sweeper.direction is {direction}: give minimize or maximize, or a list of "
            "them for several objectives."
        )
    return names


def _function(option: str, path: str | None) -> Callable[..., Any] | None:
    """The function that `hydra.sweeper.<option>` names by its dotpath, None for none."""
    if path is None:
        return None
    try:
        # The published examples write `.module.function` for a module beside the app, as Hydra
        # 1.1 read dotpaths; later Hydras refuse the leading dot.
        return get_method(path.removeprefix("."))
    except Exception as e:
        raise SweeperError(f"Cannot find hydra.sweeper.{option} {path}: {first_line(e)}.") from e


def _make(option: str, cfg: DictConfig, kind: type) -> Any:
    """Instantiate `hydra.sweeper.<option>` (a `_target_` config, the user's own classes
    welcome); the object must be a `kind`."""
    target = cfg.get("_target_")
    try:
        with _quiet_optuna():
            made = instantiate(cfg)
    except Exception as e:
        raise SweeperError(f"Cannot make hydra.sweeper.{option} {target}: {first_line(e)}.") from e
    if not isinstance(made, kind):
        raise SweeperError(
            f"hydra.sweeper.{option} ({target}) made a {type(made).__name__}, not an Optuna "
            f"{option}."
        )
    return made


def _is_grid_sampler(func: Any) -> bool:
    return isinstance(func, type) and issubclass(func, GridSampler)


def _password_to_environment(url: str | None) -> str | None:
    """The storage URL without its password, which goes to ``PGPASSWORD`` instead: libpq reads
    it there in this process and in the jobs' processes it starts, and nothing that genre or
    Hydra writes holds it. (On other machines, ``PGPASSWORD`` or ``~/.pgpass`` give it, as for
    any PostgreSQL client.)"""
    if url is None:
        return None
    stripped, password = split_password(url)
    if password is None:
        return url
    if not url.startswith("postgresql"):
        raise SweeperError(
            f"The storage {without_password(url)} has a password in its URL, which would be "
            "copied into every job's folder: give it the database client's own way instead "
            "(MySQL: a ~/.my.cnf named by ?read_default_file=~/.my.cnf)."
        )
    os.environ["PGPASSWORD"] = password
    return stripped


def _without_url_password(override: str) -> str:
    """An override line with any URL's password taken out (the storage's, given on the command
    line): Hydra copies the command's overrides into every job's .hydra/hydra.yaml."""
    key, sep, value = override.partition("=")
    return f"{key}{sep}{split_password(value)[0]}" if sep and "://" in value else override


def _shown(storage_url: str | None) -> str:
    return "memory" if storage_url is None else without_password(storage_url)


def _outcome(result: JobReturn, n_objectives: int) -> Outcome:
    """How a job's result tells as a trial."""
    # What the job raised, read directly: `return_value` would raise it after logging an error
    # line with every override of the job, which the trial's one line replaces.
    if result.status == JobStatus.FAILED:
        error = job_exception(result)
        if isinstance(error, optuna.TrialPruned):
            return Outcome(TrialState.PRUNED)
        keep_failure(result, error)
        return Outcome(TrialState.FAIL, error=f"{type(error).__name__}: {first_line(error)}")
    value = result.return_value
    values = _finite_values(value, n_objectives)
    if values is None:
        wanted = "a finite number" if n_objectives == 1 else f"{n_objectives} finite numbers"
        return Outcome(TrialState.FAIL, error=f"it returned {value!r}, not {wanted}")
    return Outcome(TrialState.COMPLETE, values)


def _finite_values(value: Any, n_objectives: int) -> list[float] | None:
    """A job's return value as one finite float per objective (a tuple or list for several),
    or None: NaN, infinity, non-numbers and the wrong count fail."""
    if n_objectives == 1:
        items = [value]
    elif isinstance(value, str):
        return None
    else:
        try:
            items = list(value)
        except TypeError:
            return None
    numbers = []
    for item in items:
        number = _finite(item)
        if number is None:
            return None
        numbers.append(number)
    return numbers if len(numbers) == n_objectives else None


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
