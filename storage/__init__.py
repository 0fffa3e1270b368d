"""IF-Lab's storage: SQLite via SQLAlchemy 2.0, the only package that knows SQL.

The database creates or upgrades itself (Alembic migrations) on first use; `init_db()` does it up front. Use the
per-concern modules:
storage.runs, storage.jobs, storage.metrics, storage.samples, storage.checkpoints, storage.datasets,
storage.evaluations, storage.votes.
"""

from storage.db import init_db, read_session, write_session

__all__ = ["init_db", "read_session", "write_session"]
