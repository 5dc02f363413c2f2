"""User-facing errors: one sentence naming the problem and the fix, never a traceback."""

import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from hydra_plugins.genre_optuna_sweeper.errors import SweeperError, first_line

__all__ = [
    "GenreError",
    "check_choice",
    "check_members",
    "check_range",
    "first_line",
    "tracking_reason",
]


class GenreError(SweeperError):
    """A problem with the user's input or configuration that they can fix.

    Entry points catch it, print its message on one line and exit with status 2. A SweeperError,
    so that the genre_optuna sweeper does the same for genre's code that runs inside a sweep (the
    study's MLflow run).
    """


@contextmanager
def user_errors() -> Iterator[None]:
    """Around an entry point: a GenreError is printed as one line on stderr, exit status 2."""
    try:
        yield
    except GenreError as exc:
        print(f"genre: {exc}", file=sys.stderr)
        sys.exit(2)


def check_choice(name: str, value: object, choices: tuple[str | bool | None, ...]) -> None:
    """Refuse a config value outside its known options, naming them."""
    if value not in choices:
        # null, true and false as the user types them in YAML or an override
        named = ", ".join(
            json.dumps(c) if c is None or isinstance(c, bool) else str(c) for c in choices
        )
        raise GenreError(f"Unknown {name} '{value}': choose one of {named}.")


def check_members(name: str, value: object, choices: tuple[str, ...]) -> list[str]:
    """The members of a ``+``-joined config value (``"msd+mtt"``), each one of ``choices`` and
    none twice."""
    members = str(value).split("+")
    for member in members:
        check_choice(name, member, choices)
    if len(set(members)) != len(members):
        raise GenreError(f"{name}={value} names a member twice: name each once.")
    return members


def tracking_reason(exc: BaseException) -> str:
    """Why a request to an MLflow store failed, in a few words: refused credentials are said
    as such, with where they go."""
    if re.search(
        r"error code (401|403)\b|\b(401|403) (Client Error|Unauthorized|Forbidden)", str(exc)
    ):
        return (
            "the server refused the credentials; give them in MLFLOW_TRACKING_USERNAME and "
            "MLFLOW_TRACKING_PASSWORD"
        )
    return first_line(exc)


def check_range(name: str, value: object, low: float, high: float) -> None:
    """Refuse a numeric config value outside ``[low, high]``, naming the range."""
    try:
        ok = low <= float(value) <= high  # type: ignore[arg-type]
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise GenreError(
            f"{name}={value} is out of range: use a number from {_number(low)} to {_number(high)}."
        )


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"
