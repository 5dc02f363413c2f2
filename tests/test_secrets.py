"""Who gets in, and where secrets go: a real sweep against a password-protected PostgreSQL study
and an MLflow tracking server behind MLflow's basic-auth app, then every file the sweep and the
server wrote searched for either password."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import mlflow
import pytest
from helpers import PG_PASSWORD, TINY_RUN, MlflowServer, run_module

MLFLOW_PASSWORD = "mlflow-Secr3t-4711"
SWEEP = [
    "data=synth",
    "data.clips_per_genre=6",
    "data.clip_seconds=2",
    *TINY_RUN,
    "model=cnn3",
    "trainer.max_epochs=1",
    "optim.lr=0.001,0.01",
    "hydra/sweeper/sampler=grid",
    "hydra.sweeper.n_trials=2",
    "hydra.sweeper.study_name=secrets",
    "mlflow.experiment=secrets",
]


@pytest.fixture
def guarded_server(tmp_path_factory: pytest.TempPathFactory):
    server = MlflowServer(tmp_path_factory.mktemp("guarded"), admin_password=MLFLOW_PASSWORD)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def credentials(password: str = MLFLOW_PASSWORD) -> dict[str, str]:
    return {**os.environ, "MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": password}


def files_holding(root: Path, secret: str) -> list[Path]:
    needle = secret.encode()
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


@pytest.mark.slow
def test_no_password_reaches_any_file_the_sweep_or_the_server_writes(
    postgres_url: str, guarded_server: MlflowServer, tmp_path: Path
) -> None:
    assert f":{PG_PASSWORD}@" in postgres_url
    command = [
        sys.executable, "-m", "genre.train", "-m", *SWEEP,
        f"hydra.sweeper.storage={postgres_url}",  # a password in the URL anyway
        f"mlflow.tracking_uri={guarded_server.url}",
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=tmp_path, env=credentials(), capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Best trials" in done.stdout
    mlflow.set_tracking_uri(guarded_server.url)
    os.environ |= {"MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": MLFLOW_PASSWORD}
    try:
        runs = mlflow.search_runs(experiment_names=["secrets"], output_format="list")
    finally:
        for key in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
            os.environ.pop(key)
    assert sorted(r.info.status for r in runs) == ["FINISHED"] * 3  # the parent and two trials
    for secret in (PG_PASSWORD, MLFLOW_PASSWORD):
        leaks = files_holding(tmp_path, secret) + files_holding(guarded_server.root, secret)
        leaks = [p for p in leaks if p.name != "basic_auth.ini"]  # the test's own server config
        assert not leaks, f"{secret!r} is in {leaks}"
    assert PG_PASSWORD not in done.stdout + done.stderr

    # A second worker of the same study, the password where PostgreSQL clients look for it.
    plain = postgres_url.replace(f":{PG_PASSWORD}@", "@")
    env = credentials() | {"PGPASSWORD": PG_PASSWORD}
    again = subprocess.run(
        [*command[:-2], f"hydra.sweeper.storage={plain}", command[-1]],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    assert "resumed" in again.stdout


@pytest.mark.slow
def test_the_guarded_server_refuses_strangers_and_wrong_credentials(
    guarded_server: MlflowServer, tmp_path: Path
) -> None:
    search = f"{guarded_server.url}/api/2.0/mlflow/experiments/search?max_results=1"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(search, timeout=10)
    assert refused.value.code == 401

    env = credentials("not-the-password")
    train = [sys.executable, "-m", "genre.train", *TINY_RUN]
    result = subprocess.run(
        [*train, f"mlflow.tracking_uri={guarded_server.url}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"genre: Cannot use the MLflow store at {guarded_server.url}: the server refused the "
        "credentials; give them in MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD."
    )
    listing = run_module("genre.compare", "--experiment", "genre", "--tracking-uri",
                         guarded_server.url, cwd=tmp_path)  # fmt: skip
    assert listing.returncode == 2 and "refused the credentials" in listing.stderr


@pytest.mark.slow
def test_a_tracking_uri_with_credentials_leaves_them_in_no_file_and_no_output(
    guarded_server: MlflowServer, tmp_path: Path
) -> None:
    """``mlflow.tracking_uri=http://admin:PASSWORD@host``, with nothing in the environment: the
    sweep reaches the guarded server, and the password is in none of Hydra's .hydra files, the
    params, the config artifact, the model's network.yaml, or the console (MLflow's "View
    experiment at" line included)."""
    uri = guarded_server.url.replace("http://", f"http://admin:{MLFLOW_PASSWORD}@")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING_")}
    done = subprocess.run(
        [sys.executable, "-m", "genre.train", "-m", *SWEEP, f"mlflow.tracking_uri={uri}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Best trials" in done.stdout
    assert MLFLOW_PASSWORD not in done.stdout + done.stderr
    written = files_holding(tmp_path, MLFLOW_PASSWORD) + files_holding(
        guarded_server.root, MLFLOW_PASSWORD
    )
    assert [p for p in written if p.name != "basic_auth.ini"] == []
    # What was searched holds what a leak would be in: the trials' models and Hydra's records.
    assert list(guarded_server.root.rglob("network.yaml"))
    assert list(tmp_path.rglob(".hydra/overrides.yaml"))
    overrides = next(tmp_path.rglob(".hydra/overrides.yaml")).read_text()
    assert f"mlflow.tracking_uri={guarded_server.url}" in overrides
