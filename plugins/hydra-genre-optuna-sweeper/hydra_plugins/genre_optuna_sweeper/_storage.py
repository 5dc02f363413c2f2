"""The study's storage, shared by the sweeper and the jobs: storage URLs, opening a storage
(with heartbeats, also for journal files), the admission lock that keeps workers to exactly
`n_trials`, and the heartbeat thread."""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import optuna
from optuna.exceptions import ExperimentalWarning, UpdateFinishedTrialError
from optuna.storages import BaseStorage, InMemoryStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

from ._errors import SweeperError
from ._optuna import BaseHeartbeat, trial_id

log = logging.getLogger(__name__)

JOURNAL_PREFIX = "journal:"

_SCHEMA_ATTEMPTS = 3
_CONNECT_TIMEOUT_S = 10
# Advisory lock keys are two int4s; the first keeps genre's locks apart from anyone else's.
_ADVISORY_LOCK_SPACE = 0x67656E72  # "genr"

StaleTrialCallback = Callable[[optuna.Study, FrozenTrial], None]


def normalize_storage(spec: str | None, cwd: Path) -> str | None:
    """Return `hydra.sweeper.storage` as an absolute URL that a job in any directory can open.

    None stays None: a study in memory, in the sweeper's process. `journal:PATH` or a path
    ending in `.log` is an Optuna journal file; anything else is a SQLAlchemy URL (sqlite,
    postgresql, mysql...), relative paths taken from `cwd`.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if spec is None:
        return None
    if spec.startswith(JOURNAL_PREFIX) or (spec.endswith(".log") and "://" not in spec):
        path = Path(spec.removeprefix(JOURNAL_PREFIX)).expanduser()
        return JOURNAL_PREFIX + os.path.normpath(cwd / path)
    try:
        url = make_url(spec)
    except ArgumentError as e:
        raise SweeperError(
            f"Optuna storage {spec!r} is neither a database URL nor a journal file ({e})."
        ) from e
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:"):
            raise SweeperError(
                "An in-memory SQLite database cannot be shared with the jobs; give "
                "hydra.sweeper.storage a file, e.g. sqlite:///optuna.db, or null for a study "
                "in the sweeper's memory."
            )
        url = url.set(database=os.path.normpath(cwd / Path(url.database).expanduser()))
    return url.render_as_string(hide_password=False)


def open_storage(
    url: str | None,
    *,
    heartbeat_interval: int | None = None,
    grace_period: int | None = None,
    stale_trial_callback: StaleTrialCallback | None = None,
) -> BaseStorage:
    """Open a storage from a `normalize_storage` URL; None is a new study in memory, which has
    no heartbeats.

    With `heartbeat_interval`, `optuna.storages.fail_stale_trials` fails running trials whose
    heartbeat is older than `grace_period` (default: two intervals) and calls
    `stale_trial_callback` on each.
    """
    if url is None:
        return InMemoryStorage()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        if url.startswith(JOURNAL_PREFIX):
            return _HeartbeatJournalStorage(
                url.removeprefix(JOURNAL_PREFIX),
                heartbeat_interval,
                grace_period,
                stale_trial_callback,
            )
        return _rdb_storage(
            url,
            heartbeat_interval=heartbeat_interval,
            grace_period=grace_period,
            heartbeat_stale_trial_callback=stale_trial_callback,
        )


def _rdb_storage(url: str, **kwargs: Any) -> RDBStorage:
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    engine_kwargs = {}
    if url.startswith("sqlite"):
        # Jobs and heartbeats write from several processes; wait for SQLite's lock, not 5 s.
        engine_kwargs = {"connect_args": {"timeout": 60}}
    elif url.startswith("postgresql"):
        # A database host that drops packets should fail the sweep in seconds, not hang it.
        engine_kwargs = {"connect_args": {"connect_timeout": _CONNECT_TIMEOUT_S}}
    for _ in range(_SCHEMA_ATTEMPTS - 1):
        try:
            return RDBStorage(url, engine_kwargs=engine_kwargs, **kwargs)
        except (IntegrityError, ProgrammingError):
            # Workers that start together on an empty PostgreSQL database race to create
            # Optuna's tables, and the loser's CREATE fails; on its next try they exist.
            time.sleep(1.0)
    return RDBStorage(url, engine_kwargs=engine_kwargs, **kwargs)


@contextmanager
def admission(storage: BaseStorage, study_id: int) -> Iterator[None]:
    """Hold the study's admission lock while the block runs.

    Workers count a study's free places and ask their trials inside it, so that together they
    never ask more than `n_trials` (Optuna's own MaxTrialsCallback overshoots by up to one trial
    per worker). The lock is the database's or the file system's, so it dies with its holder: a
    PostgreSQL advisory lock for the length of a transaction, `flock` next to a SQLite file or a
    journal file. A study in memory has one worker and needs none. Other databases go without and
    may overshoot.
    """
    if isinstance(storage, InMemoryStorage):
        yield
        return
    if isinstance(storage, RDBStorage) and storage.engine.dialect.name == "postgresql":
        from sqlalchemy import text

        with storage.engine.begin() as connection:
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:space, :study)"),
                {"space": _ADVISORY_LOCK_SPACE, "study": study_id},
            )
            yield  # committing the transaction releases the lock
        return
    if isinstance(storage, RDBStorage) and storage.engine.dialect.name == "sqlite":
        path: str | None = storage.engine.url.database
    elif isinstance(storage, _HeartbeatJournalStorage):
        path = storage.path
    else:
        log.warning(
            "No admission lock for %s storage: concurrent workers may run a few more trials "
            "than n_trials",
            type(storage).__name__,
        )
        yield
        return
    with open(f"{path}.genre-lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or its process dies
        yield


def _beat_key(trial_id: int) -> str:
    # Keyed by trial id: RetryHeartbeatStaleTrialCallback copies system attrs to the retried
    # trial, and the copy of a dead trial's last beat must not make the retry look dead too.
    return f"genre:heartbeat:{trial_id}"


class _HeartbeatJournalStorage(JournalStorage, BaseHeartbeat):
    """A journal file storage with Optuna's heartbeat interface, which Optuna gives only to
    RDBStorage: a beat is a trial system attr holding the beating machine's wall-clock time."""

    def __init__(
        self,
        path: str,
        heartbeat_interval: int | None,
        grace_period: int | None,
        stale_trial_callback: StaleTrialCallback | None,
    ) -> None:
        super().__init__(JournalFileBackend(path))
        self.path = path
        self._heartbeat_interval = heartbeat_interval
        self._grace_period = grace_period
        self._stale_trial_callback = stale_trial_callback

    def record_heartbeat(self, trial_id: int) -> None:
        self.set_trial_system_attr(trial_id, _beat_key(trial_id), time.time())

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        assert self._heartbeat_interval is not None
        deadline = time.time() - (self._grace_period or 2 * self._heartbeat_interval)
        running = self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,))
        # A trial that never beat is not stale, as in RDBStorage.
        return [
            trial_id(t)
            for t in running
            if t.system_attrs.get(_beat_key(trial_id(t)), deadline) < deadline
        ]

    def get_heartbeat_interval(self) -> int | None:
        return self._heartbeat_interval

    def get_heartbeat_stale_trial_callback(self) -> StaleTrialCallback | None:
        return self._stale_trial_callback


class Heartbeat:
    """Records a heartbeat for some trials every `interval` seconds while the block runs.

    The first beat happens on entry: Optuna never judges a trial without any beat stale.
    """

    def __init__(self, storage: BaseStorage, trial_ids: Iterable[int], interval: int | None):
        self._storage = storage
        self._trial_ids = list(trial_ids)
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Heartbeat:
        if self._interval and self._trial_ids and isinstance(self._storage, BaseHeartbeat):
            self._beat()
            self._thread = threading.Thread(target=self._run, name="optuna-heartbeat", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        assert self._interval is not None
        while not self._stop.wait(self._interval):
            self._beat()

    def _beat(self) -> None:
        assert isinstance(self._storage, BaseHeartbeat)
        for beating in self._trial_ids:
            try:
                self._storage.record_heartbeat(beating)
            except UpdateFinishedTrialError:
                pass  # the sweeper told the result already
            except Exception as e:  # a missed beat is harmless; the next one may get through
                log.warning("Heartbeat of Optuna trial id %d failed: %s", beating, e)
