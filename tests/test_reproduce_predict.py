"""genre.reproduce and genre.predict on one real tiny training run (trained once per module)."""

from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path
from types import SimpleNamespace

import mlflow
import numpy as np
import pytest
import soundfile as sf
import torch
from bad_files import (
    as_ordinary_user,
    dangling_symlink,
    fifo,
    locked,
    music,
    symlink_loop,
    write_audio,
)
from helpers import SHARED, run_module, tone
from omegaconf import OmegaConf

from genre import predict, reproduce, tracking
from genre.errors import GenreError

SHARED_AUDIO = SHARED / "audio"
TRAIN_ARGS = (
    "data=folder",
    "data.clip_seconds=3",
    "data.chunk_seconds=1",
    "data.batch_size=8",  # several shuffled steps per epoch, so the order must reproduce too
    "model=cnn3",
    "trainer.max_epochs=2",
    "trainer.enable_progress_bar=false",
)


def shared_audio() -> list[Path]:
    if not SHARED_AUDIO.is_dir():
        pytest.skip(f"the real recordings are not at {SHARED_AUDIO} (shared/ beside the clone)")
    return sorted(SHARED_AUDIO.glob("*.ogg"))


@pytest.fixture(scope="module")
def trained(tiny_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    cwd = tmp_path_factory.mktemp("reproduce")
    uri = f"sqlite:///{cwd / 'mlflow.db'}"
    result = run_module(
        "genre.train",
        *TRAIN_ARGS,
        f"data.root={tiny_folder}",
        f"mlflow.tracking_uri={uri}",
        "mlflow.experiment=repro",
        "hydra/sweeper=basic",
        f"hydra.run.dir={cwd / 'run'}",
        cwd=cwd,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = mlflow.MlflowClient(uri).search_runs(
        [mlflow.MlflowClient(uri).get_experiment_by_name("repro").experiment_id]
    )
    return SimpleNamespace(cwd=cwd, uri=uri, run_id=run.info.run_id, run_dir=cwd / "run")


def test_reproduce_gives_identical_metrics_on_cpu(
    trained: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = mlflow.MlflowClient(trained.uri)
    # Another thread count changes the last bits of the losses; reproduce takes the original's
    # from this tag (set here as train would log it, the default count of this machine).
    client.set_tag(trained.run_id, tracking.THREADS_TAG, str(torch.get_num_threads()))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    result = run_module(
        "genre.reproduce", trained.run_id, "--tracking-uri", trained.uri, cwd=trained.cwd
    )
    assert result.returncode == 0, result.stderr[-3000:]
    original = client.get_run(trained.run_id)
    (new,) = client.search_runs(
        [original.info.experiment_id], f"tags.`genre.reproduced_from` = '{trained.run_id}'"
    )
    assert new.info.run_id != trained.run_id
    assert "mlflow.parentRunId" not in new.data.tags
    compared = [m for m in original.data.metrics if m.startswith(("test/", "best_"))]
    assert "best_val/macro_f1" in compared and "test/acc" in compared
    for name in compared:
        assert new.data.metrics[name] == original.data.metrics[name], name
    assert f"All {len(reproduce_rows(result.stdout))} metrics are identical." in result.stdout
    assert new.info.run_id in result.stdout


def reproduce_rows(stdout: str) -> list[str]:
    """The metric rows of the side-by-side table."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("metric "))
    return [line for line in lines[start + 1 :] if line and not line.startswith("All ")]


def test_reproduce_table_reports_differences() -> None:
    table = reproduce.metric_table(
        {"best_val/acc": 0.5, "test/acc": 0.25, "train/acc": 0.1},
        {"best_val/acc": 0.5, "test/acc": 0.5},
    )
    assert "train/acc" not in table
    assert "+0.25" in table
    assert table.splitlines()[-1] == "1 of 2 metrics differ; the largest: test/acc."


def test_reproduce_of_an_unfinished_run_compares_only_what_it_logged() -> None:
    """An interrupted original has no test metrics: they are no difference, and the table says
    how the original ended."""
    table = reproduce.metric_table(
        {"best_val/acc": 0.5, "val/acc": 0.5},
        {"best_val/acc": 0.5, "val/acc": 0.5, "test/acc": 0.25, "test/loss": 1.0},
        status="KILLED",
    )
    assert "test/" not in table
    assert table.splitlines()[-1] == "All 2 metrics are identical (the original ended KILLED)."


def test_reproduce_refuses_unknown_override_keys(trained: SimpleNamespace) -> None:
    base = [trained.run_id, "--tracking-uri", trained.uri]
    with pytest.raises(GenreError, match="'trainer.max_epoch' is not in the run's config"):
        reproduce.main([*base, "trainer.max_epoch=3"])
    with pytest.raises(GenreError, match="'model' is a config group"):
        reproduce.main([*base, "model=cnn"])
    with pytest.raises(GenreError, match="'seed' already exists"):
        reproduce.main([*base, "+seed=1"])


def test_reproduce_overrides_and_clears_the_sweep_fields() -> None:
    cfg = OmegaConf.create(
        {
            "seed": 0,
            "trainer": {"max_epochs": 2},
            "data": {"cache_dir": "/elsewhere"},
            "mlflow": {
                "tracking_uri": "x",
                "experiment": "e",
                "parent_run_id": "p",
                "run_name": None,
            },
            "optuna": {"study_name": "s", "storage": "sqlite:///o.db", "trial_id": 3},
        }
    )
    cfg = reproduce.for_reproduction(cfg, "sqlite:///here.db", "genre", "calm-cat-1")
    cfg = reproduce.apply_overrides(cfg, ["trainer.max_epochs=5", "+trainer.fast_dev_run=true"])
    assert cfg.trainer == {"max_epochs": 5, "fast_dev_run": True}
    assert cfg.optuna == {"study_name": None, "storage": None, "trial_id": None}
    assert cfg.mlflow.parent_run_id is None
    assert cfg.mlflow.tracking_uri == "sqlite:///here.db"
    assert cfg.mlflow.run_name == "calm-cat-1 (reproduced)"
    assert cfg.data.cache_dir != "/elsewhere"


def test_reproduce_unknown_run_is_one_line(trained: SimpleNamespace, tmp_path: Path) -> None:
    result = run_module("genre.reproduce", "0" * 32, "--tracking-uri", trained.uri, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"genre: No run {'0' * 32} in the MLflow store at {trained.uri}: check the id "
        "(python -m genre.compare lists runs) and --tracking-uri."
    ]
    assert list(tmp_path.iterdir()) == []


def test_reproduce_run_without_config(trained: SimpleNamespace) -> None:
    client = mlflow.MlflowClient(trained.uri)
    experiment = client.get_experiment_by_name("repro").experiment_id
    bare = client.create_run(experiment, run_name="made by hand")
    client.set_terminated(bare.info.run_id)
    with pytest.raises(GenreError, match="has no config.yaml artifact"):
        reproduce.main([bare.info.run_id, "--tracking-uri", trained.uri])


def test_unreachable_tracking_server_fails_fast(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on once this closes
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    result = run_module(
        "genre.reproduce",
        "0" * 32,
        f"--tracking-uri=http://127.0.0.1:{port}",
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"genre: Cannot reach the MLflow store at http://127.0.0.1:{port}: connection refused."
    ]
    assert time.monotonic() - started < 60  # without the probe, MLflow retries for minutes


def test_missing_sqlite_store_is_not_created(tmp_path: Path) -> None:
    with pytest.raises(GenreError, match="No MLflow store at sqlite:///"):
        reproduce.main(["0" * 32, "--tracking-uri", f"sqlite:///{tmp_path / 'typo.db'}"])
    assert not (tmp_path / "typo.db").exists()


def test_predict_real_recordings_and_a_file_that_is_not_audio(
    trained: SimpleNamespace, tmp_path: Path
) -> None:
    recordings = shared_audio()
    not_audio = tmp_path / "notes.ogg"
    not_audio.write_text("these are not sounds\n")
    files = [*recordings, not_audio]
    result = run_module(
        "genre.predict",
        *map(str, files),
        "--run",
        trained.run_id,
        "--json",
        "--tracking-uri",
        trained.uri,
        cwd=trained.cwd,
    )
    assert result.returncode == 1, result.stderr[-3000:]
    out = json.loads(result.stdout)
    assert [entry["file"] for entry in out] == list(map(str, files))
    for entry, path in zip(out[:-1], recordings, strict=True):
        assert entry["seconds"] == pytest.approx(sf.info(str(path)).duration, abs=0.01)
        assert 1 <= entry["crops"] <= predict.MAX_CROPS
        assert [g["genre"] for g in entry["top"]] != []
        assert {g["genre"] for g in entry["top"]} <= {"High", "Low", "Mid"}
        probabilities = [g["probability"] for g in entry["top"]]
        assert probabilities == sorted(probabilities, reverse=True)
        assert sum(probabilities) == pytest.approx(1, abs=1e-3)  # top 3 of 3 genres
    assert "error" in out[-1]
    assert result.stderr.strip().splitlines()[-1].startswith(f"genre: {not_audio}: skipped: ")
    assert sum(str(not_audio) in line for line in result.stderr.splitlines()) == 1


def test_predict_sources_agree_on_any_length_rate_and_channels(
    trained: SimpleNamespace, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    files = []
    for name, seconds, rate, channels in [("short", 0.4, 44100, 2), ("long", 7.5, 8000, 1)]:
        path = tmp_path / f"{name}.flac"
        sf.write(path, tone(seconds, rate, 880.0, channels=channels), rate)
        files.append(str(path))
    checkpoint = trained.run_dir / "checkpoints" / "best.ckpt"
    model_dir = mlflow.artifacts.download_artifacts(
        f"runs:/{trained.run_id}/model",
        dst_path=str(tmp_path / "downloaded"),
        tracking_uri=trained.uri,
    )
    sources = {
        "run": ["--run", trained.run_id, "--tracking-uri", trained.uri],
        "model": ["--model", model_dir],
        "checkpoint": [
            "--checkpoint",
            str(checkpoint),
            "--config",
            str(trained.run_dir / ".hydra/config.yaml"),
        ],
    }
    answers = {}
    for name, args in sources.items():
        assert predict.main([*files, *args, "--json", "--top", "2"]) == 0
        answers[name] = json.loads(capsys.readouterr().out)
        assert answers[name] == answers["run"], name
        short, long = answers[name]
        assert (short["crops"], long["crops"]) == (1, 8)  # 1 s crops: padded; covering 7.5 s
        assert len(short["top"]) == 2


def test_predict_checkpoint_that_does_not_match_its_config(
    trained: SimpleNamespace, tmp_path: Path
) -> None:
    checkpoint = trained.run_dir / "checkpoints" / "best.ckpt"
    state = torch.load(checkpoint, weights_only=True)
    state[predict.CHECKPOINT_KEY] = {
        "genres": ["High", "Low", "Mid"],
        "sample_rate": 16000,
        "chunk_samples": 16000,
    }
    named = tmp_path / "named.ckpt"
    torch.save(state, named)
    cfg = OmegaConf.load(trained.run_dir / ".hydra" / "config.yaml")
    n_mels, bins = cfg.features.n_mels, cfg.features.n_fft // 2 + 1
    cfg.features.n_mels = n_mels // 2
    other = tmp_path / "other.yaml"
    OmegaConf.save(cfg, other)
    with pytest.raises(GenreError) as error:
        predict.load_checkpoint(named, other)
    assert str(error.value) == (
        f"Checkpoint {named} does not match config {other} (spectrogram.transform.mel_scale.fb "
        f"has shape [{bins}, {n_mels}] in the checkpoint, [{bins}, {n_mels // 2}] from the "
        "config): pass the config it was trained with."
    )
    del state[predict.CHECKPOINT_KEY]
    torch.save(state, named)
    with pytest.raises(GenreError, match="does not name its genres"):
        predict.load_checkpoint(named, trained.run_dir / ".hydra" / "config.yaml")


def test_predict_bad_model_sources_are_one_line(trained: SimpleNamespace, tmp_path: Path) -> None:
    audio = tmp_path / "a.wav"
    sf.write(audio, np.zeros(100, dtype=np.float32), 8000)
    result = run_module(
        "genre.predict",
        str(audio),
        "--checkpoint",
        str(audio),
        "--config",
        str(trained.run_dir / ".hydra" / "config.yaml"),
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"genre: {audio} is not a readable PyTorch checkpoint file."
    ]
    with pytest.raises(GenreError, match="is not an MLflow model folder"):
        predict.main([str(audio), "--model", str(tmp_path)])
    with pytest.raises(GenreError, match="No run 0+ in the MLflow store"):
        predict.main([str(audio), "--run", "0" * 32, "--tracking-uri", trained.uri])


def test_predict_skips_every_file_it_cannot_read(trained: SimpleNamespace, tmp_path: Path) -> None:
    """Files that cannot be read among ones that can: each is skipped with its reason, and every
    file after it is still predicted."""
    first = write_audio(tmp_path / "first.flac", music(2.0))
    last = write_audio(tmp_path / "last.wav", music(2.0, freq=880.0))
    secret = write_audio(tmp_path / "secret.wav", music(2.0))
    (tmp_path / "folder.wav").mkdir()
    unreadable = {
        symlink_loop(tmp_path / "loop.wav"): "symlink loop",
        dangling_symlink(tmp_path / "dangling.wav"): "dangling symlink",
        fifo(tmp_path / "pipe.wav"): "not a regular file (FIFO)",
        tmp_path / "folder.wav": "a folder, not a file",
        secret: "permission denied",
    }
    files = [first, *unreadable, last]
    with locked(secret):
        result = run_module(
            "genre.predict",
            *map(str, files),
            *("--run", trained.run_id, "--tracking-uri", trained.uri, "--json"),
            cwd=trained.cwd,
            prefix=as_ordinary_user(),
        )
    assert result.returncode == 1, result.stderr[-3000:]
    out = json.loads(result.stdout)
    assert [entry["file"] for entry in out] == list(map(str, files))
    assert "top" in out[0] and "top" in out[-1]
    assert {entry["file"]: entry["error"] for entry in out[1:-1]} == {
        str(path): reason for path, reason in unreadable.items()
    }
    skipped = [line for line in result.stderr.splitlines() if ": skipped: " in line]
    assert skipped == [f"genre: {path}: skipped: {reason}" for path, reason in unreadable.items()]


def _model_folder(trained: SimpleNamespace, tmp_path: Path) -> Path:
    mlflow.set_tracking_uri(trained.uri)  # MLflow finds a run's logged model in the global store
    return Path(
        mlflow.artifacts.download_artifacts(
            f"runs:/{trained.run_id}/model", dst_path=str(tmp_path / "m"), tracking_uri=trained.uri
        )
    )


def test_a_model_folder_from_someone_else_runs_none_of_its_code(
    trained: SimpleNamespace, tmp_path: Path
) -> None:
    """The folder's copy of mlflow_model.py is never run (here it would leave a marker); its
    network.yaml may build only genre's networks; an MLmodel that is not YAML is one line."""
    folder = _model_folder(trained, tmp_path)
    audio = write_audio(tmp_path / "a.wav", music())
    marker = tmp_path / "ran"
    [code] = [p for p in folder.rglob("*.py")]
    code.write_text(f"open({str(marker)!r}, 'w').write('their code ran')\n")
    assert predict.main([str(audio), "--model", str(folder)]) == 0
    assert not marker.exists()

    network = next(folder.rglob("network.yaml"))
    original = network.read_text()
    description = OmegaConf.load(network)
    for key, value in [
        ("config.model._target_", "os.system"),
        ("config.optim._target_", "subprocess.run"),
        ("config.features.window", {"_target_": "os.system", "_args_": ["true"]}),
    ]:
        tampered = description.copy()
        OmegaConf.update(tampered, key, value, force_add=True)
        OmegaConf.save(tampered, network)
        with pytest.raises(GenreError, match="genre does not run code|which genre never does"):
            predict.main([str(audio), "--model", str(folder)])
    network.write_text(original)

    (folder / "MLmodel").write_text("flavors: [python_function:\n  - {")
    result = run_module("genre.predict", str(audio), "--model", str(folder), cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"genre: The MLmodel file of {folder} is not valid YAML")


@pytest.mark.parametrize(
    ("key", "value", "refusal"),
    [
        ("model._target_", "genre.model.cnn.CNN3", None),
        ("model._target_", "genre.models.CNN3", None),  # an old name of genre's own
        ("optim._target_", "torch.optim.SGD", None),
        ("model._target_", "os.system", "is not one of genre's networks"),
        ("optim._target_", "torch.optim.lr_scheduler.LambdaLR", "not one of torch's optimisers"),
        ("optim._target_", "torch.save", "not one of torch's optimisers"),
        ("trainer.plugins", [{"_target_": "os.system"}], "trainer.plugins.0._target_=os.system"),
    ],
)
def test_configs_from_elsewhere_name_only_genre_networks(
    key: str, value: object, refusal: str | None
) -> None:
    from genre.config import check_targets

    cfg = OmegaConf.create(
        {"model": {"_target_": "genre.model.cnn.CNN3"}, "optim": {"_target_": "torch.optim.Adam"}}
    )
    OmegaConf.update(cfg, key, value, force_add=True)
    if refusal is None:
        check_targets(cfg, "run x")
        return
    with pytest.raises(GenreError, match=re.escape(refusal)):
        check_targets(cfg, "run x")
