"""DDP plumbing for a training job. Lightning's DDP launcher starts the other local ranks by
running the command line again, which under ``-m`` would be a second sweep, and under
``genre.reproduce`` a second reproduction: those processes take the job from ``DDP_JOB_ENV``
instead (``genre.train.ddp_worker``): the arrow runs from train to here, never back."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from genre.tracking import logged_config
from genre.util import restored_environment

DDP_JOB_ENV = "GENRE_DDP_JOB"
"""Set while a job fits and tests: its config and output folder, for the DDP processes that
Lightning's launcher starts for the other local ranks."""
# What that launcher and torch.distributed leave in os.environ (and so to the next job).
_LAUNCHER_ENV = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE")


def ddp_job_of_worker() -> tuple[DictConfig, Path]:
    """The config and output folder of the job this local rank joins (see ``is_ddp_worker``)."""
    job = json.loads(os.environ[DDP_JOB_ENV])
    return OmegaConf.create(job["config"]), Path(job["output_dir"])


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
