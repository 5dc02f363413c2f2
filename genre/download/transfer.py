"""One file over HTTP into a dataset root: resumed with range requests, checked against its
published checksum, unpacked into a temporary folder whose parts are renamed into place.

Everything in flight lives in ``<root>/.download/``: ``NAME.part`` while it arrives, ``NAME``
once whole, ``NAME.bad`` when its checksum failed, ``NAME.unpacking/`` while it unpacks and
``NAME.done`` (its checksum) once its files are in place, which is what lets a later run skip it."""

from __future__ import annotations

import errno
import hashlib
import http.client
import shutil
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import urlparse
from urllib.request import Request, urlopen

from tqdm import tqdm

from genre.errors import GenreError

WORK = ".download"
CHUNK = 1 << 20
# A cut-off transfer is resumed this many times within one run before the user is asked to rerun.
RESUMES = 3
# What a full disk (or a file-size limit, or a quota) looks like to a writer.
DISK_FULL = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


@dataclass(frozen=True)
class Remote:
    """One download: ``files`` are (path on a mirror below the dataset's folder, official URL),
    several when the publisher splits one archive into parts to join (MagnaTagATune's mp3.zip).
    ``checksum`` is ``"md5:…"``, ``"sha1:…"`` or ``"sha256:…"`` as published, None where the
    publisher gives none (then a zip is checked by its members' CRCs). ``places``: archive member
    (a folder or file) -> where it goes below the root; empty for a plain file, which keeps its
    mirror path."""

    name: str
    files: tuple[tuple[str, str], ...]
    checksum: str | None
    places: dict[str, str] = field(default_factory=dict)

    @property
    def targets(self) -> list[str]:
        return list(self.places.values()) or [self.files[0][0]]


