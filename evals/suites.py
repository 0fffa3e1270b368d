"""Evaluation suites: the held-out IF suite (in-domain), the held-out OOD suite (IFBench types), the math probes
(`math-probe`, hard; `arith-probe`, easy enough for the bundled 135M model) and user files in IFEval/IFBench format.

Suites are named by a spec string (`heldout-if`, `heldout-ood`, `math-probe`, `arith-probe`, a path to a .jsonl
file, optionally prefixed `ood:` or `ifbench:`; see evals.domains); `load_suite(spec)` builds one. Building is
deterministic, and `fingerprint` changes when the content does. Each suite has a `domain` (in-domain,
out-of-domain, mixed, math).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from evals.domains import (
    IFBENCH_PREFIX,
    IN_DOMAIN,
    MATH,
    OUT_OF_DOMAIN,
    domain_of_ids,
    family_of,
    split_suite_prefix,
)
from lab.errors import LabError

HELDOUT_IF = "heldout-if"
HELDOUT_OOD = "heldout-ood"
MATH_PROBE = "math-probe"
ARITH_PROBE = "arith-probe"
BUILTIN_SUITES = (HELDOUT_IF, HELDOUT_OOD, MATH_PROBE, ARITH_PROBE)
MATH_SUITES = (MATH_PROBE, ARITH_PROBE)  # the built-in suites of domain math (scored by `answer`)
SUITE_SEED = 20250802  # fixed so every run, machine and checkpoint sees the same held-out prompts
HARD_PROMPTS = 300
SOFT_PROMPTS = 100
MATH_PROBLEMS = 200
OOD_PROMPTS = 300  # as many as IFBench's own test set
ALLOWED_SUITES = (
    f"{HELDOUT_IF!r}, {HELDOUT_OOD!r}, {MATH_PROBE!r}, {ARITH_PROBE!r}, or a path to an IFEval/IFBench-format "
    ".jsonl file (prefix 'ood:' to report it as out-of-domain, 'ifbench:' to also require IFBench ids)"
)


@dataclass(frozen=True)
class EvalItem:
    """One prompt to answer. `part`: hard | soft (IF, scored by constraints) or math (scored by `answer`)."""

    key: str
    part: str
    prompt: str
    instruction_id_list: tuple[str, ...] = ()
    kwargs: tuple[Mapping[str, Any], ...] = ()
    constraints: tuple[str, ...] = ()  # instruction texts, for display and for the soft scorer
    answer: str | None = None

    def row(self) -> dict[str, Any]:
        """The IFEval/verl-compatible row the reward breakdown scores."""
        return {
            "key": self.key,
            "prompt": self.prompt,
            "instruction_id_list": list(self.instruction_id_list),
            "kwargs": [dict(k) for k in self.kwargs],
            "constraints": list(self.constraints),
            "level": len(self.instruction_id_list),
            "source": self.part,
            "answer": self.answer,
        }


@dataclass(frozen=True)
class RowError:
    """A row of a user file that was left out, and why (line numbers start at 1)."""

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}"


@dataclass(frozen=True)
class EvalSuite:
    name: str
    items: tuple[EvalItem, ...]
    errors: tuple[RowError, ...] = ()
    description: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)
    domain: str = IN_DOMAIN  # in-domain | out-of-domain | mixed | math (evals.domains)

    @property
    def parts(self) -> list[str]:
        return list(dict.fromkeys(item.part for item in self.items))

    @property
    def fingerprint(self) -> str:
        """Hash of the items' content: the cache key part that says "same prompts, same constraints"."""
        digest = hashlib.sha256()
        for item in self.items:
            digest.update(json.dumps(item.row(), sort_keys=True, default=str).encode())
        return digest.hexdigest()[:16]

    def limited(self, per_part: int | None, sample_seed: int | None = None) -> EvalSuite:
        """The first `per_part` items of each part (a file's in file order), or with `sample_seed` a seeded
        random `per_part` of each part (kept in suite order), for quick looks and tests."""
        if per_part is None:
            return self
        if per_part < 1:
            raise LabError(f"must be >= 1 or empty for the whole suite, got {per_part}", field="limit")
        by_part: dict[str, list[int]] = {}
        for i, item in enumerate(self.items):
            by_part.setdefault(item.part, []).append(i)
        keep: set[int] = set()
        for part, indices in by_part.items():
            if sample_seed is None or len(indices) <= per_part:
                keep.update(indices[:per_part])
            else:
                import random

                keep.update(random.Random(f"{sample_seed}:{part}").sample(indices, per_part))
        return replace(self, items=tuple(item for i, item in enumerate(self.items) if i in keep))


