"""`trainer=ddp` on the CPU: two gloo processes, run as a user runs them, then read back from the
MLflow store. Rank 0 alone tracks; evaluation covers every clip exactly once, so the DDP test
metrics are those of one process testing the same checkpoint; and a sweep's DDP trial is one
trial and one child run."""

from __future__ import annotations

import io

import lightning.pytorch as pl
import mlflow
import optuna
import pandas as pd
import pytest
import torch
from helpers import TINY_RUN, run_module
from omegaconf import OmegaConf
from optuna.trial import TrialState

from genre.build import build_module, build_network
from genre.config import settings
from genre.data.datamodule import GenreDataModule

# The tiny folder's splits hold 3 validation and 3 test clips: 2 + 1 over two processes, where a
# padding sampler would score one clip twice.
DDP = [
    "trainer=ddp",
    "trainer.accelerator=cpu",
    "trainer.devices=2",
    "trainer.precision=32-true",
    "data=folder",
    "data.clip_seconds=3",
    *TINY_RUN,
]


@pytest.fixture(scope="module")
def ddp_run(tiny_folder, tmp_path_factory):
    work = tmp_path_factory.mktemp("ddp")
    uri = f"sqlite:///{work}/mlflow.db"
    result = run_module(
        "genre.train",
        *DDP,
        f"data.root={tiny_folder}",
        "seed=3",
        f"mlflow.tracking_uri={uri}",
        "mlflow.experiment=ddp",
        cwd=work,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(experiment_names=["ddp"], output_format="list")
    return runs, result, work


@pytest.mark.slow
def test_rank_zero_alone_tracks_one_finished_run(ddp_run, tmp_path):
    runs, result, work = ddp_run
    assert "Traceback" not in result.stderr
    (run,) = runs  # rank 1 ran the same command, and opened no run of its own
    assert run.info.status == "FINISHED"
    assert run.data.tags["genre.world_size"] == "2"
    assert run.data.params["trainer.strategy"] == "ddp"
    client = mlflow.MlflowClient()
    history = client.get_metric_history(run.info.run_id, "val/macro_f1")
    assert [m.step for m in history] == [0, 1]  # once per epoch, not once per rank
    for name in ("train/loss", "val/loss", "test/acc", "test/macro_f1", "best_val/macro_f1"):
        assert name in run.data.metrics, name
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "confusion_matrix.png", "per_class.csv", "data"} <= names
    # The per-class report counts every test clip, not rank 0's share.
    path = client.download_artifacts(run.info.run_id, "per_class.csv", str(tmp_path))
    per_class = pd.read_csv(path).set_index("genre")
    assert per_class.loc[["High", "Low", "Mid"], "support"].sum() == 3
    (model,) = mlflow.search_logged_models(
        experiment_ids=[run.info.experiment_id], output_format="list"
    )
    assert model.source_run_id == run.info.run_id
    net = mlflow.pyfunc.load_model(model.model_uri).unwrap_python_model().net
    assert net.genres == ["High", "Low", "Mid"]
    # One run folder and one checkpoint: the other rank left no Hydra output of its own.
    assert len(list(work.glob("outputs/*/*/checkpoints/best.ckpt"))) == 1
    assert len(list(work.glob("outputs/*/*"))) == 1


@pytest.mark.slow
def test_ddp_metrics_are_those_of_one_process_on_the_same_checkpoint(ddp_run):
    (run,), _, work = ddp_run
    cfg = OmegaConf.create(mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/config.yaml"))
    data = GenreDataModule(settings(cfg, "data"))
    data.load()
    counts = pd.read_csv(
        io.StringIO(mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/data/clips_per_split.csv"))
    )
    assert counts["test"].sum() == counts["val"].sum() == 3
    module = build_module(cfg, build_network(cfg, data.genres), data.class_weights())
    (ckpt,) = work.glob("outputs/*/*/checkpoints/best.ckpt")
    module.load_state_dict(torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"])
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    (test,) = trainer.test(module, datamodule=data, verbose=False)
    for name in ("test/loss", "test/acc", "test/macro_f1", "test/balanced_acc"):
        assert run.data.metrics[name] == pytest.approx(test[name], abs=1e-6), name
    (val,) = trainer.validate(module, datamodule=data, verbose=False)
    assert run.data.metrics["best_val/macro_f1"] == pytest.approx(val["val/macro_f1"], abs=1e-6)


@pytest.mark.slow
def test_a_sweep_trial_trains_with_ddp(tiny_folder, tmp_path):
    """Rank 1 re-runs the sweep's command line: it must join the trial's training, not start
    a second sweep (which would wait for the running trial, and rank 0 for it)."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    result = run_module(
        "genre.train",
        "-m",
        *DDP,
        f"data.root={tiny_folder}",
        "optim.lr=choice(0.001,0.002)",
        "hydra.sweeper.n_trials=1",
        "hydra.sweeper.study_name=ddp",
        f"mlflow.tracking_uri={uri}",
        "mlflow.experiment=ddp_sweep",
        cwd=tmp_path,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (trial,) = optuna.load_study(study_name="ddp", storage=f"sqlite:///{tmp_path}/optuna.db").trials
    assert trial.state == TrialState.COMPLETE
    assert sorted(trial.intermediate_values) == [0, 1]  # reported by rank 0, once per epoch
    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(experiment_names=["ddp_sweep"], output_format="list")
    (child,) = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    (parent,) = [r for r in runs if r is not child]
    assert child.info.run_id == trial.user_attrs["mlflow_run_id"]
    assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert (child.info.status, child.data.tags["trial_state"]) == ("FINISHED", "COMPLETE")
    assert child.data.metrics["best_val/macro_f1"] == pytest.approx(trial.value)
    assert "test/macro_f1" in child.data.metrics


def test_other_ranks_get_the_job_without_the_storage_password(tmp_path):
    """The job for the other DDP processes sits in the environment, which other processes of the
    user and crash reports can read: it names the study storage without its password."""
    import json
    import os

    from genre.config import compose_config
    from genre.ddp import DDP_JOB_ENV, ddp_job

    cfg = compose_config(["optuna.storage=postgresql://genre:s3cret@db.example/optuna"])
    with ddp_job(cfg, tmp_path):
        job = os.environ[DDP_JOB_ENV]
    assert "s3cret" not in job
    assert (
        json.loads(job)["config"]["optuna"]["storage"] == "postgresql://genre:***@db.example/optuna"
    )
    assert DDP_JOB_ENV not in os.environ