class Transfer:
    """The downloads of one dataset into ``root``; ``mirror``: a base URL that replaces each
    file's official host (``<mirror>/<dataset>/<path>``)."""

    def __init__(self, root: Path, dataset: str, mirror: str | None, timeout: float) -> None:
        self.root = root
        self.dataset = dataset
        self.mirror = mirror.rstrip("/") if mirror else None
        self.timeout = timeout
        self.work = root / WORK
        try:
            self.work.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise GenreError(
                f"Cannot write to {root} ({_reason(exc)}): choose a --root you can write to."
            ) from exc

    def get(self, remote: Remote) -> None:
        """Download, verify and place ``remote``, or say it is already there."""
        done = self.work / f"{remote.name}.done"
        if done.is_file() and all((self.root / t).exists() for t in remote.targets):
            print(
                f"{remote.name}: already there and verified ({done.read_text().strip()}), skipped"
            )
            return
        archive = self.work / remote.name
        if not archive.is_file():
            parts = [self._fetch(path, url) for path, url in remote.files]
            if len(parts) > 1:
                self._join(parts, archive)
        self._verify(remote, archive)
        if remote.places:
            self._unpack(remote, archive)
            archive.unlink()
        else:
            self._move(archive, self.root / remote.files[0][0])
        _write(done, f"{remote.checksum or 'no published checksum'}\n")

    def url(self, path: str, official: str) -> str:
        return f"{self.mirror}/{self.dataset}/{path}" if self.mirror else official

    # --- transfer --------------------------------------------------------------------------

    def _fetch(self, path: str, official: str) -> Path:
        """The file at ``path``'s URL, whole, in the work folder; resumed from its ``.part``."""
        target = self.work / path
        if target.is_file():
            return target
        part = target.with_name(target.name + ".part")
        url = self.url(path, official)
        self._mkdir(part.parent)
        for _ in range(RESUMES + 1):
            if self._receive(url, part):
                part.rename(target)
                return target
        have = part.stat().st_size
        raise GenreError(
            f"The transfer of {url} was cut off {RESUMES + 1} times ({have} bytes kept in "
            f"{part}): run the same command again to resume."
        )

    def _receive(self, url: str, part: Path) -> bool:
        """Append what the server sends to ``part``; True when the file is whole."""
        have = part.stat().st_size if part.exists() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        host = urlparse(url).netloc or url
        try:
            response = urlopen(Request(url, headers=headers), timeout=self.timeout)
        except HTTPError as exc:
            if exc.code == 416 and have:  # the part is already whole: its checksum will tell
                return True
            raise GenreError(
                f"{host} answered {exc.code} {exc.reason} for {url}: check the URL"
                f"{' and --mirror' if self.mirror else ''}, or try again later."
            ) from exc
        except (TimeoutError, URLError, OSError) as exc:
            raise _network_error(exc, host, url, self.timeout) from exc
        with response:
            resumed = have > 0 and response.status == 206
            if not resumed:
                have = 0  # a server that ignores the range sends the whole file again
            length = response.headers.get("Content-Length")
            total = have + int(length) if length is not None else None
            try:
                with (
                    part.open("ab" if resumed else "wb") as out,
                    tqdm(
                        total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
                        desc=part.name.removesuffix(".part"), miniters=1,
                    ) as bar,
                ):  # fmt: skip
                    while chunk := response.read(CHUNK):
                        self._write_chunk(out, chunk, part)
                        bar.update(len(chunk))
            except http.client.IncompleteRead:
                return False
            except (TimeoutError, ConnectionError) as exc:
                if isinstance(exc, TimeoutError):
                    raise _network_error(exc, host, url, self.timeout) from exc
                return False
        return total is None or part.stat().st_size >= total

    def _write_chunk(self, out, chunk: bytes, part: Path) -> None:  # noqa: ANN001
        try:
            out.write(chunk)
            out.flush()
        except OSError as exc:
            raise self._write_error(exc, part) from exc

    def _join(self, parts: list[Path], archive: Path) -> None:
        """The parts, one after the other, as ``archive`` (written beside it, then renamed)."""
        joining = archive.with_name(archive.name + ".joining")
        try:
            with joining.open("wb") as out:
                for part in parts:
                    with part.open("rb") as source:
                        shutil.copyfileobj(source, out, CHUNK)
        except OSError as exc:
            raise self._write_error(exc, joining) from exc
        joining.rename(archive)
        for part in parts:
            part.unlink()

    # --- checks and unpacking -----------------------------------------------------------------

    def _verify(self, remote: Remote, archive: Path) -> None:
        """The published checksum, or for a zip without one its members' CRCs; a file that fails
        is kept aside as ``NAME.bad`` and nothing is unpacked."""
        if remote.checksum is not None:
            kind, expected = remote.checksum.split(":", 1)
            got = file_digest(archive, kind)
            problem = None if got == expected else f"{kind} {got} instead of {expected}"
        elif zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as opened:
                broken = opened.testzip()
            problem = None if broken is None else f"its member {broken} fails its CRC"
        else:
            problem = None
        if problem is None:
            return
        bad = archive.with_name(archive.name + ".bad")
        archive.replace(bad)
        raise GenreError(
            f"{remote.name} does not match its published checksum ({problem}); nothing was "
            f"unpacked and the file is kept aside as {bad}: run the command again to download it "
            "afresh, or check --mirror."
        )

    def _unpack(self, remote: Remote, archive: Path) -> None:
        """Unpack into ``NAME.unpacking/``, then rename each of ``remote.places`` into the root."""
        unpacking = self.work / f"{remote.name}.unpacking"
        shutil.rmtree(unpacking, ignore_errors=True)  # what an interrupted unpack left
        self._mkdir(unpacking)
        try:
            _extract(archive, unpacking)
        except OSError as exc:
            if exc.errno in DISK_FULL:
                raise self._write_error(exc, unpacking) from exc
            raise
        for member, target in remote.places.items():
            source = unpacking / member
            if not source.exists():
                raise GenreError(
                    f"{remote.name} has no {member}: it is not the archive genre expects; check "
                    "--mirror."
                )
            self._move(source, self.root / target)
        shutil.rmtree(unpacking)

    def _move(self, source: Path, target: Path) -> None:
        if target.exists():
            raise GenreError(
                f"{target} is already there, but not from a verified download: move it away, "
                "then run the command again."
            )
        self._mkdir(target.parent)
        source.rename(target)

    def _mkdir(self, folder: Path) -> None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise GenreError(
                f"Cannot write to {folder} ({_reason(exc)}): choose a --root you can write to."
            ) from exc

    def _write_error(self, exc: OSError, path: Path) -> GenreError:
        if exc.errno in DISK_FULL:
            return GenreError(
                f"No space left to write {path} ({_reason(exc)}): free some space or choose "
                "another --root, then run the same command again to resume."
            )
        return GenreError(f"Cannot write {path} ({_reason(exc)}): check --root.")


def file_digest(path: Path, kind: str) -> str:
    digest = hashlib.new(kind)
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _extract(archive: Path, into: Path) -> None:
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as opened:
            opened.extractall(into)
    else:
        with tarfile.open(archive) as opened:
            opened.extractall(into, filter="data")


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.rename(path)


def _reason(exc: OSError) -> str:
    return (exc.strerror or type(exc).__name__).lower()


def _network_error(exc: BaseException, host: str, url: str, timeout: float) -> GenreError:
    reason = getattr(exc, "reason", exc)
    if isinstance(exc, TimeoutError) or isinstance(reason, TimeoutError):
        return GenreError(
            f"{host} did not answer within {timeout:g} s for {url}: check the network or "
            "--mirror, then run the same command again to resume."
        )
    text = reason.strerror if isinstance(reason, OSError) and reason.strerror else str(reason)
    return GenreError(
        f"Cannot reach {host} for {url} ({text.lower()}): check the network or --mirror."
    )
