"""task=tagging: the metrics against scikit-learn, the tag sources (MagnaTagATune's top-N and
standard split, FMA's genres_all, a csv's tags column, the synthetic tags), the bad input, and
a real tagging run on the synthetic data through every tool: its report, reproduce, predict,
compare, explore, and a sweep with pruning."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import mlflow
import numpy as np
import optuna
import pandas as pd
import pytest
import soundfile as sf
import torch
from helpers import TINY_RUN, data_settings, exit_2_in_process, run_module, tone
from replicas import MTAT_TOP50, fma_replica, mtat_replica, write_tone
from sklearn.metrics import average_precision_score, roc_auc_score
from torch import nn

from genre import GENRES, compare, predict
from genre.config import compose_config, settings
from genre.data.datamodule import GenreDataModule
from genre.data.sources import read_manifest
from genre.data.sources.fma import fma
from genre.data.sources.mtat import mtat
from genre.data.splits import assign_splits
from genre.errors import GenreError
from genre.model.net import GenreNet
from genre.model.task import TaggingTask
from genre.synth import generate
from genre.synth.files import TAGS_FILE
from genre.synth.mix import Settings, clip_plan
from genre.synth.recipes import clip_tags

ROOT = Path(__file__).resolve().parents[1]
# A tagging run of seconds on 80 synthetic clips: every one of the 16 tags is in every split.
SYNTH = ["task=tagging", "data=synth", "data.clips_per_genre=8", "data.clip_seconds=4", *TINY_RUN]


# --- metrics ---------------------------------------------------------------------------------

# 10 clips, 4 tags: scores with ties, within and across tags; every tag has positives and
# negatives.
SCORES = np.array(
    [
        [0.9, 0.1, 0.4, 0.8],
        [0.8, 0.2, 0.4, 0.1],
        [0.7, 0.9, 0.3, 0.5],
        [0.2, 0.8, 0.9, 0.5],
        [0.2, 0.3, 0.2, 0.7],
        [0.6, 0.7, 0.1, 0.2],
        [0.1, 0.6, 0.8, 0.3],
        [0.4, 0.1, 0.6, 0.9],
        [0.3, 0.5, 0.5, 0.4],
        [0.5, 0.4, 0.7, 0.6],
    ],
    dtype=np.float32,
)
TRUTH = np.array(
    [
        [1, 0, 0, 1],
        [1, 0, 1, 0],
        [0, 1, 0, 0],
        [0, 1, 1, 1],
        [0, 0, 0, 1],
        [1, 1, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 1, 1],
        [1, 0, 0, 0],
        [0, 1, 1, 0],
    ]
)


def test_tagging_metrics_are_scikit_learns() -> None:
    task = TaggingTask(4)
    metrics, details = task.metrics("val/"), task.test_details()
    # In two batches, as validation feeds them.
    for rows in (slice(0, 6), slice(6, 10)):
        preds, target = torch.from_numpy(SCORES[rows]), torch.from_numpy(TRUTH[rows])
        metrics.update(preds, target)
        details.update(preds, target)
    got = {name: float(value) for name, value in metrics.compute().items()}
    expected = {
        "val/roc_auc": roc_auc_score(TRUTH, SCORES, average="macro"),
        "val/pr_auc": average_precision_score(TRUTH, SCORES, average="macro"),
        "val/roc_auc_micro": roc_auc_score(TRUTH, SCORES, average="micro"),
        "val/pr_auc_micro": average_precision_score(TRUTH, SCORES, average="micro"),
    }
    assert got == pytest.approx(expected, abs=1e-6)
    per_tag = details.compute()
    np.testing.assert_allclose(
        per_tag["roc_auc"], roc_auc_score(TRUTH, SCORES, average=None), atol=1e-6
    )
    np.testing.assert_allclose(
        per_tag["pr_auc"], average_precision_score(TRUTH, SCORES, average=None), atol=1e-6
    )
    np.testing.assert_allclose(per_tag["frequency"], TRUTH.mean(axis=0), atol=1e-7)


def test_tagging_loss_weighs_positives_and_clip_scores_average_the_crops_sigmoids() -> None:
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.0]])
    targets = torch.tensor([[1, 0], [0, 1]])
    pos_weight = torch.tensor([3.0, 1.0])
    by_hand = -(
        pos_weight * targets * torch.log(torch.sigmoid(logits))
        + (1 - targets) * torch.log(1 - torch.sigmoid(logits))
    ).mean()
    assert float(TaggingTask(2, pos_weight).loss(logits, targets)) == pytest.approx(float(by_hand))

    torch.manual_seed(0)
    head = nn.Linear(8, 3)
    net = GenreNet(nn.Identity(), head, ["a", "b", "c"], 8000, 8, multilabel=True).eval()
    crops = torch.randn(2, 4, 8)  # 2 clips of 4 crops
    expected = torch.sigmoid(head(crops)).mean(dim=1)
    torch.testing.assert_close(net.clip_probabilities(crops), expected)


# --- sources -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mtat_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mtat_replica(tmp_path_factory.mktemp("mtat"))


def reasons(manifest) -> dict[str, str]:
    return {Path(p).parts[-2] + "/" + Path(p).name[:12]: r for p, r in manifest.rejected.values}


def test_mtat_top_tags_and_the_standard_split(mtat_root: Path) -> None:
    manifest = read_manifest(data_settings("mtat", root=str(mtat_root), top_tags=2), tagging=True)
    clips = manifest.clips.set_index("clip_id")
    # guitar (4 clips in the file) and rock (3); the folders: 0-b train, c val, d-f test.
    assert clips[["tags", "split"]].to_dict("index") == {
        "10": {"tags": "guitar;rock", "split": "train"},  # folder 0
        "12": {"tags": "guitar;rock", "split": "train"},  # folder 3
        "13": {"tags": "guitar", "split": "train"},  # folder 5
        "16": {"tags": "guitar;rock", "split": "test"},  # folder e: a text file, for the decoder
    }
    assert clips["genre"].isna().all()  # MTAT has no genres
    assert reasons(manifest) == {
        "f/american_bac": "no top-2 tag",
        "b/american_bac": "no top-2 tag",
        "c/tilopa-out_o": "no top-2 tag",
        "6/norine_braun": "no top-2 tag",
        "9/dj_markitos-": "no top-2 tag",
    }


def test_mtat_keeps_untagged_clips_on_request_and_rejects_the_empty_file(mtat_root: Path) -> None:
    data = data_settings("mtat", root=str(mtat_root), top_tags=2, keep_untagged=True)
    manifest = read_manifest(data, tagging=True)
    clips = manifest.clips.set_index("clip_id")
    assert clips.loc[["2", "6", "11"], "tags"].tolist() == ["", "", ""]  # all-negative rows
    assert clips.loc[["2", "6", "11"], "split"].tolist() == ["test", "train", "val"]
    assert reasons(manifest) == {
        "6/norine_braun": "empty file",  # one of MTAT's three 0-byte mp3s
        "9/dj_markitos-": "missing file",
    }


def test_mtat_ties_at_the_cut_go_to_the_first_column_and_the_published_list_is_checked(
    mtat_root: Path,
) -> None:
    # classical, strings and techno have 2 clips each: classical's column comes first.
    three = read_manifest(data_settings("mtat", root=str(mtat_root), top_tags=3), tagging=True)
    assert set(";".join(three.clips["tags"]).split(";")) == {"guitar", "rock", "classical"}
    # The replica's top 50 holds its two extra columns (jazz, hard rock, 1 clip each) in place
    # of the published list's last two (no clip in the replica).
    with pytest.warns(UserWarning, match="hard rock, jazz instead of choral, female voice; scores"):
        read_manifest(data_settings("mtat", root=str(mtat_root)), tagging=True)
    assert len(MTAT_TOP50) == len(set(MTAT_TOP50)) == 50


def test_mtat_genre_options_are_refused_for_tagging(mtat_root: Path) -> None:
    with pytest.raises(GenreError, match="make genres for task=genre"):
        mtat(data_settings("mtat", root=str(mtat_root), genre_tags=["rock"]), tagging=True)


def test_fma_genres_all_named_and_limited_to_genres_with_enough_training_tracks(
    tmp_path: Path,
) -> None:
    root = fma_replica(tmp_path)
    manifest = fma(data_settings("fma", root=str(root), min_tag_tracks=2), tagging=True)
    clips = manifest.clips.set_index("clip_id")
    # In fma_small's training split only Hip-Hop has 2 tracks; Rock and Experimental have 1.
    assert clips["tags"].to_dict() == {
        "000002": "Hip-Hop",
        "000005": "Hip-Hop",
        "000010": "Hip-Hop",
        "000140": "Hip-Hop",
    }
    assert clips.loc["000010", "genre"] == "Pop"  # genre_top stays, for the figures
    assert set(manifest.rejected["reason"]) == {"no genre with 2 training tracks"}
    one = fma(data_settings("fma", root=str(root), min_tag_tracks=1), tagging=True)
    tags = one.clips.set_index("clip_id")["tags"].to_dict()
    assert tags["000005"] == "Hip-Hop;Rock" and tags["099134"] == "Experimental"
    assert sorted(one.rejected["reason"]) == ["empty file", "missing file"]


def write_tagged(root: Path, rows: list[tuple[str, str]]) -> Path:
    """``clips.csv`` with path,tags,split and one distinct tone per row, real wav files."""
    lines = ["path,tags,split"]
    for i, (tags, split) in enumerate(rows):
        sf.write(root / f"{i}.wav", tone(1.5, 16000, 200.0 + 60 * i, seed=i), 16000)
        lines.append(f'{i}.wav,"{tags}",{split}')
    (root / "clips.csv").write_text("\n".join(lines) + "\n")
    return root / "clips.csv"


def test_csv_tags_are_tidied_and_the_genre_is_optional(tmp_path: Path) -> None:
    table = write_tagged(tmp_path, [(" guitar ;rock;; rock", "train"), ("", "val")])
    manifest = read_manifest(data_settings("csv", root=str(table)), tagging=True)
    assert manifest.clips["tags"].tolist() == ["guitar;rock", ""]
    assert manifest.clips["genre"].isna().all()
    # A genre run of the same csv reads no tags and wants its genre column.
    with pytest.raises(GenreError, match="lacks column"):
        read_manifest(data_settings("csv", root=str(table)))


def test_csv_tags_in_every_split_multi_hot_and_pos_weight(tmp_path: Path) -> None:
    rows = [("rock;guitar", "train"), ("rock", "train"), ("", "train"), ("guitar", "train")]
    rows += [("rock;guitar", "val"), ("guitar", "val"), ("rock", "test"), ("guitar", "test")]
    table = write_tagged(tmp_path, rows)
    cfg = compose_config(["task=tagging", "data=csv", f"data.root={table}", *TINY_RUN])
    cfg.data.balance = "weights"
    data = GenreDataModule(settings(cfg, "data"), tagging=True)
    assert data.labels == data.tags == ["guitar", "rock"]
    _, labels = data.split_rows("train")
    assert labels.tolist() == [[1, 1], [0, 1], [0, 0], [1, 0]]  # the untagged clip: all negative
    # Each tag's negatives over its positives in training: 2 of 4 clips for both.
    assert data.class_weights().tolist() == [1.0, 1.0]
    assert data.counts_per_split().loc["guitar"].tolist() == [2, 2, 1]


def test_synthetic_tags_come_from_each_clips_plan_without_touching_the_audio(
    tmp_path: Path,
) -> None:
    params = {"clips_per_genre": 2, "seconds": 1.0, "sample_rate": 16000, "seed": 0}
    root = generate(tmp_path / "synth", workers=1, difficulty=0.3, **params)
    table = pd.read_csv(root / TAGS_FILE, keep_default_na=False)
    assert list(table.columns) == ["clip_id", "path", "genre", "tags"]
    settings = Settings(2, 1.0, 16000, 0, 0.3, 0.25)
    for row in table.itertuples():
        index = int(Path(row.path).stem.rsplit("_", 1)[1])
        assert row.tags.split(";") == clip_tags(clip_plan(row.genre, index, settings))
        assert (root / row.path).is_file() and row.clip_id == row.path
    # A dataset written before there were tags gets its tags file, and keeps its audio.
    (root / TAGS_FILE).unlink()
    audio = {p: p.read_bytes() for p in root.rglob("*.wav")}
    generate(root, workers=1, difficulty=0.3, **params)
    assert pd.read_csv(root / TAGS_FILE, keep_default_na=False).equals(table)
    assert {p: p.read_bytes() for p in root.rglob("*.wav")} == audio


def test_synthetic_defaults_put_every_tag_in_every_split() -> None:
    """The default synthetic dataset (40 clips per genre, split 70/15/15 per genre) can be
    tagged: the splits' check passes, and no tag is rarer than 14% of the clips."""
    settings = Settings(40, 8.0, 16000, 0, 0.3, 0.25)
    clips = pd.DataFrame(
        [
            {
                "clip_id": f"{genre}/{i}",
                "genre": genre,
                "tags": ";".join(clip_tags(clip_plan(genre, i, settings))),
            }
            for genre in GENRES
            for i in range(40)
        ]
    ).assign(split=pd.NA, group=pd.NA)
    split = assign_splits(clips, 0.15, 0.15, 0, tagging=True)
    frequency = split["tags"].str.split(";").explode().value_counts() / len(split)
    assert len(frequency) == 16 and frequency.min() >= 0.14


