"""Alembic environment: migrate the connection storage.db.init_db passes, or $LAB_HOME's database."""

from __future__ import annotations

from alembic import context

from storage.models import Base

config = context.config


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    # Plain `alembic -c storage/alembic.ini ...` (e.g. `revision --autogenerate`) uses $LAB_HOME's database.
    from storage.db import unmigrated_write_engine  # not get_write_engine: that would migrate first, inside us

    with unmigrated_write_engine().begin() as conn:
        _run(conn)


def _run(connection) -> None:  # noqa: ANN001
    # render_as_batch: SQLite can only ALTER by copying a table, which batch mode writes for us.
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")
run_migrations()
