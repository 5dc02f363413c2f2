"""DDP plumbing for a training job. Lightning's DDP launcher starts the other local ranks by
running the command line again, which under ``-m`` would be a second sweep, and under
``genre.reproduce`` a second reproduction: those processes take the job from ``DDP_JOB_ENV``
instead (``ddp_worker``)."""

from __future__ import annotations

import json
import os
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import optuna
import torch
from omegaconf import DictConfig, OmegaConf

from genre.util import restored_environment

DDP_JOB_ENV = "GENRE_DDP_JOB"
"""Set while a job fits and tests: its config and output folder, for the DDP processes that
Lightning's launcher starts for the other local ranks."""
# What that launcher and torch.distributed leave in os.environ (and so to the next job).
_LAUNCHER_ENV = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE")


def is_ddp_worker() -> bool:
    """Whether this process is a local rank after 0, started by Lightning's DDP launcher."""
    return DDP_JOB_ENV in os.environ and os.environ.get("LOCAL_RANK", "0") != "0"


@contextmanager
def ddp_job(cfg: DictConfig, output_dir: Path) -> Iterator[None]:
    """Around fit and test: the job for the other ranks in DDP_JOB_ENV; afterwards the process
    group, the launcher's variables and its thread limit undone, so that the next job of a
    sweep in this process starts its own.

    The other ranks neither track nor touch the trial, so the config they get names the study
    storage without its password (the environment of a process is readable by its user's other
    processes, and is copied into crash reports)."""
    from genre.tracking import logged_config

    threads = torch.get_num_threads()
    job = {"config": OmegaConf.to_container(logged_config(cfg)), "output_dir": str(output_dir)}
    with restored_environment(DDP_JOB_ENV, "OMP_NUM_THREADS", *_LAUNCHER_ENV):
        os.environ[DDP_JOB_ENV] = json.dumps(job)
        try:
            yield
        finally:
            if torch.distributed.is_available() and torch.distributed.is_initialized():
                torch.distributed.destroy_process_group()
            torch.set_num_threads(threads)


def ddp_worker() -> None:
    """What a local rank after 0 runs: the job of DDP_JOB_ENV, in step with rank 0 and untracked,
    whatever its command line says."""
    from genre.train import train

    job = json.loads(os.environ[DDP_JOB_ENV])
    try:
        train(OmegaConf.create(job["config"]), Path(job["output_dir"]))
    except Exception as exc:
        # Rank 0 records how the job ended (pruned, failed). Exiting non-zero would only make
        # Lightning's process observer SIGKILL rank 0: in a sweep, the sweeper and its next trials.
        if not isinstance(exc, optuna.TrialPruned):
            traceback.print_exc()
