"""What is wrong with a path, in the words that rejected.csv and error messages use: one place, so
that an adapter, the decoder and prediction name the same problem the same way.

Paths are ``str`` as Python gives them on POSIX: a name that is not valid UTF-8 (old archives)
carries its bytes as surrogates (PEP 383), and every file genre writes them to keeps the bytes."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

MISSING = "missing file"
EMPTY = "empty file"
# The error handler that turns such surrogates back into the file system's bytes.
FS_ERRORS = "surrogateescape"


def os_reason(exc: OSError, path: str | Path) -> str:
    """The reason an operating-system error on ``path`` gives, as a short phrase."""
    if exc.errno == errno.ELOOP:
        return "symlink loop"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return "dangling symlink" if os.path.islink(path) else MISSING
    if exc.errno == errno.EISDIR:
        return "a folder, not a file"
    return (exc.strerror or type(exc).__name__).lower()


def file_problem(path: str | Path) -> str | None:
    """Why ``path`` is not a readable, non-empty regular file, or None. Never opens it: opening a
    FIFO would wait for a writer forever."""
    try:
        info = os.stat(path)
    except OSError as exc:
        return os_reason(exc, path)
    if stat.S_ISDIR(info.st_mode):
        return "a folder, not a file"
    if not stat.S_ISREG(info.st_mode):
        return f"not a regular file ({_kind(info.st_mode)})"
    return EMPTY if info.st_size == 0 else None


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "device"
