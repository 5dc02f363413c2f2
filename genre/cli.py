"""What the command-line tools (reproduce, predict, explore, compare) share: a user error becomes
one line on stderr and exit status 2, and an MLflow store is checked before it is read, so a
typo in a URI fails in seconds with one sentence instead of minutes of retries and a traceback."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from urllib.parse import urlparse

import mlflow
from mlflow.entities import Run
from mlflow.exceptions import MlflowException

from genre.errors import GenreError, first_line, tracking_reason
from genre.util import credentials_to_environment, mlflow_fail_fast, without_password

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"  # the default of conf/config.yaml's mlflow node


def add_tracking_uri(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tracking-uri",
        default=os.environ.get("MLFLOW_TRACKING_URI", DEFAULT_TRACKING_URI),
        # Credentials in a server URL go where MLflow reads them, never into what a tool writes.
        type=credentials_to_environment,
        help="MLflow store: a sqlite:/// file, a server URL, ... (credentials: "
        "MLFLOW_TRACKING_USERNAME, MLFLOW_TRACKING_PASSWORD; default: $MLFLOW_TRACKING_URI or "
        "%(default)s)",
    )


def open_store(uri: str) -> mlflow.MlflowClient:
    """Point MLflow at ``uri`` after checking that the store exists and answers."""
    scheme = urlparse(uri).scheme
    # MLflow would quietly create an empty store for a missing file or folder; a tool that reads
    # runs should rather say the path is wrong.
    local = None
    if scheme == "sqlite":
        from sqlalchemy.engine import make_url

        local = make_url(uri).database
    elif scheme in ("", "file"):
        local = urlparse(uri).path
    if local is not None and not Path(local).exists():
        raise GenreError(
            f"No MLflow store at {uri} ({local} does not exist): pass --tracking-uri or set "
            "MLFLOW_TRACKING_URI."
        )
    # Only the first request fails fast; the reading after it keeps MLflow's retries.
    try:
        with mlflow_fail_fast():
            client = mlflow.MlflowClient(uri)
            client.search_experiments(max_results=1)
    except Exception as exc:  # any failure here (scheme, HTTP, database driver) means the same
        raise GenreError(
            f"Cannot reach the MLflow store at {without_password(uri)}: {tracking_reason(exc)}."
        ) from exc
    mlflow.set_tracking_uri(uri)
    return client


def get_run(client: mlflow.MlflowClient, run_id: str) -> Run:
    try:
        return client.get_run(run_id)
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            raise GenreError(
                f"No run {run_id} in the MLflow store at {without_password(client.tracking_uri)}: "
                "check the id (python -m genre.compare lists runs) and --tracking-uri."
            ) from exc
        raise GenreError(f"Cannot read run {run_id}: {first_line(exc)}.") from exc
