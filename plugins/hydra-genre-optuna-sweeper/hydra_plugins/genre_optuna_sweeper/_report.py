"""The end of a sweep: the table of best trials (the Pareto front for several objectives) and
`optimization_results.yaml`, the published plugin's results file, in the sweep dir."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import yaml
from omegaconf import DictConfig, OmegaConf
from optuna.trial import FrozenTrial, TrialState

from .tracker import StudyTracker

TOP_TRIALS = 5
SWEEPER_NAME = "genre_optuna"


def objective_name(config: DictConfig) -> str | None:
    """The task config's `objective`, the name of what its jobs return, where it has one."""
    name = OmegaConf.select(config, "objective", default=None)
    return name if isinstance(name, str) else None


def report(
    study: optuna.Study, config: DictConfig, sweep_dir: Path, tracker: StudyTracker | None
) -> None:
    """Print the best trials and where to see the study, and write `optimization_results.yaml`
    into the sweep dir."""
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    directions = ", ".join(d.name.lower() for d in study.directions)
    objective = objective_name(config) or "the returned value"
    lines = [f"Study {study.study_name!r}: {len(trials)} trials ({counts(trials)})."]
    if complete and is_multi_objective(study):
        lines.append(f"Pareto front ({directions} {objective}):")
        lines += _table(sorted(study.best_trials, key=lambda t: t.values), tracker)
    elif complete:
        maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
        ranked = sorted(complete, key=lambda t: t.values[0], reverse=maximize)
        lines.append(f"Best trials ({directions} {objective}):")
        lines += _table(ranked[:TOP_TRIALS], tracker)
    link = tracker.link() if tracker is not None else None
    if link:
        lines.append(f"See it: {link}")
    print("\n".join(lines), flush=True)
    _save_results(study, sweep_dir, complete)


def counts(trials: list[FrozenTrial]) -> str:
    labels = {
        TrialState.COMPLETE: "complete",
        TrialState.PRUNED: "pruned",
        TrialState.FAIL: "failed",
    }
    return ", ".join(f"{sum(t.state == s for t in trials)} {label}" for s, label in labels.items())


def is_multi_objective(study: optuna.Study) -> bool:
    return len(study.directions) > 1


def _table(trials: list[FrozenTrial], tracker: StudyTracker | None) -> list[str]:
    """Rank, trial, value, the tracker's record of the trial (where there is a tracker), and the
    parameters, in aligned columns."""
    heading = ("rank", "trial", "value") + ((tracker.column,) if tracker else ())
    rows = [(*heading, "params")]
    for rank, trial in enumerate(trials, start=1):
        params = " ".join(f"{k}={_short(v)}" for k, v in trial.params.items())
        value = ",".join(f"{v:.6g}" for v in trial.values)
        record = (tracker.trial_record(trial) or "-",) if tracker else ()
        rows.append((str(rank), str(trial.number), value, *record, params))
    widths = [max(len(row[i]) for row in rows) for i in range(len(heading))]
    return [
        "  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1]])
        for row in rows
    ]


def _short(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _save_results(study: optuna.Study, sweep_dir: Path, complete: list[FrozenTrial]) -> None:
    """The published plugin's `optimization_results.yaml`, with its keys and their meaning
    (`best_params` and `best_value`, or `solutions` for several objectives), written also when
    no trial completed, which `note` then says."""
    results: dict[str, Any] = {"name": SWEEPER_NAME, "study_name": study.study_name}
    if is_multi_objective(study):
        front = study.best_trials if complete else []
        results["solutions"] = [{"params": t.params, "values": t.values} for t in front]
    else:
        best = study.best_trial if complete else None
        results["best_params"] = best.params if best else None
        results["best_value"] = best.value if best else None
    if not complete:
        trials = study.get_trials(deepcopy=False)
        results["note"] = f"No trial completed ({len(trials)} trials: {counts(trials)})."
    sweep_dir.mkdir(parents=True, exist_ok=True)
    (sweep_dir / "optimization_results.yaml").write_text(yaml.safe_dump(results, sort_keys=False))
