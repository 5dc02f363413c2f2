"""genre.explore on a tiny dataset, and genre.compare on a store of hand-made runs."""

from __future__ import annotations

import time
from pathlib import Path

import matplotlib.image
import mlflow
import pandas as pd
import pytest
from helpers import free_port, run_module

from genre import compare
from genre.errors import GenreError

FIGURES = ("class_distribution", "projection_pca", "projection_lda", "spectrograms")


@pytest.mark.slow
def test_explore_saves_and_logs_its_figures(tiny_folder: Path, tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    out = tmp_path / "explore"
    result = run_module(
        "genre.explore",
        "data=folder",
        f"data.root={tiny_folder}",
        "data.clip_seconds=3",
        "data.chunk_seconds=1",
        f"mlflow.tracking_uri={uri}",
        "mlflow.experiment=look",
        f"hydra.run.dir={out}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for name in FIGURES:
        height, width, _ = matplotlib.image.imread(out / f"{name}.png").shape
        assert height > 300 and width > 300, name
    counts = pd.read_csv(out / "clips_per_split.csv", index_col="genre")
    assert counts.to_numpy().sum() == 27 and list(counts.index) == ["High", "Low", "Mid"]
    # Three genres give LDA two axes: the 3-D view is left out, and said so.
    assert "note: LDA has 2 axes with 3 genres: no 3-D view" in result.stdout

    client = mlflow.MlflowClient(uri)
    (run,) = client.search_runs([client.get_experiment_by_name("look").experiment_id])
    assert run.data.tags["genre.kind"] == "explore"
    assert run.data.params["data.root"] == str(tiny_folder)
    assert run.data.metrics["n_clips"] == 27
    logged = {f.path for f in client.list_artifacts(run.info.run_id, "explore")}
    assert {f"explore/{name}.png" for name in FIGURES} <= logged


@pytest.mark.slow
def test_explore_unknown_example_clip_is_one_line(tiny_folder: Path, tmp_path: Path) -> None:
    result = run_module(
        "genre.explore",
        "data=folder",
        f"data.root={tiny_folder}",
        "data.clip_seconds=3",
        "data.chunk_seconds=1",
        "example_clip=nope",
        f"mlflow.tracking_uri=sqlite:///{tmp_path / 'mlflow.db'}",
        f"hydra.run.dir={tmp_path / 'out'}",
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "genre: No clip with clip_id 'nope' in this dataset; see its clips.csv."
    )
    assert not (tmp_path / "mlflow.db").exists()  # nothing logged for a failed exploration


def test_explore_with_a_dead_tracking_server_writes_nothing(
    tiny_folder: Path, tmp_path: Path
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    result = run_module(
        "genre.explore",
        "data=folder",
        f"data.root={tiny_folder}",
        "data.clip_seconds=3",
        "data.chunk_seconds=1",
        f"mlflow.tracking_uri={dead}",
        f"hydra.run.dir={tmp_path / 'out'}",
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith(f"genre: Cannot use the MLflow store at {dead}: connection refused")
    )
    assert time.monotonic() - started < 60  # MLflow's retries would take minutes
    assert not list((tmp_path / "out").glob("*.png"))
    assert not (tmp_path / "out" / "clips_per_split.csv").exists()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str]]:
    """A sweep (parent and three children), a single run, a failed run and an explore run."""
    root = tmp_path_factory.mktemp("compare")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri)
    experiment = client.create_experiment("genre", artifact_location=str(root / "art"))
    ids: dict[str, str] = {}

    def run(name: str, metrics: dict[str, float], params: dict[str, str], **tags: str) -> None:
        made = client.create_run(experiment, run_name=name, tags=tags)
        for key, value in metrics.items():
            client.log_metric(made.info.run_id, key, value)
        for key, value in params.items():
            client.log_param(made.info.run_id, key, value)
        client.set_terminated(made.info.run_id)
        ids[name] = made.info.run_id

    base = {"data.cache_dir": "/machine/a", "seed": "0", "optuna.trial_id": "1"}
    # A study's run holds its best trial's objective and params: compare never ranks it.
    run("sweep", {"best_val/macro_f1": 0.9}, {"optim.lr": "0.001"}, **{"genre.role": "study"})
    for name, lr, f1 in [("low", "0.0001", 0.5), ("mid", "0.001", 0.9), ("high", "0.01", 0.7)]:
        run(
            name,
            {
                "best_val/macro_f1": f1,
                "val/macro_f1": f1 - 0.1,
                "test/acc": f1 - 0.2,
                "test/f1/Rock": 0.3,
                "test/loss": 1.0,
            },
            {**base, "optim.lr": lr, "optuna.trial_id": name},
            **{"mlflow.parentRunId": ids["sweep"]},
        )
    run(
        "single",
        {"best_val/macro_f1": 0.95, "test/acc": 0.8},
        {**base, "optim.lr": "0.001", "data.cache_dir": "/machine/b"},
    )
    run("failed", {}, {**base, "optim.lr": "1.0"})
    run("explore", {"n_clips": 27}, {"data.root": "/data"}, **{"genre.kind": "explore"})
    return uri, ids


