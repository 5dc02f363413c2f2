"""What the sweeper tells a user who can fix the problem: one sentence on stderr and exit status 2,
never a traceback. The public face of this module is `errors`.

Private, so that Hydra's plugin scan never executes it again: the scan re-runs every public
module, which would make a second `SweeperError` class that an app's subclass does not derive
from."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

PROGRAM = "genre"
"""The name the sweeper's one sentence starts with: the sweeper comes from the genre project."""


class SweeperError(Exception):
    """A problem with the sweep's configuration or its surroundings that the user can fix.

    The sweeper ends the program with its message on one line and exit status 2.
    """


def one_sentence(call: Callable[[], T]) -> T:
    """Run ``call``; a SweeperError ends the program with its one sentence, rather than with the
    traceback Hydra prints for a sweeper's exceptions, and Ctrl-C with how to go on."""
    try:
        return call()
    except SweeperError as exc:
        print(f"{PROGRAM}: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print(
            f"{PROGRAM}: interrupted; finished trials are kept in the study and the running ones "
            "queued again: run the same command to resume.",
            file=sys.stderr,
        )
        sys.exit(130)


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The gist of a library error, for a one-line message: an OS error buried in an HTTP
    client's retry report ("[Errno 111] Connection refused") says more than the report."""
    # SQLAlchemy prefixes the driver's exception class: "(psycopg.OperationalError) ...".
    text = re.sub(r"^\([\w.]+\) ", "", str(exc).strip())
    errno = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if errno:
        return errno.group(1).strip().rstrip(".").lower()
    lines = text.splitlines()
    line = lines[0].rstrip(".") if lines else type(exc).__name__
    return line if len(line) <= limit else line[: limit - 1] + "…"
