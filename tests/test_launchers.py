"""Parallel trials on one machine: the genre_optuna sweeper hands each batch of
`hydra.sweeper.n_jobs` trials to Hydra's joblib launcher (hydra-joblib-launcher), which runs one
job per trial in its own worker process. Pruning, failures and MLflow tracking must work as under
the basic launcher, since every job finds its trial through the study's storage."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import joblib
import optuna
import pytest
import test_sweeper
from helpers import TINY_RUN
from hydra_plugins.genre_optuna_sweeper._storage import normalize_storage, open_storage
from mlflow.entities import Run
from optuna.distributions import CategoricalDistribution
from optuna.trial import FrozenTrial, TrialState, create_trial
from test_sweeper import load_trials, parents, run_sweep, runs_of, states, sweep_env

pytestmark = pytest.mark.slow  # every test runs a sweep through a launcher's worker processes

# The fixtures, shared: an empty migrated MLflow store, and a directory holding a copy of it.
mlflow_db = test_sweeper.mlflow_db
workdir = test_sweeper.workdir

JOBLIB = ("hydra/launcher=joblib", "hydra.sweeper.n_jobs=2")
# joblib gives its workers a thread limit only where the user has set none.
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def parallel_env() -> dict[str, str]:
    env = sweep_env()
    for name in THREAD_VARS:
        env.pop(name, None)
    return env


def run_parallel(cwd: Path, *overrides: str) -> subprocess.CompletedProcess[str]:
    return run_sweep(cwd, *JOBLIB, *overrides, env=parallel_env())


def job_threads(launcher_n_jobs: int) -> str:
    """The OMP_NUM_THREADS joblib's loky backend sets in each worker: the cores divided among
    `hydra.launcher.n_jobs` workers (-1, the default, means one worker per core)."""
    cores = joblib.cpu_count()
    workers = cores if launcher_n_jobs == -1 else launcher_n_jobs
    return str(max(cores // workers, 1))


def overlap(a: FrozenTrial, b: FrozenTrial) -> bool:
    return (
        a.user_attrs["started"] < b.user_attrs["ended"]
        and b.user_attrs["started"] < a.user_attrs["ended"]
    )


def children_by_trial(cwd: Path, trials: list[FrozenTrial]) -> tuple[Run, dict[int, Run]]:
    """The study's one parent run, and each trial's child run under it."""
    runs = runs_of(cwd)
    [parent] = parents(runs)
    children = {
        r.info.run_id: r
        for r in runs
        if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id
    }
    assert len(children) == len(runs) - 1 == len(trials)
    return parent, {t.number: children[t.user_attrs["mlflow_run_id"]] for t in trials}


# --- the toy app: pruning ----------------------------------------------------------------


@pytest.fixture(scope="module")
def pruned_in_parallel(tmp_path_factory: pytest.TempPathFactory, mlflow_db: Path) -> Path:
    """sweeps=prune (8 trials, median pruner from the first finished trial) in batches of two
    parallel jobs; a whole trial takes 4 epochs of 0.5 s, so the jobs of a batch overlap."""
    if joblib.cpu_count() < 2:
        pytest.skip(
            "hydra.launcher.n_jobs=-1 means a worker per core, and with one core joblib runs "
            "the jobs one by one in the sweeper's own process"
        )
    cwd = tmp_path_factory.mktemp("joblib_prune")
    shutil.copy(mlflow_db, cwd / "mlflow.db")
    run_parallel(cwd, "sweeps=prune", "epoch_seconds=0.5")
    return cwd


def test_batches_run_side_by_side_in_worker_processes(pruned_in_parallel: Path) -> None:
    trials = load_trials(pruned_in_parallel, "prune")
    # The sweeper's own process runs no job: joblib's two workers run them all, reused from
    # batch to batch.
    assert len({t.user_attrs["pid"] for t in trials}) == 2
    batches = [trials[i : i + 2] for i in range(0, len(trials), 2)]
    assert any(overlap(a, b) for a, b in batches), "the jobs of a batch should run at once"


def test_jobs_report_to_their_trial_and_are_pruned(pruned_in_parallel: Path) -> None:
    trials = load_trials(pruned_in_parallel, "prune")
    assert len(trials) == 8
    assert TrialState.PRUNED in states(trials) and TrialState.COMPLETE in states(trials)
    assert set(states(trials)) == {TrialState.COMPLETE, TrialState.PRUNED}
    for trial in trials:
        # Each job loaded its trial by id (optuna.trial_id) and reported every epoch it ran:
        # all 4 when it completed, fewer when the pruner stopped it.
        reported = len(trial.intermediate_values)
        if trial.state == TrialState.COMPLETE:
            assert reported == 4
        else:
            assert reported < 4


def test_each_trial_is_one_child_run_of_the_study_run(pruned_in_parallel: Path) -> None:
    trials = load_trials(pruned_in_parallel, "prune")
    parent, child = children_by_trial(pruned_in_parallel, trials)
    assert parent.info.status == "FINISHED"
    pruned = states(trials).count(TrialState.PRUNED)
    assert f", {pruned} pruned, " in parent.data.tags["optuna.trials"]
    for trial in trials:
        run = child[trial.number]
        assert run.data.tags["optuna.trial_number"] == str(trial.number)
        assert run.data.params["kind"] == trial.params["kind"]
        assert float(run.data.params["x"]) == pytest.approx(trial.params["x"])
        if trial.state == TrialState.PRUNED:
            assert (run.info.status, run.data.tags["trial_state"]) == ("KILLED", "PRUNED")
        else:
            assert (run.info.status, run.data.tags["trial_state"]) == ("FINISHED", "COMPLETE")
            assert run.data.metrics["val/score"] == pytest.approx(trial.value)


def test_joblib_gives_each_job_its_share_of_the_cores(pruned_in_parallel: Path) -> None:
    # hydra.launcher.n_jobs is left at -1: a worker per core, so one thread per job.
    trials = load_trials(pruned_in_parallel, "prune")
    assert {t.user_attrs["omp_num_threads"] for t in trials} == {job_threads(-1)}


# --- the toy app: failures ---------------------------------------------------------------


@pytest.fixture(scope="module")
def failures_in_parallel(tmp_path_factory: pytest.TempPathFactory, mlflow_db: Path) -> Path:
    """8 points of the toy grid, half of whose kinds fail, with as many joblib workers as
    trials per batch."""
    cwd = tmp_path_factory.mktemp("joblib_toy")
    shutil.copy(mlflow_db, cwd / "mlflow.db")
    run_parallel(cwd, "sweeps=toy", "hydra.sweeper.n_trials=8", "hydra.launcher.n_jobs=2")
    return cwd


def test_failing_jobs_are_recorded_and_the_sweep_goes_on(failures_in_parallel: Path) -> None:
    trials = load_trials(failures_in_parallel, "toy")
    assert len(trials) == 8
    for trial in trials:
        failing = trial.params["kind"] in ("boom", "diverge")
        assert trial.state == (TrialState.FAIL if failing else TrialState.COMPLETE)
    parent, child = children_by_trial(failures_in_parallel, trials)
    assert parent.info.status == "FINISHED"
    failed = states(trials).count(TrialState.FAIL)
    assert parent.data.tags["optuna.trials"].endswith(f", {failed} failed")
    for trial in trials:
        raised = trial.params["kind"] == "boom"
        assert child[trial.number].info.status == ("FAILED" if raised else "FINISHED")


def test_launcher_n_jobs_sets_the_threads_per_job(failures_in_parallel: Path) -> None:
    trials = load_trials(failures_in_parallel, "toy")
    assert len({t.user_attrs["pid"] for t in trials}) == 2
    assert {t.user_attrs["omp_num_threads"] for t in trials} == {job_threads(2)}


# --- the real training job ----------------------------------------------------------------


def test_a_batch_whose_job_process_dies_runs_again(workdir: Path) -> None:
    """A job killed outright (as by the OOM killer) makes joblib abandon the whole batch: its
    trials are failed, their MLflow runs ended, their parameters run again, and the sweep goes
    on."""
    proc = run_parallel(
        workdir,
        "x=interval(0, 1)",
        "kind=crash",
        "hydra/sweeper/sampler=random",
        "hydra.sweeper.n_trials=2",
        "hydra.launcher.n_jobs=2",
        "epochs=2",
        "epoch_seconds=0.5",
    )
    assert "The launcher lost the batch" in proc.stdout + proc.stderr
    assert_lost_batch_ran_again(workdir)


def test_genre_train_trials_run_side_by_side_and_prune(workdir: Path) -> None:
    # A finished trial that scored 2.0 at epoch 1, which no macro-F1 reaches, makes the median
    # pruner's verdict certain: the 2-epoch trial is pruned after its second epoch, while the
    # 1-epoch trial ends within the warm-up (epoch 0) and completes.
    storage = open_storage(normalize_storage("sqlite:///optuna.db", workdir))
    study = optuna.create_study(study_name="e2e_joblib", storage=storage, direction="maximize")
    epochs = {"trainer.max_epochs": CategoricalDistribution([1, 2])}
    study.add_trial(
        create_trial(
            params={"trainer.max_epochs": 2},
            distributions=epochs,
            value=2.0,
            intermediate_values={0: 2.0, 1: 2.0},
        )
    )
    study.enqueue_trial({"trainer.max_epochs": 1})
    study.enqueue_trial({"trainer.max_epochs": 2})

    overrides = [
        *("data=synth", "data.clips_per_genre=6", "data.clip_seconds=2", *TINY_RUN, "model=cnn3"),
        "trainer.max_epochs=1,2",
        "hydra/sweeper/sampler=random",
        "hydra/sweeper/pruner=median",
        "hydra.sweeper.pruner.n_startup_trials=1",
        "hydra.sweeper.pruner.n_warmup_steps=1",
        "hydra.sweeper.study_name=e2e_joblib",
        "hydra.sweeper.n_trials=3",
        "mlflow.experiment=e2e_joblib",
        *JOBLIB,
        "hydra.launcher.n_jobs=2",
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "genre.train", "-m", *overrides],
        cwd=workdir,
        env=parallel_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    trials = load_trials(workdir, "e2e_joblib")
    assert states(trials) == [TrialState.COMPLETE, TrialState.COMPLETE, TrialState.PRUNED]
    assert [t.params["trainer.max_epochs"] for t in trials[1:]] == [1, 2]
    runs = runs_of(workdir, "e2e_joblib")
    [parent] = parents(runs)
    assert parent.info.status == "FINISHED"
    by_id = {r.info.run_id: r for r in runs}
    done, pruned = (by_id[t.user_attrs["mlflow_run_id"]] for t in trials[1:])
    assert len(runs) == 3
    for run, trial in ((done, trials[1]), (pruned, trials[2])):
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.data.tags["optuna.trial_number"] == str(trial.number)
        # Each torch process got its share of the cores, not all of them.
        assert run.data.tags["genre.torch_threads"] == job_threads(2)
    assert (done.info.status, done.data.tags["trial_state"]) == ("FINISHED", "COMPLETE")
    assert done.data.metrics["best_val/macro_f1"] == pytest.approx(trials[1].value)
    assert (pruned.info.status, pruned.data.tags["trial_state"]) == ("KILLED", "PRUNED")
    # MLflow has no pruned status: the name and the description say it.
    assert pruned.info.run_name == "trial 2 · max_epochs=2 · pruned at epoch 1"
    assert "pruned at epoch 1 by Optuna's pruner" in pruned.data.tags["mlflow.note.content"]
    # The two trainings ran at once, in two processes.
    assert done.info.start_time < pruned.info.end_time
    assert pruned.info.start_time < done.info.end_time


def assert_lost_batch_ran_again(workdir: Path, storage: str = "sqlite:///optuna.db") -> None:
    """The study of a sweep whose first batch of two jobs died: both trials failed and were run
    again with the same parameters, and no MLflow run is left RUNNING."""
    trials = load_trials(workdir, "app", storage=storage)
    assert states(trials) == [TrialState.FAIL] * 2 + [TrialState.COMPLETE] * 2
    lost, retries = trials[:2], trials[2:]
    assert [t.system_attrs["failed_trial"] for t in retries] == [t.number for t in lost]
    assert [t.params for t in retries] == [t.params for t in lost]
    runs = {r.info.run_id: r for r in runs_of(workdir)}
    # A lost job that got as far as starting its MLflow run has that run ended, not RUNNING.
    started = [runs[t.user_attrs["mlflow_run_id"]] for t in lost if "mlflow_run_id" in t.user_attrs]
    assert started and {r.info.status for r in started} == {"FAILED"}
    assert {runs[t.user_attrs["mlflow_run_id"]].info.status for t in retries} == {"FINISHED"}
    assert "RUNNING" not in {r.info.status for r in runs.values()}
