"""Row 6 (only where ``torch.cuda.is_available()``): training examples per second of ``cnn3`` and
``resnet`` in fp32 and bf16-mixed, and the share of step time spent waiting for the DataLoader."""

from __future__ import annotations

import contextlib
import time

import torch
import torch.nn.functional as F

from genre.bench.common import Metric, RowResult, Workspace, best, median
from genre.build import build_network, build_optimizer
from genre.config import compose_config

MODELS = ("cnn3", "resnet")


def train_speed(
    ws: Workspace, model: str, bf16: bool, steps: int, device: str
) -> tuple[float, float]:
    """Examples/s over ``steps`` training steps (after warm-up), and the share of the wall time
    spent in ``next(loader)``, i.e. waiting for data."""
    cfg = compose_config([*ws.overrides(), f"model={model}"])
    torch.manual_seed(0)
    net = build_network(cfg, ws.data.genres).to(device).train()
    optimizer = build_optimizer(cfg.optim)(net.parameter_groups())
    loader = ws.data.train_dataloader()

    def batches():
        while True:
            yield from loader

    source = batches()
    autocast = (
        torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)
        if bf16
        else contextlib.nullcontext()
    )
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)

    def step() -> tuple[int, float]:
        t0 = time.perf_counter()
        waves, targets = next(source)
        waves = waves.to(device, non_blocking=True)
        targets = targets.to(device, non_blocking=True)
        wait = time.perf_counter() - t0
        optimizer.zero_grad(set_to_none=True)
        with autocast:
            logits = net(waves)
        loss = F.cross_entropy(logits.float(), targets)
        loss.backward()
        optimizer.step()
        return len(targets), wait

    for _ in range(3):  # warm-up: cuDNN autotuning, allocator
        step()
    sync()
    examples, waiting = 0, 0.0
    start = time.perf_counter()
    for _ in range(steps):
        n, wait = step()
        examples += n
        waiting += wait
    sync()
    elapsed = time.perf_counter() - start
    return examples / elapsed, waiting / elapsed


def run(ws: Workspace, device: str | None = None) -> RowResult:
    result = RowResult("gpu", "GPU: training examples/s, bf16-mixed vs fp32")
    if device is None:
        if not torch.cuda.is_available():
            result.status, result.reason = "skipped", "skipped: no GPU"
            return result
        device = "cuda"
    steps = 20 if ws.settings.quick else 100
    details: dict = {"device": device, "steps": steps}
    if device.startswith("cuda"):
        details["gpu"] = torch.cuda.get_device_name()
        details["bf16_supported"] = torch.cuda.is_bf16_supported()
    for model in MODELS:
        fp32, bf16 = [], []
        wait32, wait16 = [], []
        for r in range(ws.settings.repeats):
            for mixed in (False, True) if r % 2 == 0 else (True, False):
                speed, wait = train_speed(ws, model, mixed, steps, device)
                (bf16 if mixed else fp32).append(speed)
                (wait16 if mixed else wait32).append(wait)
        result.metrics.append(
            Metric(
                f"{model} examples/s, bf16-mixed vs fp32",
                "examples/s",
                best(bf16),
                best(fp32),
                note=f"data wait {median(wait16):.0%} of step time (bf16), "
                f"{median(wait32):.0%} (fp32)",
            )
        )
        details[model] = {
            "samples_fp32": fp32,
            "samples_bf16": bf16,
            "data_wait_share_fp32": median(wait32),
            "data_wait_share_bf16": median(wait16),
        }
    result.details = details
    return result
