"""``python -m genre.bench``: the figures it reports are consistent, whatever the machine's speed.

The subprocess run measures two rows on a tiny generated dataset; the timings themselves vary with
the machine, so the checks are on the report's structure and arithmetic, on the targets being
judged from the figures shown, and on the spectrogram layer agreeing with librosa (when
installed), which does not depend on speed.
"""

from __future__ import annotations

import datetime
import importlib.util
import json
import math

import pytest
import torch
from helpers import ROOT, run_module

from genre.bench.common import Metric, RowResult, Target
from genre.bench.report import table

pytestmark = pytest.mark.slow  # python -m genre.bench, run end to end

HAS_LIBROSA = importlib.util.find_spec("librosa") is not None


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[dict, str]:
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    done = run_module(
        "genre.bench",
        "--quick",
        "--rows",
        "loader,spectrogram",
        "--clips-per-genre",
        "3",
        "--clip-seconds",
        "6",
        "--repeats",
        "2",
        "--out",
        str(out),
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text()), done.stdout + done.stderr


def test_report_has_the_machine_and_the_run(report):
    data, _ = report
    machine = data["machine"]
    assert isinstance(machine["cpu_count"], int) and machine["cpu_count"] > 0
    assert machine["cpu_model"] and machine["cpu_model"] != "unknown"
    assert machine["torch"] == torch.__version__
    assert machine["device"] == ("cpu" if not torch.cuda.is_available() else machine["device"])
    datetime.datetime.fromisoformat(data["date"])
    assert data["quick"] is True
    commit = data["git"]["commit"]
    assert commit is None or (len(commit) == 40 and int(commit, 16) >= 0)


def test_only_the_asked_rows_ran_and_each_printed_progress(report):
    data, output = report
    assert list(data["rows"]) == ["loader", "spectrogram"]
    for name, row in data["rows"].items():
        assert row["status"] == "ok", row
        assert row["seconds"] > 0
        assert f"] {name}: running" in output
    assert "loader" in output and "training examples/s" in output  # the table


def check_metric(m: dict) -> None:
    assert m["ours"] is not None and m["ours"] > 0 and math.isfinite(m["ours"]), m
    if m["baseline"] is None:
        assert m["ratio"] is None and m["delta"] is None
    else:
        assert m["baseline"] > 0, m
        assert m["ratio"] == pytest.approx(m["ours"] / m["baseline"], rel=1e-12)
        assert m["delta"] == pytest.approx(m["ours"] - m["baseline"], rel=1e-12)
    target = m["target"]
    if target is not None:
        figure = {"ratio": m["ratio"], "delta": m["delta"], "ours": m["ours"]}[target["on"]]
        expected = figure >= target["value"] if target["op"] == ">=" else figure <= target["value"]
        assert m["passed"] is expected, m


def test_every_figure_is_positive_and_ratios_are_ours_over_baseline(report):
    data, _ = report
    for row in data["rows"].values():
        assert row["metrics"]
        for m in row["metrics"]:
            check_metric(m)


def test_loader_row_compares_the_cache_with_decoding_every_example(report):
    data, _ = report
    (m,) = data["rows"]["loader"]["metrics"]
    assert m["unit"] == "examples/s"
    assert m["target"] == {"on": "ratio", "op": ">=", "value": 20, "text": ">= 20x"}
    details = data["rows"]["loader"]["details"]
    assert details["train_clips"] > 0
    samples = details["samples_examples_per_s"]
    assert len(samples["cache"]) == len(samples["decode"]) == 2
    assert m["ours"] == max(samples["cache"]) and m["baseline"] == max(samples["decode"])


@pytest.mark.skipif(not HAS_LIBROSA, reason="librosa not installed (the bench extra)")
def test_spectrogram_layer_agrees_with_librosa(report):
    data, _ = report
    metrics = {m["name"]: m for m in data["rows"]["spectrogram"]["metrics"]}
    agreement = metrics["max |dB difference|"]
    assert agreement["passed"] is True, agreement  # correctness: not a matter of speed
    assert agreement["ours"] < 0.01
    speed = [m for name, m in metrics.items() if name.startswith("mel spectrograms/s")]
    assert speed and all(m["baseline"] > 0 for m in speed)
    assert speed[0]["target"]["value"] == 10


@pytest.mark.skipif(HAS_LIBROSA, reason="librosa is installed")
def test_spectrogram_row_says_librosa_is_missing(report):
    data, output = report
    row = data["rows"]["spectrogram"]
    assert "librosa not installed" in row["reason"]
    assert all(
        m["baseline"] is None and "librosa not installed" in m["note"] for m in row["metrics"]
    )
    assert "skipped" in output


def test_targets_read_the_figure_they_name():
    faster = Metric("x/s", "x/s", 300.0, 10.0, Target("ratio", ">=", 20))
    assert faster.ratio == 30.0 and faster.passed is True
    slower = Metric("x/s", "x/s", 150.0, 10.0, Target("ratio", ">=", 20))
    assert slower.passed is False
    overhead = Metric("s", "s", 1.2, 1.0, Target("ratio", "<=", 1.1))
    assert overhead.passed is False
    lost = Metric("f1", "", 0.70, 0.73, Target("delta", ">=", -0.02))
    assert lost.delta == pytest.approx(-0.03) and lost.passed is False
    assert Metric("dB", "dB", 0.001, target=Target("ours", "<=", 0.01)).passed is True
    assert Metric("x", "x", 1.0, None, Target("ratio", ">=", 2)).passed is None


def test_table_marks_misses_and_skips():
    row = RowResult(
        "loader",
        "t",
        metrics=[
            Metric("a", "x/s", 150.0, 10.0, Target("ratio", ">=", 20)),
            Metric("b", "x/s", 300.0, 10.0, Target("ratio", ">=", 20)),
        ],
    )
    skipped = RowResult("gpu", "t", status="skipped", reason="skipped: no GPU")
    text = table([row, skipped]).splitlines()
    assert "MISS" in text[2] and "15x" in text[2]
    assert "pass" in text[3] and "30x" in text[3]
    assert "skipped: no GPU" in text[4] and "SKIPPED" in text[4]


def test_unknown_row_is_refused(tmp_path):
    done = run_module(
        "genre.bench",
        "--rows",
        "loader,nope",
        "--out",
        str(tmp_path / "b.json"),
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 2
    assert "unknown row" in done.stderr and not (tmp_path / "b.json").exists()


@pytest.mark.slow
def test_embed_row_times_a_probe_trial_against_the_audio_path(tmp_path, musicnn_wheel):
    out = tmp_path / "bench.json"
    done = run_module(
        "genre.bench", "--quick", "--rows", "embed", "--clips-per-genre", "3",
        "--clip-seconds", "6", "--out", str(out), "--workdir", str(tmp_path / "work"),
        cwd=ROOT, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    row = json.loads(out.read_text())["rows"]["embed"]
    assert row["status"] == "ok", row["reason"]
    trial, build = row["metrics"]
    seconds = row["details"]["seconds"]
    assert trial["ours"] == seconds["warm"] and trial["baseline"] == seconds["audio"]
    assert trial["target"]["text"] == "<= 0.05x"  # at least 20 times faster
    assert build["ours"] == pytest.approx(max(0.0, seconds["cold"] - seconds["warm"]))
    # The cold and warm trials train the same probe on the same cached embeddings.
    best = row["details"]["best_objective"]
    assert best["cold"] == best["warm"]
    assert list((tmp_path / "work" / "cache").glob("embed-*"))
