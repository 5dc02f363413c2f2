"""The sweep loop: ask a batch of trials, launch one Hydra job per trial, tell the outcomes."""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import optuna
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf
from optuna.distributions import distribution_to_json
from optuna.exceptions import (
    DuplicatedStudyError,
    ExperimentalWarning,
    UpdateFinishedTrialError,
)
from optuna.samplers import BaseSampler, GPSampler, RandomSampler, TPESampler
from optuna.storages import BaseStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState

from genre.errors import GenreError, first_line
from genre.util import without_password

from ._optuna import fail_running, job_exception, study_id, trial_id
from ._search_space import SearchSpace, format_value, parse_search_space
from ._storage import Heartbeat, admission, make_pruner, normalize_storage, open_storage
from ._tracking import StudyRun, print_summary
from .job import SETTINGS_ATTR

log = logging.getLogger(__name__)

SAMPLERS: dict[str, type[BaseSampler]] = {
    "tpe": TPESampler,
    "random": RandomSampler,
    "cmaes": optuna.samplers.CmaEsSampler,
    "gp": GPSampler,
}
_SAMPLER_PACKAGES = {"cmaes": ("cmaes",), "gp": ("scipy", "torch")}
# Trials that hold a place among `n_trials`; a FAIL that was queued again is replaced by its retry.
_TAKEN = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.FAIL)
SPACE_ATTR = "genre_search_space"
"""Study user attr with the search space and objective, which a resuming sweep must share."""
# Seconds between looks at a study whose last trials run on other workers.
_POLL_S = 5.0


