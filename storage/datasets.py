"""Datasets: versioned JSONL files under $LAB_HOME (curriculum rows, RM pairs, eval suites)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from lab.errors import LabError
from lab.paths import check_slug
from storage.db import now, read_session, to_record, write_session
from storage.models import Dataset


@dataclass(frozen=True)
class DatasetRecord:
    id: int
    name: str
    version: int
    path: str
    num_rows: int | None
    meta: dict[str, Any]
    run_id: int | None
    created_at: float

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"


def register_dataset(
    name: str,
    path: Path | str,
    meta: Mapping[str, Any] | None = None,
    run_id: int | None = None,
    num_rows: int | None = None,
) -> int:
    """Add the next version of `name`; the same file registered again by the same run keeps its id
    (a resumed job that replays its last step must not mint a new version)."""
    name = check_slug((name or "").strip(), "name")  # a dataset job joins it into a file name
    with write_session() as session:
        if run_id is not None:
            existing = session.scalar(
                select(Dataset.id).where(Dataset.name == name, Dataset.path == str(path), Dataset.run_id == run_id)
            )
            if existing is not None:
                return int(existing)
        version = 1 + (session.scalar(select(func.max(Dataset.version)).where(Dataset.name == name)) or 0)
        dataset = Dataset(
            name=name,
            version=version,
            path=str(path),
            num_rows=num_rows,
            meta=dict(meta or {}),
            run_id=run_id,
            created_at=now(),
        )
        session.add(dataset)
        session.flush()
        return dataset.id


def get_dataset(dataset_id: int) -> DatasetRecord:
    with read_session() as session:
        dataset = session.get(Dataset, dataset_id)
        if dataset is None:
            raise LabError(f"no dataset with id {dataset_id}", field="dataset")
        return to_record(DatasetRecord, dataset)


def list_datasets(name: str | None = None, limit: int = 500) -> list[DatasetRecord]:
    """Newest first."""
    query = select(Dataset).order_by(Dataset.id.desc()).limit(limit)
    if name:
        query = query.where(Dataset.name == name)
    with read_session() as session:
        return [to_record(DatasetRecord, d) for d in session.scalars(query)]


def latest_dataset(name: str) -> DatasetRecord | None:
    query = select(Dataset).where(Dataset.name == name).order_by(Dataset.version.desc()).limit(1)
    with read_session() as session:
        dataset = session.scalar(query)
        return to_record(DatasetRecord, dataset) if dataset else None
