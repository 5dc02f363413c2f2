"""What a user sees on the console, from the real entry point with warnings on as a user has
them: a sweep prints one line per trial and its table, a single run Lightning's progress bar, its
summary and the link that opens it; the third-party chatter is in each job's log file, and on
the console with hydra.verbose=true."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import TINY_RUN

TINY_DATA = ("data=synth", "data.clips_per_genre=6", "data.clip_seconds=2", *TINY_RUN)
# Lines a genre user has no use for, which Lightning 2.6, torch 2.14 and MLflow 3.17 print.
NOISE = ("GPU available", "TPU available", "litlogger", "LeafSpec", "pickle", "Launching")
PROGRESS_BAR = "Epoch 1/1"  # Lightning's bar on the last of debug=tiny's two epochs


def genre_train(cwd: Path, *args: str) -> tuple[list[str], str]:
    """`python -m genre.train ARGS` in `cwd` with the user's warning settings: its lines on
    stdout, and stderr (progress bars of the data's first decoding, warnings)."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONWARNINGS"}
    done = subprocess.run(
        [sys.executable, "-m", "genre.train", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return [line for line in done.stdout.splitlines() if line.strip()], done.stderr


@pytest.mark.slow
def test_a_sweep_prints_one_line_per_trial(tmp_path: Path) -> None:
    lines, stderr = genre_train(
        tmp_path, "-m", *TINY_DATA, "optim.lr=0.001,0.01,0.1", "hydra.sweeper.n_trials=3",
        "hydra/sweeper/sampler=grid", "hydra/sweeper/pruner=none",
        "trainer.enable_progress_bar=null",  # the default, which debug=tiny turns off
    )  # fmt: skip
    shown = "\n".join(lines) + stderr
    assert PROGRESS_BAR not in shown, shown
    trials = [line for line in lines if re.match(r"trial \d+ · lr=\S+ · [\d.]+ · \S+ · \d/3", line)]
    assert len(trials) == 3, shown
    assert [t.split(" · ")[-1].split(",")[0] for t in trials] == ["1/3", "2/3", "3/3"]
    # The study's opening (2 lines), the trials, the table (3 lines and a row per trial) and
    # the link.
    assert len(lines) == 2 + 3 + 3 + 3 + 1, shown
    assert lines[-1].startswith("See it: mlflow ui --backend-store-uri sqlite:///mlflow.db")
    assert not [line for line in lines if any(noise in line for noise in NOISE)], shown
    assert not any(noise in stderr for noise in NOISE), stderr
    # Nothing is lost: each job's log file holds what the console left out.
    logs = sorted(tmp_path.glob("multirun/*/*/trial-*/train.log"))
    assert len(logs) == 3
    assert all("GPU available" in log.read_text() for log in logs)


@pytest.mark.slow
@pytest.mark.parametrize("verbose", [False, True], ids=["quiet", "verbose"])
def test_a_single_run_ends_with_its_summary(tmp_path: Path, verbose: bool) -> None:
    lines, stderr = genre_train(
        tmp_path, *TINY_DATA, f"hydra.verbose={str(verbose).lower()}",
        "trainer.enable_progress_bar=null",
    )  # fmt: skip
    shown = "\n".join(lines) + stderr
    assert PROGRESS_BAR in shown, shown
    summary, link = lines[-2:]
    run_id = re.fullmatch(r"Run (\w{32}) \(cnn3-mel-\w+\): best val/macro_f1 [\d.]+, .*", summary)
    assert run_id, shown
    assert "test/acc" in summary and "test/macro_f1" in summary
    assert link == (
        "  see it: mlflow ui --backend-store-uri sqlite:///mlflow.db, then open "
        f"http://127.0.0.1:5000/#/experiments/1/runs/{run_id[1]}?workflowType=machine_learning"
    )
    noisy = [noise for noise in NOISE if noise in shown]
    # hydra.verbose=true shows all of it, as the job's log file holds it.
    assert ("GPU available" in noisy) if verbose else not noisy, shown
