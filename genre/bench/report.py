"""The report's parts: the machine, the commit, and the aligned table of the rows."""

from __future__ import annotations

import os
import platform
from pathlib import Path

from genre.bench.common import RowResult


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
                [
                    r.row,
                    m.name,
                    f"{fmt(m.ours)} {m.unit}",
                    "" if m.baseline is None else f"{fmt(m.baseline)} {m.unit}",
                    ratio,
                    str(m.target or "-"),
                    verdict,
                ]
            )
    widths = [max(len(x[i]) for x in [header, *lines]) for i in range(len(header))]
    rule = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)), rule]
    for line in lines:
        out.append("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
    notes = [
        f"  {r.row} / {m.name}: {m.note}"
        for r in results
        if r.status == "ok"
        for m in r.metrics
        if m.note
    ]
    return "\n".join([*out, "", "notes:", *notes] if notes else out)
