"""End to end through a real MLflow tracking server: a real sweep logs to it over HTTP (artifacts
proxied to its artifact store), then its REST API, genre.compare and genre.predict read it back."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import soundfile as sf
from helpers import TINY_RUN, MlflowServer, run_module, tone
from omegaconf import OmegaConf

pytestmark = pytest.mark.slow  # a real MLflow server, and a sweep and a training run against it

EXPERIMENT = "served"


def api(url: str, path: str, body: dict | None = None, **query: str) -> dict:
    """One REST call: GET with ``query``, or POST with a JSON ``body``."""
    address = f"{url}{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        address, data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def served(
    tiny_folder: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SimpleNamespace]:
    root = tmp_path_factory.mktemp("server")
    server = MlflowServer(root).start()
    url = server.url
    try:
        sweep = run_module(
            "genre.train",
            "-m",
            "data=folder",
            f"data.root={tiny_folder}",
            "data.clip_seconds=3",
            *TINY_RUN,
            "model=cnn3",
            f"mlflow.tracking_uri={url}",
            f"mlflow.experiment={EXPERIMENT}",
            "optim.lr=0.001,0.01",
            "hydra/sweeper/sampler=grid",
            "hydra.sweeper.n_trials=2",
            f"hydra.sweep.dir={root / 'multirun'}",
            cwd=root,
            timeout=500,
        )
        assert sweep.returncode == 0, sweep.stderr[-3000:]
        yield SimpleNamespace(url=url, root=root)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def sweep_runs(served: SimpleNamespace) -> SimpleNamespace:
    """The sweep's runs as the REST API returns them: the parent and its children."""
    experiment = api(
        served.url, "/api/2.0/mlflow/experiments/get-by-name", experiment_name=EXPERIMENT
    )["experiment"]
    runs = api(
        served.url,
        "/api/2.0/mlflow/runs/search",
        {"experiment_ids": [experiment["experiment_id"]], "max_results": 100},
    )["runs"]
    tags = {
        run["info"]["run_id"]: {t["key"]: t["value"] for t in run["data"]["tags"]} for run in runs
    }
    children = [run for run in runs if "mlflow.parentRunId" in tags[run["info"]["run_id"]]]
    parents = {tags[run["info"]["run_id"]]["mlflow.parentRunId"] for run in children}
    return SimpleNamespace(experiment=experiment, runs=runs, children=children, parents=parents)


def test_rest_api_returns_the_sweep(served: SimpleNamespace, sweep_runs: SimpleNamespace) -> None:
    assert len(sweep_runs.children) == 2
    (parent,) = sweep_runs.parents
    assert parent in {run["info"]["run_id"] for run in sweep_runs.runs}
    assert len(sweep_runs.runs) == 3  # nothing else logged a run
    rates = set()
    for child in sweep_runs.children:
        run_id = child["info"]["run_id"]
        assert child["info"]["status"] == "FINISHED"
        fetched = api(served.url, "/api/2.0/mlflow/runs/get", run_id=run_id)["run"]
        params = {p["key"]: p["value"] for p in fetched["data"]["params"]}
        metrics = {m["key"]: m["value"] for m in fetched["data"]["metrics"]}
        rates.add(params["optim.lr"])
        assert params["mlflow.parent_run_id"] == parent
        history = api(
            served.url,
            "/api/2.0/mlflow/metrics/get-history",
            run_id=run_id,
            metric_key="val/macro_f1",
        )["metrics"]
        assert sorted(m["step"] for m in history) == [0, 1]
        assert metrics["best_val/macro_f1"] == max(m["value"] for m in history)
        assert {"test/acc", "test/macro_f1", "test/balanced_acc"} <= metrics.keys()
    assert rates == {"0.001", "0.01"}


def test_rest_api_serves_the_artifacts(
    served: SimpleNamespace, sweep_runs: SimpleNamespace
) -> None:
    for child in sweep_runs.children:
        run_id = child["info"]["run_id"]
        # Logged over HTTP, so stored behind the server's artifact proxy.
        assert child["info"]["artifact_uri"].startswith("mlflow-artifacts:/")
        files = api(served.url, "/api/2.0/mlflow/artifacts/list", run_id=run_id)["files"]
        assert {"config.yaml", "confusion_matrix.png", "per_class.csv", "data"} <= {
            f["path"] for f in files
        }
        address = f"{served.url}/get-artifact?" + urllib.parse.urlencode(
            {"path": "config.yaml", "run_uuid": run_id}
        )
        with urllib.request.urlopen(address, timeout=30) as response:
            config = OmegaConf.create(response.read().decode())
        params = {p["key"]: p["value"] for p in child["data"]["params"]}
        assert str(config.optim.lr) == params["optim.lr"]
        assert config.mlflow.experiment == EXPERIMENT
    models = api(
        served.url,
        "/api/2.0/mlflow/logged-models/search",
        {"experiment_ids": [sweep_runs.experiment["experiment_id"]]},
    )["models"]
    assert {m["info"]["source_run_id"] for m in models} == {
        child["info"]["run_id"] for child in sweep_runs.children
    }


def test_compare_reads_the_server(served: SimpleNamespace, sweep_runs: SimpleNamespace) -> None:
    (parent,) = sweep_runs.parents
    result = run_module(
        "genre.compare",
        "--experiment",
        EXPERIMENT,
        "--parent",
        parent,
        "--tracking-uri",
        served.url,
        cwd=served.root,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"Top 2 of 2 runs in experiment '{EXPERIMENT}', children of ")
    assert "optim.lr" in lines[1].split()
    assert {line.split()[-1] for line in lines[2:]} == {
        child["info"]["run_id"] for child in sweep_runs.children
    }


def test_predict_loads_a_model_from_the_server(
    served: SimpleNamespace, sweep_runs: SimpleNamespace
) -> None:
    audio = served.root / "tone.wav"
    sf.write(audio, tone(2.5, 22050, 880.0, channels=2), 22050)
    run_id = sweep_runs.children[0]["info"]["run_id"]
    result = run_module(
        "genre.predict",
        str(audio),
        "--run",
        run_id,
        "--json",
        "--tracking-uri",
        served.url,
        cwd=served.root,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (answer,) = json.loads(result.stdout)
    assert {g["genre"] for g in answer["top"]} == {"High", "Low", "Mid"}
