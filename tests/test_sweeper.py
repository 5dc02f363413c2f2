"""The genre_optuna sweeper with genre's MLflow tracker (genre/study_run.py): real sweeps of the
toy Hydra app in tests/sweeper_app run as subprocesses against SQLite and journal storages (many
workers on PostgreSQL are in test_scale_out.py). The sweeper's own tests are in
plugins/hydra-genre-optuna-sweeper/tests."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from helpers import ROOT, TINY_RUN
from hydra_plugins.genre_optuna_sweeper._storage import Heartbeat, normalize_storage, open_storage
from mlflow.entities import Run
from mlflow.tracking import MlflowClient
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import FrozenTrial, TrialState

pytestmark = pytest.mark.slow  # genre's sweeps, run end to end through python -m genre.train -m

APP = ROOT / "tests" / "sweeper_app" / "app.py"


def test_an_empty_search_space_runs_once_and_says_so(workdir: Path) -> None:
    done = run_sweep(workdir, "x=0.5", "hydra.sweeper.n_trials=3", "hydra.sweeper.study_name=one")
    assert "The sweep has nothing to search" in done.stdout + done.stderr
    assert "its one config runs once, not 3 times" in done.stdout + done.stderr
    assert states(load_trials(workdir, "one")) == [TrialState.COMPLETE]


# --- sweeps of the toy app ----------------------------------------------------------------


def sweep_command(*overrides: str) -> list[str]:
    return [sys.executable, str(APP), "-m", *overrides]


def sweep_env() -> dict[str, str]:
    # Neither genre nor its sweeper need be pip-installed: Hydra finds hydra_plugins/ on
    # PYTHONPATH too.
    paths = [str(ROOT), str(ROOT / "plugins" / "hydra-genre-optuna-sweeper")]
    paths += filter(None, [os.environ.get("PYTHONPATH")])
    # MLflow's usage telemetry waits seconds at exit for a server that a sandbox cannot reach.
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "MLFLOW_DISABLE_TELEMETRY": "true"}


def run_sweep(
    cwd: Path, *overrides: str, env: dict[str, str] | None = None, returncode: int = 0
) -> subprocess.CompletedProcess[str]:
    """Run a sweep of the toy app in `cwd` to its end, which must give `returncode`."""
    proc = subprocess.run(
        sweep_command(*overrides),
        cwd=cwd,
        env=env or sweep_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == returncode, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def one_sentence(stderr: str) -> str:
    """The one `genre: ...` line a stopped sweep prints instead of a traceback."""
    assert "Traceback" not in stderr
    [message] = [line for line in stderr.splitlines() if line.startswith("genre: ")]
    return message


def sweep_error(cwd: Path, *overrides: str) -> str:
    """Run a sweep that must stop with genre's one-sentence error (exit status 2)."""
    return one_sentence(run_sweep(cwd, *overrides, returncode=2).stderr)


def load_trials(cwd: Path, study: str, storage: str = "sqlite:///optuna.db") -> list[FrozenTrial]:
    url = normalize_storage(storage, cwd)
    return optuna.load_study(study_name=study, storage=open_storage(url)).get_trials()


def states(trials: list[FrozenTrial]) -> list[TrialState]:
    return [t.state for t in trials]


def runs_of(cwd: Path, experiment: str = "toy") -> list[Run]:
    client = MlflowClient(f"sqlite:///{cwd}/mlflow.db")
    found = client.get_experiment_by_name(experiment)
    assert found is not None
    return client.search_runs([found.experiment_id])


def parents(runs: list[Run]) -> list[Run]:
    return [r for r in runs if "mlflow.parentRunId" not in r.data.tags]


@pytest.fixture(scope="session")
def mlflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty, migrated MLflow store: creating one takes seconds, copying it doesn't."""
    path = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def workdir(tmp_path: Path, mlflow_db: Path) -> Path:
    """The directory a sweep runs in: optuna.db and mlflow.db land here by default."""
    shutil.copy(mlflow_db, tmp_path / "mlflow.db")
    return tmp_path


