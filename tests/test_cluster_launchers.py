"""The launchers users move to when one machine is not enough, run for real: hydra-submitit-
launcher's local executor (submitit's own job machinery: a pickled job, a job folder with its
logs, one process per job) and hydra-ray-launcher on a one-node Ray cluster that the tests start
on 127.0.0.1. The jobs share a study in PostgreSQL, as on a cluster, and log to one MLflow store.

They need genre's `submitit` and `ray` extras (.ci/run installs both; GENRE_REQUIRE_LAUNCHERS=1
makes a missing one fail rather than skip). The launchers' bad inputs run `genre.train` itself."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path

import pytest
import test_sweeper
from helpers import PG_PASSWORD, free_port
from optuna.trial import TrialState
from test_launchers import assert_lost_batch_ran_again, children_by_trial, overlap
from test_sweeper import load_trials, one_sentence, run_sweep, states, sweep_env

from genre.launchers import EXTRAS

pytestmark = pytest.mark.slow

mlflow_db = test_sweeper.mlflow_db
workdir = test_sweeper.workdir


def require(launcher: str) -> None:
    """Skip without the launcher's extra; CI sets GENRE_REQUIRE_LAUNCHERS=1 so that it fails."""
    extra, modules = EXTRAS[launcher]
    missing = [m for m in modules if find_spec(m) is None]
    if not missing:
        return
    reason = f"{', '.join(missing)} not installed (pip install -e '.[{extra}]')"
    if os.environ.get("GENRE_REQUIRE_LAUNCHERS") == "1":
        pytest.fail(f"the launchers are required (GENRE_REQUIRE_LAUNCHERS=1) but {reason}")
    pytest.skip(reason)


