"""Command line of the benchmark: ``python -m genre.bench [--quick] [--rows a,b] [--out FILE]``."""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from genre.bench.common import RowResult, Settings, Workspace, progress
from genre.bench.report import machine, table
from genre.util import git_version

ROWS = ("loader", "spectrogram", "overhead", "pruning", "cache", "embed", "gpu", "sysmetrics")


def row_function(name: str) -> Callable[[Workspace], RowResult]:
    # Imported per row: the pruning and cache rows never need Lightning in this process.
    if name == "loader":
        from genre.bench.loader import run
    elif name == "spectrogram":
        from genre.bench.spectrogram import run
    elif name == "overhead":
        from genre.bench.overhead import run
    elif name == "pruning":
        from genre.bench.pruning import run
    elif name == "cache":
        from genre.bench.cache_build import run
    elif name == "embed":
        from genre.bench.embed import run
    elif name == "gpu":
        from genre.bench.gpu import run
    else:
        from genre.bench.system_metrics import run
    return run


def cpu_seconds() -> float:
    """CPU time of this process and of every subprocess it waited for (sweeps, cache builds,
    decode and synth workers): the work done, whatever else the machine was running."""
    import resource

    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def load_text() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m genre.bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="small sizes: a few minutes on two cores"
    )
    parser.add_argument(
        "--rows", default=",".join(ROWS), help=f"comma-separated subset of: {', '.join(ROWS)}"
    )
    parser.add_argument("--out", default="bench.json", help="JSON file with every figure")
    parser.add_argument(
        "--clips-per-genre",
        type=int,
        default=None,
        help="size of the generated dataset (10 genres); default 12 with --quick, else 40",
    )
    parser.add_argument(
        "--clip-seconds",
        type=float,
        default=None,
        help="length of the generated clips (default 30)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="interleaved repeats of each measurement (default 3 with --quick, else 5)",
    )
    parser.add_argument(
        "--data",
        default="",
        help="the embed row's dataset, as genre.train overrides (default: the generated one)",
    )
    parser.add_argument(
        "--workdir",
        default=None,
        help="keep the generated dataset, caches and sweep stores here "
        "(default: a temporary folder, removed at the end)",
    )
    args = parser.parse_args(argv)
    args.rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    for name in ("clips_per_genre", "clip_seconds", "repeats"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    unknown = [r for r in args.rows if r not in ROWS]
    if unknown:
        parser.error(f"unknown row(s) {', '.join(unknown)}; choose from {', '.join(ROWS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    settings = Settings.make(args.quick)
    sizes = {
        "clips_per_genre": args.clips_per_genre,
        "clip_seconds": args.clip_seconds,
        "repeats": args.repeats,
        "data": args.data or None,
    }
    settings = dataclasses.replace(settings, **{k: v for k, v in sizes.items() if v is not None})
    started = time.perf_counter()
    report = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join(
            ["python -m genre.bench", *(argv if argv is not None else sys.argv[1:])]
        ),
        "quick": args.quick,
        "git": git_version(),
        "machine": machine(),
        "settings": settings.__dict__,
        "rows": {},
    }
    ws = Workspace(settings, Path(args.workdir) if args.workdir else None)
    results: list[RowResult] = []
    try:
        for i, name in enumerate(args.rows, 1):
            progress(f"[{i}/{len(args.rows)}] {name}: running")
            t0 = time.perf_counter()
            try:
                result = row_function(name)(ws)
            except Exception as exc:  # a broken row is reported, the others still run
                result = RowResult(
                    name, name, status="error", reason=f"error: {type(exc).__name__}: {exc}"[:300]
                )
                result.details["traceback"] = traceback.format_exc()
            result.seconds = time.perf_counter() - t0
            results.append(result)
            missed = [m.name for m in result.metrics if m.passed is False]
            verdict = (
                result.status
                if result.status != "ok"
                else (f"MISSED {', '.join(missed)}" if missed else "ok")
            )
            progress(f"[{i}/{len(args.rows)}] {name}: {verdict} ({result.seconds:.1f} s)")
            report["rows"][name] = result.as_dict()
            report["dataset"] = {"source": ws.source, "workdir": str(ws.root)}
            Path(args.out).write_text(json.dumps(report, indent=2, default=str) + "\n")
    finally:
        ws.close()
    report["total_seconds"] = round(time.perf_counter() - started, 1)
    report["total_cpu_seconds"] = round(cpu_seconds(), 1)
    report["machine"]["load_average_at_end"] = load_text()
    Path(args.out).write_text(json.dumps(report, indent=2, default=str) + "\n")
    m = report["machine"]
    print(
        f"genre bench{' --quick' if args.quick else ''}: {m['cpu_model']}, {m['cpus_usable']} "
        f"cores, torch {m['torch']}, {m['device']}, commit {(report['git']['commit'] or '?')[:10]}"
        f"{' (dirty)' if report['git']['dirty'] else ''}, {report['total_seconds']:.0f} s "
        f"({report['total_cpu_seconds']:.0f} CPU-s, load average {load_text()})"
    )
    print(table(results))
    print(f"\nall figures: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
