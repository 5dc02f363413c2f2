"""Many workers, one study: the toy app's sweeps run as real worker processes against a real
PostgreSQL and a real MLflow tracking server on 127.0.0.1, with the faults a team meets: a worker
killed with SIGKILL, Ctrl-C, a tracking server that goes away, and bad storage settings."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import optuna
import pytest
import yaml
from helpers import MlflowServer, free_port
from hydra_plugins.genre_optuna_sweeper._storage import normalize_storage, open_storage
from hydra_plugins.genre_optuna_sweeper.urls import split_password
from mlflow.tracking import MlflowClient
from optuna.trial import FrozenTrial, TrialState
from test_sweeper import (
    load_trials,
    one_sentence,
    parents,
    run_sweep,
    runs_of,
    states,
    sweep_command,
    sweep_env,
    sweep_error,
)

pytestmark = pytest.mark.slow  # every test starts PostgreSQL, sweep workers or a tracking server

TOY = ("x=interval(-2, 2)", "kind=a,b", "hydra/sweeper/pruner=none")


def start_worker(cwd: Path, *overrides: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        sweep_command(*overrides),
        cwd=cwd,
        env=env or sweep_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(worker: subprocess.Popen, timeout: float = 240) -> tuple[str, str]:
    try:
        return worker.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        worker.kill()
        out, err = worker.communicate()
        pytest.fail(f"worker {worker.pid} did not finish:\n{out[-3000:]}\n{err[-3000:]}")


def wait_for(what: str, check: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


def study_trials(storage: str, study: str, cwd: Path) -> list[FrozenTrial]:
    """The study's trials, or none while no worker has created it yet."""
    try:
        return load_trials(cwd, study, storage)
    except KeyError:
        return []


def best_row(stdout: str) -> str:
    """The first row of the best-trials table a worker prints at the end: rank, trial, value."""
    lines = stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("rank"))
    return " ".join(lines[header + 1].split()[:3])


# --- many workers -------------------------------------------------------------------------


