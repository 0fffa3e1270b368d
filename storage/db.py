"""One SQLAlchemy engine per process for $LAB_HOME's SQLite file, its sessions, and start-up migrations.

Every connection gets WAL, a busy timeout and foreign keys. Writes start with BEGIN IMMEDIATE so a writer
waits for the lock up front instead of failing later with "database is locked" when it upgrades a read.
"""

from __future__ import annotations

import dataclasses
import fcntl
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from lab.errors import LabError
from lab.paths import database_path

BUSY_TIMEOUT_MS = 30_000
T = TypeVar("T")
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class _EngineSlot:
    """The engine of this process for one database file; rebuilt after fork or when $LAB_HOME changes."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pid: int | None = None
        self.path: str | None = None
        self.engine: Engine | None = None
        self.write_engine: Engine | None = None
        self.migrated: set[str] = set()


_slot = _EngineSlot()


def _on_connect(dbapi_connection, _record) -> None:  # noqa: ANN001 (DB-API objects are untyped)
    # We emit BEGIN ourselves (see _on_begin); sqlite3's own transaction handling would defer it.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        _set_wal(cursor)
        # NORMAL is durable across application crashes in WAL mode and much faster than FULL.
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


def _set_wal(cursor) -> None:  # noqa: ANN001
    # Switching a fresh file to WAL needs a brief exclusive lock; once the file is in WAL this is a no-op.
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except Exception as error:  # sqlite3.OperationalError, but keep the driver out of the signature
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _on_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def _build_engine(path: str) -> Engine:
    engine = create_engine(
        f"sqlite:///{path}",
        connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        # Connections are cheap for SQLite; a generous pool keeps many UI reader threads from queueing.
        pool_size=8,
        max_overflow=32,
        pool_timeout=60,
    )
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "begin", _on_begin)
    return engine


def _current() -> _EngineSlot:
    path = str(database_path())
    pid = os.getpid()
    slot = _slot
    with slot.lock:
        if slot.engine is not None and slot.pid == pid and slot.path == path:
            return slot
        if slot.engine is not None:
            # After fork the parent's pooled connections must not be closed (or used) by the child.
            slot.engine.dispose(close=slot.pid == pid)
        if slot.pid != pid:
            slot.migrated = set()
        slot.engine = _build_engine(path)
        slot.write_engine = slot.engine.execution_options(sqlite_begin="IMMEDIATE")
        slot.pid, slot.path = pid, path
        return slot


def _ready() -> _EngineSlot:
    """The current slot, its database created or upgraded first: storage initialises itself on first use."""
    slot = _current()
    if slot.path not in slot.migrated:
        init_db()
    return slot


def unmigrated_write_engine() -> Engine:
    """The write engine without the first-use migration: for Alembic's own command line (migrations/env.py)."""
    engine = _current().write_engine
    assert engine is not None
    return engine


def get_engine() -> Engine:
    """The engine for reads (deferred transactions) of the current $LAB_HOME database."""
    engine = _ready().engine
    assert engine is not None
    return engine


def get_write_engine() -> Engine:
    """The same pool, but every transaction starts with BEGIN IMMEDIATE."""
    engine = _ready().write_engine
    assert engine is not None
    return engine


def dispose_engine() -> None:
    """Close this process's pooled connections (tests and shutdown)."""
    with _slot.lock:
        if _slot.engine is not None and _slot.pid == os.getpid():
            _slot.engine.dispose()
        _slot.engine = _slot.write_engine = None
        _slot.pid = _slot.path = None
        _slot.migrated = set()


@contextmanager
def write_session() -> Iterator[Session]:
    """An ORM session in one BEGIN IMMEDIATE transaction, committed on success, rolled back on error."""
    with Session(get_write_engine(), expire_on_commit=False) as session, session.begin():
        yield session


@contextmanager
def read_session() -> Iterator[Session]:
    """An ORM session for reads; WAL readers never wait for writers."""
    with Session(get_engine(), expire_on_commit=False) as session, session.begin():
        yield session


@contextmanager
def write_connection() -> Iterator[Connection]:
    """A Core connection in one BEGIN IMMEDIATE transaction (bulk inserts)."""
    with get_write_engine().begin() as conn:
        yield conn


@contextmanager
def read_connection() -> Iterator[Connection]:
    with get_engine().begin() as conn:
        yield conn


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def alembic_config():  # noqa: ANN201 (alembic is imported lazily: it is only needed at start-up)
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def init_db() -> Path:
    """Create or upgrade the database to the newest schema; idempotent and safe when processes race.

    Every engine accessor calls this on first use of a database, so callers need not; the app calls it at start
    so that a broken database is reported before the first screen.
    """
    with _INIT_LOCK:  # threads of one process (the file lock below serialises processes)
        return _init_db()


_INIT_LOCK = threading.RLock()


def _init_db() -> Path:
    slot = _current()
    path = Path(slot.path or database_path())
    if str(path) in slot.migrated:
        return path
    # Alembic logs its plugin set-up at INFO; keep that out of app and worker logs unless asked for.
    alembic_log = logging.getLogger("alembic")
    if alembic_log.level == logging.NOTSET:
        alembic_log.setLevel(logging.WARNING)
    from alembic import command
    from alembic.util.exc import CommandError

    try:
        # A file lock serialises first-time creation (journal-mode switch + DDL) between processes.
        with _file_lock(path.with_name(path.name + ".lock")):
            config = alembic_config()
            assert slot.write_engine is not None
            with slot.write_engine.begin() as conn:
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
    except (DBAPIError, OSError) as error:
        raise unusable_database(error, path) or UnusableDatabaseError(
            f"could not open or migrate the database {path} ({_reason(error)}); check that {path.parent} is "
            "writable and has free space"
        ) from error
    except CommandError as error:  # e.g. a schema revision this code does not know: a newer IF-Lab wrote it
        raise UnusableDatabaseError(
            f"the database {path} has a schema this IF-Lab cannot migrate ({error}); "
            "use the IF-Lab version that wrote it, or move the file aside to start afresh"
        ) from error
    slot.migrated.add(str(path))
    return path


class UnusableDatabaseError(LabError):
    """The database file cannot be used (damaged, not SQLite, unreadable): one line saying what to do."""


def _reason(error: BaseException) -> str:
    # SQLAlchemy's own text repeats the SQL and adds a "Background on this error" line; the driver's is one line.
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__


_DAMAGED = ("not a database", "malformed", "file is encrypted", "disk image")


def unusable_database(error: BaseException, path: Path | None = None) -> UnusableDatabaseError | None:
    """The user-facing error for a SQLite error that means the database file can't be used, else None."""
    path = path or database_path()
    reason = _reason(error)
    if isinstance(error, DBAPIError) and any(word in reason for word in _DAMAGED):
        return UnusableDatabaseError(
            f"the database {path} is damaged or not an SQLite file ({reason}); move it aside with its -wal and "
            f"-shm files (e.g. mv {path} {path}.broken) or restore it from a backup, then start again (a missing "
            "database is created empty)"
        )
    if isinstance(error, DBAPIError) and "unable to open" in reason:
        return UnusableDatabaseError(
            f"cannot open the database {path} ({reason}); check that {path.parent} exists and is writable "
            "(or set LAB_HOME to a folder that is)"
        )
    return None


def to_record(record_cls: type[T], obj: object) -> T:
    """Copy an ORM object's columns into a frozen dataclass, so callers never hold live ORM state."""
    return record_cls(**{f.name: getattr(obj, f.name) for f in dataclasses.fields(record_cls)})


def now() -> float:
    return time.time()