@pytest.fixture(scope="module")
def grid_sweep(tmp_path_factory: pytest.TempPathFactory, mlflow_db: Path) -> Path:
    """The toy grid sweep run for 4 trials, then run again with n_trials=8 to resume."""
    cwd = tmp_path_factory.mktemp("grid")
    shutil.copy(mlflow_db, cwd / "mlflow.db")
    first = run_sweep(cwd, "sweeps=toy", "hydra.sweeper.n_trials=4")
    assert len(load_trials(cwd, "toy")) == 4, first.stdout
    second = run_sweep(cwd, "sweeps=toy", "hydra.sweeper.n_trials=8")
    (cwd / "second.out").write_text(second.stdout)
    return cwd


def test_a_resumed_seeded_sampler_asks_new_parameters(workdir: Path) -> None:
    """A seeded sampler starts its random numbers afresh in each process: resumed, it must not
    ask the study's first parameters again (it is seeded by the trials so far)."""
    seeded = (
        "x=interval(0, 1)", "kind=a,b", "hydra/sweeper/sampler=random",
        "hydra.sweeper.sampler.seed=7", "hydra.sweeper.study_name=seeded",
    )  # fmt: skip
    run_sweep(workdir, *seeded, "hydra.sweeper.n_trials=3")
    run_sweep(workdir, *seeded, "hydra.sweeper.n_trials=6")
    xs = [t.params["x"] for t in load_trials(workdir, "seeded")]
    assert len(xs) == 6 and len(set(xs)) == 6, xs


def test_failing_trials_are_recorded_and_the_sweep_goes_on(grid_sweep: Path) -> None:
    trials = load_trials(grid_sweep, "toy")
    for trial in trials:
        failing = trial.params["kind"] in ("boom", "diverge")
        assert trial.state == (TrialState.FAIL if failing else TrialState.COMPLETE)
    assert TrialState.FAIL in states(trials) and TrialState.COMPLETE in states(trials)


def test_rerun_resumes_the_study_up_to_n_trials(grid_sweep: Path) -> None:
    trials = load_trials(grid_sweep, "toy")
    assert len(trials) == 8
    # The grid sampler visits every point once across both invocations.
    assert len({(t.params["x"], t.params["kind"]) for t in trials}) == 8
    table = (grid_sweep / "second.out").read_text()
    assert "Best trials (maximize val/score)" in table
    assert "mlflow ui --backend-store-uri sqlite:///mlflow.db" in table


def test_trials_are_mlflow_children_of_one_study_run(grid_sweep: Path) -> None:
    runs = runs_of(grid_sweep)
    [parent] = parents(runs)
    assert parent.data.tags["optuna.study_name"] == "toy"
    assert parent.info.status == "FINISHED"
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(children) == 8
    by_id = {r.info.run_id: r for r in children}
    for trial in load_trials(grid_sweep, "toy"):
        child = by_id[trial.user_attrs["mlflow_run_id"]]
        assert child.data.tags["optuna.trial_number"] == str(trial.number)
        # A diverged job ends normally; only the sweeper judges its NaN a failure.
        raised = trial.params["kind"] == "boom"
        assert child.info.status == ("FAILED" if raised else "FINISHED")


def test_study_run_holds_summary_and_plots(grid_sweep: Path) -> None:
    [parent] = parents(runs_of(grid_sweep))
    trials = load_trials(grid_sweep, "toy")
    best = max((t for t in trials if t.state == TrialState.COMPLETE), key=lambda t: t.value or 0)
    # The best value under the trials' own metric name, its params as theirs: one column each.
    assert parent.data.metrics["best_val/score"] == pytest.approx(best.value)
    failed = states(trials).count(TrialState.FAIL)
    assert parent.data.tags["optuna.trials"].endswith(f", {failed} failed")
    assert parent.data.params["kind"] == best.params["kind"]
    client = MlflowClient(f"sqlite:///{grid_sweep}/mlflow.db")
    plots = {a.path for a in client.list_artifacts(parent.info.run_id, "plots")}
    names = ("optimization_history", "parallel_coordinate", "param_importances", "trial_curves")
    assert plots == {f"plots/{name}.png" for name in names}
    top = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"sweep.yaml", "best_trial.json", "trials.csv"} <= top


