"""Shared fixtures: real audio written to disk, an isolated cache for every test session, and
real servers on 127.0.0.1: PostgreSQL and the MLflow tracking server."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from genre.pretrained.weights import wheel_path

ROOT = Path(__file__).resolve().parents[1]
PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
PG_PASSWORD = "genre-test"
MLFLOW_START_TIMEOUT = 120  # seconds to answer /health (migrations on a fresh database)


TINY_RUN = (
    "data.chunk_seconds=1",
    "data.eval_crops=2",
    "data.batch_size=8",
    "trainer.max_epochs=2",
    "trainer.enable_progress_bar=false",
    "features.n_mels=32",
)
"""Overrides that make a `genre.train` run take seconds, for tests of what it leaves behind."""


def tone(seconds: float, rate: int, freq: float, seed: int = 0, channels: int = 1) -> np.ndarray:
    """A sine plus a little noise: real, non-silent audio with a known dominant frequency."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    x = 0.4 * np.sin(2 * np.pi * freq * t) + 0.02 * rng.standard_normal(t.size)
    x = x.astype(np.float32)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


def write_genre_folder(
    root: Path, genres: dict[str, float], clips: int, seconds: float, rate: int = 16000
) -> Path:
    """``<root>/<genre>/<i>.wav|mp3``: one dominant frequency per genre, every third clip mp3."""
    for g, (name, freq) in enumerate(genres.items()):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(clips):
            x = tone(seconds, rate, freq * (1 + 0.05 * i), seed=100 * g + i)
            if i % 3 == 2:
                sf.write(root / name / f"clip {i}.mp3", x, rate, format="MP3")
            else:
                sf.write(root / name / f"clip {i}.wav", x, rate)
    return root


# MLflow 3 sends usage telemetry when a process exits; offline, that waits ~10 s per process.
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Keep every cache (and the synthetic dataset) of the run out of the user's home."""
    cache = tmp_path_factory.mktemp("genre-cache")
    os.environ["GENRE_CACHE"] = str(cache)
    return cache


# Where `make install` left the musicnn wheel (`python -m genre.pretrained fetch`): read at import,
# before isolated_cache points GENRE_CACHE at a temporary folder.
MUSICNN_WHEEL = wheel_path()


@pytest.fixture(scope="session")
def musicnn_wheel(isolated_cache: Path) -> Path:
    """The musicnn wheel, linked into the tests' cache, where they convert their own weights."""
    if not MUSICNN_WHEEL.is_file():
        pytest.fail(
            f"The musicnn wheel is not at {MUSICNN_WHEEL}: run `python -m genre.pretrained fetch` "
            "(make install does) before the tests."
        )
    linked = isolated_cache / "pretrained" / MUSICNN_WHEEL.name
    linked.parent.mkdir(parents=True, exist_ok=True)
    if not linked.exists():
        linked.symlink_to(MUSICNN_WHEEL)
    return linked


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny")
    return write_genre_folder(root, {"Low": 220.0, "Mid": 880.0, "High": 3000.0}, 9, 3.0)


def run_module(
    module: str, *args: str, cwd: Path, timeout: float = 300
) -> subprocess.CompletedProcess:
    """Run ``python -m module args`` as a user would, in ``cwd``."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "HYDRA_FULL_ERROR": "0"}
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- PostgreSQL ---------------------------------------------------------------------------


def _no_postgres(reason: str) -> None:
    """Skip, saying why; CI sets GENRE_REQUIRE_POSTGRES=1 so that a missing server fails."""
    if os.environ.get("GENRE_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL is required (GENRE_REQUIRE_POSTGRES=1) but {reason}")
    pytest.skip(f"no PostgreSQL server for this test: {reason}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL server on 127.0.0.1 that wants a password over TCP, run as the
    `postgres` user when we are root (initdb refuses root); yields the URL without a database."""
    if not PG_BIN_DIRS:
        _no_postgres("its server binaries (initdb, pg_ctl) are not installed")
    as_user: list[str] = []
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            _no_postgres("we run as root and there is no `postgres` user to run initdb as")
        as_user = ["runuser", "-u", "postgres", "--"]
    # Not pytest's tmp_path: its parents are closed to the postgres user.
    home = Path(tempfile.mkdtemp(prefix="genre-pg-"))
    if as_user:
        shutil.chown(home, "postgres")
    (home / "password").write_text(PG_PASSWORD)
    pg = PG_BIN_DIRS[0]
    port = free_port()
    initdb = [
        *as_user, pg / "initdb", "-D", home / "data", "-U", "postgres", "--no-sync",
        "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={home / 'password'}",
    ]  # fmt: skip
    start = [
        *as_user, pg / "pg_ctl", "-D", home / "data", "-l", home / "log", "-w",
        "-o", f"-h 127.0.0.1 -p {port} -k {home} -c fsync=off -c max_connections=200", "start",
    ]  # fmt: skip
    for command in (initdb, start):
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            log = (home / "log").read_text() if (home / "log").exists() else ""
            _no_postgres(f"{Path(command[len(as_user)]).name} failed: {done.stderr}{log}"[-2000:])
    try:
        yield f"postgresql://postgres:{PG_PASSWORD}@127.0.0.1:{port}"
    finally:
        subprocess.run(
            [*as_user, pg / "pg_ctl", "-D", home / "data", "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: str, request: pytest.FixtureRequest) -> str:
    """A fresh, empty database on the session's server, for one test."""
    import psycopg

    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:50].lower()
    with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"{postgres_server}/{name}"


# --- MLflow tracking server ----------------------------------------------------------------


class MlflowServer:
    """A real `mlflow server` on 127.0.0.1 with a SQLite backend and proxied artifacts in
    `root`; it can be killed and started again on the same port and store."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = root / "server.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> MlflowServer:
        with self.log.open("a") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable, "-m", "mlflow", "server",
                    "--backend-store-uri", f"sqlite:///{self.root / 'server.db'}",
                    "--artifacts-destination", str(self.root / "artifacts"),
                    "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
                ],
                cwd=self.root, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + MLFLOW_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"mlflow server exited ({self.process.returncode}):\n{self._tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.5)
        pytest.fail(f"mlflow server did not answer in {MLFLOW_START_TIMEOUT} s:\n{self._tail()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the server and its workers: they share the process group it started."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, sig)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=20)

    def _tail(self) -> str:
        return self.log.read_text()[-3000:]


@pytest.fixture
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    server = MlflowServer(tmp_path_factory.mktemp("mlflow-server")).start()
    try:
        yield server
    finally:
        server.stop()