@pytest.mark.slow
def test_compare_ranks_a_sweep(
    store: tuple[str, dict[str, str]], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    uri, ids = store
    out = tmp_path / "top.csv"
    args = ["--experiment", "genre", "--tracking-uri", uri, "--parent", ids["sweep"]]
    assert compare.main([*args, "--top", "2", "--csv", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == (
        f"Top 2 of 3 runs in experiment 'genre', children of {ids['sweep']}, by best_val/macro_f1:"
    )
    table = pd.read_csv(out, dtype={"optim.lr": str})
    # Per-genre F1, test loss, machine paths and the trial bookkeeping stay out of the table.
    assert list(table.columns) == [
        "rank",
        "best_val/macro_f1",
        "test/acc",
        "optim.lr",
        "minutes",
        "run_id",
    ]
    assert list(table["run_id"]) == [ids["mid"], ids["high"]]
    assert list(table["optim.lr"]) == ["0.001", "0.01"]
    assert [line.split()[-1] for line in printed[2:]] == [ids["mid"], ids["high"]]


@pytest.mark.slow
def test_compare_whole_experiment_and_another_metric(
    store: tuple[str, dict[str, str]], capsys: pytest.CaptureFixture
) -> None:
    uri, ids = store
    assert compare.main(["--experiment", "genre", "--tracking-uri", uri]) == 0
    lines = capsys.readouterr().out.splitlines()
    # The failed run has no objective, the explore run is no training run.
    assert lines[0] == "Top 4 of 4 runs in experiment 'genre', by best_val/macro_f1:"
    assert [line.split()[-1] for line in lines[2:]] == [
        ids["single"],
        ids["mid"],
        ids["high"],
        ids["low"],
    ]
    assert "data.cache_dir" not in lines[1]
    assert (
        compare.main(["--experiment", "genre", "--tracking-uri", uri, "--metric", "test/acc"]) == 0
    )
    assert capsys.readouterr().out.splitlines()[2].split()[-1] == ids["single"]


@pytest.mark.slow
def test_compare_over_seeds_gives_mean_and_confidence_interval(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri)
    experiment = client.create_experiment("seeds", artifact_location=str(tmp_path / "art"))
    results = {"a": [0.6, 0.7, 0.8], "b": [0.5], "c": [0.9, 0.9]}
    for model, values in results.items():
        for seed, value in enumerate(values):
            run = client.create_run(experiment, start_time=1_000)
            client.log_metric(run.info.run_id, "best_val/macro_f1", value)
            client.log_metric(run.info.run_id, "test/acc", value - 0.1)
            client.log_param(run.info.run_id, "model.name", model)
            client.log_param(run.info.run_id, "seed", str(seed))
            client.set_terminated(run.info.run_id, end_time=91_000)
    out = tmp_path / "seeds.csv"
    args = ["--experiment", "seeds", "--tracking-uri", uri, "--seeds", "--csv", str(out)]
    assert compare.main(args) == 0
    assert capsys.readouterr().out.startswith("Top 3 of 3 settings in experiment 'seeds'")
    table = pd.read_csv(out).set_index("model.name")
    assert list(table.index) == ["c", "a", "b"]
    assert table.loc["a", "runs"] == 3 and table.loc["a", "seeds"] == "0 1 2"
    assert table.loc["a", "test/acc"] == pytest.approx(0.6)
    # t(0.975, 2) = 4.3027; the standard deviation of 0.6, 0.7, 0.8 is 0.1.
    assert table.loc["a", "test/acc ±"] == pytest.approx(4.3027 * 0.1 / 3**0.5, rel=1e-4)
    assert table.loc["c", "test/acc ±"] == pytest.approx(0.0)
    assert pd.isna(table.loc["b", "test/acc ±"])
    assert table.loc["a", "minutes"] == pytest.approx(1.5)


@pytest.mark.slow
def test_compare_bad_input(store: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    uri, _ = store
    client = mlflow.MlflowClient(uri)
    client.create_experiment("empty")
    with pytest.raises(GenreError, match="Experiment 'empty' has no runs yet"):
        compare.main(["--experiment", "empty", "--tracking-uri", uri])
    with pytest.raises(GenreError, match="No experiment 'genres' at .*; there are: Default, empty"):
        compare.main(["--experiment", "genres", "--tracking-uri", uri])
    with pytest.raises(GenreError, match="logged val/f1: choose --metric among best_val/macro_f1"):
        compare.main(["--experiment", "genre", "--tracking-uri", uri, "--metric", "val/f1"])
    with pytest.raises(GenreError, match="No run 0+ in the MLflow store"):
        compare.main(["--experiment", "genre", "--tracking-uri", uri, "--parent", "0" * 32])
    with pytest.raises(GenreError, match="the folder .* does not exist"):
        compare.main(
            [
                "--experiment",
                "genre",
                "--tracking-uri",
                uri,
                "--csv",
                str(tmp_path / "no" / "t.csv"),
            ]
        )
