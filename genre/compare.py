"""The best runs of an experiment (or of one sweep) as a table, from the MLflow store.

python -m genre.compare --experiment NAME [--parent RUN_ID] [--top 10] [--metric METRIC]
[--seeds] [--csv out.csv] [--tracking-uri URI]

Genre and tagging runs alike: the ranking metric is by default the runs' own objective
(val/macro_f1 for genre runs, val/pr_auc for tagging runs).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import mlflow
import pandas as pd
from scipy import stats

from genre.cli import add_tracking_uri, get_run, open_store, without_password
from genre.console import setup_console
from genre.errors import GenreError, user_errors

# Params that say where and how fast a run went, not what it trained: they differ between
# machines and would crowd out the settings that explain the ranking.
NOT_SETTINGS = (
    "mlflow.",
    "optuna.",
    "data.cache_dir",
    "data.decode_workers",
    "data.num_workers",
    "trainer.enable_progress_bar",
    "trainer.enable_model_summary",
)


def main(argv: list[str] | None = None) -> int:
    setup_console()
    parser = argparse.ArgumentParser(
        prog="python -m genre.compare", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--experiment", required=True, metavar="NAME")
    parser.add_argument("--parent", metavar="RUN_ID", help="only the child runs of this sweep")
    parser.add_argument("--top", type=int, default=10, help="runs shown (default 10)")
    parser.add_argument(
        "--metric",
        help="ranking metric, highest first; its best_ value (the sweep objective) where "
        "logged (default: the objective the runs were trained for)",
    )
    parser.add_argument(
        "--seeds",
        action="store_true",
        help="one row per setting over its seeds: runs, mean and 95%% confidence interval",
    )
    parser.add_argument("--csv", type=Path, help="also write the table to this file")
    add_tracking_uri(parser)
    args = parser.parse_args(argv)
    if args.top < 1:
        parser.error("--top must be at least 1")
    if args.csv and not args.csv.parent.is_dir():
        raise GenreError(f"Cannot write {args.csv}: the folder {args.csv.parent} does not exist.")

    client = open_store(args.tracking_uri)
    experiment = client.get_experiment_by_name(args.experiment)
    if experiment is None:
        names = sorted(e.name for e in client.search_experiments())
        raise GenreError(
            f"No experiment '{args.experiment}' at {without_password(args.tracking_uri)}; "
            f"there are: {', '.join(names) or 'none'}."
        )
    where = f"experiment '{args.experiment}'"
    filter_string = None
    if args.parent:
        get_run(client, args.parent)
        filter_string = f"tags.`mlflow.parentRunId` = '{args.parent}'"
        where += f", children of {args.parent}"
    runs = mlflow.search_runs([experiment.experiment_id], filter_string=filter_string)
    if runs.empty:
        raise GenreError(
            f"Experiment '{args.experiment}' has no runs yet"
            + (f" under {args.parent}" if args.parent else "")
            + ": train some (python -m genre.train mlflow.experiment=NAME), or pick another."
        )

    table, objective = rank(runs, args.metric, where)
    unit = "runs"
    if args.seeds:
        table, unit = over_seeds(table, objective), "settings"
    total = len(table)
    table = table.head(args.top)
    print(f"Top {len(table)} of {total} {unit} in {where}, by {objective}:")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if args.csv:
        write_csv(table, args.csv)
    return 0


def rank(runs: pd.DataFrame, metric: str | None, where: str) -> tuple[pd.DataFrame, str]:
    """Every training run with a value of the objective, best first, as the table's columns:
    rank, objective, test metrics, the params that differ between the runs, run id.
    ``metric=None``: the objective most of the runs were trained for."""
    if "tags.genre.kind" in runs:  # explore runs share experiments with training runs
        runs = runs[runs["tags.genre.kind"].isna()]
    if "tags.genre.role" in runs:  # a study's run repeats its best trial's objective
        runs = runs[runs["tags.genre.role"] != "study"]
    if metric is None:
        trained_for = runs.get("params.objective", pd.Series(dtype=str)).dropna()
        metric = trained_for.mode().iloc[0] if len(trained_for) else "val/macro_f1"
    objective = next((m for m in (f"best_{metric}", metric) if f"metrics.{m}" in runs), None)
    if objective is None:
        logged = sorted(c.removeprefix("metrics.") for c in runs if c.startswith("metrics."))
        # Not the per-genre or per-tag ones (test/f1/<genre>, test/roc_auc/<tag>).
        overall = [m for m in logged if m.count("/") < 2]
        raise GenreError(
            f"No run in {where} logged {metric}: choose --metric among "
            f"{', '.join(overall) or 'none (no runs)'}."
        )
    runs = runs[runs[f"metrics.{objective}"].notna()]
    runs = runs.sort_values(f"metrics.{objective}", ascending=False, kind="stable")
    if runs.empty:
        raise GenreError(f"No run in {where} has a value of {objective} yet.")

    test = [
        c
        for c in sorted(runs)
        # Overall test metrics; the per-genre F1 (test/f1/<genre>) and per-tag scores
        # (test/roc_auc/<tag>) are in each run's report.
        if c.startswith("metrics.test/") and c.count("/") == 1 and c != "metrics.test/loss"
    ]
    # Differing over all the ranked runs, not only the shown ones: the sweep's dimensions stay
    # in the table even where the top runs agree, and their agreement is the finding.
    params = [
        c
        for c in sorted(runs)
        if c.startswith("params.")
        and not c.removeprefix("params.").startswith(NOT_SETTINGS)
        and runs[c].fillna("").nunique() > 1
    ]
    table = pd.DataFrame({"rank": range(1, len(runs) + 1)})
    table[objective] = runs[f"metrics.{objective}"].to_numpy()
    for column in test + params:
        table[column.split(".", 1)[1]] = runs[column].to_numpy()
    table["minutes"] = ((runs["end_time"] - runs["start_time"]).dt.total_seconds() / 60).to_numpy()
    table["run_id"] = runs["run_id"].to_numpy()
    return table, objective


def over_seeds(table: pd.DataFrame, objective: str) -> pd.DataFrame:
    """Runs whose settings differ only in ``seed`` as one row, best mean objective first: the
    number of runs, then for each metric its mean and the half width of its 95% confidence
    interval (Student's t over the runs; blank for a single run), and the mean minutes per run."""
    metrics = [objective, *(c for c in table if c.startswith("test/"))]
    settings = [c for c in table if c not in {*metrics, "rank", "seed", "minutes", "run_id"}]
    keys = table[settings].astype("string").fillna("") if settings else None
    rows = []
    for _, group in table.groupby(keys.apply(tuple, axis=1) if settings else [0] * len(table)):
        row = {"runs": len(group)}
        for metric in metrics:
            values = group[metric].dropna()
            row[metric] = values.mean()
            row[f"{metric} ±"] = (
                stats.t.ppf(0.975, len(values) - 1) * values.std() / len(values) ** 0.5
                if len(values) > 1
                else float("nan")
            )
        row["minutes"] = group["minutes"].mean()
        row.update(group.iloc[0][settings].to_dict())
        row["seeds"] = " ".join(sorted(group["seed"].astype(str))) if "seed" in group else ""
        rows.append(row)
    out = pd.DataFrame(rows).sort_values(objective, ascending=False, kind="stable")
    out.insert(0, "rank", range(1, len(out) + 1))
    return out.reset_index(drop=True)


def write_csv(table: pd.DataFrame, path: Path) -> None:
    # Written beside and renamed, so an interrupted write never leaves a partial table.
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    table.to_csv(partial, index=False)
    partial.replace(path)


if __name__ == "__main__":
    with user_errors():
        sys.exit(main())
