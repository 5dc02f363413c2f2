"""Row 4: the demo sweep (``sweeps/demo.yaml``) with its median pruner against the same sweep
without pruning: same sampler seed, trial count and epochs. Counts the epochs trained (one
validation report per epoch, read from the Optuna study and checked against the MLflow child
runs' metric histories) and compares the best objective.

Both sweeps run as users run them, ``python -m genre.train -m sweeps=demo ...``, in subprocesses
with their own SQLite study and MLflow stores in the workspace, side by side: their results
depend on the seeds, not on timing."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from omegaconf import OmegaConf

from genre.bench.common import Metric, RowResult, Target, Workspace, progress
from genre.config import compose_config, settings


def demo_config(extra: list[str]):
    return compose_config(["sweeps=demo", *extra], return_hydra_config=True)


def no_pruning_overrides(n_trials: int) -> tuple[list[str], str]:
    """The overrides that switch the demo's pruner off, and how. ``hydra/sweeper/pruner=none``
    where the demo's config allows it; otherwise the median pruner with ``n_startup_trials`` equal
    to the trial count, which never prunes (it waits for that many finished trials)."""
    try:
        demo_config(["hydra/sweeper/pruner=none"])
        return ["hydra/sweeper/pruner=none"], "hydra/sweeper/pruner=none"
    except Exception as exc:  # Hydra's composition error: the demo sets median-only keys
        how = (
            f"hydra.sweeper.pruner.n_startup_trials={n_trials} (a median pruner that never "
            f"prunes), because hydra/sweeper/pruner=none fails with sweeps=demo: "
            f"{str(exc).splitlines()[-3:]}"
        )
        return [f"hydra.sweeper.pruner.n_startup_trials={n_trials}"], how


def epochs_of(study) -> tuple[int, dict]:
    """Epochs trained in a study: one intermediate value is reported per validated epoch."""
    from optuna.trial import TrialState

    per_trial, states = [], {}
    for t in study.trials:
        per_trial.append(len(t.intermediate_values))
        states[t.state.name] = states.get(t.state.name, 0) + 1
    complete = [t.value for t in study.trials if t.state == TrialState.COMPLETE]
    return sum(per_trial), {
        "epochs_per_trial": per_trial,
        "states": states,
        "values": complete,
        "best": max(complete) if complete else None,
    }


def mlflow_epochs(tracking_uri: str, study_name: str, metric: str) -> int | None:
    """The same count from MLflow: points in each child run's history of the objective."""
    try:
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri)
        runs = client.search_runs(
            [e.experiment_id for e in client.search_experiments()],
            filter_string=f"tags.`optuna.study_name` = '{study_name}'",
        )
        return sum(len(client.get_metric_history(r.info.run_id, metric)) for r in runs)
    except Exception:  # a cross-check only
        return None


def run(ws: Workspace) -> RowResult:
    import optuna

    result = RowResult("pruning", "Pruning: demo sweep, median pruner vs none")
    s = ws.settings
    demo = demo_config([])
    pruner = OmegaConf.to_container(demo.hydra.sweeper.pruner)
    n_trials = s.sweep_trials or int(demo.hydra.sweeper.n_trials)
    epochs = s.sweep_epochs or int(demo.hydra.sweeper.params["trainer.max_epochs"])
    objective = str(demo.objective)
    scratch = ws.root / "sweeps"
    scratch.mkdir(parents=True, exist_ok=True)
    data = [f"data.clips_per_genre={s.sweep_clips_per_genre}"] if s.sweep_clips_per_genre else []
    if s.sweep_clip_seconds:
        data.append(f"data.clip_seconds={s.sweep_clip_seconds:g}")

    # Generate and cache the sweep's dataset once, so that the two sweeps share it.
    from genre.data.datamodule import GenreDataModule

    cfg = compose_config(["data=synth", *data])
    GenreDataModule(settings(cfg, "data")).load()

    off, how_off = no_pruning_overrides(n_trials)
    sides = {"median": [], "none": off}
    procs, logs, started = {}, {}, {}
    for side, extra in sides.items():
        study = f"bench-{side}"
        cmd = [
            sys.executable,
            "-m",
            "genre.train",
            "-m",
            "sweeps=demo",
            *extra,
            f"hydra.sweeper.n_trials={n_trials}",
            f"trainer.max_epochs={epochs}",
            *data,
            f"hydra.sweeper.study_name={study}",
            f"hydra.sweeper.storage=sqlite:///{scratch / (side + '-optuna.db')}",
            f"mlflow.tracking_uri=sqlite:///{scratch / (side + '-mlflow.db')}",
            f"hydra.sweep.dir={scratch / (side + '-multirun')}",
        ]
        logs[side] = scratch / f"{side}.log"
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        with open(logs[side], "w") as log:
            log.write(" ".join(cmd) + "\n")
            log.flush()
            started[side] = time.perf_counter()
            procs[side] = subprocess.Popen(
                cmd, cwd=scratch, stdout=log, stderr=subprocess.STDOUT, env=env
            )
    seconds = {}
    for side, proc in procs.items():
        proc.wait()
        seconds[side] = time.perf_counter() - started[side]
        progress(f"pruning: sweep with pruner={side} finished in {seconds[side]:.0f} s")
        if proc.returncode != 0:
            tail = logs[side].read_text()[-1500:]
            raise RuntimeError(f"sweep with pruner={side} failed (exit {proc.returncode}): {tail}")

    counts, info = {}, {}
    for side in sides:
        storage = f"sqlite:///{scratch / (side + '-optuna.db')}"
        study = optuna.load_study(study_name=f"bench-{side}", storage=storage)
        counts[side], info[side] = epochs_of(study)
        info[side]["mlflow_epochs"] = mlflow_epochs(
            f"sqlite:///{scratch / (side + '-mlflow.db')}", f"bench-{side}", objective
        )
        info[side]["sweep_seconds"] = seconds[side]
    k, warm = int(pruner.get("n_startup_trials", 0)), int(pruner.get("n_warmup_steps", 0))
    # The least a median pruner with these settings can train: the startup trials in full, every
    # later one stopped at its first prunable epoch (step n_warmup_steps, counting from 0).
    floor = (min(k, n_trials) * epochs + max(0, n_trials - k) * min(warm + 1, epochs)) / (
        n_trials * epochs
    )
    pruned = info["median"]["states"].get("PRUNED", 0)
    result.metrics += [
        Metric(
            "epochs trained",
            "epochs",
            float(counts["median"]),
            float(counts["none"]),
            Target("ratio", "<=", 0.5),
            note=f"{n_trials} trials x {epochs} epochs, {pruned} pruned; median pruner "
            f"n_startup_trials={k}, n_warmup_steps={warm}: it cannot go below {floor:.2f}x",
        ),
        Metric(
            f"best {objective}",
            "",
            info["median"]["best"],
            info["none"]["best"],
            Target("delta", ">=", -0.02),
            note=f"sampler seed {demo.hydra.sweeper.sampler.seed}; same trial count",
        ),
    ]
    result.details = {
        "n_trials": n_trials,
        "max_epochs": epochs,
        "sweep_data": data or "the demo's own",
        "pruner": pruner,
        "no_pruning": how_off,
        "floor_ratio": floor,
        "sides": info,
        "logs": {k: str(v) for k, v in logs.items()}
        if ws.keep
        else "removed with the workspace (keep them with --workdir)",
    }
    return result