def test_median_pruner_prunes_with_a_journal_storage(workdir: Path) -> None:
    run_sweep(workdir, "sweeps=prune", "hydra.sweeper.storage=optuna.log")
    trials = load_trials(workdir, "prune", "optuna.log")
    assert len(trials) == 8
    assert TrialState.PRUNED in states(trials)
    assert set(states(trials)) <= {TrialState.COMPLETE, TrialState.PRUNED}
    pruned = [r for r in runs_of(workdir) if r.data.tags.get("trial_state") == "PRUNED"]
    assert len(pruned) == states(trials).count(TrialState.PRUNED)
    assert {r.info.status for r in pruned} == {"KILLED"}


def test_dead_trial_is_failed_and_its_parameters_run_again(workdir: Path) -> None:
    url = normalize_storage("sqlite:///optuna.db", workdir)
    study = optuna.create_study(study_name="stale", storage=open_storage(url), direction="maximize")
    study.enqueue_trial({"x": 0.3, "kind": "b"})
    space = {"x": FloatDistribution(0, 1), "kind": CategoricalDistribution(["a", "b"])}
    dead = study.ask(space)
    with Heartbeat(open_storage(url), [dead._trial_id], interval=1):
        pass  # one beat, then the "process" dies
    # Until its beat is older than the grace period of 1 s, as the sweeper below judges it.
    judge = open_storage(url, heartbeat_interval=1, grace_period=1)
    deadline = time.monotonic() + 30
    while judge._get_stale_trial_ids(study._study_id) != [dead._trial_id]:
        assert time.monotonic() < deadline, "the dead trial's heartbeat never went stale"
        time.sleep(0.1)

    done = run_sweep(
        workdir,
        "x=interval(0, 1)",
        "kind=a,b",
        "hydra/sweeper/sampler=random",
        "hydra.sweeper.study_name=stale",
        "hydra.sweeper.n_trials=3",
        "hydra.sweeper.heartbeat_interval=1",
        "hydra.sweeper.grace_period=1",
    )
    trials = load_trials(workdir, "stale")
    assert states(trials) == [TrialState.FAIL] + [TrialState.COMPLETE] * 3
    retry = trials[1]
    assert retry.system_attrs["failed_trial"] == dead.number
    assert retry.params == {"x": 0.3, "kind": "b"}
    # The retry takes the dead trial's place in the progress: 3 places, not 4 trials.
    progress = re.findall(r"\btrial \d+ · .* · (\d+/\d+)", done.stdout + done.stderr)
    assert progress == ["1/3", "2/3", "3/3"], done.stdout + done.stderr


def test_unreachable_tracking_server_fails_in_one_sentence(workdir: Path) -> None:
    message = sweep_error(workdir, "sweeps=toy", "mlflow.tracking_uri=http://127.0.0.1:9")
    assert message.startswith("genre: Cannot create the study's MLflow run at http://127.0.0.1:9:")


# --- the real training job ----------------------------------------------------------------


def test_genre_train_sweep_tracks_each_trial_under_the_study(workdir: Path) -> None:
    tiny = ["data=synth", "data.clips_per_genre=6", "data.clip_seconds=2", *TINY_RUN, "model=cnn3"]
    sweep = [
        "features=mel,stft",
        "hydra/sweeper/sampler=grid",
        "hydra.sweeper.study_name=e2e",
        "mlflow.experiment=e2e",
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "genre.train", "-m", *tiny, *sweep],
        cwd=workdir,
        env=sweep_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    trials = load_trials(workdir, "e2e")
    assert states(trials) == [TrialState.COMPLETE] * 2
    # Job folders are named by trial, so workers sharing a sweep dir never share a job dir.
    checkpoints = workdir.glob("multirun/*/*/*/checkpoints/best.ckpt")
    assert {c.parents[1].name for c in checkpoints} == {f"trial-{t.number}" for t in trials}
    assert {t.params["features"] for t in trials} == {"mel", "stft"}
    runs = runs_of(workdir, "e2e")
    [parent] = parents(runs)
    assert parent.info.status == "FINISHED"
    by_id = {r.info.run_id: r for r in runs}
    for trial in trials:
        child = by_id[trial.user_attrs["mlflow_run_id"]]
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert child.data.tags["optuna.trial_number"] == str(trial.number)
        assert child.data.params["features.kind"] == trial.params["features"]
        assert child.data.metrics["best_val/macro_f1"] == pytest.approx(trial.value)
