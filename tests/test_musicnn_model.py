"""``model=musicnn`` in genre: the pretrained port behind a new head, frozen or fine-tuned, with
its own front end; saved without a copy of unchanged pretrained weights; trained, predicted and
reproduced through the real entry points."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
import soundfile as sf
import torch
from helpers import TINY_RUN, run_module
from omegaconf import OmegaConf
from safetensors.torch import load_file

from genre.build import build_module, build_network
from genre.config import compose_config
from genre.errors import GenreError
from genre.model.spectrogram import Spectrogram
from genre.saved_model import NETWORK, WEIGHTS, load_network, save_network

GENRES = ["a", "b", "c"]
RATE = 16000


@pytest.fixture(autouse=True)
def wheel(musicnn_wheel: Path) -> Path:
    return musicnn_wheel


def config(*overrides: str):
    return compose_config(["model=musicnn", "data.chunk_seconds=2", *overrides])


def waves(n: int = 4, seconds: float = 2.0) -> torch.Tensor:
    torch.manual_seed(0)
    return 0.1 * torch.randn(n, int(seconds * RATE))


def test_front_end_is_the_models_own_whatever_features_say():
    net = build_network(config("features=stft", "features.n_fft=2048"), GENRES)
    assert isinstance(net.spectrogram, Spectrogram)
    assert net.spectrogram.transform.n_fft == 512
    assert net.spectrogram(waves(1)).shape[2] == 96
    assert net(waves()).shape == (4, 3)


def test_frozen_body_stays_in_eval_mode_and_unchanged():
    cfg = config("model.freeze=all", "optim.lr=0.01")
    net = build_network(cfg, GENRES)
    module = build_module(cfg, net, None)
    body = net.classifier.bodies[0]
    before = {k: v.clone() for k, v in body.state_dict().items()}
    net.train()
    assert not body.training and net.classifier.head.training
    optimizer = module.make_optimizer(net.parameter_groups())
    assert sum(p.numel() for g in optimizer.param_groups for p in g["params"]) == 753 * 3 + 3
    for _ in range(2):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(net(waves()), torch.tensor([0, 1, 2, 0])).backward()
        optimizer.step()
    after = body.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # running stats included


def test_fine_tuning_learns_pretrained_layers_at_a_lower_rate():
    cfg = config("model.freeze=frontend", "model.pretrained_lr=0.1", "optim.lr=0.01")
    net = build_network(cfg, GENRES)
    body = net.classifier.bodies[0]
    assert not any(p.requires_grad for p in body.timbral.parameters())
    assert all(p.requires_grad for p in body.midend.parameters())
    net.train()
    assert not body.temporal.training and body.midend.training
    optimizer = build_module(cfg, net, None).make_optimizer(net.parameter_groups())
    assert [g["lr"] for g in optimizer.param_groups] == [0.01, pytest.approx(0.001)]


@pytest.mark.parametrize("embedding", ["penultimate", "max_pool", "mean_pool", "taggram"])
def test_each_embedding_feeds_a_head(embedding):
    net = build_network(config(f"model.embedding={embedding}", "model.head_hidden=16"), GENRES)
    width = {"penultimate": 200, "max_pool": 753, "mean_pool": 753, "taggram": 50}[embedding]
    assert net.classifier.head[1].in_features == width
    assert net.eval()(waves(2)).shape == (2, 3)


def test_saved_network_names_frozen_weights_by_checksum(tmp_path):
    cfg = config("model.freeze=all")
    net = build_network(cfg, GENRES).eval()
    torch.nn.init.normal_(net.classifier.head[-1].weight)
    save_network(net, cfg, tmp_path / "frozen")
    # The head (and the spectrogram's filter bank), not the 0.8 M pretrained parameters.
    kept = load_file(tmp_path / "frozen" / WEIGHTS)
    assert not [k for k in kept if k.startswith("classifier.bodies")]
    assert {"classifier.head.1.weight", "classifier.head.1.bias"} <= set(kept)
    saved = OmegaConf.load(tmp_path / "frozen" / NETWORK)
    assert saved.pretrained_sha256 == net.classifier.weights_sha256
    loaded = load_network(tmp_path / "frozen")
    assert torch.equal(loaded(waves()), net(waves()))

    tuned = build_network(config("model.freeze=none"), GENRES).eval()
    save_network(tuned, config("model.freeze=none"), tmp_path / "tuned")
    assert "classifier.bodies.0.dense.weight" in load_file(tmp_path / "tuned" / WEIGHTS)

    saved.pretrained_sha256 = "0" * 64
    OmegaConf.save(saved, tmp_path / "frozen" / NETWORK)
    with pytest.raises(GenreError, match="pretrained weights with sha256 0000"):
        load_network(tmp_path / "frozen")


def test_other_sample_rates_are_resampled_on_the_device_or_refused():
    net = build_network(config("data.sample_rate=22050"), GENRES)
    assert type(net.spectrogram[0]).__name__ == "Resample"
    assert net.eval()(0.1 * torch.randn(2, 44100)).shape == (2, 3)
    with pytest.raises(GenreError, match="data.sample_rate=8000 lacks the band above 4000 Hz"):
        build_network(config("data.sample_rate=8000"), GENRES)


@pytest.mark.slow
def test_train_predict_and_reproduce_a_musicnn_run(tiny_folder, tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    common = ["data=folder", f"data.root={tiny_folder}", "data.clip_seconds=3", *TINY_RUN]
    result = run_module(
        "genre.train", *common, "model=musicnn", f"mlflow.tracking_uri={uri}", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    client = mlflow.MlflowClient(uri)
    (run,) = client.search_runs([client.get_experiment_by_name("genre").experiment_id])
    assert run.data.params["model.freeze"] == "all"
    # A recording the run never saw, in another format: one of the folder's clips as Ogg Vorbis.
    clip, rate = sf.read(next(tiny_folder.rglob("*.wav")))
    recording = tmp_path / "recording.ogg"
    sf.write(recording, clip, rate, format="OGG")
    predicted = run_module(
        "genre.predict", str(recording), "--run", run.info.run_id, "--tracking-uri", uri,
        cwd=tmp_path,
    )  # fmt: skip
    assert predicted.returncode == 0, predicted.stderr[-2000:]
    assert predicted.stdout.startswith(str(recording))
    reproduced = run_module(
        "genre.reproduce", run.info.run_id, "--tracking-uri", uri, cwd=tmp_path, timeout=600
    )
    assert reproduced.returncode == 0, reproduced.stderr[-3000:]
    assert "metrics are identical" in reproduced.stdout
