"""One line per trial as it ends: its parameters in short form, how it ended, how long it took,
and the study's progress with an estimate of the time left. The full story of a trial is in its
job's folder (Hydra's job log, with the traceback of a failure appended by the sweeper)."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn
from optuna.trial import FrozenTrial, TrialState

log = logging.getLogger(__name__)


class Progress:
    """The trials this worker ran, for the estimate of the time left."""

    def __init__(self, n_trials: int, n_jobs: int) -> None:
        self.n_trials, self.n_jobs = n_trials, n_jobs
        self.durations: list[float] = []

    def report(self, trial: FrozenTrial, finished: int, error: str | None, seconds: float) -> None:
        """The line of ``trial``, which took ``seconds``; ``finished`` of the study's ``n_trials``
        places are done."""
        self.durations.append(seconds)
        left = max(0, self.n_trials - finished)
        eta = left * (sum(self.durations) / len(self.durations)) / self.n_jobs
        progress = f"{finished}/{self.n_trials}" + (f", ~{_duration(eta)} left" if left else "")
        fields = [f"trial {trial.number}", short_params(trial.params)]
        fields += [_ending(trial, error), _duration(seconds), progress]
        log.info(" · ".join(f for f in fields if f))


def short_params(params: Mapping[str, Any]) -> str:
    """``lr=1.3e-03 n_mels=64``: each parameter by its last name part, numbers kept short."""
    return " ".join(f"{name.rsplit('.', 1)[-1]}={_value(value)}" for name, value in params.items())


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if 1e-3 <= abs(value) < 1e4 or value == 0 else f"{value:.2e}"
    return str(value)


def _ending(trial: FrozenTrial, error: str | None) -> str:
    if trial.state == TrialState.COMPLETE:
        return ", ".join(f"{v:.4g}" for v in trial.values)
    if trial.state == TrialState.PRUNED:
        return f"pruned at epoch {trial.last_step}" if trial.last_step is not None else "pruned"
    return f"failed: {error}" if error else "failed"


def _duration(seconds: float) -> str:
    minutes, rest = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{rest:02d}s" if minutes else f"{rest}s"


def keep_failure(result: JobReturn, error: BaseException) -> None:
    """Append a failed job's traceback to its own log file, where its other lines are."""
    try:
        folder = Path(result.hydra_cfg.hydra.runtime.output_dir)
        name = result.hydra_cfg.hydra.job.name
        text = "".join(traceback.format_exception(error))
        with (folder / f"{name}.log").open("a") as out:
            out.write(f"[{time.strftime('%Y-%m-%d %H:%M:%S')}] the job failed:\n{text}")
    except Exception as e:  # a job that never got a folder: nothing to keep it in
        log.debug("No job log for the failure: %s", e)
