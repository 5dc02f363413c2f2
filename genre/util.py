"""Small helpers with one home each: where the project lives, genre's cache folder, the code
version, URLs fit to show, environment variables set for a block, and MLflow's fail-fast
settings."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit

from hydra_plugins.genre_optuna_sweeper.urls import without_password

__all__ = [
    "CONF_DIR",
    "PROJECT_ROOT",
    "cache_dir",
    "git_version",
    "mlflow_fail_fast",
    "restored_environment",
    "ui_link",
    "without_password",
]

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = PROJECT_ROOT / "conf"


def cache_dir() -> Path:
    """genre's cache folder, ``$GENRE_CACHE`` or ``~/.cache/genre``: where the pretrained weights
    live, and the default of ``data.cache_dir``."""
    return Path(os.environ.get("GENRE_CACHE", Path.home() / ".cache" / "genre")).expanduser()


# MLflow's HTTP settings for requests that decide whether a command can go on at all (opening a
# store, the sweeper's parent run and bookkeeping): a server that is down is reported in seconds,
# not after minutes of retries. A training job's own logging keeps MLflow's retries, which ride
# out a busy server during a long run. Variables the user set are left as they are.
MLFLOW_FAIL_FAST = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}


@contextmanager
def restored_environment(*names: str) -> Iterator[None]:
    """Put the variables ``names`` back as they were before the block, whatever it set."""
    saved = {name: os.environ.get(name) for name in names}
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def mlflow_fail_fast() -> Iterator[None]:
    """MLflow requests in the block fail fast (see ``MLFLOW_FAIL_FAST``)."""
    with restored_environment(*MLFLOW_FAIL_FAST):
        for name, value in MLFLOW_FAIL_FAST.items():
            os.environ.setdefault(name, value)
        yield


def git_version() -> dict[str, str | bool | None]:
    """The project's git commit and whether tracked files have uncommitted changes; None for
    each where git or the checkout is missing. Read-only: no git lock is taken."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "--no-optional-locks", *args],
                cwd=PROJECT_ROOT,
                capture_output=True,
                text=True,
                timeout=20,
                check=True,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip()

    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": git("rev-parse", "HEAD"), "dirty": None if status is None else bool(status)}


TRACKING_USERNAME, TRACKING_PASSWORD = "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"


def credentials_to_environment(uri: str) -> str:
    """A tracking URI fit to keep: credentials in it (``http://alice:SECRET@host``) go to the
    variables MLflow reads them from (``MLFLOW_TRACKING_USERNAME``, ``MLFLOW_TRACKING_PASSWORD``)
    and leave the URI, so that no file a run writes (Hydra's, params, artifacts) holds them."""
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or (parts.username is None and parts.password is None):
        return uri
    if parts.username:
        os.environ[TRACKING_USERNAME] = unquote(parts.username)
    if parts.password is not None:
        os.environ[TRACKING_PASSWORD] = unquote(parts.password)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def tracking_overrides(overrides: list[str]) -> list[str]:
    """Hydra overrides with the tracking URI's credentials moved to the environment
    (:func:`credentials_to_environment`), before Hydra records any override."""
    out = []
    for override in overrides:
        key, sep, value = override.partition("=")
        if sep and key.lstrip("+") == "mlflow.tracking_uri":
            override = f"{key}={credentials_to_environment(value)}"
        out.append(override)
    return out


def ui_link(
    tracking_uri: str, experiment_id: str, run_id: str | None = None, view: str | None = None
) -> str:
    """How to see an experiment (or one run, or a saved view of its runs table) in the MLflow
    UI: the page, and for a local store the command that serves it. The page asks for the
    model-training view: MLflow 3.17's UI shows an experiment in one of two views, GenAI (its
    default) or model training, chosen per browser and not by the experiment, and takes a
    ``workflowType`` in the URL over that choice."""
    page = f"#/experiments/{experiment_id}" + (f"/runs/{run_id}" if run_id else "")
    if view is not None:  # a view shared as an experiment tag (genre.study_run.runs_view)
        page += f"/runs?viewStateShareKey={view}&"
    else:
        page += "?"
    page += "workflowType=machine_learning"
    if tracking_uri.startswith(("http://", "https://")):
        return f"open {without_password(tracking_uri).rstrip('/')}/{page}"
    return f"mlflow ui --backend-store-uri {tracking_uri}, then open http://127.0.0.1:5000/{page}"


@contextmanager
def torch_threads(n: int | None) -> Iterator[int]:
    """Run a block with ``n`` torch intra-op threads (None: leave as is)."""
    import torch

    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
