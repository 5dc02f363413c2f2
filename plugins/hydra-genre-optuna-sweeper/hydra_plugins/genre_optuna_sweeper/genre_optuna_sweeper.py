"""The `genre_optuna` Hydra sweeper: an Optuna study driven with ask/tell.

Kept thin: Hydra imports this module on every start to discover plugins, single runs included,
so Optuna is imported only when a sweep is set up.
"""

from typing import Any

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

from ._errors import one_sentence
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

        def setup() -> None:
            self._impl = OptunaSweep(**self._options)
            self._impl.setup(
                hydra_context=hydra_context, task_function=task_function, config=config
            )

        one_sentence(setup)

    def sweep(self, arguments: list[str]) -> None:
        """Run the study; as the published sweeper, return nothing (the study holds the
        results, and `optimization_results.yaml` the best of them)."""
        one_sentence(lambda: self._impl.sweep(arguments))
