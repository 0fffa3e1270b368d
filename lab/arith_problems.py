"""Easy arithmetic word problems (one and two steps, small numbers) for a math probe a 135M model can move on.

`math-probe` (lab.math_problems) is two- and three-step arithmetic with numbers into the hundreds: right for larger
models, at its floor for SmolLM2-135M-Instruct. These are the same kind of story with one operation (eight templates:
sums of two numbers 2-9, differences up to 12, products up to 5 x 5) or two (a product plus a number), calibrated
so the bundled base model lands mid-scale (37.5 % last-number match at 128 new tokens; README "Evaluation and
comparison"), where a trade-off between instruction following and reasoning can show.

`generate_arith_problems(n, seed, split)` is deterministic and uses lab.math_problems' hash split: a question
belongs to the split `problem_split(question)` names, so a probe question can never be a training question, whether
the training rows come from these templates or from lab.math_problems'.
"""

from __future__ import annotations

import random

from lab.math_problems import MathProblem, Template, generate_problems

# No "step by step": a 135M model asked for steps rambles past the token budget and loses the answer (calibration,
# README). The \boxed{} request is math-probe's, so the strict boxed metric means the same on both probes.
INSTRUCTION = "Give the final answer as a whole number in \\boxed{}."

_NAMES = (
    "Ada", "Bilal", "Carmen", "Dev", "Elif", "Finn", "Grace", "Hugo", "Ines", "Jonas", "Kira", "Leo", "Maya",
    "Noah", "Olga", "Pablo", "Rania", "Sven", "Tara", "Ugo", "Vera", "Wei", "Yara", "Zane",
)  # fmt: skip
_ITEMS = ("apples", "pencils", "stickers", "marbles", "cookies", "stamps", "shells", "balloons", "crayons", "eggs")
_SNACKS = (("apple", "apples"), ("muffin", "muffins"), ("notebook", "notebooks"), ("pen", "pens"), ("ball", "balls"))
_COLOURS = ("red", "blue", "green", "yellow", "white")
_CONTAINERS = (("box", "boxes"), ("bag", "bags"), ("basket", "baskets"), ("jar", "jars"), ("tray", "trays"))


def _two_names(r: random.Random) -> tuple[str, str]:
    first, second = r.sample(_NAMES, 2)
    return first, second


# ---------------------------------------------------------------- one step


def _gets_more(r: random.Random) -> tuple[str, int]:
    name, friend = _two_names(r)
    item = r.choice(_ITEMS)
    have, more = r.randint(2, 9), r.randint(2, 9)
    q = f"{name} has {have} {item}. {friend} gives {name} {more} more {item}. How many {item} does {name} have now?"
    return q, have + more


def _gives_away(r: random.Random) -> tuple[str, int]:
    name, friend = _two_names(r)
    item = r.choice(_ITEMS)
    have = r.randint(5, 12)
    given = r.randint(1, have - 1)
    q = f"{name} has {have} {item} and gives {given} of them to {friend}. How many {item} does {name} have left?"
    return q, have - given


def _groups(r: random.Random) -> tuple[str, int]:
    item = r.choice(_ITEMS)
    (_, containers) = r.choice(_CONTAINERS)
    count, each = r.randint(2, 5), r.randint(2, 5)
    q = f"There are {count} {containers} with {each} {item} in each. How many {item} are there in total?"
    return q, count * each


def _cost(r: random.Random) -> tuple[str, int]:
    name = r.choice(_NAMES)
    one, many = r.choice(_SNACKS)
    price, count = r.randint(2, 5), r.randint(2, 5)
    q = f"One {one} costs {price} dollars. {name} buys {count} {many}. How many dollars does {name} spend?"
    return q, price * count


def _together(r: random.Random) -> tuple[str, int]:
    name, friend = _two_names(r)
    item = r.choice(_ITEMS)
    mine, theirs = r.randint(2, 9), r.randint(2, 9)
    q = f"{name} has {mine} {item} and {friend} has {theirs} {item}. How many {item} do they have together?"
    return q, mine + theirs


def _colours(r: random.Random) -> tuple[str, int]:
    item = r.choice(_ITEMS)
    (one, _) = r.choice(_CONTAINERS)
    first, second = r.sample(_COLOURS, 2)
    a, b = r.randint(2, 9), r.randint(2, 9)
    q = f"A {one} holds {a} {first} {item} and {b} {second} {item}. How many {item} are in the {one}?"
    return q, a + b


def _rows(r: random.Random) -> tuple[str, int]:
    name = r.choice(_NAMES)
    rows, each = r.randint(2, 5), r.randint(2, 5)
    q = f"{name} plants {rows} rows of tulips with {each} tulips in each row. How many tulips does {name} plant?"
    return q, rows * each


def _pages(r: random.Random) -> tuple[str, int]:
    name = r.choice(_NAMES)
    yesterday, today = r.randint(2, 9), r.randint(2, 9)
    q = f"{name} read {yesterday} pages yesterday and {today} pages today. How many pages did {name} read in all?"
    return q, yesterday + today


# ---------------------------------------------------------------- two steps


def _rows_plus(r: random.Random) -> tuple[str, int]:
    name = r.choice(_NAMES)
    rows, each, extra = r.randint(2, 5), r.randint(2, 5), r.randint(1, 5)
    q = (
        f"{name} plants {rows} rows of tulips with {each} tulips in each row, and {extra} more tulips by the door. "
        f"How many tulips does {name} plant?"
    )
    return q, rows * each + extra


def _groups_plus(r: random.Random) -> tuple[str, int]:
    name = r.choice(_NAMES)
    item = r.choice(_ITEMS)
    (_, containers) = r.choice(_CONTAINERS)
    count, each, loose = r.randint(2, 5), r.randint(2, 5), r.randint(1, 5)
    q = (
        f"{name} has {count} {containers} with {each} {item} in each, and {loose} more {item} on the table. "
        f"How many {item} does {name} have altogether?"
    )
    return q, count * each + loose


# name -> (template, number of arithmetic steps); generation cycles through them in this order
ARITH_TEMPLATES: dict[str, tuple[Template, int]] = {
    "gets_more": (_gets_more, 1),
    "gives_away": (_gives_away, 1),
    "groups": (_groups, 1),
    "cost": (_cost, 1),
    "together": (_together, 1),
    "colours": (_colours, 1),
    "rows": (_rows, 1),
    "pages": (_pages, 1),
    "rows_plus": (_rows_plus, 2),
    "groups_plus": (_groups_plus, 2),
}


def generate_arith_problems(n: int, seed: int = 0, split: str = "probe") -> list[MathProblem]:
    """n distinct problems of the split, cycling through ARITH_TEMPLATES; the same (n, seed, split) -> same list,
    and a shorter list is a prefix of a longer one."""
    return generate_problems(ARITH_TEMPLATES, "arith", n, seed, split, INSTRUCTION)
