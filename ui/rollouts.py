"""Rollout inspector of a GRPO run: at a stored step, each prompt's group of completions side by side with
their per-constraint results, rewards and group advantages, the group's reward spread, and the step's reward
histogram. Filters: zero-variance groups (every advantage 0: they teach nothing), worst / best completions.

Everything model-written goes into Dataframe cells (text), never into HTML or Markdown.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from storage.samples import SampleRecord, list_samples, sample_steps

FILTERS = ("all groups", "zero-variance groups", "groups that differ", "worst completions", "best completions")
GROUP_HEADERS = ["group", "level", "prompt", "rewards", "mean", "spread (std)", "teaches"]
ZERO_SPREAD = 1e-6
MAX_STEP_SAMPLES = 4096
WORST_BEST = 8  # completions shown side by side by the worst / best filters


@dataclass(frozen=True)
class Group:
    number: int
    prompt: str
    level: Any
    members: list[SampleRecord]

    @property
    def rewards(self) -> list[float]:
        return [m.reward or 0.0 for m in self.members]

    @property
    def std(self) -> float:
        stored = self.members[0].meta.get("group_std") if self.members else None
        if stored is not None:
            return float(stored)
        r = self.rewards
        mean = sum(r) / len(r)
        return (sum((x - mean) ** 2 for x in r) / max(1, len(r) - 1)) ** 0.5

    @property
    def zero_variance(self) -> bool:
        return self.std <= ZERO_SPREAD


def steps_with_groups(run_id: int) -> list[int]:
    return sample_steps(int(run_id))


def step_groups(run_id: int, step: int) -> list[Group]:
    """The stored completions of a step, by prompt group (older runs without group numbers: by prompt text)."""
    samples = list_samples(int(run_id), step=int(step), limit=MAX_STEP_SAMPLES)
    by_group: dict[Any, list[SampleRecord]] = defaultdict(list)
    for s in samples:
        key = s.meta.get("group") if s.meta.get("group") is not None else f"prompt:{s.prompt}"
        by_group[key].append(s)
    groups = []
    for number, members in enumerate(by_group.values()):
        members.sort(key=lambda m: (m.meta.get("member", m.idx), m.idx))
        groups.append(Group(number, members[0].prompt, members[0].meta.get("level", ""), members))
    return groups


def has_advantages(groups: list[Group]) -> bool:
    return any("advantage" in m.meta for g in groups for m in g.members)


def group_rows(groups: list[Group], which: str) -> list[list[Any]]:
    rows = []
    for g in filter_groups(groups, which):
        mean = sum(g.rewards) / len(g.rewards)
        teaches = "nothing (all advantages 0)" if g.zero_variance else "yes"
        rewards = " ".join(f"{r:.2f}" for r in g.rewards)
        rows.append([g.number, g.level, g.prompt, rewards, f"{mean:.3f}", f"{g.std:.3f}", teaches])
    return rows


def filter_groups(groups: list[Group], which: str) -> list[Group]:
    if which == "zero-variance groups":
        return [g for g in groups if g.zero_variance]
    if which == "groups that differ":
        return [g for g in groups if not g.zero_variance]
    return list(groups)


def _constraint_cells(sample: SampleRecord) -> dict[str, str]:
    out = {}
    breakdown = sample.breakdown or {}
    if not breakdown.get("format_ok", True):
        out["format"] = "unclosed <think>: reward 0"
    for r in breakdown.get("results") or []:
        key = str(r.get("id"))
        if r.get("score") is None:
            out[key] = "not scored"
        elif r.get("kind") == "soft":
            out[key] = f"{float(r['score']):.2f}"
        else:
            out[key] = "✓ pass" if r.get("passed") else "✗ fail"
    if breakdown.get("math"):
        out["math"] = "✓ correct" if breakdown["math"].get("correct") else "✗ wrong"
    return out


def side_by_side(members: list[SampleRecord], titles: list[str]) -> tuple[list[str], list[list[Any]]]:
    """(headers, rows): one column per completion; rows = reward, advantage, each constraint's verdict, text."""
    headers = ["", *titles]
    cells = [_constraint_cells(m) for m in members]
    constraints = list(dict.fromkeys(k for c in cells for k in c))
    rows: list[list[Any]] = [["reward", *[f"{m.reward:.3f}" if m.reward is not None else "—" for m in members]]]
    rows.append(["advantage", *[_advantage(m) for m in members]])
    rows += [[name, *[c.get(name, "") for c in cells]] for name in constraints]
    rows.append(["response", *[m.response for m in members]])
    return headers, rows


def _advantage(sample: SampleRecord) -> str:
    value = sample.meta.get("advantage")
    return "—" if value is None else f"{float(value):+.3f}"


def group_view(groups: list[Group], which: str, picked: int | None) -> tuple[str, list[str], list[list[Any]]]:
    """(caption, headers, rows) of the side-by-side table: the picked group (default: the filter's first), or
    for worst / best the step's lowest / highest rewarded completions."""
    if which in ("worst completions", "best completions"):
        everything = [(m, g) for g in groups for m in g.members]
        everything.sort(key=lambda mg: mg[0].reward or 0.0, reverse=which == "best completions")
        chosen = everything[:WORST_BEST]
        titles = [f"group {g.number} · #{m.meta.get('member', m.idx) + 1}" for m, g in chosen]
        headers, rows = side_by_side([m for m, _ in chosen], titles)
        return f"The step's {which} (across groups).", headers, rows
    shown = filter_groups(groups, which)
    if not shown:
        return f"No {which} at this step.", [""], []
    group = next((g for g in shown if g.number == picked), shown[0])
    titles = [f"completion {m.meta.get('member', i) + 1}" for i, m in enumerate(group.members)]
    headers, rows = side_by_side(group.members, titles)
    spread = f"rewards {min(group.rewards):.2f}–{max(group.rewards):.2f}, std {group.std:.3f}"
    verdict = "all advantages are 0, so this group teaches nothing" if group.zero_variance else spread
    return f"Group {group.number} (level {group.level}): {len(group.members)} completions; {verdict}.", headers, rows


def histogram(groups: list[Group], step: int) -> Any:
    import plotly.graph_objects as go

    rewards = [r for g in groups for r in g.rewards]
    fig = go.Figure(go.Histogram(x=rewards, xbins={"start": 0, "end": 1.0001, "size": 0.05}, marker_color="#1f77b4"))
    zero = sum(g.zero_variance for g in groups)
    fig.update_layout(
        title=f"Rewards at step {step}: {len(rewards)} completions, {zero} of {len(groups)} groups zero-variance",
        template="plotly_white",
        height=300,
        margin={"l": 50, "r": 10, "t": 40, "b": 30},
        xaxis_title="reward",
        yaxis_title="completions",
        bargap=0.05,
    )
    return fig
