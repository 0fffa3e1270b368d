"""Scalar metrics: one row per (run, name, step), written in batches, read back as plot-ready series.

A step written twice (a resumed attempt replaying it) overwrites the first value: the primary key makes a
duplicate (run, name, step) impossible. Names are found with a loose index scan (one seek per name), so
listing 50 curves of a 10k-step run does not read its 500k rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, text
from sqlalchemy.dialects.sqlite import insert

from storage.db import now, read_connection, write_connection
from storage.models import Metric

_TABLE = Metric.__table__


@dataclass(frozen=True)
class MetricSeries:
    name: str
    steps: tuple[int, ...]
    values: tuple[float | None, ...]  # None where the job logged NaN


def metric_rows(run_id: int, step: int, values: Mapping[str, float], logged_at: float | None = None) -> list[dict]:
    """Rows for upsert_rows; NaN becomes NULL because SQLite would silently store NaN as NULL anyway."""
    t = logged_at if logged_at is not None else now()
    rows = []
    for name, value in values.items():
        number = float(value)
        value_or_null = None if math.isnan(number) else number
        rows.append({"run_id": run_id, "name": str(name), "step": int(step), "value": value_or_null, "logged_at": t})
    return rows


def upsert_rows(conn: Connection, rows: Sequence[Mapping]) -> None:
    """Insert or overwrite metric rows inside the caller's transaction (one executemany)."""
    if not rows:
        return
    stmt = insert(_TABLE)
    stmt = stmt.on_conflict_do_update(
        index_elements=["run_id", "name", "step"],
        set_={"value": stmt.excluded.value, "logged_at": stmt.excluded.logged_at},
    )
    conn.execute(stmt, list(rows))


def log_metrics(run_id: int, step: int, values: Mapping[str, float]) -> None:
    """Write one step's metrics now (jobs use the batching JobContext instead)."""
    with write_connection() as conn:
        upsert_rows(conn, metric_rows(run_id, step, values))


_NAMES_SQL = text(
    """
    WITH RECURSIVE names(name) AS (
        SELECT (SELECT min(name) FROM metrics WHERE run_id = :run_id)
        UNION ALL
        SELECT (SELECT min(name) FROM metrics WHERE run_id = :run_id AND name > names.name)
        FROM names WHERE names.name IS NOT NULL
    )
    SELECT name FROM names WHERE name IS NOT NULL
    """
)


def _names(conn: Connection, run_id: int) -> list[str]:
    return [row[0] for row in conn.execute(_NAMES_SQL, {"run_id": run_id})]


def metric_names(run_id: int) -> list[str]:
    """Sorted names of the run's metrics."""
    with read_connection() as conn:
        return _names(conn, run_id)


_SERIES_SQL = "SELECT step, value FROM metrics WHERE run_id = ? AND name = ? AND step > ? ORDER BY step"


def metric_series(
    run_id: int,
    names: Iterable[str] | None = None,
    since_step: int | None = None,
    max_points: int | None = None,
) -> dict[str, MetricSeries]:
    """name → series sorted by step. since_step: only steps after it (live refresh).
    max_points: keep about that many points per curve (every k-th step, always the newest)."""
    after = -(2**62) if since_step is None else int(since_step)
    series = {}
    with read_connection() as conn:
        wanted = _names(conn, run_id) if names is None else list(dict.fromkeys(names))
        for name in wanted:
            # One range scan of the (run, name, step) key per curve; the driver's tuples skip ORM row objects.
            rows = conn.exec_driver_sql(_SERIES_SQL, (run_id, name, after)).fetchall()
            if not rows:
                continue
            steps, values = zip(*rows, strict=True)
            if max_points and len(steps) > max_points:
                keep = list(range(0, len(steps), math.ceil(len(steps) / max_points)))
                if keep[-1] != len(steps) - 1:
                    keep.append(len(steps) - 1)
                steps, values = tuple(steps[i] for i in keep), tuple(values[i] for i in keep)
            series[name] = MetricSeries(name, steps, values)
    return series


def latest_metrics(run_id: int) -> dict[str, tuple[int, float | None]]:
    """name → (newest step, its value): one seek per name."""
    sql = text("SELECT step, value FROM metrics WHERE run_id = :run_id AND name = :name ORDER BY step DESC LIMIT 1")
    with read_connection() as conn:
        out = {}
        for name in _names(conn, run_id):
            row = conn.execute(sql, {"run_id": run_id, "name": name}).first()
            if row is not None:
                out[name] = (row[0], row[1])
        return out


def last_metric_step(run_id: int) -> int | None:
    """The newest step with any stored metric in the run (None when there are none)."""
    latest = latest_metrics(run_id)
    return max((step for step, _ in latest.values()), default=None)


def count_metrics(run_id: int) -> int:
    with read_connection() as conn:
        return int(conn.execute(text("SELECT count(*) FROM metrics WHERE run_id = :r"), {"r": run_id}).scalar_one())
