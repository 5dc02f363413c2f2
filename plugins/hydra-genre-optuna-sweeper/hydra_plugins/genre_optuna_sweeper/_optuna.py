"""Every use of an Optuna or Hydra internal, in one place, so that an upgrade of either touches
this file alone. Each is an attribute Optuna or Hydra keeps private but offers no public way to
reach."""

from __future__ import annotations

from typing import Any

import optuna
from hydra.core.utils import JobReturn
from optuna.storages import BaseStorage

# The interface optuna.storages.fail_stale_trials checks a storage for.
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.trial import FrozenTrial, TrialState

__all__ = ["BaseHeartbeat", "fail_running", "job_exception", "storage_of", "study_id", "trial_id"]


def study_id(study: optuna.Study) -> int:
    return study._study_id


def storage_of(study: optuna.Study) -> BaseStorage:
    return study._storage


def trial_id(trial: optuna.Trial | FrozenTrial) -> int:
    """The storage's id of a trial (``Trial`` and ``FrozenTrial`` alike), which is what a job on
    another machine needs to find it; ``number`` counts within the study only."""
    return trial._trial_id


def fail_running(study: optuna.Study, trial: optuna.Trial | FrozenTrial) -> FrozenTrial:
    """Mark a running trial FAIL without ``tell`` (which would ask the sampler and pruner) and
    return it as stored; raises ``UpdateFinishedTrialError`` if it is finished already."""
    storage = storage_of(study)
    storage.set_trial_state_values(trial_id(trial), TrialState.FAIL)
    return storage.get_trial(trial_id(trial))


def job_exception(result: JobReturn) -> Any:
    """What a failed Hydra job raised (``JobReturn.return_value`` re-raises it instead)."""
    return result._return_value
