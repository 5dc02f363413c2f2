"""Command line of the benchmark: ``python -m genre.bench [--quick] [--rows a,b] [--out FILE]``."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from genre.bench.common import RowResult, Settings, Workspace, progress

ROWS = ("loader", "spectrogram", "overhead", "pruning", "cache", "gpu")
PROJECT_ROOT = Path(__file__).resolve().parents[2]


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
    else:
        from genre.bench.gpu import run
    return run


def machine() -> dict:
    import torch

    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    cuda = torch.cuda.is_available()
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "cpu_model": model or "unknown",
        "memory_gib": _memory_gib(),
        "load_average_at_start": load,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "device": torch.cuda.get_device_name() if cuda else "cpu",
        "cuda": cuda,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def git_commit() -> dict:
    """The commit measured, and whether the tree had changes (read-only git calls)."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "--no-optional-locks", *args],
                cwd=PROJECT_ROOT,
                capture_output=True,
                text=True,
                timeout=20,
                check=True,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip()

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def fmt(x: float | None) -> str:
    if x is None:
        return "-"
    if x == 0:
        return "0"
    magnitude = abs(x)
    if magnitude >= 1000:
        return f"{x:,.0f}"
    if magnitude >= 0.01:
        return f"{x:.3g}"
    return f"{x:.2g}"


def table(results: list[RowResult]) -> str:
    header = ["row", "measure", "ours", "baseline", "ratio", "target", "result"]
    lines: list[list[str]] = []
    for r in results:
        if r.status != "ok":
            lines.append([r.row, r.reason or r.status, "", "", "", "", r.status.upper()])
            continue
        for m in r.metrics:
            verdict = {True: "pass", False: "MISS", None: "-"}[m.passed]
            if m.note.startswith("skipped"):
                verdict = "skipped"
            ratio = f"{fmt(m.ratio)}x" if m.ratio is not None else "-"
            lines.append(
                [r.row, m.name, f"{fmt(m.ours)} {m.unit}", "" if m.baseline is None else
                 f"{fmt(m.baseline)} {m.unit}", ratio, str(m.target or "-"), verdict]
            )
    widths = [max(len(x[i]) for x in [header, *lines]) for i in range(len(header))]
    rule = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)), rule]
    for line in lines:
        out.append("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
    notes = [
        f"  {r.row} / {m.name}: {m.note}" for r in results if r.status == "ok" for m in r.metrics
        if m.note
    ]
    return "\n".join([*out, "", "notes:", *notes] if notes else out)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m genre.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="small sizes: a few minutes on two cores")
    parser.add_argument("--rows", default=",".join(ROWS),
                        help=f"comma-separated subset of: {', '.join(ROWS)}")
    parser.add_argument("--out", default="bench.json", help="JSON file with every figure")
    parser.add_argument("--workdir", default=None,
                        help="keep the generated dataset, caches and sweep stores here "
                        "(default: a temporary folder, removed at the end)")
    args = parser.parse_args(argv)
    args.rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = [r for r in args.rows if r not in ROWS]
    if unknown:
        parser.error(f"unknown row(s) {', '.join(unknown)}; choose from {', '.join(ROWS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    settings = Settings.make(args.quick)
    started = time.perf_counter()
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["python -m genre.bench", *(argv if argv is not None else sys.argv[1:])]),
        "quick": args.quick,
        "git": git_commit(),
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
                result = RowResult(name, name, status="error",
                                   reason=f"error: {type(exc).__name__}: {exc}"[:300])
                result.details["traceback"] = traceback.format_exc()
            result.seconds = time.perf_counter() - t0
            results.append(result)
            missed = [m.name for m in result.metrics if m.passed is False]
            verdict = result.status if result.status != "ok" else (
                f"MISSED {', '.join(missed)}" if missed else "ok")
            progress(f"[{i}/{len(args.rows)}] {name}: {verdict} ({result.seconds:.1f} s)")
            report["rows"][name] = result.as_dict()
            report["dataset"] = {"source": ws.source, "workdir": str(ws.root)}
            Path(args.out).write_text(json.dumps(report, indent=2, default=str) + "\n")
    finally:
        ws.close()
    report["total_seconds"] = round(time.perf_counter() - started, 1)
    Path(args.out).write_text(json.dumps(report, indent=2, default=str) + "\n")
    m = report["machine"]
    print(
        f"genre bench{' --quick' if args.quick else ''}: {m['cpu_model']}, {m['cpus_usable']} "
        f"cores, torch {m['torch']}, {m['device']}, commit {(report['git']['commit'] or '?')[:10]}"
        f"{' (dirty)' if report['git']['dirty'] else ''}, {report['total_seconds']:.0f} s"
    )
    print(table(results))
    print(f"\nall figures: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
