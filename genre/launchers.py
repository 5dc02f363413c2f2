"""The Hydra launchers beyond joblib (docs/scaling.md), checked before a sweep starts, so that a
missing extra, a Ray cluster that does not answer or a machine without SLURM is one sentence
and exit status 2 instead of a Ray or submitit traceback, or of batches lost one after another.

`check_installed` reads the command line: Hydra cannot compose a launcher whose plugin is not
installed, and says so in its own words. `LauncherCheck`, a Hydra callback of conf/config.yaml,
reads the composed launcher config at the start of a sweep, before the study is opened."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Sequence
from importlib.util import find_spec
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from genre.errors import GenreError, first_line, user_errors

# hydra/launcher=NAME: the genre extra that installs it, and the modules it needs.
_RAY_MODULES = ("ray", "hydra_plugins.hydra_ray_launcher")
_SUBMITIT_MODULES = ("submitit", "hydra_plugins.hydra_submitit_launcher")
EXTRAS = {
    "ray": ("ray", _RAY_MODULES),
    "submitit_local": ("submitit", _SUBMITIT_MODULES),
    "submitit_slurm": ("submitit", _SUBMITIT_MODULES),
}
_RAY = "hydra_plugins.hydra_ray_launcher.ray_launcher.RayLauncher"
_SLURM = "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
# Addresses that make ray.init find or start a cluster itself rather than dial one.
_RAY_SELF = (None, "", "auto", "local")
_CONNECT_TIMEOUT_S = 5.0


def check_installed(overrides: Sequence[str]) -> None:
    """Refuse a `hydra/launcher=NAME` override whose plugin is not installed, naming the extra."""
    for override in overrides:
        key, _, name = override.partition("=")
        if key.lstrip("+~") != "hydra/launcher" or name not in EXTRAS:
            continue
        extra, modules = EXTRAS[name]
        if any(find_spec(module) is None for module in modules):
            raise GenreError(
                f"hydra/launcher={name} needs genre's {extra} extra, which is not installed: "
                f"pip install 'genre[{extra}]'."
            )


def check_launcher(launcher: DictConfig) -> None:
    """Refuse a launcher config that cannot run a batch here, in one sentence naming the fix."""
    target = launcher.get("_target_")
    if target == _SLURM and shutil.which("sbatch") is None:
        raise GenreError(
            "hydra/launcher=submitit_slurm submits jobs with SLURM's sbatch, which is not on "
            "PATH here: run the sweep on a SLURM login node, or try it on this machine with "
            "hydra/launcher=submitit_local."
        )
    if target == _RAY:
        _check_ray(launcher.ray)


def _check_ray(ray: DictConfig) -> None:
    address = ray.init.get("address")
    remote = ray.get("remote") or {}
    if remote.get("max_retries") != 0:
        # Ray would run a dead job again into the same Optuna trial, whose first MLflow run then
        # stays RUNNING; the sweeper fails the trial and runs its parameters again itself.
        raise GenreError(
            "hydra/launcher=ray needs ++hydra.launcher.ray.remote.max_retries=0: the sweeper "
            "runs a dead job's trial again itself, and Ray's own retry would run it twice."
        )
    if address in _RAY_SELF:
        return
    if ray.init.get("object_store_memory", "unset") is not None:
        raise GenreError(
            "hydra-ray-launcher sets object_store_memory, which Ray refuses when it joins the "
            f"cluster at {address}: add ++hydra.launcher.ray.init.object_store_memory=null."
        )
    host, port = _host_port(str(address))
    try:
        socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT_S).close()
    except OSError as e:
        raise GenreError(
            f"No Ray cluster answers at {address} (hydra.launcher.ray.init.address): "
            f"{first_line(e)}; start one there with `ray start --head --port={port}`, or give "
            "the address of a running one."
        ) from e


def _host_port(address: str) -> tuple[str, int]:
    """`host:port` or `ray://host:port` (Ray Client) as a host and a port."""
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        raise GenreError(
            f"hydra.launcher.ray.init.address={address} is not HOST:PORT: give the head node's "
            "address, e.g. 10.0.0.1:6379, or auto."
        )
    return host.strip("[]"), int(port)


class LauncherCheck(Callback):
    """Checks the sweep's launcher before the sweeper opens the study (conf/config.yaml)."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        with user_errors():
            check_launcher(config.hydra.launcher)
