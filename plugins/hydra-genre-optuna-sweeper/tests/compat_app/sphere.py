"""The published hydra-optuna-sweeper's example app, written again: a sphere function to minimise,
which fails on purpose with `error=true`. It knows nothing of genre; only its config names the
sweeper."""

import hydra
from omegaconf import DictConfig


@hydra.main(version_base=None, config_path="conf", config_name="config")
def sphere(cfg: DictConfig) -> float:
    if cfg.get("error", False):
        raise RuntimeError("cfg.error is True")
    return cfg.x**2 + cfg.y**2


if __name__ == "__main__":
    sphere()