def load_suite(spec: str) -> EvalSuite:
    """Build the suite a spec names; a user file with bad rows keeps its good rows and lists the bad ones."""
    text = (spec or "").strip()
    if text == HELDOUT_IF:
        return heldout_if_suite()
    if text == HELDOUT_OOD:
        from evals.ood_suite import heldout_ood_suite

        return heldout_ood_suite()
    if text == MATH_PROBE:
        return math_probe_suite()
    if text == ARITH_PROBE:
        return arith_probe_suite()
    prefix, path = split_suite_prefix(text)
    if path.lower().endswith((".jsonl", ".json")):
        return load_ifeval_file(path, prefix=prefix)
    raise LabError(f"unknown suite {spec!r}; allowed: {ALLOWED_SUITES}", field="suites")


# ---------------------------------------------------------------- user files in IFEval format


def suite_store_name(spec: str) -> str:
    """The name an evaluation of `spec` is stored under: built-in names as they are, files as resolved paths
    (keeping an `ood:`/`ifbench:` prefix, which changes the domain)."""
    prefix, text = split_suite_prefix(spec)
    path = Path(text).expanduser()
    if text.lower().endswith((".jsonl", ".json")) and path.is_file():
        text = str(path.resolve())
    return f"{prefix}:{text}" if prefix else text


