"""Dataset preview of a dataset run: its rows (level, constraints, prompt), the constraint-type mix and the
row count per level, read from the stored JSONL file — so a dataset can be checked before anyone trains on it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from lab.errors import LabError
from storage.datasets import DatasetRecord, list_datasets

ROW_HEADERS = ["#", "level", "source", "constraints", "prompt"]
MIX_HEADERS = ["constraint type", "kind", "rows", "share"]
LEVEL_HEADERS = ["level", "rows"]
MAX_ROWS = 300  # shown in the table; the counts cover every row


def run_dataset(run_id: int) -> DatasetRecord | None:
    """The newest dataset version the run registered."""
    return next((d for d in list_datasets(limit=10_000) if d.run_id == int(run_id)), None)


def _kind(type_id: str) -> str:
    from lab.constraints.registry import get_type

    try:
        return get_type(type_id).kind
    except LabError:
        return "?"


def preview(run_id: int) -> dict[str, Any]:
    """{summary, rows, mix, levels, figure} for the Runs tab; LabError when the run stored no dataset file."""
    from training.refs import read_rows

    dataset = run_dataset(run_id)
    if dataset is None:
        raise LabError(f"run {run_id} has no stored dataset yet (it appears when the dataset job finishes)", "run")
    path = Path(dataset.path)
    if not path.is_file():
        raise LabError(f"the dataset file of run {run_id} is missing: {path}", field="run")
    rows = read_rows(path)
    mix: Counter[str] = Counter()
    levels: Counter[str] = Counter()
    table = []
    for i, row in enumerate(rows):
        ids = list(row.get("instruction_id_list") or [])
        mix.update(ids)
        level = "math" if row.get("source") == "math" else str(row.get("level", ""))
        levels[level] += 1
        if i < MAX_ROWS:
            table.append([i + 1, level, row.get("source") or "", ", ".join(ids), str(row.get("prompt", ""))])
    total = sum(mix.values()) or 1
    mix_rows = [[t, _kind(t), n, f"{100 * n / total:.1f} %"] for t, n in mix.most_common()]
    level_rows = [[k, n] for k, n in sorted(levels.items(), key=lambda kv: (not kv[0].isdigit(), kv[0].zfill(4)))]
    hard = sum(n for t, n in mix.items() if _kind(t) == "hard")
    summary = (
        f"{dataset.label} (dataset {dataset.id}): {len(rows)} rows, {len(mix)} constraint types "
        f"({hard} hard / {sum(mix.values()) - hard} soft uses); showing the first {min(len(rows), MAX_ROWS)} rows."
    )
    return {"summary": summary, "rows": table, "mix": mix_rows, "levels": level_rows, "figure": mix_figure(mix)}


def mix_figure(mix: Counter[str]) -> Any:
    import plotly.graph_objects as go

    top = mix.most_common(25)[::-1]
    colours = ["#1f77b4" if _kind(t) == "hard" else "#ff7f0e" for t, _ in top]
    fig = go.Figure(go.Bar(x=[n for _, n in top], y=[t for t, _ in top], orientation="h", marker_color=colours))
    fig.update_layout(
        title="Constraint-type mix (blue hard, orange soft; top 25)",
        template="plotly_white",
        height=max(260, 18 * len(top) + 80),
        margin={"l": 10, "r": 10, "t": 40, "b": 30},
        xaxis_title="rows using it",
        yaxis={"automargin": True},
    )
    return fig