def test_four_workers_finish_exactly_n_trials_tracked_on_one_server(
    tmp_path: Path, postgres_url: str, mlflow_server: MlflowServer
) -> None:
    n = 12
    overrides = (
        *TOY,
        "hydra.sweeper.study_name=team",
        f"hydra.sweeper.n_trials={n}",
        f"hydra.sweeper.storage={postgres_url}",
        f"mlflow.tracking_uri={mlflow_server.url}",
        "epochs=2",
        "epoch_seconds=1",
    )
    workers = [
        start_worker(tmp_path, *overrides, f"hydra.sweep.dir=multirun/w{i}") for i in range(4)
    ]
    outputs = [finish(worker) for worker in workers]
    for worker, (out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, out[-3000:] + err[-3000:]

    trials = load_trials(tmp_path, "team", postgres_url)
    assert states(trials) == [TrialState.COMPLETE] * n
    assert sorted(t.number for t in trials) == list(range(n))
    assert {t.user_attrs["pid"] for t in trials} == {w.pid for w in workers}

    client = MlflowClient(mlflow_server.url)
    experiment = client.get_experiment_by_name("toy")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    [parent] = parents(runs)
    children = [r for r in runs if r not in [parent]]
    assert all(r.data.tags["mlflow.parentRunId"] == parent.info.run_id for r in children)
    assert sorted(int(r.data.tags["optuna.trial_number"]) for r in children) == list(range(n))
    assert {r.info.status for r in children} == {"FINISHED"}
    by_id = {r.info.run_id: r for r in children}
    for trial in trials:  # nothing lost on the way to the server
        child = by_id[trial.user_attrs["mlflow_run_id"]]
        assert child.data.tags["optuna.trial_number"] == str(trial.number)
        assert child.data.metrics["val/score"] == pytest.approx(trial.value)
        assert child.data.params["x"] == str(trial.params["x"])

    # Every worker waits for the last trial, so all of them report the same winner.
    best = max(trials, key=lambda t: t.value or 0.0)
    assert {best_row(out) for out, _ in outputs} == {f"1 {best.number} {best.value:.6g}"}


def test_a_killed_workers_trial_is_failed_run_again_and_its_run_ended(
    tmp_path: Path, postgres_url: str
) -> None:
    n = 5
    overrides = (
        *TOY,
        "hydra.sweeper.study_name=kill",
        f"hydra.sweeper.n_trials={n}",
        f"hydra.sweeper.storage={postgres_url}",
        "hydra.sweeper.heartbeat_interval=1",
        "hydra.sweeper.grace_period=3",
        "epochs=4",
        "epoch_seconds=0.5",
    )
    victim = start_worker(tmp_path, *overrides, "hydra.sweep.dir=multirun/victim")

    def victim_runs_a_trial() -> bool:
        trials = study_trials(postgres_url, "kill", tmp_path)
        return any(
            t.state == TrialState.RUNNING and t.user_attrs.get("pid") == victim.pid for t in trials
        )

    wait_for("the victim to run a trial", victim_runs_a_trial)
    survivor = start_worker(tmp_path, *overrides, "hydra.sweep.dir=multirun/survivor")

    def survivor_runs_a_trial() -> bool:
        trials = study_trials(postgres_url, "kill", tmp_path)
        return any(
            t.state == TrialState.RUNNING and t.user_attrs.get("pid") == survivor.pid
            for t in trials
        )

    # Both at work on the study, so that the survivor is the one to find the victim's trial dead.
    wait_for("the survivor to run a trial", survivor_runs_a_trial)
    victim.kill()  # SIGKILL: no handler runs, no trial is told, no MLflow run is ended
    victim.communicate()
    out, err = finish(survivor)
    assert survivor.returncode == 0, out[-3000:] + err[-3000:]

    trials = load_trials(tmp_path, "kill", postgres_url)
    [dead] = [t for t in trials if t.state == TrialState.FAIL]
    assert dead.user_attrs["pid"] == victim.pid
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == n
    [retry] = [t for t in complete if t.system_attrs.get("failed_trial") == dead.number]
    assert retry.params == dead.params
    assert "lost its worker" in out + err

    runs = {r.info.run_id: r for r in runs_of(tmp_path)}
    dead_run = runs[dead.user_attrs["mlflow_run_id"]]
    assert dead_run.info.status == "FAILED"
    assert "stopped mid-trial" in dead_run.data.tags["error"]
    assert {runs[t.user_attrs["mlflow_run_id"]].info.status for t in complete} == {"FINISHED"}


def test_ctrl_c_then_the_same_command_resumes_without_losing_or_repeating(
    tmp_path: Path,
) -> None:
    n = 4
    overrides = (*TOY, "hydra.sweeper.study_name=ctrl_c", f"hydra.sweeper.n_trials={n}")
    slow = ("epochs=6", "epoch_seconds=0.5")
    sweep = start_worker(tmp_path, *overrides, *slow)

    def one_done_one_training() -> bool:
        found = study_trials("sqlite:///optuna.db", "ctrl_c", tmp_path)
        # Not the last trial: on a loaded machine the sweep could end before Ctrl-C lands.
        return TrialState.COMPLETE in states(found) and (
            found[-1].state == TrialState.RUNNING
            and "mlflow_run_id" in found[-1].user_attrs
            and found[-1].number < n - 1
        )

    wait_for("a finished trial and one in training", one_done_one_training)
    sweep.send_signal(signal.SIGINT)
    out, err = finish(sweep)
    assert sweep.returncode == 130
    message = one_sentence(err)
    assert "run the same command to resume" in message
    before = load_trials(tmp_path, "ctrl_c")
    done = {t.number: t.value for t in before if t.state == TrialState.COMPLETE}
    [interrupted] = [t for t in before if t.state == TrialState.FAIL]
    assert before[-1].state == TrialState.WAITING
    runs = {r.info.run_id: r for r in runs_of(tmp_path)}
    assert runs[interrupted.user_attrs["mlflow_run_id"]].info.status == "KILLED"
    [parent] = parents(list(runs.values()))
    assert parent.info.status == "KILLED"

    again = start_worker(tmp_path, *overrides)
    out, err = finish(again)
    assert again.returncode == 0, out[-3000:] + err[-3000:]
    after = load_trials(tmp_path, "ctrl_c")
    complete = [t for t in after if t.state == TrialState.COMPLETE]
    assert len(complete) == n
    assert {t.number: t.value for t in complete if t.number in done} == done
    assert [t.params for t in complete].count(interrupted.params) == 1


# --- bad input and faults -----------------------------------------------------------------


def test_an_unreachable_database_is_one_sentence(tmp_path: Path) -> None:
    url = f"postgresql://genre:secret@127.0.0.1:{free_port()}/optuna"
    started = time.monotonic()
    message = sweep_error(tmp_path, *TOY, f"hydra.sweeper.storage={url}")
    assert time.monotonic() - started < 60
    assert message.startswith(
        f"genre: Cannot open the Optuna storage {url.replace(':secret', '')}:"
    )
    assert "Connection refused" in message and "secret" not in message


def test_wrong_database_credentials_are_one_sentence(tmp_path: Path, postgres_url: str) -> None:
    wrong = re.sub(r":[^:@/]+@", ":not-the-password@", postgres_url)
    message = sweep_error(tmp_path, *TOY, f"hydra.sweeper.storage={wrong}")
    assert 'password authentication failed for user "postgres"' in message
    assert "not-the-password" not in message


def test_a_study_resumed_with_another_space_or_direction_is_refused(tmp_path: Path) -> None:
    first = ("hydra.sweeper.study_name=fixed", "hydra.sweeper.n_trials=2", "kind=a,b")
    run_sweep(tmp_path, *first, "x=interval(0, 1)")

    message = sweep_error(tmp_path, *first, "x=interval(0, 2)")
    assert "was made with another search space" in message
    assert "x: FloatDistribution(high=1.0" in message and "FloatDistribution(high=2.0" in message
    message = sweep_error(tmp_path, *first, "x=interval(0, 1)", "hydra.sweeper.direction=minimize")
    assert "already exists and maximizes" in message
    assert len(load_trials(tmp_path, "fixed")) == 2


def test_a_tracking_server_that_goes_away_stops_the_sweep_and_loses_nothing(
    tmp_path: Path, mlflow_server: MlflowServer
) -> None:
    n = 4
    overrides = (
        *TOY,
        "hydra.sweeper.study_name=gone",
        f"hydra.sweeper.n_trials={n}",
        f"mlflow.tracking_uri={mlflow_server.url}",
        "epochs=4",
        "epoch_seconds=0.5",
    )
    # MLflow retries a dead server for minutes by default; the test needs no such patience.
    env = {**sweep_env(), "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
    sweep = start_worker(tmp_path, *overrides, env=env)

    def one_complete() -> bool:
        found = states(study_trials("sqlite:///optuna.db", "gone", tmp_path))
        return TrialState.COMPLETE in found

    wait_for("a finished trial", one_complete)
    mlflow_server.stop(signal.SIGKILL)
    out, err = finish(sweep)
    assert sweep.returncode == 2, out[-3000:] + err[-3000:]
    message = one_sentence(err)
    assert message.startswith(f"genre: The MLflow tracking server {mlflow_server.url} stopped")
    assert "run the same command to resume" in message
    before = {
        t.number: t.value for t in load_trials(tmp_path, "gone") if t.state == TrialState.COMPLETE
    }
    assert before

    mlflow_server.start()
    again = start_worker(tmp_path, *overrides, env=env)
    out, err = finish(again)
    assert again.returncode == 0, out[-3000:] + err[-3000:]
    complete = [t for t in load_trials(tmp_path, "gone") if t.state == TrialState.COMPLETE]
    assert len(complete) == n
    assert {t.number: t.value for t in complete if t.number in before} == before
    client = MlflowClient(mlflow_server.url)
    experiment = client.get_experiment_by_name("toy")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    assert "RUNNING" not in {r.info.status for r in runs}
    finished = {r.info.run_id for r in runs if r.info.status == "FINISHED"}
    assert {t.user_attrs["mlflow_run_id"] for t in complete} <= finished


def test_jobs_in_other_processes_open_a_password_protected_study(
    tmp_path: Path, postgres_url: str
) -> None:
    """Joblib's workers load their trials from PostgreSQL with the password of their own
    hydra.sweeper.storage: the sweeper moves it into PGPASSWORD, which the jobs inherit, and no
    file of a job (its overrides, config, hydra.yaml) or of the sweep (multirun.yaml) holds it."""
    run_sweep(
        tmp_path,
        "sweeps=prune",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "hydra.sweeper.n_jobs=2",
        f"hydra.sweeper.storage={postgres_url}",
    )
    trials = load_trials(tmp_path, "prune", postgres_url)
    assert len({t.user_attrs["pid"] for t in trials}) == 2  # not the sweeper's process
    assert all(t.intermediate_values for t in trials)  # every job reported to its trial
    assert TrialState.PRUNED in states(trials)
    password = urlsplit(postgres_url).password
    assert password
    jobs = list(tmp_path.glob("multirun/*/*/*/.hydra"))
    assert len(jobs) == len(trials)
    for job in jobs:
        env = yaml.safe_load((job / "hydra.yaml").read_text())["hydra"]["job"]["env_set"]
        assert env["GENRE_OPTUNA_STORAGE"] == split_password(postgres_url)[0]
        for name in ("overrides.yaml", "config.yaml", "hydra.yaml"):
            assert password not in (job / name).read_text()
    [multirun] = tmp_path.glob("multirun/*/*/multirun.yaml")
    assert password not in multirun.read_text()


def test_admission_lock_keeps_concurrent_asks_within_n_trials(postgres_url: str) -> None:
    """The lock on its own: threads that count the trials and ask one more under it, with a
    pause between the two to widen the race, never take more than n places together."""
    from concurrent.futures import ThreadPoolExecutor

    from hydra_plugins.genre_optuna_sweeper._storage import admission

    url = normalize_storage(postgres_url, Path.cwd())
    optuna.create_study(study_name="lock", storage=open_storage(url))
    n = 6

    def worker(_: int) -> int:
        storage = open_storage(url)  # one connection pool per worker, as in separate processes
        study = optuna.load_study(study_name="lock", storage=storage)
        asked = 0
        while True:
            with admission(storage, study._study_id):
                if len(study.get_trials(deepcopy=False)) >= n:
                    return asked
                time.sleep(0.05)
                study.ask()
                asked += 1

    with ThreadPoolExecutor(4) as pool:
        asked = list(pool.map(worker, range(4)))
    assert sum(asked) == n
    assert len(load_trials(Path.cwd(), "lock", postgres_url)) == n
