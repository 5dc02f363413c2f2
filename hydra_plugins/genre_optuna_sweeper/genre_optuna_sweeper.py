"""The `genre_optuna` Hydra sweeper: an Optuna study driven with ask/tell.

Kept thin: Hydra imports this module on every start to discover plugins, single runs included,
so Optuna and MLflow are imported only when a sweep is set up.
"""

from typing import Any

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

from .config import GenreOptunaSweeperConf  # noqa: F401  (registers the configs with Hydra)


class GenreOptunaSweeper(Sweeper):
    def __init__(self, **options: Any) -> None:
        self._options = options
        self._impl: Any = None

    def setup(
        self,
        *,
        hydra_context: HydraContext,
        task_function: TaskFunction,
        config: DictConfig,
    ) -> None:
        from ._sweep import OptunaSweep

        self._impl = OptunaSweep(**self._options)
        self._impl.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> Any:
        return self._impl.sweep(arguments)
