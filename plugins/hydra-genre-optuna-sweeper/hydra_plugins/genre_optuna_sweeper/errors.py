"""The sweeper's errors, for an app's own code that runs inside a sweep (a `tracker`, a
`custom_search_space`): raise `SweeperError` (or a subclass) to stop the sweep with one sentence
on stderr and exit status 2; `first_line` gives the gist of a library's error for it."""

from ._errors import SweeperError, first_line

__all__ = ["SweeperError", "first_line"]
