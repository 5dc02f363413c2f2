"""What a job launched by the `genre_optuna` sweeper needs of its trial.

The sweeper launches one Hydra job per trial with `optuna.study_name`, `optuna.storage` and
`optuna.trial_id` set. The job finds its trial again through the study storage, so reporting and
pruning work under any Hydra launcher, in another process or on another machine.

Public, so Hydra imports it while scanning for plugins: Optuna is imported only when a job asks
for its trial.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import optuna
    from omegaconf import DictConfig

SETTINGS_ATTR = "genre_sweeper"
"""Study user attr where the sweeper leaves what a job needs: pruner and heartbeat interval."""
RUN_ID_ATTR = "mlflow_run_id"
"""Trial user attr where a job leaves its MLflow run id, for the sweeper's parent run."""


@contextmanager
def job_trial(optuna_cfg: DictConfig | None) -> Iterator[optuna.Trial | None]:
    """The sweeper's trial for this job, or None outside a sweep.

    The trial is loaded from the study storage, and Optuna's heartbeat runs while the block
    does. Pruning uses the pruner the sweeper stored in the study.
    """
    if optuna_cfg is None or optuna_cfg.get("trial_id") is None:
        yield None
        return
    import optuna
    from optuna.trial import TrialState

    from genre.errors import GenreError

    from ._optuna import trial_id
    from ._storage import Heartbeat, make_pruner, open_storage

    storage = open_storage(optuna_cfg.storage)
    # The job never samples: its parameters came with its overrides, so skip TPE's bookkeeping.
    study = optuna.load_study(
        study_name=optuna_cfg.study_name, storage=storage, sampler=optuna.samplers.RandomSampler()
    )
    settings = study.user_attrs.get(SETTINGS_ATTR, {})
    study.pruner = make_pruner(settings.get("pruner"))
    trial = optuna.Trial(study, int(optuna_cfg.trial_id))
    state = storage.get_trial(trial_id(trial)).state
    if state != TrialState.RUNNING:
        raise GenreError(
            f"Optuna trial {trial.number} of study {study.study_name!r} is {state.name}, not "
            "RUNNING (failed as stale?); raise hydra.sweeper.grace_period if jobs stall."
        )
    with Heartbeat(storage, [trial_id(trial)], settings.get("heartbeat_interval")):
        yield trial
