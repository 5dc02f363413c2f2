"""What the tests share beside their fixtures (conftest.py): real audio written to disk, the
commands run as a user runs them, and a real MLflow tracking server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"  # beside the clone, in CI as here: real recordings, datasets
PG_PASSWORD = "genre-test"  # of the test PostgreSQL server (conftest.postgres_server)
MLFLOW_START_TIMEOUT = 120  # seconds to answer /health (migrations on a fresh database)

TINY_RUN = ("debug=tiny",)
"""Overrides that make a `genre.train` run take seconds (conf/debug/tiny.yaml)."""

# MLflow 3 sends usage telemetry when a process exits; offline, that waits ~10 s per process.
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"


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


def run_module(
    module: str, *args: str, cwd: Path, timeout: float = 300, prefix: Sequence[str] = ()
) -> subprocess.CompletedProcess:
    """Run ``python -m module args`` as a user would, in ``cwd``; ``prefix`` goes before python
    (e.g. a command that changes the user's rights)."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "HYDRA_FULL_ERROR": "0"}
    return subprocess.run(
        [*prefix, sys.executable, "-m", module, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def data_settings(name: str, **overrides: object) -> Any:
    """``conf/data/<name>.yaml`` over ``folder.yaml``, as Hydra composes it, with ``overrides``:
    the dataclass the data layer gets (genre.config.settings)."""
    from omegaconf import OmegaConf

    from genre.config import settings

    data = OmegaConf.merge(
        *({k: v for k, v in OmegaConf.load(ROOT / "conf" / "data" / f).items() if k != "defaults"}
          for f in ("folder.yaml", f"{name}.yaml")),
        overrides,
    )  # fmt: skip
    return settings(OmegaConf.create({"data": data}), "data")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MlflowServer:
    """A real `mlflow server` on 127.0.0.1 with a SQLite backend and proxied artifacts in
    `root`; it can be killed and started again on the same port and store. With
    ``admin_password``, MLflow's basic-auth app guards it (user ``admin``)."""

    def __init__(self, root: Path, admin_password: str | None = None) -> None:
        self.root = root
        self.admin_password = admin_password
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = root / "server.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> MlflowServer:
        auth: list[str] = []
        env = dict(os.environ)
        if self.admin_password is not None:
            config = self.root / "basic_auth.ini"
            config.write_text(
                "[mlflow]\ndefault_permission = READ\n"
                f"database_uri = sqlite:///{self.root / 'basic_auth.db'}\n"
                "admin_username = admin\n"
                "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
            )
            auth = ["--app-name", "basic-auth"]
            env |= {
                "MLFLOW_AUTH_CONFIG_PATH": str(config),
                "MLFLOW_AUTH_ADMIN_PASSWORD": self.admin_password,
                # The auth app's CSRF protection signs with it; one server needs any value.
                "MLFLOW_FLASK_SERVER_SECRET_KEY": "genre-test-server",
            }
        with self.log.open("a") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable, "-m", "mlflow", "server", *auth,
                    "--backend-store-uri", f"sqlite:///{self.root / 'server.db'}",
                    "--artifacts-destination", str(self.root / "artifacts"),
                    "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
                ],
                cwd=self.root, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                env=env,
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


def exit_2_in_process(
    argv: Sequence[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> str:
    """``python -m genre.train ARGV`` in this process (fast, for tables of bad values): it must
    exit with status 2 and no traceback; its stderr."""
    from genre import train

    monkeypatch.setattr(sys, "argv", ["genre.train", *argv])
    with pytest.raises(SystemExit) as stopped:
        train.main()
    assert stopped.value.code == 2
    stderr = capsys.readouterr().err
    assert "Traceback" not in stderr
    return stderr
