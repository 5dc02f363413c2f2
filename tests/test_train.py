"""`python -m genre.train` run as a user runs it, into a temporary SQLite MLflow store that is then
read back; and its one-sentence errors for bad input."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
import torch
import yaml
from helpers import TINY_RUN, run_module, tone, write_genre_folder

pytestmark = pytest.mark.slow  # python -m genre.train, run end to end

TINY = ["data.clip_seconds=3", *TINY_RUN]


@pytest.fixture(scope="module")
def trained(tiny_folder, tmp_path_factory):
    """One real training run on real wav/mp3 files, plus one unusable file in the dataset."""
    root = tmp_path_factory.mktemp("data")
    shutil.copytree(tiny_folder, root, dirs_exist_ok=True)
    (root / "Low" / "broken.mp3").write_text("not audio")
    work = tmp_path_factory.mktemp("work")
    uri = f"sqlite:///{work}/mlflow.db"
    result = run_module(
        "genre.train",
        "data=folder",
        f"data.root={root}",
        "model=cnn3",
        "seed=3",
        f"mlflow.tracking_uri={uri}",
        "mlflow.experiment=e2e",
        *TINY,
        cwd=work,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    mlflow.set_tracking_uri(uri)
    (run,) = mlflow.search_runs(experiment_names=["e2e"], output_format="list")
    return run, result, work


def test_run_is_finished_with_params_and_tags(trained):
    run, _, _ = trained
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert params["data.source"] == "folder"
    assert params["model._target_"] == "genre.model.cnn.CNN3"
    assert params["features.n_mels"] == "32"
    assert params["seed"] == "3"
    tags = run.data.tags
    assert (
        len(tags["mlflow.source.git.commit"]) == 40 or tags["mlflow.source.git.commit"] == "unknown"
    )
    assert len(tags["data.fingerprint"]) == 20


def test_metrics_per_epoch_and_test(trained):
    run, _, _ = trained
    client = mlflow.MlflowClient()
    history = client.get_metric_history(run.info.run_id, "val/macro_f1")
    assert [m.step for m in history] == [0, 1]
    for name in (
        "train/loss",
        "val/loss",
        "val/acc",
        "val/balanced_acc",
        "test/acc",
        "test/macro_f1",
        "test/balanced_acc",
        "test/loss",
        "test/f1/Low",
        "best_val/macro_f1",
    ):
        assert name in run.data.metrics, name
    assert 0.0 <= run.data.metrics["test/acc"] <= 1.0
    assert run.data.metrics["best_val/macro_f1"] == max(m.value for m in history)


def test_artifacts_config_figures_report_model(trained, tmp_path):
    run, _, _ = trained
    client = mlflow.MlflowClient()
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "confusion_matrix.png", "per_class.csv", "data"} <= names
    config = yaml.safe_load(
        Path(client.download_artifacts(run.info.run_id, "config.yaml", str(tmp_path))).read_text()
    )
    assert config["data"]["chunk_seconds"] == 1
    assert config["features"]["kind"] == "mel"
    rejected = Path(client.download_artifacts(run.info.run_id, "data/rejected.csv", str(tmp_path)))
    assert "broken.mp3" in rejected.read_text()
    per_class = Path(client.download_artifacts(run.info.run_id, "per_class.csv", str(tmp_path)))
    assert per_class.read_text().splitlines()[0].startswith("genre,precision,recall,f1-score")
    png = Path(client.download_artifacts(run.info.run_id, "confusion_matrix.png", str(tmp_path)))
    assert png.read_bytes()[:4] == b"\x89PNG"
    model = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    assert model.unwrap_python_model().net.genres == ["High", "Low", "Mid"]
    probabilities = model.predict(tone(1.0, 16000, 440.0)[None])
    assert probabilities.shape == (1, 3)
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-5)


def test_logged_model_is_code_and_weights_not_a_pickle(trained, tmp_path):
    run, _, _ = trained
    folder = Path(
        mlflow.artifacts.download_artifacts(
            f"runs:/{run.info.run_id}/model", dst_path=str(tmp_path)
        )
    )
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert {"mlflow_model.py", "artifacts/network/weights.safetensors"} <= files
    assert "artifacts/network/network.yaml" in files
    assert not [f for f in files if f.endswith((".pkl", ".pth", ".pt", ".pickle"))]
    mlmodel = yaml.safe_load((folder / "MLmodel").read_text())
    assert mlmodel["flavors"]["python_function"]["model_code_path"].endswith("mlflow_model.py")
    # Loadable where MLflow refuses pickles, which is its default.
    env = {"MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false"}
    code = f"import mlflow; print(mlflow.pyfunc.load_model({str(folder)!r}).metadata.run_id)"
    result = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    # The best checkpoint holds plain data: it loads with weights_only.
    (ckpt,) = trained[2].glob("outputs/*/*/checkpoints/best.ckpt")
    assert "state_dict" in torch.load(ckpt, map_location="cpu", weights_only=True)


def test_checkpoint_kept_in_the_run_folder(trained):
    _, _, work = trained
    assert len(list(work.glob("outputs/*/*/checkpoints/best.ckpt"))) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["data=folder", "data.root=/no/such/folder"], "does not exist"),
        (["data=folder"], "data.root is not set"),
        (["data=csv", "data.root={tmp}/clips.csv"], "lacks column(s) genre"),
        (["data=folder", "data.root={tmp}/empty"], "No audio files found"),
        (["data=folder", "data.root={tmp}/one"], "has only 1 clip"),
        (["features.kind=cqt"], "Unknown features.kind 'cqt'"),
        (["model=vgg"], "Could not find 'model/vgg'"),
        (["data.batchsize=3"], "Could not override 'data.batchsize'"),
    ],
)
def test_bad_input_is_one_clear_sentence(tmp_path, args, message):
    (tmp_path / "empty" / "Jazz").mkdir(parents=True)
    (tmp_path / "clips.csv").write_text("path,style\na.wav,Jazz\n")
    write_genre_folder(tmp_path / "one", {"A": 300.0, "B": 600.0}, clips=3, seconds=1.5)
    for extra in (tmp_path / "one" / "B").iterdir():
        if extra.name != "clip 0.wav":
            extra.unlink()
    args = [a.format(tmp=tmp_path) for a in args]
    result = run_module(
        "genre.train", *args, *TINY, f"mlflow.tracking_uri=sqlite:///{tmp_path}/m.db", cwd=tmp_path
    )
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_config_combination_stops_before_any_run(tiny_folder, tmp_path):
    """A combination that no single value shows (f_max above Nyquist at the data's rate) is
    checked with the config, before any data is read or any run is opened."""
    uri = f"sqlite:///{tmp_path}/m.db"
    result = run_module(
        "genre.train",
        "data=folder",
        f"data.root={tiny_folder}",
        "features.f_max=12000",
        *TINY,
        f"mlflow.tracking_uri={uri}",
        "mlflow.experiment=fails",
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "genre: features.f_max=12000 is above 8000 Hz, half of data.sample_rate=16000: lower "
        "it, or null for 8000 Hz."
    )
    assert not (tmp_path / "m.db").exists()


def test_a_runs_record_masks_the_study_storage_password() -> None:
    from omegaconf import OmegaConf

    from genre.config import compose_config
    from genre.tracking import flat_params, logged_config

    url = "postgresql://genre:s3cret@db-host:5432/optuna"
    cfg = compose_config([f"optuna.storage={url}", "optuna.trial_id=7"])
    shown = logged_config(cfg)
    assert flat_params(shown)["optuna.storage"] == "postgresql://genre:***@db-host:5432/optuna"
    assert "s3cret" not in OmegaConf.to_yaml(shown)
    assert cfg.optuna.storage == url  # the job itself still connects with it


def test_a_diverging_run_is_one_sentence_and_a_failed_run(tiny_folder, tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    result = run_module(
        "genre.train",
        "data=folder",
        f"data.root={tiny_folder}",
        *TINY,
        "optim=sgd",
        "optim.lr=90",
        "optim.schedule=none",
        f"mlflow.tracking_uri={uri}",
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("genre: The training loss is not finite") and "optim.lr" in last
    client = mlflow.MlflowClient(uri)
    (run,) = client.search_runs([client.get_experiment_by_name("genre").experiment_id])
    assert run.info.status == "FAILED"
    assert run.data.tags["error"].startswith("GenreError: The training loss is not finite")


def test_run_reads_well_in_the_mlflow_ui(trained, tmp_path):
    """Dataset as an input, a description, the experiment marked as model training, and the
    figures of what the network sees and of its learning curves."""
    run, _, work = trained
    client = mlflow.MlflowClient()
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    description = run.data.tags["mlflow.note.content"]
    assert description.startswith("cnn3 on mel (n_fft 1024, 32 mels, up to 8000 Hz, db)")
    assert f"best val/macro_f1 {run.data.metrics['best_val/macro_f1']:.3f}" in description
    contexts, clips = {}, 0
    for used in run.inputs.dataset_inputs:  # one per split, in MLflow's context for it
        assert used.dataset.name.startswith("folder:")
        assert used.dataset.digest == run.data.tags["data.fingerprint"]
        tags = {tag.key: tag.value for tag in used.tags}
        contexts[used.dataset.name.rsplit("/", 1)[1]] = tags["mlflow.data.context"]
        clips += int(tags["clips"])
    assert contexts == {"train": "training", "val": "validation", "test": "testing"}
    assert clips == 27
    for name in ("inputs.png", "learning_curves.png"):
        png = Path(client.download_artifacts(run.info.run_id, name, str(tmp_path)))
        assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
@pytest.mark.parametrize("enabled", [True, False])
def test_system_metrics_are_on_by_default_and_off_with_one_key(
    tiny_folder, tmp_path, monkeypatch, enabled
):
    # Sampled every 0.2 s and logged at once, so that a run of seconds has them when on.
    monkeypatch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", "0.2")
    monkeypatch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING", "1")
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    switch = [] if enabled else ["mlflow.system_metrics=false"]
    result = run_module(
        "genre.train", "data=folder", f"data.root={tiny_folder}", *TINY,
        f"mlflow.tracking_uri={uri}", *switch, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = mlflow.MlflowClient(uri).search_runs(
        [mlflow.MlflowClient(uri).get_experiment_by_name("genre").experiment_id]
    )
    logged = [key for key in run.data.metrics if key.startswith("system/")]
    assert bool(logged) == enabled, logged
