"""A mirror for genre.download's tests: an HTTP server on 127.0.0.1 serving archives the tests
build in each dataset's real layout and names, with range requests and the faults of a bad
network on demand; and the published checksums swapped for those of the test archives.

Run as a script, it is ``python -m genre.download`` with those checksums:
``python download_server.py DIGESTS_JSON ARGS...`` (DIGESTS_JSON: :func:`digests_of`)."""

from __future__ import annotations

import hashlib
import io
import json
import sys
import tarfile
import threading
import zipfile
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HANG_LIMIT = 20.0  # seconds a "never answers" request is held at most


class Mirror:
    """``files``: path below the base URL -> bytes. ``cut[path] = n``: the next n answers for it
    stop halfway; ``hang``: paths never answered; ``slow``: paths sent in small, spaced chunks.
    ``requests`` records (path, Range header) of every request."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.cut: dict[str, int] = {}
        self.hang: set[str] = set()
        self.slow: set[str] = set()
        self.requests: list[tuple[str, str | None]] = []
        self.release = threading.Event()
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                mirror.serve(self)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Mirror:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def serve(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path.lstrip("/")
        ranged = handler.headers.get("Range")
        self.requests.append((path, ranged))
        if path in self.hang:
            self.release.wait(HANG_LIMIT)
            return
        if path not in self.files:
            handler.send_error(404, "Not Found")
            return
        body = self.files[path]
        start = int(ranged.removeprefix("bytes=").rstrip("-")) if ranged else 0
        if start >= len(body):
            handler.send_error(416, "Range Not Satisfiable")
            return
        handler.send_response(206 if start else 200)
        if start:
            handler.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        handler.send_header("Content-Length", str(len(body) - start))
        handler.end_headers()
        rest = body[start:]
        if self.cut.get(path, 0) > 0:
            self.cut[path] -= 1
            handler.wfile.write(rest[: len(rest) // 2])
            handler.wfile.flush()
            handler.close_connection = True
            return
        step = 16384 if path in self.slow else len(rest)
        for offset in range(0, len(rest), step):
            handler.wfile.write(rest[offset : offset + step])
            if path in self.slow:
                handler.wfile.flush()
                if self.release.wait(0.05):
                    return


# --- archives in the real layouts ------------------------------------------------------------


def tar_of(folder: Path, members: list[str], mode: str = "w:gz") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as tar:
        for member in members:
            tar.add(folder / member, arcname=member)
    return buffer.getvalue()


def zip_of(folder: Path, members: list[str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member in members:
            for path in sorted([folder / member, *(folder / member).rglob("*")]):
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


# --- the published checksums, swapped ----------------------------------------------------------


def digests_of(files: dict[str, bytes]) -> dict[str, dict[str, str]]:
    """File name -> its md5, sha1 and sha256."""
    return {
        Path(path).name: {k: hashlib.new(k, body).hexdigest() for k in ("md5", "sha1", "sha256")}
        for path, body in files.items()
    }


def use_checksums(
    digests: dict[str, dict[str, str]], setattr_: Callable[..., None] = setattr
) -> None:
    """Point genre.download's checksums at the served files' ``digests`` (by file name), where it
    keeps them: mirdata's records for GTZAN and Ballroom, the catalogue's for FMA and
    MTG-Jamendo. ``setattr_``: pytest's monkeypatch.setattr in-process, so that it is undone."""
    from mirdata.datasets import ballroom, gtzan_genre

    from genre.download import catalogue

    for module in (gtzan_genre, ballroom):
        for remote in module.REMOTES.values():
            if remote.filename in digests:
                setattr_(remote, "checksum", digests[remote.filename]["md5"])
    fma = {
        part: digests.get(f"fma_{part}.zip", {}).get("sha1", sha1)
        for part, sha1 in catalogue.FMA_SHA1.items()
    }
    setattr_(catalogue, "FMA_SHA1", fma)
    tars = {name: digest["sha256"] for name, digest in digests.items() if name.endswith(".tar")}
    setattr_(catalogue, "jamendo_tar_sums", lambda: tars)


if __name__ == "__main__":
    use_checksums(json.loads(sys.argv[1]))
    from genre.download.__main__ import main

    sys.exit(main(sys.argv[2:]))