# --- bad input: one sentence, exit status 2 ----------------------------------------------------


def bad_run(overrides: list[str], tmp_path: Path, monkeypatch, capsys) -> str:
    """``genre.train`` in this process, as ``python -m genre.train`` runs it: its last line."""
    argv = [*overrides, f"mlflow.tracking_uri=sqlite:///{tmp_path}/mlflow.db"]
    argv += [*TINY_RUN, f"hydra.run.dir={tmp_path}/run", "hydra.output_subdir=null"]
    return exit_2_in_process(argv, monkeypatch, capsys).strip().splitlines()[-1]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (
            [("", "train"), ("", "train"), ("", "val"), ("", "test")],
            "are empty for every clip: give each clip its tags, separated by ';'.",
        ),
        (
            [("rock;jazz", "train"), ("rock", "train"), ("rock", "val"), ("rock", "test")],
            "Tag 'jazz' has clips only in train (1), none in val and test: every tag needs "
            "clips in train, val, test to be learnt and scored; add clips with it, or remove "
            "the tag.",
        ),
    ],
    ids=["empty tags", "a tag in one split"],
)
def test_bad_tags_are_one_sentence(rows, expected, tmp_path, monkeypatch, capsys) -> None:
    table = write_tagged(tmp_path, rows)
    line = bad_run(
        ["task=tagging", "data=csv", f"data.root={table}"], tmp_path, monkeypatch, capsys
    )
    assert line.startswith("genre: ") and line.endswith(expected), line


