"""Rerun a tracked run from the config it logged, and show its metrics beside the original's.

python -m genre.reproduce RUN_ID [key=value ...] [--tracking-uri URI] [--output-dir DIR]

On the CPU with the same seed the metrics match exactly; see README for the GPU.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import mlflow
from mlflow.entities import Run
from mlflow.exceptions import MlflowException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from genre.cli import add_tracking_uri, get_run, open_store
from genre.config import DataConfig, check_targets, is_tagging, settings
from genre.console import setup_console
from genre.errors import GenreError, first_line, user_errors

CONFIG_ARTIFACT = "config.yaml"
COMPARED_PREFIXES = ("best_", "val/", "test/")  # train/* is the same numbers seen mid-epoch
_MISSING = object()
TRAIN_KEYS = ("data", "features", "model", "optim", "trainer", "mlflow", "optuna", "seed")


def main(argv: list[str] | None = None) -> int:
    setup_console()
    parser = argparse.ArgumentParser(
        prog="python -m genre.reproduce", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("run_id", metavar="RUN_ID")
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="changes to the logged config, e.g. trainer.max_epochs=20 (+KEY=VALUE adds a key)",
    )
    add_tracking_uri(parser)
    parser.add_argument(
        "--output-dir",
        type=Path,
        help="checkpoints of the new run (default: outputs/reproduce/RUN_ID/TIME)",
    )
    # Intermixed: overrides may come before or after the options.
    args = parser.parse_intermixed_args(argv)

    client = open_store(args.tracking_uri)
    original = get_run(client, args.run_id)
    cfg = run_config(original)
    experiment = client.get_experiment(original.info.experiment_id).name
    cfg = for_reproduction(cfg, args.tracking_uri, experiment, original.info.run_name)
    cfg = apply_overrides(cfg, args.overrides)

    # Imported only now: they pull in Lightning (seconds), which the checks above do not need,
    # so a mistyped run id or key is reported without that wait.
    from genre import tracking
    from genre.data.datamodule import GenreDataModule
    from genre.train import train

    if original.info.status != "FINISHED":
        error = original.data.tags.get("error")
        warn(
            f"the original run ended {original.info.status}"
            + (f" ({error.splitlines()[0][:300]})" if error else "")
            + ": only the metrics it logged are compared"
        )
    fingerprint = GenreDataModule(settings(cfg, "data"), is_tagging(cfg)).load().fingerprint
    warn_about_changes(original.data.tags, tracking.version_tags(), fingerprint)
    match_threads(original.data.tags.get(tracking.THREADS_TAG))

    output_dir = args.output_dir or (
        Path("outputs", "reproduce", args.run_id, time.strftime("%Y-%m-%d_%H-%M-%S"))
    )
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / CONFIG_ARTIFACT).write_text(OmegaConf.to_yaml(cfg))

    _, run_id = train(cfg, output_dir, tags={"genre.reproduced_from": args.run_id})
    reproduced = client.get_run(run_id)
    print()
    print(f"original:   {original.info.run_id}")
    print(f"reproduced: {reproduced.info.run_id}   (checkpoints in {output_dir})")
    print(metric_table(original.data.metrics, reproduced.data.metrics, original.info.status))
    return 0


def run_config(run: Run) -> DictConfig:
    """The composed config the run logged."""
    try:
        text = mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/{CONFIG_ARTIFACT}")
    except MlflowException as exc:
        raise GenreError(
            f"Run {run.info.run_id} has no {CONFIG_ARTIFACT} artifact, so it was not made by "
            "genre.train (or its upload failed) and cannot be reproduced."
        ) from exc
    cfg = OmegaConf.create(text)
    if not isinstance(cfg, DictConfig) or not all(key in cfg for key in TRAIN_KEYS):
        raise GenreError(
            f"The {CONFIG_ARTIFACT} of run {run.info.run_id} is not a genre.train config."
        )
    check_targets(cfg, f"run {run.info.run_id}")
    return cfg


def for_reproduction(
    cfg: DictConfig, tracking_uri: str, experiment: str, run_name: str
) -> DictConfig:
    """A single run in the original's experiment and store, with nothing of the sweep that
    launched it: its trial belongs to that study, and a child run would join its parent."""
    cfg = cfg.copy()
    cfg.optuna = {key: None for key in cfg.optuna}
    cfg.mlflow.parent_run_id = None
    cfg.mlflow.tracking_uri = tracking_uri
    cfg.mlflow.experiment = experiment
    # Named after the original, so the pair is found together in the MLflow UI.
    cfg.mlflow.run_name = f"{run_name} (reproduced)"
    # The cache is found by content fingerprint wherever it lives; the original machine's path
    # may not even exist here.
    cfg.data.cache_dir = DataConfig.cache_dir  # this machine's default, not the original's
    return cfg


def apply_overrides(cfg: DictConfig, overrides: list[str]) -> DictConfig:
    """``key=value`` changes an existing key (the value parsed as YAML, as on Hydra's command
    line); ``+key=value`` adds one, e.g. another Lightning Trainer argument."""
    for override in overrides:
        key, sep, value = override.partition("=")
        if not sep or not key.lstrip("+"):
            raise GenreError(f"Override '{override}' is not KEY=VALUE, e.g. seed=1.")
        adding = key.startswith("+")
        path = key.lstrip("+")
        exists = OmegaConf.select(cfg, path, default=_MISSING) is not _MISSING
        if exists == adding:
            hint = "drop the +" if adding else "add it with +KEY=VALUE, or check the spelling"
            state = "already exists" if adding else "is not in the run's config"
            raise GenreError(f"Config key '{path}' {state}: {hint}.")
        if isinstance(OmegaConf.select(cfg, path), DictConfig):
            raise GenreError(
                f"'{path}' is a config group: config groups cannot be swapped when reproducing; "
                f"override its keys instead, e.g. {path}.KEY=VALUE."
            )
        try:
            cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist([f"{path}={value}"]))
        except OmegaConfBaseException as exc:
            raise GenreError(f"Cannot apply '{override}': {first_line(exc)}.") from exc
    return cfg


def warn_about_changes(tags: dict[str, str], now: dict[str, str], fingerprint: str) -> None:
    """Say, before the long part, why the numbers may not match: other code (``now``: the
    current code version tags) or other data (``fingerprint``: the current data's)."""
    from genre.tracking import COMMIT_TAG, DIRTY_TAG, FINGERPRINT_TAG

    then = tags.get(COMMIT_TAG, "unknown")
    if now[COMMIT_TAG] != then:
        warn(f"the code is at commit {now[COMMIT_TAG][:12]}, the run was made at {then[:12]}")
    if tags.get(DIRTY_TAG) == "true":
        warn("the run was made from a tree with uncommitted changes, which its commit lacks")
    if now[DIRTY_TAG] == "true":
        warn("the working tree has uncommitted changes")
    if tags.get(FINGERPRINT_TAG) != fingerprint:
        warn(
            f"the data differ: fingerprint {fingerprint}, the run's was "
            f"{tags.get(FINGERPRINT_TAG, 'not recorded')} (files, sizes, mtimes or audio settings)"
        )


def match_threads(original: str | None) -> None:
    """Use the original's number of CPU threads: the CPU kernels split their sums by thread, so
    another count changes the last bits of the losses (measured: 1 vs 2 threads)."""
    import torch

    if original is not None and int(original) != torch.get_num_threads():
        print(
            f"genre.reproduce: using {original} CPU threads, as the original run did",
            file=sys.stderr,
        )
        torch.set_num_threads(int(original))


def warn(message: str) -> None:
    print(f"genre.reproduce: warning: {message}", file=sys.stderr)


def metric_table(
    original: dict[str, float], reproduced: dict[str, float], status: str = "FINISHED"
) -> str:
    """Aligned text table of every best/val/test metric, and a closing verdict line. Of an
    original that did not finish (failed, interrupted), only the metrics it has are compared:
    the test metrics it never reached are no difference."""
    from genre.tracking import metric_value

    def order(name: str) -> tuple[int, str]:
        return next(i for i, p in enumerate(COMPARED_PREFIXES) if name.startswith(p)), name

    logged = original.keys() | reproduced.keys() if status == "FINISHED" else original.keys()
    names = sorted((n for n in logged if n.startswith(COMPARED_PREFIXES)), key=order)
    rows = [("metric", "original", "reproduced", "difference")]
    differing: list[tuple[float, str]] = []
    for name in names:
        a, b = original.get(name), reproduced.get(name)
        if a is None or b is None:
            diff = "missing"
            differing.append((math.inf, name))
        elif metric_value(a) == metric_value(b):
            # A float32 score logged before genre dropped its noise (0.3333333432674408) is
            # the same score as 0.33333334.
            diff = "0"
        else:
            diff = f"{b - a:+.3g}"
            differing.append((abs(b - a), name))
        rows.append((name, _number(a), _number(b), diff))
    width = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join([row[0].ljust(width[0])] + [row[i].rjust(width[i]) for i in (1, 2, 3)])
        for row in rows
    ]
    unfinished = "" if status == "FINISHED" else f" (the original ended {status})"
    if not names:
        lines.append(f"The original logged no metric to compare{unfinished}.")
    elif not differing:
        lines.append(f"All {len(names)} metrics are identical{unfinished}.")
    else:
        _, worst = max(differing)
        lines.append(
            f"{len(differing)} of {len(names)} metrics differ; the largest: {worst}{unfinished}."
        )
    return "\n".join(lines)


def _number(value: float | None) -> str:
    # Metrics lie in [0, 1] or near it (losses); a difference below the last decimal still shows
    # in the difference column, which compares the floats themselves.
    return "-" if value is None else f"{value:.8f}"


if __name__ == "__main__":
    # Lightning's DDP launcher starts local ranks 1.. by running this command line again: they
    # join the reproduction's training rather than reproduce the run.
    from genre.ddp import is_ddp_worker
    from genre.train import ddp_worker

    if is_ddp_worker():
        ddp_worker()
    else:
        with user_errors():
            sys.exit(main())
