"""The published example of a multi-objective study, written again: Binh and Korn's two
objectives, both to minimise."""

import hydra
from omegaconf import DictConfig


@hydra.main(version_base=None, config_path="multi-objective-conf", config_name="config")
def binh_and_korn(cfg: DictConfig) -> tuple[float, float]:
    v0 = 4 * cfg.x**2 + 4 * cfg.y**2
    v1 = (cfg.x - 5) ** 2 + (cfg.y - 5) ** 2
    return v0, v1


if __name__ == "__main__":
    binh_and_korn()
