"""What a user sees on the console: genre's own lines, warnings, and nothing else by default.
Known third-party warnings that say nothing to a genre user are silenced one by one (category,
message and module), so new warnings still show; other packages' INFO lines go to the job's
log file only, unless ``hydra.verbose`` is set."""

from __future__ import annotations

import logging
import os
import warnings

# Loggers whose INFO lines a user of genre wants to see.
OURS = ("genre", "hydra_plugins.genre_optuna_sweeper", "__main__")


def silence_known_warnings() -> None:
    """Filters for warnings that are expected in genre's use of its dependencies."""
    # torch 2.14 deprecates LeafSpec; Lightning 2.6.6's own pytree helper still builds one on
    # every batch it moves (lightning/pytorch/utilities/_pytree.py).
    warnings.filterwarnings(
        "ignore",
        message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
        category=FutureWarning,
        module=r"lightning\.pytorch\.utilities\._pytree",
    )
    # Lightning 2.6.6 warns (PossibleUserWarning) about modules in eval mode when fit starts:
    # in genre those are the frozen layers of a pretrained front end, in eval mode on purpose.
    warnings.filterwarnings(
        "ignore",
        message=r"Found \d+ module\(s\) in eval mode at the start of training",
        category=UserWarning,
    )
    # SQLAlchemy 2 deprecates (SADeprecationWarning) the `noload` loader strategy that MLflow
    # 3.17's SQL store still configures when it opens a store.
    warnings.filterwarnings(
        "ignore",
        message=r"The ``noload`` loader strategy is deprecated",
        category=DeprecationWarning,
    )


def setup_console() -> None:
    """Called by each command before its work: the warning filters, and MLflow's and Optuna's
    loggers sent through the root logger's handlers (the console filter below, and a job's log
    file) instead of their own, which print every INFO line (store set-up, study creation,
    signature inference) on the console."""
    silence_known_warnings()
    # The tools print their own results; MLflow's bars for moving a few kilobytes bury them.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import optuna

    optuna.logging.disable_default_handler()
    optuna.logging.enable_propagation()
    # Lightning and MLflow give their loggers a console handler of their own when imported
    # before logging is configured, as they are here.
    for name in (
        "mlflow",
        "lightning",
        "lightning.pytorch",
        "lightning.fabric",
        "pytorch_lightning",
    ):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True


class QuietConsole(logging.Filter):
    """The console handler's filter: warnings and genre's own lines pass; other packages' INFO
    lines only with ``hydra.verbose`` (they are in the job's log file either way), and lines
    logged with ``extra={"console": False}`` never (a failure's traceback, for the file)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _verbose():
            return True
        if not getattr(record, "console", True):
            return False
        return record.levelno >= logging.WARNING or record.name.startswith(OURS)


def _verbose() -> bool:
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.initialized() and bool(HydraConfig.get().verbose)


def in_sweep() -> bool:
    """Whether this process runs a job of a sweep (`-m`), under any launcher."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
