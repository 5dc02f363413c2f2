"""Row 5: building the decode-once cache: clips per second with one decode worker and with all
cores, and the peak memory of the building process and its workers for N and 4N clips (the build
streams into the memmap, so memory should not grow with the dataset).

Every build runs in its own subprocess (``python -m genre.bench.cache_build MANIFEST ...``) while
this process samples the memory of that process tree."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from genre.bench.common import Metric, RowResult, Target, Workspace, best, progress

SAMPLE_SECONDS = 0.02


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (Linux /proc)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            continue
    return out


def _kib(path: str, key: str) -> int:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class MemorySampler:
    """Peak over time of the summed RSS and PSS (proportional set size: shared pages split
    between the processes sharing them, so forked workers are not counted twice) of a tree."""

    def __init__(self, pid: int):
        self.pid, self.peak_rss_kib, self.peak_pss_kib, self.samples = pid, 0, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = _tree(self.pid)
            rss = sum(_kib(f"/proc/{p}/status", "VmRSS:") for p in pids)
            pss = sum(_kib(f"/proc/{p}/smaps_rollup", "Pss:") for p in pids)
            self.peak_rss_kib = max(self.peak_rss_kib, rss)
            self.peak_pss_kib = max(self.peak_pss_kib, pss)
            self.samples += 1
            self._stop.wait(SAMPLE_SECONDS)


def build_once(manifest_csv: Path, spec: dict, workers: int, scratch: Path) -> dict:
    """One cache build in a fresh subprocess and an empty cache folder."""
    cache_dir = Path(tempfile.mkdtemp(prefix="build-", dir=scratch))
    args = [
        sys.executable,
        "-m",
        "genre.bench.cache_build",
        str(manifest_csv),
        json.dumps(spec),
        str(cache_dir),
        str(workers),
    ]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with MemorySampler(proc.pid) as sampler:
        out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"cache build subprocess failed: {err.strip()[-2000:]}")
    report = json.loads(out.strip().splitlines()[-1])
    import shutil

    shutil.rmtree(cache_dir, ignore_errors=True)
    return {
        **report,
        "workers": workers,
        "peak_rss_mib": sampler.peak_rss_kib / 1024,
        "peak_pss_mib": sampler.peak_pss_kib / 1024,
        "memory_samples": sampler.samples,
    }


def run(ws: Workspace) -> RowResult:
    result = RowResult("cache", "Cache build: clips/s 1 worker vs all cores; peak memory N vs 4N")
    data, s = ws.data, ws.settings
    clips = data.cache.clips[["clip_id", "path", "genre"]].sort_values("clip_id")
    scratch = Path(tempfile.mkdtemp(prefix="cache-row-", dir=ws.root))
    big = scratch / "clips_4n.csv"
    small = scratch / "clips_n.csv"
    clips.to_csv(big, index=False)
    clips.iloc[::4].to_csv(small, index=False)  # every 4th clip: N = 4N / 4, all genres kept
    n_big, n_small = len(clips), len(clips.iloc[::4])
    d = data.data
    spec = {
        "sample_rate": int(d.sample_rate),
        "clip_seconds": float(d.clip_seconds),
        "min_seconds": float(d.min_seconds),
    }
    all_cores = cores()
    runs: dict[str, list[dict]] = {"one_4n": [], "all_4n": [], "all_n": []}
    plan = [("one_4n", big, 1), ("all_4n", big, all_cores), ("all_n", small, all_cores)]
    for r in range(s.repeats):
        for name, csv, workers in plan if r % 2 == 0 else reversed(plan):
            runs[name].append(build_once(csv, spec, workers, scratch))
        progress(f"cache: repeat {r + 1}/{s.repeats} done")
    speed = {k: [x["clips"] / x["seconds"] for x in v] for k, v in runs.items()}
    pss = {k: max(x["peak_pss_mib"] for x in v) for k, v in runs.items()}
    rss = {k: max(x["peak_rss_mib"] for x in v) for k, v in runs.items()}
    clip_mib = int(round(spec["sample_rate"] * spec["clip_seconds"])) * 2 / 2**20
    result.metrics += [
        Metric(
            f"clips/s, {all_cores} workers vs 1",
            "clips/s",
            best(speed["all_4n"]),
            best(speed["one_4n"]),
            note=f"{n_big} clips; informational (scales with cores)",
        ),
        Metric(
            f"peak memory, {n_big} vs {n_small} clips",
            "MiB",
            pss["all_4n"],
            pss["all_n"],
            Target("ratio", "<=", 1.2),
            note=f"PSS of builder + {all_cores} workers; the {n_big}-clip array is "
            f"{n_big * clip_mib:.0f} MiB",
        ),
    ]
    one = runs["one_4n"]
    result.metrics.append(
        Metric(
            "near-duplicate pass vs a 1-worker build",
            "s",
            best([x["near_dup_seconds"] for x in one], higher_is_better=False),
            best([x["seconds"] for x in one], higher_is_better=False),
            note=f"{n_big} clips: fingerprints and search, in one process; part of the build",
        )
    )
    result.details = {
        "cores": all_cores,
        "clips_4n": n_big,
        "clips_n": n_small,
        "samples_clips_per_s": speed,
        "peak_pss_mib": pss,
        "peak_rss_mib": rss,
        "array_mib_4n": n_big * clip_mib,
        "array_mib_n": n_small * clip_mib,
        "builds": runs,
        "memory": "peak over time of the summed PSS (and RSS) of the build subprocess and its "
        f"decode workers, sampled every {SAMPLE_SECONDS * 1000:.0f} ms from /proc",
    }
    import shutil

    shutil.rmtree(scratch, ignore_errors=True)
    return result


def _child(manifest_csv: str, spec_json: str, cache_dir: str, workers: str) -> None:
    """The subprocess: build the cache of a manifest, print the timing as one JSON line."""
    import resource

    import pandas as pd

    from genre.data.cache import AudioSpec, load_or_build
    from genre.data.sources import Manifest

    manifest = Manifest(pd.read_csv(manifest_csv, dtype="string"))
    spec = AudioSpec(**json.loads(spec_json))
    start = time.perf_counter()
    cache = load_or_build(manifest, spec, cache_dir, int(workers))
    seconds = time.perf_counter() - start
    near_dup_seconds = _near_duplicate_pass(cache, spec.sample_rate)
    usage = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        json.dumps(
            {
                "clips": len(cache.clips) + len(cache.rejected),
                "kept": len(cache.clips),
                "seconds": seconds,
                "near_dup_seconds": near_dup_seconds,
                # Linux reports ru_maxrss in KiB: the largest single process, not the sum.
                "maxrss_self_mib": usage[0].ru_maxrss / 1024,
                "maxrss_largest_child_mib": usage[1].ru_maxrss / 1024,
            }
        )
    )


def _near_duplicate_pass(cache, rate: int) -> float:
    """Seconds of the build's near-duplicate work over the built cache, done again in one
    process: every kept clip's fingerprint, then the search with its correlations."""
    import numpy as np

    from genre.data.fingerprint import fingerprint, near_duplicates

    samples = cache.meta["clip_samples"]

    def row(index: int) -> np.ndarray:
        # Read, not mapped: mapped pages would count in this process's peak memory above.
        offset = index * samples * 2
        return np.fromfile(cache.path / "audio.f16", np.float16, samples, offset=offset)

    start = time.perf_counter()
    prints = [fingerprint(row(index), rate) for index in range(len(cache.clips))]
    near_duplicates(prints, range(len(prints)), row, rate)
    return time.perf_counter() - start


if __name__ == "__main__":
    _child(*sys.argv[1:5])