def cluster_env() -> dict[str, str]:
    """The environment of the sweep and of the Ray node: the database password where every
    PostgreSQL client looks, never in a URL (docs/scaling.md)."""
    return {**sweep_env(), "PGPASSWORD": PG_PASSWORD}


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[str]:
    """A one-node Ray cluster on 127.0.0.1 with 2 CPUs, started in a folder of its own (so that
    its workers' working directory is not the sweep's); stopped, its whole process group, at the
    end even when a test fails. Yields its address."""
    require("ray")
    # Short: Ray's socket paths under the temp dir must fit in 107 bytes.
    home = Path(tempfile.mkdtemp(prefix="genre-ray-"))
    port = free_port()
    start = [
        Path(sys.executable).with_name("ray"), "start", "--head", f"--port={port}",
        "--node-ip-address=127.0.0.1", "--num-cpus=2", "--include-dashboard=false",
        "--object-store-memory=100000000", f"--temp-dir={home}", "--disable-usage-stats",
    ]  # fmt: skip
    # Its daemons and workers stay in the process group of `ray start`, which ends at once.
    head = subprocess.Popen(
        start,
        cwd=home,
        env=cluster_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = head.communicate(timeout=120)
        assert head.returncode == 0, out[-3000:]
        yield f"127.0.0.1:{port}"
    finally:
        stop_group(head.pid)
        shutil.rmtree(home, ignore_errors=True)


def stop_group(pgid: int) -> None:
    """SIGTERM to the group, SIGKILL to what is left of it after 10 s (the GCS and raylet
    ignore SIGTERM)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                return
            time.sleep(0.5)


def launcher_overrides(launcher: str, ray_address: str | None) -> tuple[str, ...]:
    """The launcher's overrides as docs/scaling.md gives them."""
    if launcher == "submitit_local":
        return ("hydra/launcher=submitit_local",)
    return (
        "hydra/launcher=ray",
        f"hydra.launcher.ray.init.address={ray_address}",
        "++hydra.launcher.ray.init.object_store_memory=null",
        "++hydra.launcher.ray.remote.max_retries=0",
    )


# Test names stay short: conftest's postgres_url names each test's database by the first 50
# characters of the test's name, its launcher included.
@pytest.fixture(params=["submitit_local", "ray"])
def launcher(request: pytest.FixtureRequest) -> tuple[str, ...]:
    require(request.param)
    address = request.getfixturevalue("ray_cluster") if request.param == "ray" else None
    return launcher_overrides(request.param, address)


def cluster_sweep(cwd: Path, storage: str, launcher: tuple[str, ...], *overrides: str) -> str:
    """A sweep of the toy app in `cwd` on the launcher, its study in `storage` (PostgreSQL, the
    URL without its password), its runs in `cwd`'s MLflow store; its output."""
    proc = run_sweep(
        cwd,
        *launcher,
        "hydra.sweeper.n_jobs=2",
        f"hydra.sweeper.storage={storage}",
        # Absolute: a Ray worker's working directory is the node's, not the sweep's.
        f"mlflow.tracking_uri=sqlite:///{cwd}/mlflow.db",
        f"hydra.sweep.dir={cwd}/multirun",
        *overrides,
        env=cluster_env(),
    )
    return proc.stdout + proc.stderr


def without_password(url: str) -> str:
    return url.replace(f":{PG_PASSWORD}@", "@")


def test_side_by_side_pruned_tracked(
    launcher: tuple[str, ...], postgres_url: str, workdir: Path
) -> None:
    """sweeps=prune for 4 trials, 2 at a time: the first batch runs side by side, in processes
    of the launcher's; the second is judged against it by the median pruner (seeded: one
    trial or more is pruned, and one or more completes)."""
    storage = without_password(postgres_url)
    cluster_sweep(
        workdir, storage, launcher, "sweeps=prune", "hydra.sweeper.n_trials=4", "epoch_seconds=1"
    )
    trials = load_trials(workdir, "prune", storage=postgres_url)
    assert len(trials) == 4
    assert set(states(trials)) == {TrialState.COMPLETE, TrialState.PRUNED}
    # The first batch: two jobs at once, in two processes.
    assert trials[0].user_attrs["pid"] != trials[1].user_attrs["pid"]
    assert overlap(trials[0], trials[1]), "the jobs of a batch should run at once"
    parent, child = children_by_trial(workdir, trials)
    assert parent.info.status == "FINISHED"
    pruned = states(trials).count(TrialState.PRUNED)
    assert f", {pruned} pruned, " in parent.data.tags["optuna.trials"]
    for trial in trials:
        run = child[trial.number]
        assert run.data.tags["optuna.trial_number"] == str(trial.number)
        if trial.state == TrialState.PRUNED:
            assert (run.info.status, run.data.tags["trial_state"]) == ("KILLED", "PRUNED")
            assert len(trial.intermediate_values) < 4
        else:
            assert (run.info.status, run.data.tags["trial_state"]) == ("FINISHED", "COMPLETE")
            assert run.data.metrics["val/score"] == pytest.approx(trial.value)
    # Each job's folder, in the sweep's folder wherever the job ran.
    job_logs = sorted((workdir / "multirun").glob("*/app.log"))
    assert len(job_logs) == 4
    if "hydra/launcher=submitit_local" in launcher:
        # submitit's own job folders, one per job (named by its id, here the process id): the
        # pickled call, its result, and the job's log.
        submitit = workdir / "multirun" / ".submitit"
        folders = [p for p in submitit.iterdir() if p.name.isdigit()]
        assert len(folders) == 4
        for folder in folders:
            log = (folder / f"{folder.name}_0_log.out").read_text()
            assert f"JobEnvironment(job_id={folder.name}," in log
            assert "Job completed successfully" in log
            assert (folder / f"{folder.name}_0_result.pkl").is_file()


def test_killed_job_runs_again(launcher: tuple[str, ...], postgres_url: str, workdir: Path) -> None:
    """A job killed with SIGKILL (kind=crash, as by the OOM killer): the launcher loses its
    batch, the sweeper fails its trials, ends their MLflow runs and runs their parameters
    again. No trial and no run is left RUNNING."""
    storage = without_password(postgres_url)
    out = cluster_sweep(
        workdir,
        storage,
        launcher,
        "x=interval(0, 1)",
        "kind=crash",
        "hydra/sweeper/sampler=random",
        "hydra.sweeper.n_trials=2",
        "epochs=2",
        "epoch_seconds=0.5",
    )
    assert "The launcher lost the batch" in out
    assert_lost_batch_ran_again(workdir, storage=postgres_url)


# --- bad input: one sentence, exit status 2 -----------------------------------------------

TINY_SWEEP = ("-m", "data=synth", "debug=tiny")


def train_error(cwd: Path, *overrides: str, env: dict[str, str] | None = None) -> str:
    """Run a `genre.train` sweep that must stop at once with one sentence, exit status 2."""
    command = [sys.executable, "-m", "genre.train", *TINY_SWEEP, *overrides]
    proc = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert not (cwd / "optuna.db").exists(), "no study should have been opened"
    return one_sentence(proc.stderr)


def test_ray_launcher_without_its_extra(tmp_path: Path) -> None:
    # Hidden as if not installed: a None in sys.modules makes the module unimportable.
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(
        'import sys\nsys.modules["hydra_plugins.hydra_ray_launcher"] = None\n'
    )
    paths = [str(hide), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    message = train_error(tmp_path, "hydra/launcher=ray", env=env)
    assert message == (
        "genre: hydra/launcher=ray needs genre's ray extra, which is not installed: "
        "pip install 'genre[ray]'."
    )


def test_ray_address_where_no_cluster_listens(tmp_path: Path) -> None:
    require("ray")
    port = free_port()
    message = train_error(tmp_path, *launcher_overrides("ray", f"127.0.0.1:{port}"))
    assert message.startswith(f"genre: No Ray cluster answers at 127.0.0.1:{port} ")
    assert "connection refused" in message


def test_ray_launcher_that_would_retry_a_dead_job(tmp_path: Path) -> None:
    require("ray")
    message = train_error(tmp_path, "hydra/launcher=ray")
    assert "++hydra.launcher.ray.remote.max_retries=0" in message


def test_slurm_launcher_without_sbatch(tmp_path: Path) -> None:
    require("submitit_slurm")
    # PATH without any sbatch: the venv's own bin alone.
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}
    message = train_error(tmp_path, "hydra/launcher=submitit_slurm", env=env)
    assert "SLURM's sbatch, which is not on PATH" in message
