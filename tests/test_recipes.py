"""The recipes of conf/experiment/: each sets everything but the dataset, so it composes over any
source; experiment=gtzan trains end to end on clips as short as the GTZAN excerpts once the
chunk is lowered, and says so in one sentence when it is not."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
from helpers import run_module, write_genre_folder

from genre.config import compose_config


@pytest.mark.parametrize("source", ["csv", "folder", "gtzan", "fma", "synth"])
def test_the_gtzan_recipe_composes_over_any_single_label_source(source: str) -> None:
    cfg = compose_config(["experiment=gtzan", f"data={source}"])
    assert cfg.data.source == source  # the recipe leaves the dataset alone
    assert cfg.model.name == "musicnn" and cfg.model.variant == "msd+mtt"
    model = cfg.model
    assert (model.freeze, model.embedding, model.clip_pool, model.head_hidden) == (
        "all",
        "penultimate",
        "max",
        256,
    )
    assert cfg.optim._target_ == "torch.optim.AdamW" and cfg.optim.schedule == "cosine"
    assert (cfg.augment.mixup, cfg.augment.gain_db) == (0.2, 0.0)
    data = cfg.data
    assert (data.sample_rate, data.chunk_seconds, data.eval_crops) == (16000, 3.0, "all")
    assert cfg.trainer.max_epochs == 15


def test_a_recipe_and_a_command_line_override_compose_in_that_order() -> None:
    cfg = compose_config(["experiment=gtzan", "data=csv", "data.chunk_seconds=2"])
    assert cfg.data.chunk_seconds == 2


def test_the_small_cnn_is_the_configurable_cnn_at_width_16() -> None:
    small, cnn = compose_config(["model=cnn_small"]).model, compose_config(["model=cnn"]).model
    assert small.width == 16 and cnn.width == 32
    assert {**small, "width": cnn.width} == {**cnn}


@pytest.mark.slow
def test_the_gtzan_recipe_trains_on_two_second_clips(tmp_path: Path, musicnn_wheel: Path) -> None:
    clips = write_genre_folder(tmp_path / "clips", {"Low": 220.0, "High": 3000.0}, 6, 2.0)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    recipe = ("experiment=gtzan", "data=folder", f"data.root={clips}", f"mlflow.tracking_uri={uri}")

    refused = run_module("genre.train", *recipe, cwd=tmp_path)
    assert refused.returncode == 2, refused.stderr[-2000:]
    (line,) = [x for x in refused.stderr.splitlines() if x.startswith("genre: ")]
    assert "shorter than data.chunk_seconds=3 (median 2.00 s)" in line
    assert line.endswith("e.g. data.chunk_seconds=2.")

    done = run_module(
        "genre.train", *recipe, "data.chunk_seconds=2", "trainer.max_epochs=1", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    client = mlflow.MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("genre").experiment_id])
    # The refused attempt left no run: the data's shape is checked before a run opens.
    assert [r.info.status for r in runs] == ["FINISHED"]
    [run] = [r for r in runs if r.info.status == "FINISHED"]
    params = run.data.params
    assert (params["model.name"], params["model.freeze"], params["augment.mixup"]) == (
        "musicnn",
        "all",
        "0.2",
    )
    assert 0.0 <= run.data.metrics["test/acc"] <= 1.0