@contextmanager
def _quiet_optuna() -> Iterator[None]:
    """Silence warnings that say heartbeat and ask/tell are experimental or meant for optimize()."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
        yield


class OptunaSweep(Sweeper):
    def __init__(
        self,
        *,
        sampler: DictConfig,
        pruner: DictConfig,
        n_trials: int,
        n_jobs: int,
        direction: Any,
        study_name: str | None,
        storage: str | None,
        heartbeat_interval: int | None,
        grace_period: int | None,
        max_retries: int,
        params: DictConfig | None,
    ) -> None:
        if n_trials < 1 or n_jobs < 1:
            raise GenreError("hydra.sweeper.n_trials and hydra.sweeper.n_jobs must be at least 1.")
        self.sampler_cfg = OmegaConf.to_container(sampler)
        self.pruner_cfg = OmegaConf.to_container(pruner)
        self.n_trials = n_trials
        self.n_jobs = n_jobs
        self.direction = getattr(direction, "name", str(direction))
        self.study_name = study_name
        self.storage_url = normalize_storage(storage, Path.cwd())
        self.heartbeat_interval = heartbeat_interval
        self.grace_period = grace_period
        self.max_retries = max_retries
        self.params: Mapping[str, Any] = OmegaConf.to_container(params) if params else {}
        self.job_idx = 0
        self.lost_batches = 0  # in a row; see _launch
        self.run: StudyRun | None = None
        with _quiet_optuna():
            self._retry = RetryHeartbeatStaleTrialCallback(max_retry=max_retries)

    def setup(
        self,
        *,
        hydra_context: HydraContext,
        task_function: TaskFunction,
        config: DictConfig,
    ) -> None:
        if OmegaConf.select(config, "optuna") is None:
            raise GenreError(
                "The task config needs an `optuna:` block (study_name, storage, "
                "trial_id, all null) for the sweeper to fill in."
            )
        self.config = config
        self.hydra_context = hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> list[Sequence[JobReturn]]:
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        space = parse_search_space(self.params, arguments, parser)
        sampler, n_trials = self._sampler(space)
        storage = self._storage()
        study = self._study(storage, sampler, space)
        self._save_multirun_config()
        with admission(storage, study_id(study)):
            self.run = StudyRun.open(self.config, study, self._description(space, n_trials))
        if self.run is not None:
            self.run.close_dead_runs(study.get_trials(deepcopy=False))
        try:
            returns = self._loop(study, storage, space, n_trials)
        except BaseException as e:
            if self.run is not None:
                self.run.end("KILLED" if isinstance(e, KeyboardInterrupt) else "FAILED")
            raise
        if self.run is not None:
            with admission(storage, study_id(study)):
                self.run.finish(study)
        print_summary(study, self.config, Path(self.config.hydra.sweep.dir))
        return returns

    def _loop(
        self, study: optuna.Study, storage: BaseStorage, space: SearchSpace, n_trials: int
    ) -> list[Sequence[JobReturn]]:
        """Ask, launch and tell batches until the study holds `n_trials` finished trials.

        A worker with no place left waits for the trials other workers run, if heartbeats are
        on: a dead worker's trial is then failed here and its retry run by a live worker.
        """
        returns: list[Sequence[JobReturn]] = []
        waiting = False
        while True:
            with admission(storage, study_id(study)):
                trials, running = self._admit(study, space, n_trials)
            if trials:
                waiting = False
                returns.append(self._run_batch(study, storage, trials, space))
                continue
            if not running or self.heartbeat_interval is None:
                return returns
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
        retried = {n for t in trials for n in t.system_attrs.get("retry_history", [])}
        taken = [t for t in trials if t.state in _TAKEN and t.number not in retried]
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
    ) -> Sequence[JobReturn]:
        batch = [space.overrides(trial.params) + self._contract(study, trial) for trial in trials]
        log.info("Launching trials %s", ", ".join(str(t.number) for t in trials))
        results = self._launch(study, storage, trials, batch)
        if results is None:
            return []
        outcomes = [_outcome(t.number, r) for t, r in zip(trials, results, strict=True)]
        failed = [
            t for t, (state, _) in zip(trials, outcomes, strict=True) if state == TrialState.FAIL
        ]
        lost = self.run.unreachable() if failed and self.run is not None else None
        for trial, (state, values) in zip(trials, outcomes, strict=True):
            if lost is None or state != TrialState.FAIL:
                self._tell(study, trial, state, values)
        if lost is not None:
            # The jobs failed because they could not log; their configurations are not at fault.
            self._requeue(study, failed)
            raise GenreError(
                f"The MLflow tracking server {self.run.uri} stopped answering ({lost}). "
                f"The study keeps its finished trials and trials "
                f"{', '.join(str(t.number) for t in failed)} will run again: bring the server "
                "back and run the same command to resume."
            )
        return results

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
                    raise GenreError(
                        f"The launcher lost {self.lost_batches} batches in a row ({error}); their "
                        "trials are queued again: fix the launcher or the jobs' resources and "
                        "run the same command to resume."
                    ) from e
                log.warning("The launcher lost the batch (%s); going on", error)
                return None
        self.lost_batches = 0
        self.job_idx += len(results)
        return results

    def _tell(
        self,
        study: optuna.Study,
        trial: optuna.Trial,
        state: TrialState,
        values: list[float] | None,
    ) -> None:
        try:
            study.tell(trial, values, state=state, skip_if_finished=True)
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
        if self.run is not None:
            self.run.close_dead_runs(failed)

    def _contract(self, study: optuna.Study, trial: optuna.Trial) -> list[str]:
        """The overrides that tell a job which trial it runs (see .job.job_trial)."""
        values: dict[str, Any] = {
            "optuna.study_name": study.study_name,
            "optuna.storage": self.storage_url,
            "optuna.trial_id": trial_id(trial),
            "optuna.trial_number": trial.number,
        }
        if self.run is not None:
            values["mlflow.parent_run_id"] = self.run.run_id
        return [f"{key}={format_value(value)}" for key, value in values.items()]

    def _sampler(self, space: SearchSpace) -> tuple[BaseSampler, int]:
        """The configured sampler, and n_trials capped at the grid's size for the grid sampler."""
        kwargs = dict(self.sampler_cfg)
        name = kwargs.pop("name")
        with _quiet_optuna():
            if name == "grid":
                grid = space.grid()
                size = math.prod(len(values) for values in grid.values())
                if size < self.n_trials:
                    log.info("The grid has %d points: n_trials lowered to %d", size, size)
                return optuna.samplers.GridSampler(grid, **kwargs), min(size, self.n_trials)
            if name not in SAMPLERS:
                raise GenreError(
                    f"Unknown sampler {name!r}; choose one of grid, {', '.join(SAMPLERS)}."
                )
            # Optuna imports these only when sampling, after a trial was asked; check first.
            missing = [pkg for pkg in _SAMPLER_PACKAGES.get(name, ()) if not find_spec(pkg)]
            if missing:
                raise GenreError(
                    f"The {name} sampler needs {', '.join(missing)}: "
                    f"pip install {' '.join(missing)}."
                )
            return SAMPLERS[name](**kwargs), self.n_trials

    def _storage(self) -> BaseStorage:
        try:
            return open_storage(
                self.storage_url,
                heartbeat_interval=self.heartbeat_interval,
                grace_period=self.grace_period,
                stale_trial_callback=self._on_stale_trial,
            )
        except Exception as e:
            raise GenreError(
                f"Cannot open the Optuna storage {without_password(self.storage_url)}: "
                f"{first_line(e)}"
            ) from e

    def _study(
        self, storage: BaseStorage, sampler: BaseSampler, space: SearchSpace
    ) -> optuna.Study:
        """Create the study, or load it to resume."""
        name = self._study_name()
        pruner = make_pruner(self.pruner_cfg)
        try:
            study = optuna.create_study(
                storage=storage,
                study_name=name,
                sampler=sampler,
                pruner=pruner,
                direction=self.direction,
            )
            created = True
        except DuplicatedStudyError:
            study = optuna.load_study(
                study_name=name, storage=storage, sampler=sampler, pruner=pruner
            )
            created = False
            if study.direction.name.lower() != self.direction:
                raise GenreError(
                    f"Study {name!r} already exists and {study.direction.name.lower()}s; "
                    "pick another hydra.sweeper.study_name or the same direction."
                ) from None
        self._check_space(study, space)
        # What the jobs need to prune and beat; see .job.job_trial.
        settings = {"pruner": self.pruner_cfg, "heartbeat_interval": self.heartbeat_interval}
        study.set_user_attr(SETTINGS_ATTR, settings)
        log.info(
            "Study %r in %s (%s): %d trials so far",
            name,
            without_password(self.storage_url),
            "new" if created else "resumed",
            len(study.trials),
        )
        return study

    def _check_space(self, study: optuna.Study, space: SearchSpace) -> None:
        """Refuse to resume a study with another search space or objective: its trials would
        not be comparable, and the sampler would learn from the wrong ones."""
        mine = {
            "objective": OmegaConf.select(self.config, "objective"),
            "params": {name: distribution_to_json(d) for name, d in space.distributions.items()},
        }
        stored = study.user_attrs.get(SPACE_ATTR)
        if stored is None:
            study.set_user_attr(SPACE_ATTR, mine)
            return
        if stored == mine:
            return
        if stored["objective"] != mine["objective"]:
            differences = [f"objective {stored['objective']} then, {mine['objective']} now"]
        else:
            old, new = stored["params"], mine["params"]
            differences = [
                f"{key}: {_space_text(old.get(key))} then, {_space_text(new.get(key))} now"
                for key in sorted(old.keys() | new.keys())
                if old.get(key) != new.get(key)
            ]
        raise GenreError(
            f"Study {study.study_name!r} was made with another search space "
            f"({'; '.join(differences)}); pick another hydra.sweeper.study_name, or the "
            "study's own space to resume it."
        )

    def _study_name(self) -> str:
        if self.study_name:
            return self.study_name
        sweep_file = OmegaConf.select(self.config, "hydra.runtime.choices.sweeps")
        return str(sweep_file or self.config.hydra.job.name)

    def _description(self, space: SearchSpace, n_trials: int) -> dict[str, Any]:
        return {
            "n_trials": n_trials,
            "n_jobs": self.n_jobs,
            "direction": self.direction,
            "storage": without_password(self.storage_url),
            "sampler": self.sampler_cfg,
            "pruner": self.pruner_cfg,
            "params": {name: str(d) for name, d in space.distributions.items()},
            "fixed": list(space.fixed.values()),
            "objective": OmegaConf.select(self.config, "objective"),
            "sweep_file": OmegaConf.select(self.config, "hydra.runtime.choices.sweeps"),
        }

    def _save_multirun_config(self) -> None:
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")


def _space_text(distribution_json: str | None) -> str:
    if distribution_json is None:
        return "absent"
    return str(optuna.distributions.json_to_distribution(distribution_json))


def _outcome(number: int, result: JobReturn) -> tuple[TrialState, list[float] | None]:
    """The trial state and value a job's result stands for."""
    # Read directly: `return_value` would print "Error executing job" for a mere pruning.
    if result.status == JobStatus.FAILED and isinstance(job_exception(result), optuna.TrialPruned):
        log.info("Trial %d pruned: %s", number, job_exception(result))
        return TrialState.PRUNED, None
    try:
        value = result.return_value  # raises what the job raised
    except Exception as e:
        log.warning("Trial %d failed: %s: %s", number, type(e).__name__, e, exc_info=e)
        return TrialState.FAIL, None
    objective = _finite(value)
    if objective is None:
        log.warning("Trial %d failed: it returned %r, not a finite number", number, value)
        return TrialState.FAIL, None
    log.info("Trial %d finished with value %s", number, objective)
    return TrialState.COMPLETE, [objective]


def _finite(value: Any) -> float | None:
    """The job's return value as a finite float, or None: NaN, inf and non-numbers fail."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
