"""What pyproject.toml promises: no dependency's range admits a version that lacks an API genre
uses or is known to break it, the torch pins live there alone, and constraints.txt (`make lock`)
pins a version inside every range, which is what the tests run on."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import tomllib
from pathlib import Path

from helpers import ROOT
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# The newest version that lacks something genre uses, per dependency, and what it lacks.
TOO_OLD = {
    "optuna": "4.8.99",  # optuna.storages heartbeat stale-trial API (fail_stale_trials + retry)
    "mlflow": "2.99",  # log_model(name=...), logged models, models from code without pickles
    "lightning": "2.5.99",  # EMAWeightAveraging
    "hydra-core": "1.3.1",  # version_base="1.3"
}


# The oldest version known to break genre, per dependency, and how.
BREAKS = {
    "hydra-core": "1.4.0rc3",  # read-only sweeper nodes; a sweeper config that differs per job
}
SWEEPER = ROOT / "plugins" / "hydra-genre-optuna-sweeper"
OWN = {"genre", "hydra-genre-optuna-sweeper"}


def dependencies() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {r.name: r for r in map(Requirement, project["dependencies"])}


def every_requirement() -> list[Requirement]:
    """genre's and its sweeper's requirements, extras included."""
    found = []
    for pyproject in (ROOT / "pyproject.toml", SWEEPER / "pyproject.toml"):
        project = tomllib.loads(pyproject.read_text())["project"]
        lines = [*project["dependencies"], *sum(project["optional-dependencies"].values(), [])]
        found += [r for r in map(Requirement, lines) if r.name not in OWN]
    return found


def pins() -> dict[str, str]:
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    pairs = [line.split("==") for line in lines if line and not line.startswith("#")]
    return {canonicalize_name(name): version for name, version in pairs}


def test_no_range_admits_a_version_without_the_apis_genre_uses():
    found = dependencies()
    for name, version in TOO_OLD.items():
        assert not found[name].specifier.contains(version, prereleases=True), name


def test_torch_is_pinned_in_one_place():
    pins = dependencies()
    assert str(pins["torch"].specifier) == "==2.14.1"
    assert str(pins["torchaudio"].specifier) == "==2.11.0"
    assert "torch==" not in (ROOT / "Makefile").read_text()


def test_no_range_admits_a_version_known_to_break_genre():
    for requirement in every_requirement():
        if requirement.name in BREAKS:
            assert not requirement.specifier.contains(BREAKS[requirement.name], prereleases=True)


def test_constraints_pin_every_requirement_inside_its_range():
    pinned = pins()
    for requirement in every_requirement():
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{name} is not in constraints.txt: run `make lock`"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"constraints.txt pins {name}=={pinned[name]}, outside {requirement}: run `make lock`"
        )


def test_the_tests_run_on_the_pinned_versions():
    installed = {
        canonicalize_name(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()
    }
    differ = {
        name: (version, installed[name])
        for name, version in pins().items()
        if name in installed and installed[name] != version
    }
    assert not differ, f"(pinned, installed): {differ}; `make install` installs through the pins"


def test_lock_pins_what_pip_takes_from_an_index_and_not_the_checkouts(tmp_path: Path):
    def item(name: str, version: str, download: dict) -> dict:
        return {"metadata": {"name": name, "version": version}, "download_info": download}

    report = {
        "install": [
            item("Torch", "2.14.1", {"url": "file:///opt/t.whl", "archive_info": {}}),
            item("genre", "0.1.0", {"url": "file:///src", "dir_info": {"editable": True}}),
            item("absl-py", "2.5.1", {"url": "https://x/absl.whl", "archive_info": {}}),
        ]
    }
    (tmp_path / "report.json").write_text(json.dumps(report))
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "lock.py"), str(tmp_path / "report.json")],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [line for line in done.stdout.splitlines() if not line.startswith("#")]
    assert lines == ["absl-py==2.5.1", "torch==2.14.1"]