@pytest.mark.slow
def test_tagging_a_source_without_tags_is_one_sentence(
    tiny_folder: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    folder = ["task=tagging", "data=folder", f"data.root={tiny_folder}"]
    assert bad_run(folder, tmp_path, monkeypatch, capsys) == (
        "genre: task=tagging needs tags, and data=folder has none: use data=mtat, fma, "
        "mtg_jamendo, synth or a csv with a tags column, or task=genre."
    )
    table = tmp_path / "genres.csv"
    table.write_text("path,genre\na.wav,Jazz\n")
    line = bad_run(
        ["task=tagging", "data=csv", f"data.root={table}"], tmp_path, monkeypatch, capsys
    )
    assert line == (
        f"genre: task=tagging needs tags, and {table} has no tags column: add one holding each "
        "clip's tags separated by ';'."
    )


# --- a real tagging run, through every tool ----------------------------------------------------


@pytest.fixture(scope="module")
def tagged(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    cwd = tmp_path_factory.mktemp("tagging")
    uri = f"sqlite:///{cwd / 'mlflow.db'}"
    result = run_module(
        "genre.train",
        *SYNTH,
        f"mlflow.tracking_uri={uri}",
        "mlflow.experiment=tagging",
        f"hydra.run.dir={cwd / 'run'}",
        cwd=cwd,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    mlflow.set_tracking_uri(uri)  # for runs:/ model URIs
    client = mlflow.MlflowClient(uri)
    (run,) = client.search_runs([client.get_experiment_by_name("tagging").experiment_id])
    return SimpleNamespace(cwd=cwd, uri=uri, run=run, client=client)


@pytest.mark.slow
def test_a_tagging_run_logs_its_metrics_and_the_per_tag_report(tagged: SimpleNamespace) -> None:
    run, client = tagged.run, tagged.client
    metrics = run.data.metrics
    for name in ("val/roc_auc", "val/pr_auc", "val/roc_auc_micro", "val/pr_auc_micro"):
        assert 0.0 <= metrics[name] <= 1.0, name
        assert f"test/{name[4:]}" in metrics
    assert metrics["best_val/pr_auc"] == max(
        m.value for m in client.get_metric_history(run.info.run_id, "val/pr_auc")
    )
    assert "val/macro_f1" not in metrics and run.data.params["objective"] == "val/pr_auc"
    table = pd.read_csv(
        client.download_artifacts(run.info.run_id, "per_tag.csv", str(tagged.cwd))
    ).set_index("tag")
    assert list(table.columns) == ["roc_auc", "pr_auc", "frequency"]
    assert len(table) == 16 and "drums" in table.index
    for tag in table.index:
        assert metrics[f"test/roc_auc/{tag}"] == pytest.approx(table.loc[tag, "roc_auc"], abs=1e-4)
        assert metrics[f"test/pr_auc/{tag}"] == pytest.approx(table.loc[tag, "pr_auc"], abs=1e-4)
    # The macro scores are the mean over the table's tags.
    assert metrics["test/pr_auc"] == pytest.approx(table["pr_auc"].mean(), abs=1e-3)
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"tag_scores.png", "per_tag.csv", "inputs.png"} <= names
    assert "confusion_matrix.png" not in names and "per_class.csv" not in names
    png = client.download_artifacts(run.info.run_id, "tag_scores.png", str(tagged.cwd))
    assert Path(png).read_bytes()[:4] == b"\x89PNG"
    # The logged model gives a sigmoid per tag, and carries the tags by name.
    model = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    net = model.unwrap_python_model().net
    assert net.multilabel and net.genres == sorted(table.index)
    scores = model.predict(tone(1.0, 16000, 440.0)[None])
    assert scores.shape == (1, 16) and ((scores > 0) & (scores < 1)).all()


@pytest.mark.slow
def test_a_tagging_run_reproduces_exactly(tagged: SimpleNamespace) -> None:
    result = run_module(
        "genre.reproduce", tagged.run.info.run_id, "--tracking-uri", tagged.uri, cwd=tagged.cwd
    )
    assert result.returncode == 0, result.stderr[-3000:]
    original = tagged.run
    (new,) = tagged.client.search_runs(
        [original.info.experiment_id],
        f"tags.`genre.reproduced_from` = '{original.info.run_id}'",
    )
    compared = [m for m in original.data.metrics if m.startswith(("best_", "val/", "test/"))]
    assert "test/roc_auc/drums" in compared
    for name in compared:
        assert new.data.metrics[name] == original.data.metrics[name], name
    assert "metrics are identical." in result.stdout


@pytest.mark.slow
def test_predict_compare_and_explore_show_tags(
    tagged: SimpleNamespace, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    clip = write_tone(tmp_path / "clip.wav", 16000, seconds=3.0)
    model = ["--run", tagged.run.info.run_id, "--tracking-uri", tagged.uri]
    assert predict.main([str(clip), *model, "--top", "4", "--json"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    scores = [top["probability"] for top in entry["top"]]
    assert len(scores) == 4 and scores == sorted(scores, reverse=True)
    per_tag = tagged.client.download_artifacts(tagged.run.info.run_id, "per_tag.csv", str(tmp_path))
    assert {top["tag"] for top in entry["top"]} <= set(pd.read_csv(per_tag)["tag"])
    assert predict.main([str(clip), *model, "--top", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{clip}  (3.0 s, 3 crops)") and lines[1].startswith("  1. ")
    # A file that cannot be decoded: one sentence, and with nothing predicted, exit status 2.
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("not sound\n")
    assert predict.main([str(not_audio), *model]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"genre: {not_audio}: skipped: not decodable audio")

    assert compare.main(["--experiment", "tagging", "--tracking-uri", tagged.uri]) == 0
    header = capsys.readouterr().out.splitlines()[:2]
    assert header[0].endswith("by best_val/pr_auc:")
    for column in ("best_val/pr_auc", "test/pr_auc", "test/roc_auc", "test/roc_auc_micro"):
        assert column in header[1]
    assert "test/roc_auc/" not in header[1]

    out = tmp_path / "explore"
    result = run_module(
        "genre.explore",
        *SYNTH[:4],
        f"mlflow.tracking_uri={tagged.uri}",
        "mlflow.experiment=tagging",
        f"hydra.run.dir={out}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("tag_frequencies", "tag_cooccurrence", "projection_pca", "spectrograms"):
        assert (out / f"{name}.png").read_bytes()[:4] == b"\x89PNG", name
    counts = pd.read_csv(out / "clips_per_split.csv", index_col="tag")
    assert len(counts) == 16 and (counts > 0).all().all()


@pytest.mark.slow
def test_a_tagging_sweep_with_pruning_completes(tmp_path: Path) -> None:
    """sweeps=tagging on the synthetic tags, its network and spectrogram fixed small, the
    learning rate and dropout still searched; the median pruner from the first trial on."""
    small = [
        "model.n_blocks=3",
        "model.channels=4",
        "features.n_mels=32",
        "features.n_fft=512",
        "features.hop_length=256",
        "data.chunk_seconds=1",
        "trainer.max_epochs=3",
    ]
    result = run_module(
        "genre.train",
        "-m",
        "sweeps=tagging",
        *SYNTH[1:],
        *small,
        "hydra.sweeper.n_trials=3",
        "hydra.sweeper.pruner.n_startup_trials=1",
        "hydra.sweeper.pruner.n_warmup_steps=0",
        f"mlflow.tracking_uri=sqlite:///{tmp_path}/mlflow.db",
        "mlflow.experiment=tagging-sweep",
        cwd=tmp_path,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (summary,) = optuna.get_all_study_summaries(f"sqlite:///{tmp_path}/optuna.db")
    study = optuna.load_study(
        study_name=summary.study_name, storage=f"sqlite:///{tmp_path}/optuna.db"
    )
    states = [t.state for t in study.trials]
    assert len(states) == 3 and set(states) <= {
        optuna.trial.TrialState.COMPLETE,
        optuna.trial.TrialState.PRUNED,
    }
    assert {"optim.lr", "model.dropout"} <= set(study.trials[0].params)
    # Every trial reported its val/pr_auc after each epoch, which is what the pruner judges.
    assert all(len(t.intermediate_values) >= 1 for t in study.trials)
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    runs = client.search_runs([client.get_experiment_by_name("tagging-sweep").experiment_id])
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(children) == 3 and all(r.data.params["task.name"] == "tagging" for r in children)
    best = max(t.value for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE)
    assert study.best_value == best
    assert any(r.data.metrics.get("best_val/pr_auc") == pytest.approx(best) for r in children)
