"""Shared fixtures: an isolated cache for every test session, real audio written to disk, the
musicnn wheel, and real servers on 127.0.0.1: PostgreSQL and the MLflow tracking server. Plain
helpers are in helpers.py."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import PG_PASSWORD, MlflowServer, free_port, write_genre_folder

from genre.pretrained.weights import wheel_path

PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Keep every cache (and the synthetic dataset) of the run out of the user's home."""
    cache = tmp_path_factory.mktemp("genre-cache")
    os.environ["GENRE_CACHE"] = str(cache)
    return cache


@pytest.fixture(scope="session", autouse=True)
def ctrl_c_reaches_the_commands() -> None:
    """A shell without job control (nohup, `make test &`, some CI runners) starts a background
    command with SIGINT ignored, every process it starts inherits that, and Python then installs
    no KeyboardInterrupt handler: the tests that press Ctrl-C on a sweep or a download would see
    it ignored. A user presses it at a terminal, where it is not; so it is not here either."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


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


@pytest.fixture
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    server = MlflowServer(tmp_path_factory.mktemp("mlflow-server")).start()
    try:
        yield server
    finally:
        server.stop()
