"""What a user sees on the console: genre's own lines, warnings, and nothing else by default.
Known third-party warnings that say nothing to a genre user are silenced one by one (category,
message and module), so new warnings still show; other packages' INFO lines go to the job's
log file only, unless ``hydra.verbose`` is set."""

from __future__ import annotations

import logging
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
    # Lightning 2.6.6 warns about modules in eval mode when fit starts: in genre those are the
    # frozen layers of a pretrained front end, kept in eval mode on purpose (model.freeze).
    from lightning.fabric.utilities.warnings import PossibleUserWarning

    warnings.filterwarnings(
        "ignore",
        message=r"Found \d+ module\(s\) in eval mode at the start of training",
        category=PossibleUserWarning,
    )
    # SQLAlchemy 2 deprecates the `noload` loader strategy that MLflow 3.17's SQL store still
    # configures when it opens a store.
    from sqlalchemy.exc import SADeprecationWarning

    warnings.filterwarnings(
        "ignore",
        message=r"The ``noload`` loader strategy is deprecated",
        category=SADeprecationWarning,
    )


class QuietConsole(logging.Filter):
    """The console handler's filter: warnings and genre's own lines pass; other packages' INFO
    lines only with ``hydra.verbose`` (they are in the job's log file either way)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING or record.name.startswith(OURS):
            return True
        from hydra.core.hydra_config import HydraConfig

        return HydraConfig.initialized() and bool(HydraConfig.get().verbose)
