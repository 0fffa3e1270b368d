"""Scalar metrics: one row per (run, name, step), written in batches, read back as plot-ready series.

A step written twice (a resumed attempt replaying it) overwrites the first value: the primary key makes a
duplicate (run, name, step) impossible. Names are found with a loose index scan (one seek per name), and a
thinned curve with one key seek per kept point, so neither reads a long run's rows.
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
_BOUNDS_SQL = """
    SELECT (SELECT step FROM metrics WHERE run_id = ?1 AND name = ?2 AND step > ?3 ORDER BY step LIMIT 1),
           (SELECT step FROM metrics WHERE run_id = ?1 AND name = ?2 ORDER BY step DESC LIMIT 1)
"""
# max_points evenly spaced target steps from the first to the last; each keeps the first stored step at or
# after it (one seek of the (run, name, step) key), so a thinned curve costs O(max_points) whatever its length.
_THINNED_SQL = """
    WITH RECURSIVE targets(i, t) AS (
        SELECT 0, ?3
        UNION ALL
        SELECT i + 1, ?3 + ((i + 1) * (?4 - ?3)) / (?5 - 1) FROM targets WHERE i + 1 < ?5
    )
    SELECT DISTINCT m.step, m.value
    FROM targets JOIN metrics AS m ON m.run_id = ?1 AND m.name = ?2 AND m.step = (
        SELECT step FROM metrics WHERE run_id = ?1 AND name = ?2 AND step >= targets.t ORDER BY step LIMIT 1
    )
    ORDER BY m.step
"""


def metric_series(
    run_id: int,
    names: Iterable[str] | None = None,
    since_step: int | None = None,
    max_points: int | None = None,
) -> dict[str, MetricSeries]:
    """name → series sorted by step. since_step: only steps after it (live refresh).
    max_points: at most that many points per curve, evenly spread over its steps, always the first and last."""
    after = -(2**62) if since_step is None else int(since_step)
    series = {}
    with read_connection() as conn:
        wanted = _names(conn, run_id) if names is None else list(dict.fromkeys(names))
        for name in wanted:
            rows = _curve(conn, run_id, name, after, max_points)
            if rows:
                steps, values = zip(*rows, strict=True)
                series[name] = MetricSeries(name, steps, values)
    return series


def _curve(conn: Connection, run_id: int, name: str, after: int, max_points: int | None) -> list[tuple]:
    # The driver's tuples skip ORM row objects.
    if max_points:
        first, last = conn.exec_driver_sql(_BOUNDS_SQL, (run_id, name, after)).one()
        if first is None:
            return []
        if last - first >= max_points:  # steps are unique integers: a shorter span has <= max_points rows
            if max_points == 1:
                return conn.exec_driver_sql(_THINNED_SQL, (run_id, name, last, last, 2)).fetchall()
            return conn.exec_driver_sql(_THINNED_SQL, (run_id, name, first, last, max_points)).fetchall()
    return conn.exec_driver_sql(_SERIES_SQL, (run_id, name, after)).fetchall()


@dataclass(frozen=True)
class TimedSeries:
    name: str
    steps: tuple[int, ...]
    values: tuple[float | None, ...]
    logged_at: tuple[float, ...]  # Unix seconds each point was logged (x = wall time)


_TIMED_SERIES_SQL = _SERIES_SQL.replace("SELECT step, value", "SELECT step, value, logged_at")
_TIMED_THINNED_SQL = _THINNED_SQL.replace(
    "SELECT DISTINCT m.step, m.value", "SELECT DISTINCT m.step, m.value, m.logged_at"
)


def timed_series(run_id: int, name: str, max_points: int = 1000) -> TimedSeries | None:
    """One curve with the time each point was logged, thinned like metric_series (O(max_points) reads)."""
    with read_connection() as conn:
        first, last = conn.exec_driver_sql(_BOUNDS_SQL, (run_id, name, -(2**62))).one()
        if first is None:
            return None
        if last - first >= max_points and max_points > 1:
            rows = conn.exec_driver_sql(_TIMED_THINNED_SQL, (run_id, name, first, last, max_points)).fetchall()
        else:
            rows = conn.exec_driver_sql(_TIMED_SERIES_SQL, (run_id, name, -(2**62))).fetchall()
    if not rows:
        return None
    steps, values, times = zip(*rows, strict=True)
    return TimedSeries(name, steps, values, times)


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


def latest_value(run_id: int, name: str) -> tuple[int, float | None] | None:
    """(newest step, its value) of one curve, or None: one key seek (the Runs table's headline)."""
    sql = "SELECT step, value FROM metrics WHERE run_id = ? AND name = ? ORDER BY step DESC LIMIT 1"
    with read_connection() as conn:
        row = conn.exec_driver_sql(sql, (run_id, name)).first()
        return (row[0], row[1]) if row is not None else None


def last_metric_step(run_id: int) -> int | None:
    """The newest step with any stored metric in the run (None when there are none)."""
    latest = latest_metrics(run_id)
    return max((step for step, _ in latest.values()), default=None)


def count_metrics(run_id: int) -> int:
    with read_connection() as conn:
        return int(conn.execute(text("SELECT count(*) FROM metrics WHERE run_id = :r"), {"r": run_id}).scalar_one())