def load_ifeval_file(path: str | Path, prefix: str | None = None) -> EvalSuite:
    """Rows `{prompt, instruction_id_list, kwargs[, key]}` (IFEval's input_data.jsonl shape; IFBench's is the same).

    Rows with an unknown instruction id, malformed kwargs or bad JSON are listed in `errors`; the rest is kept.
    `prefix` 'ood' reports the file as out-of-domain; 'ifbench' too, and rows with non-IFBench ids become errors.
    Without one the ids decide the domain (evals.domains.domain_of_ids).
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise LabError(f"file {str(path)!r} does not exist; give {ALLOWED_SUITES}", field="suites")
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise LabError(f"file {str(path)!r} is not readable as UTF-8 text: {error}", field="suites") from None
    items: list[EvalItem] = []
    errors: list[RowError] = []
    seen_keys: set[str] = set()
    for line_no, raw in _rows(text, file.suffix.lower()):
        try:
            item = parse_ifeval_row(raw, line_no, family="ifbench" if prefix == IFBENCH_PREFIX else None)
        except _RowProblem as problem:
            errors.append(RowError(line_no, problem.field, problem.message))
            continue
        if item.key in seen_keys:
            errors.append(RowError(line_no, "key", f"duplicate key {item.key!r}"))
            continue
        seen_keys.add(item.key)
        items.append(item)
    if not items:
        detail = "; ".join(str(e) for e in errors[:5]) or "the file has no rows"
        raise LabError(f"file {file.name!r} has no usable rows ({detail})", field="suites")
    domain = OUT_OF_DOMAIN if prefix else domain_of_ids(t for item in items for t in item.instruction_id_list)
    kind = "IFBench" if prefix == IFBENCH_PREFIX else "IFEval/IFBench"
    return EvalSuite(
        name=f"{prefix}:{file.resolve()}" if prefix else str(file.resolve()),
        items=tuple(items),
        errors=tuple(errors),
        description=f"{file.name}: {len(items)} prompts from an {kind}-format file ({domain})",
        meta={"path": str(file.resolve())},
        domain=domain,
    )


class _RowProblem(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _rows(text: str, suffix: str) -> list[tuple[int, Any]]:
    """(line number, parsed JSON or the _RowProblem) for each non-blank row; a .json file is one array."""
    if suffix == ".json" and text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise LabError(f"not valid JSON: {error}", field="suites") from None
        return [(i + 1, row) for i, row in enumerate(data)]
    rows: list[tuple[int, Any]] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append((line_no, json.loads(line)))
        except json.JSONDecodeError as error:
            rows.append((line_no, _RowProblem("json", f"not valid JSON ({error.msg} at column {error.colno})")))
    return rows


def parse_ifeval_row(raw: Any, line_no: int = 0, family: str | None = None) -> EvalItem:
    """Validate one IFEval-format row against the constraint registry; raise _RowProblem naming the field.
    With `family`, every id must be of that family (e.g. 'ifbench' for IFBench's test file)."""
    from lab.constraints.registry import get_type

    if isinstance(raw, _RowProblem):
        raise raw
    if not isinstance(raw, dict):
        raise _RowProblem("row", f"must be a JSON object, got {type(raw).__name__}")
    prompt = raw.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise _RowProblem("prompt", "must be a non-empty string")
    ids = raw.get("instruction_id_list")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise _RowProblem("instruction_id_list", "must be a non-empty list of instruction ids (strings)")
    kwargs = raw.get("kwargs")
    if kwargs is None:
        kwargs = [{} for _ in ids]
    if not isinstance(kwargs, list) or len(kwargs) != len(ids):
        raise _RowProblem("kwargs", f"must be a list of {len(ids)} objects, one per instruction id")
    clean_kwargs = []
    kinds = set()
    for i, (type_id, params) in enumerate(zip(ids, kwargs, strict=True)):
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise _RowProblem(f"kwargs[{i}]", f"must be an object, got {type(params).__name__}")
        try:
            ctype = get_type(type_id)
        except LabError:
            raise _RowProblem(
                f"instruction_id_list[{i}]", f"unknown instruction id {type_id!r}; see the constraint catalogue"
            ) from None
        if family is not None and family_of(type_id) != family:
            raise _RowProblem(f"instruction_id_list[{i}]", f"{type_id!r} is not an {family} instruction id")
        # IFEval's checker ignores null and empty kwargs; so do we, so its real data loads unchanged.
        given = {k: v for k, v in params.items() if v is not None and v != ""}
        try:
            ctype.validate(given)
        except LabError as error:
            raise _RowProblem(f"kwargs[{i}]", str(error)) from None
        clean_kwargs.append(given)
        kinds.add(ctype.kind)
    texts = _constraint_texts(ids, clean_kwargs)
    key = raw.get("key", line_no)
    return EvalItem(
        key=str(key),
        part="soft" if kinds == {"soft"} else "hard",
        prompt=prompt,
        instruction_id_list=tuple(ids),
        kwargs=tuple(clean_kwargs),
        constraints=texts,
    )


def _constraint_texts(ids: Sequence[str], kwargs: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    from lab.constraints.registry import get_type

    texts = []
    for type_id, params in zip(ids, kwargs, strict=True):
        try:
            texts.append(get_type(type_id).describe(params))
        except (LabError, KeyError, IndexError, ValueError):
            # A row may use kwargs a phrasing cannot show (IFEval's repeat_prompt); the id still says what it is.
            texts.append(type_id)
    return tuple(texts)


# ---------------------------------------------------------------- built-in suites


def heldout_if_suite(
    hard_prompts: int = HARD_PROMPTS, soft_prompts: int = SOFT_PROMPTS, seed: int = SUITE_SEED
) -> EvalSuite:
    """Held-out seed tasks × sampled conflict-free constraints: a hard part (1–3 hard) and a soft part (1–2 soft).

    Only held-out tasks are used (never seen in training); the soft part is scored by a reward model and
    reported separately, so the IFEval numbers stay comparable to IFEval's all-hard prompts.
    """
    from lab.compose import row_for, sample_constraints
    from lab.constraints.registry import all_types
    from lab.seeds import load_heldout_tasks

    tasks = [_task_text(t) for t in load_heldout_tasks()]
    if not tasks:
        raise LabError("no held-out seed tasks are available", field="suites")
    items: list[EvalItem] = []
    for part, count, sizes, kind in (("hard", hard_prompts, (1, 2, 3), "hard"), ("soft", soft_prompts, (1, 2), "soft")):
        rng = _rng(seed, part)
        # In-domain: IFEval's hard types (IFBench's are out-of-domain) or the soft ones.
        include = [t.id for t in all_types(kind) if t.family in ("ifeval", "soft")]  # type: ignore[arg-type]
        order = list(range(len(tasks)))
        rng.shuffle(order)
        for i in range(count):
            # Walk the shuffled tasks in order so every task is used before any repeats.
            task = tasks[order[i % len(order)]]
            constraints = sample_constraints(
                rng, rng.choice(sizes), soft_ratio=1.0 if kind == "soft" else 0.0, task=task, include=include
            )
            row = row_for(task, constraints, group_id=f"{part}-{i}", source=HELDOUT_IF)
            items.append(_row_item(f"{part}-{i:04d}", part, row))
    return EvalSuite(
        name=HELDOUT_IF,
        items=tuple(items),
        description=(
            f"{hard_prompts} held-out prompts with 1–3 hard constraints (IFEval metrics) and "
            f"{soft_prompts} with 1–2 soft constraints (reward-model mean), seed {seed}"
        ),
        meta={"seed": seed, "tasks": len(tasks)},
    )


def math_probe_suite(n: int = MATH_PROBLEMS, seed: int = SUITE_SEED) -> EvalSuite:
    """Math word problems from the probe split (disjoint from training by construction), answers in \\boxed{}."""
    from lab.math_problems import generate_math_problems

    description = f"{n} generated math word problems (probe split), exact boxed answer, seed {seed}"
    return _problem_suite(MATH_PROBE, generate_math_problems(n, seed=seed, split="probe"), description, seed)


def arith_probe_suite(n: int = MATH_PROBLEMS, seed: int = SUITE_SEED) -> EvalSuite:
    """One- and two-step arithmetic word problems with small numbers (lab.arith_problems), probe split: a math
    probe the bundled 135M model scores mid-scale on, where math-probe is at its floor. Same prompt and scoring."""
    from lab.arith_problems import generate_arith_problems

    description = f"{n} generated one- and two-step arithmetic word problems (probe split), seed {seed}"
    return _problem_suite(ARITH_PROBE, generate_arith_problems(n, seed=seed, split="probe"), description, seed)


def _problem_suite(name: str, problems: Sequence[Any], description: str, seed: int) -> EvalSuite:
    """A math-domain suite of generated problems (lab.math_problems.MathProblem), scored by their answers."""
    items = tuple(EvalItem(key=p.id, part="math", prompt=p.prompt, answer=str(p.answer)) for p in problems)
    return EvalSuite(name=name, items=items, description=description, meta={"seed": seed}, domain=MATH)


def _row_item(key: str, part: str, row: Mapping[str, Any]) -> EvalItem:
    """An eval item from a row_for() training row."""
    return EvalItem(
        key=key,
        part=part,
        prompt=row["prompt"],
        instruction_id_list=tuple(row["instruction_id_list"]),
        kwargs=tuple(row["kwargs"]),
        constraints=tuple(row["constraints"]),
    )


def _task_text(task: Any) -> str:
    text = task if isinstance(task, str) else getattr(task, "text", None) or getattr(task, "task", None)
    if not isinstance(text, str) or not text.strip():
        raise LabError(f"held-out seed task {task!r} has no text", field="suites")
    return text


def _rng(seed: int, salt: str) -> random.Random:
    return random.Random(f"{seed}:{salt}")
