"""Experiments in the app: launching one from the Train tab (the form's preset and changes as the base recipe, the
ticked ablations as variants) and an experiment run's panel in the Runs tab (the ablation table and the
IF-vs-reasoning trade-off figure, rebuilt from storage on every open)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evals.ablation import AblationTable, cells, experiment_table, headers, metric_legend, tradeoff_points
from lab.errors import LabError
from training.experiment_plan import REFERENCE, VARIANTS
from training.rm_quality import CHANCE

VARIANT_CHOICES = [(f"{v.name}: {v.description}", v.name) for v in VARIANTS.values()]
DEFAULT_VARIANTS = [REFERENCE, "hard-only"]


def variants_from(ticked: Sequence[str] | None, custom: str | None) -> list[str]:
    """Ticked built-in variants, then one custom variant per non-empty line ('NAME: STAGE.FIELD=VALUE, ...')."""
    own = [line.strip() for line in (custom or "").splitlines() if line.strip()]
    return [*[str(t) for t in ticked or []], *own]


def submit(preset: str, variants: list[str], overrides: list[str], name: str | None) -> Any:
    """Queue the experiment job (checked first: a bad variant is refused naming it, and nothing is stored)."""
    from training.jobs import submit_job

    if not variants:
        raise LabError(f"tick at least one variant, e.g. {', '.join(DEFAULT_VARIANTS)}", field="variants")
    values = {"preset": preset, "variants": variants, "overrides": overrides}
    return submit_job("experiment", values, name=name or f"experiment: {preset}")


def cli_command(preset: str, variants: list[str], overrides: list[str]) -> str:
    import json
    import shlex

    parts = ["python", "-m", "training", "submit", "experiment", "--set", f"preset={preset}"]
    parts += ["--set", f"variants={json.dumps(variants)}"]
    if overrides:
        parts += ["--set", f"overrides={json.dumps(overrides)}"]
    return shlex.join(parts)


def summary(table: AblationTable) -> str:
    if not table.rows:
        return "No evaluations yet: the table fills in as the base model and each variant are evaluated."
    text = (
        f"{len(table.rows) - 1 if table.rows[0].is_base else len(table.rows)} variant(s) evaluated on "
        f"{', '.join(table.suites)}; values in %, [95 % bootstrap interval]; Δ in points, paired on the same prompts "
        f"(vs the base model and vs '{table.reference}'). {metric_legend(table)}."
    )
    if table.missing:
        text += f" Not evaluated yet: {', '.join(table.missing)}."
    noisy = [
        r.variant for r in table.rows if r.rm.get("held_out_auc_low", 1.0) <= CHANCE < r.rm.get("held_out_auc_high", 0)
    ]
    if noisy:
        text += (
            f" The reward model of {', '.join(noisy)} is noise (its held-out AUC interval includes 0.5): its soft "
            "reward adds noise; compare with hard-only."
        )
    return text


def view(run_id: int) -> dict[str, Any]:
    """{summary, headers, rows, figure or None} of an experiment run."""
    from ui.figures import tradeoff_figure

    table = experiment_table(int(run_id))
    points = tradeoff_points(table)
    figure = tradeoff_figure(points) if points else None
    return {"summary": summary(table), "headers": headers(table), "rows": cells(table), "figure": figure}
