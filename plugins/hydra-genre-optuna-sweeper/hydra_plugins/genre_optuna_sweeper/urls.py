"""Storage and tracking URLs with a password in them: shown without it, and split from it.

Public, so Hydra imports it while scanning for plugins: it imports nothing heavy.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit


def split_password(url: str) -> tuple[str, str | None]:
    """``url`` without its password (``postgresql://genre@db/optuna``), and the password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url, None
    netloc = parts.netloc.replace(f":{parts.password}@", "@", 1)
    return parts._replace(netloc=netloc).geturl(), unquote(parts.password)


def without_password(url: str) -> str:
    """``url`` fit to show or to log: a password in it replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")).geturl()
