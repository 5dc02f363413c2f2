"""What the sweeper's tests share: running a sweep as a subprocess, and reading its study back."""

from __future__ import annotations

import os
from pathlib import Path

import optuna
from hydra_plugins.genre_optuna_sweeper._storage import normalize_storage, open_storage
from optuna.trial import FrozenTrial

PLUGIN = Path(__file__).resolve().parents[1]
APPS = PLUGIN / "tests" / "compat_app"


def sweep_env() -> dict[str, str]:
    # The sweeper need not be pip-installed: Hydra finds hydra_plugins/ on PYTHONPATH too.
    paths = [str(PLUGIN), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def one_sentence(stderr: str) -> str:
    """The one `genre: ...` line a stopped sweep prints instead of a traceback."""
    assert "Traceback" not in stderr
    [message] = [line for line in stderr.splitlines() if line.startswith("genre: ")]
    return message


def load_trials(cwd: Path, study: str, storage: str = "sqlite:///optuna.db") -> list[FrozenTrial]:
    url = normalize_storage(storage, cwd)
    return optuna.load_study(study_name=study, storage=open_storage(url)).get_trials()
