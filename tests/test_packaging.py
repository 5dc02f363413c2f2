"""What pyproject.toml promises: no dependency's range admits a version that lacks an API genre
uses, and the torch pins live there alone."""

from __future__ import annotations

import tomllib

from helpers import ROOT
from packaging.requirements import Requirement

# The newest version that lacks something genre uses, per dependency, and what it lacks.
TOO_OLD = {
    "optuna": "4.8.99",  # optuna.storages heartbeat stale-trial API (fail_stale_trials + retry)
    "mlflow": "2.99",  # log_model(name=...), logged models, models from code without pickles
    "lightning": "2.5.99",  # EMAWeightAveraging
    "hydra-core": "1.3.1",  # version_base="1.3"
}


def dependencies() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {r.name: r for r in map(Requirement, project["dependencies"])}


def test_no_range_admits_a_version_without_the_apis_genre_uses():
    found = dependencies()
    for name, version in TOO_OLD.items():
        assert not found[name].specifier.contains(version, prereleases=True), name


def test_torch_is_pinned_in_one_place():
    pins = dependencies()
    assert str(pins["torch"].specifier) == "==2.14.1"
    assert str(pins["torchaudio"].specifier) == "==2.11.0"
    assert "torch==" not in (ROOT / "Makefile").read_text()
