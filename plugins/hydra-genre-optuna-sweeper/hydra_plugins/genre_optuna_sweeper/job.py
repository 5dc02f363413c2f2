"""What a job launched by the `genre_optuna` sweeper can learn of its trial.

A job needs nothing of this to take part in a sweep: it returns its value (or a tuple, one per
objective) and the sweeper tells Optuna. A job that wants to be pruned opts in with `job_trial`,
reports its intermediate values to the trial it yields and stops when told:

    with job_trial() as trial:  # None outside a sweep
        for epoch in range(epochs):
            score = train_one_epoch()
            if trial is not None:
                trial.report(score, epoch)
                if trial.should_prune():
                    raise optuna.TrialPruned()
    return score

The sweeper tells each job which trial it runs through the job's environment, which it sets
with `hydra.job.env_set` overrides: Hydra applies those around the task function under every
launcher (basic, joblib, submitit, Ray), and, being `hydra.*` overrides, they leave the job's own
overrides and `hydra.job.override_dirname` untouched. The variables are named below. The storage
URL in them has no password: the sweeper took a PostgreSQL password out of the URL and put it in
`PGPASSWORD`, which the job's process inherits and its database client (libpq) reads, as it reads
`~/.pgpass` on a machine where the sweeper did not start the job. So the password is in the
sweeper's and its jobs' process environments (readable by the same user alone), and never in a
file: no job's `.hydra/`, param or artifact holds it.

Public, so Hydra imports it while scanning for plugins: Optuna is imported only when a job asks
for its trial.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ._errors import SweeperError

if TYPE_CHECKING:
    import optuna

STUDY_ENV = "GENRE_OPTUNA_STUDY"
"""The study's name."""
STORAGE_ENV = "GENRE_OPTUNA_STORAGE"
"""The study's storage URL, its password masked; unset for a study in the sweeper's memory."""
TRIAL_ID_ENV = "GENRE_OPTUNA_TRIAL_ID"
"""The trial's id in the storage, which finds it from any process."""
TRIAL_NUMBER_ENV = "GENRE_OPTUNA_TRIAL_NUMBER"
"""The trial's number in the study, e.g. to name the job's folder
(`hydra.sweep.subdir: trial-${hydra.job.env_set.GENRE_OPTUNA_TRIAL_NUMBER}`)."""

# The sweeper's studies by name, for the jobs that run in its own process (the basic launcher):
# the only way to reach a study in memory, and no second connection to any other.
_sweeper_studies: dict[str, optuna.Study] = {}


@contextmanager
def job_trial() -> Iterator[optuna.Trial | None]:
    """This job's Optuna trial while the block runs, or None outside a `genre_optuna` sweep.

    Pruning uses the pruner of `hydra.sweeper.pruner`. In another process than the sweeper's,
    the trial is loaded from the study storage and keeps a heartbeat while the block runs.
    """
    if TRIAL_ID_ENV not in os.environ:
        yield None
        return
    import optuna
    from optuna.trial import TrialState

    from ._optuna import storage_of
    from ._storage import Heartbeat

    study, heartbeat_interval = _job_study(os.environ[STUDY_ENV])
    trial_id = int(os.environ[TRIAL_ID_ENV])
    trial = optuna.Trial(study, trial_id)
    state = storage_of(study).get_trial(trial_id).state
    if state != TrialState.RUNNING:
        raise SweeperError(
            f"Optuna trial {trial.number} of study {study.study_name!r} is {state.name}, not "
            "RUNNING (failed as stale?); raise hydra.sweeper.grace_period if jobs stall."
        )
    with Heartbeat(storage_of(study), [trial_id], heartbeat_interval):
        yield trial


def _job_study(name: str) -> tuple[optuna.Study, int | None]:
    """The study as a job uses it, and the job's heartbeat interval: in the sweeper's process,
    its storage and pruner (the sweeper beats for its jobs); elsewhere, the storage opened anew
    and the pruner made from the job's own Hydra config."""
    import optuna
    from hydra.core.hydra_config import HydraConfig
    from hydra.utils import instantiate

    from ._optuna import storage_of
    from ._storage import open_storage

    # The job never samples (its parameters came with its overrides): a random sampler keeps
    # the configured sampler's bookkeeping out of it.
    sampler = optuna.samplers.RandomSampler()
    if name in _sweeper_studies:
        sweeper_study = _sweeper_studies[name]
        study = optuna.load_study(
            study_name=name,
            storage=storage_of(sweeper_study),
            sampler=sampler,
            pruner=sweeper_study.pruner,
        )
        return study, None
    sweeper = HydraConfig.get().sweeper
    storage = open_storage(_storage_url(name))
    study = optuna.load_study(
        study_name=name, storage=storage, sampler=sampler, pruner=instantiate(sweeper.pruner)
    )
    return study, sweeper.heartbeat_interval


def _storage_url(study_name: str) -> str:
    """The study's storage URL, as the sweeper gives it: without a password, which the
    database client takes from where it always looks (PostgreSQL: PGPASSWORD, ~/.pgpass)."""
    url = os.environ.get(STORAGE_ENV)
    if url is None:
        raise SweeperError(
            f"Study {study_name!r} is in the sweeper's memory, which a job in another process "
            "cannot reach: give hydra.sweeper.storage a database or journal file for jobs that "
            "report to their trial."
        )
    return url
