"""The seam where an app records its studies elsewhere (an experiment tracker such as MLflow)
without the sweeper depending on it: `hydra.sweeper.tracker` names a function

    open_tracker(config: DictConfig, study: optuna.Study, description: dict) -> StudyTracker | None

which the sweeper calls once per sweep, after the study is opened and under the study's admission
lock (so that workers starting together find one record, not one each). `config` is the task's
composed config, `description` the sweep's setup (sampler, pruner, search space, n_trials...).
It returns None to leave the sweep untracked. The sweeper then calls the tracker's methods below
as the sweep goes; each may raise `SweeperError` to stop the sweep with its one sentence.

Public, so Hydra imports it while scanning for plugins: it imports nothing heavy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial


class StudyTracker(Protocol):
    column: str
    """The heading of the summary table's column that `trial_record` fills."""

    def job_env(self) -> dict[str, str]:
        """Environment variables for every trial's job (e.g. the study's record to log under)."""

    def trial_record(self, trial: FrozenTrial) -> str | None:
        """What the table shows of a trial's record (e.g. its run id), None for nothing."""

    def close_dead(self, trials: list[FrozenTrial]) -> None:
        """Close the records that failed trials' dead jobs left open (best effort)."""

    def unreachable(self) -> str | None:
        """None while the tracker answers; else why not, as the start of a sentence ("The
        tracking server X stopped answering (reason)"): the batch's failed trials are then
        queued again, not blamed on their parameters."""

    def finish(self, study: optuna.Study) -> None:
        """The sweep ended: record its summary (called under the admission lock)."""

    def end(self, status: str) -> None:
        """The sweep stopped early, ``KILLED`` (Ctrl-C) or ``FAILED``; must not raise."""

    def link(self) -> str | None:
        """Where to see the study, for the last line of the summary."""
