"""The `genre_optuna` Hydra sweeper: an Optuna study driven with ask/tell.

Kept thin: Hydra imports this module on every start to discover plugins, single runs included,
so Optuna and MLflow are imported only when a sweep is set up.
"""

import sys
from collections.abc import Callable
from typing import Any, TypeVar

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

from genre.errors import user_errors

from .config import GenreOptunaSweeperConf  # noqa: F401  (registers the configs with Hydra)

T = TypeVar("T")


def _one_sentence(call: Callable[[], T]) -> T:
    """Run `call`; a GenreError ends the program with its one sentence, as genre's entry points
    do, rather than with the traceback Hydra prints for a sweeper's exceptions, and Ctrl-C with
    how to go on."""
    try:
        with user_errors():
            return call()
    except KeyboardInterrupt:
        print(
            "genre: interrupted; finished trials are kept in the study and the running ones "
            "queued again: run the same command to resume.",
            file=sys.stderr,
        )
        sys.exit(130)


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

        _one_sentence(setup)

    def sweep(self, arguments: list[str]) -> Any:
        return _one_sentence(lambda: self._impl.sweep(arguments))
