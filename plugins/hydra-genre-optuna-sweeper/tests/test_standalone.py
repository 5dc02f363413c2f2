"""The sweeper as any Hydra app gets it: installed alone into a fresh virtual environment (its
dependencies, hydra-core and optuna, from the package index), sweeping the published example app."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sweeper_testing import APPS, PLUGIN


@pytest.mark.slow
def test_the_sweeper_installs_alone_and_sweeps_a_plain_app(tmp_path: Path) -> None:
    # A copy, so that building the package leaves nothing in the source tree.
    source = shutil.copytree(PLUGIN, tmp_path / "src", ignore=shutil.ignore_patterns("tests"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    install = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", str(source)],
        env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]
    listed = subprocess.run(
        [python, "-m", "pip", "list", "--format=json"],
        env=env, capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    installed = {p["name"].lower() for p in json.loads(listed)}
    assert {"hydra-genre-optuna-sweeper", "hydra-core", "optuna"} <= installed
    assert not installed & {"genre", "torch", "lightning", "mlflow", "matplotlib"}

    proc = subprocess.run(
        [python, str(APPS / "sphere.py"), "-m", f"hydra.sweep.dir={tmp_path / 'out'}",
         "hydra.sweeper.n_trials=3"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Study 'sphere': 3 trials (3 complete, 0 pruned, 0 failed)." in proc.stdout
    results = yaml.safe_load((tmp_path / "out" / "optimization_results.yaml").read_text())
    assert results["name"] == "genre_optuna" and results["best_value"] is not None
