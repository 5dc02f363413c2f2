"""Row 7: one trial of ``experiment=gtzan`` (a frozen pretrained musicnn behind a new head),
trained on its cached embeddings against today's audio path (``embed.cache=false``: musicnn run on
every crop of every epoch), each as a sweep's trial runs it (``genre.train.train`` in this
process, MLflow logging and all), plus the one-off cost of building the embedding cache.

The dataset is the workspace's, or any other given to ``--data`` as ``genre.train`` overrides
(``--data "data=gtzan data.root=~/data/gtzan data.chunk_seconds=2"``)."""

from __future__ import annotations

import shlex
import time

from genre.bench.common import Metric, RowResult, Target, Workspace, progress

TARGET_SPEEDUP = 20.0


def run(ws: Workspace) -> RowResult:
    from genre.config import compose_config
    from genre.train import train

    weights = ws.cache_dir / "pretrained"
    if not weights.exists() and ws.user_pretrained.is_dir():
        weights.parent.mkdir(parents=True, exist_ok=True)
        weights.symlink_to(ws.user_pretrained, target_is_directory=True)
    data = shlex.split(ws.settings.data) if ws.settings.data else ws.overrides()
    store = f"sqlite:///{ws.root / 'embed-bench.db'}"
    base = [
        "experiment=gtzan",
        *data,
        f"data.cache_dir={ws.cache_dir}",
        f"mlflow.tracking_uri={store}",
        "mlflow.experiment=bench-embed",
        "trainer.enable_progress_bar=false",
    ]
    if ws.settings.quick:
        base.append("trainer.max_epochs=3")

    def trial(name: str, *extra: str) -> tuple[float, float]:
        cfg = compose_config([*base, *extra])
        start = time.perf_counter()
        best, _ = train(cfg, ws.root / "embed-bench" / name)
        seconds = time.perf_counter() - start
        progress(f"embed: {name} trial {seconds:.1f} s, best {cfg.objective} {best:.3f}")
        return seconds, best

    cold, cold_best = trial("cold")  # builds the waveform cache too, unless another row did
    warm, warm_best = trial("warm")
    audio, audio_best = trial("audio", "embed.cache=false")
    metrics = [
        Metric(
            "trial on cached embeddings",
            "s",
            warm,
            audio,
            Target("ratio", "<=", 1 / TARGET_SPEEDUP),
            note=f"x{audio / warm:.1f} faster than the audio path ({audio:.1f} s)",
        ),
        Metric(
            "one-off embedding cache build",
            "s",
            max(0.0, cold - warm),
            audio,
            note="first trial minus a warm one, against one audio-path trial",
        ),
    ]
    details = {
        "overrides": base,
        "seconds": {"cold": cold, "warm": warm, "audio": audio},
        "best_objective": {"cold": cold_best, "warm": warm_best, "audio": audio_best},
    }
    return RowResult("embed", "Embed once: a probe trial", metrics=metrics, details=details)
