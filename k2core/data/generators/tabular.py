"""``gen:tabular``: a generated markdown table and one lookup or aggregation question about it.

Numeric columns hold distinct values, so max/min/argmax answers are unique. Ground truth:
``{"kind": "table_qa", "answer": 42 | 12.5 | "text", "tolerance": 0.01}`` (tolerance only for numbers). Each
problem's meta carries a worked solution (``tabular_solutions``), the domain's counterpart of GSM8K's.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from k2core.data import instructions
from k2core.data.generators.base import Generated, check_choices, check_range
from k2core.data.generators.tabular_solutions import worked_solution
from k2core.data.problem import canonical_json


@dataclass(frozen=True)
class Theme:
    """What the rows are: entity names, one text category column and candidate numeric columns."""

    entity: str
    plural: str
    names: tuple[str, ...]
    category: str
    categories: tuple[str, ...]
    columns: tuple[str, ...]


THEMES = (
    Theme(
        "City", "cities",
        ("Avalon", "Brookfield", "Cedar Falls", "Dunmore", "Eastport", "Fairview", "Glenwood", "Harbor City",
         "Ironton", "Jasper", "Kingsley", "Lakeside", "Millbrook", "Northgate", "Oakridge", "Pinecrest"),
        "Region", ("North", "South", "East", "West"),
        ("Parks", "Schools", "Libraries", "Hospitals", "Museums"),
    ),
    Theme(
        "Product", "products",
        ("Anvil", "Beacon", "Compass", "Dynamo", "Easel", "Funnel", "Gimbal", "Hammock",
         "Igloo", "Jigsaw", "Kettle", "Lantern", "Mallet", "Nozzle", "Oven", "Pulley"),
        "Category", ("Tools", "Garden", "Kitchen"),
        ("Price", "Stock", "Sold", "Returns", "Reviews"),
    ),
    Theme(
        "Employee", "employees",
        ("Alice", "Bob", "Carol", "David", "Erin", "Frank", "Grace", "Henry",
         "Iris", "Jack", "Kate", "Leo", "Mia", "Noah", "Olga", "Paul"),
        "Department", ("Sales", "Support", "Research"),
        ("Shifts", "Projects", "Years", "Tickets", "Trainings"),
    ),
)  # fmt: skip


@dataclass(frozen=True)
class Table:
    """The generated table: row names, each row's category, and the numeric columns by name."""

    theme: Theme
    names: list[str]
    categories: list[str]
    values: dict[str, list[int]]

    def markdown(self) -> str:
        header = [self.theme.entity, self.theme.category, *self.values]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for i, name in enumerate(self.names):
            cells = [name, self.categories[i], *(str(v[i]) for v in self.values.values())]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)


Question = tuple[str, Any, dict[str, Any]]  # text, answer, spec (type and the names it refers to)


def _lookup(rng: random.Random, t: Table) -> Question:
    i, column = rng.randrange(len(t.names)), rng.choice(list(t.values))
    return f"What is the {column} of {t.names[i]}?", t.values[column][i], {"row": t.names[i], "column": column}


def _category_of(rng: random.Random, t: Table) -> Question:
    i = rng.randrange(len(t.names))
    return f"What is the {t.theme.category} of {t.names[i]}?", t.categories[i], {"row": t.names[i]}


def _aggregate(kind: str) -> Callable[[random.Random, Table], Question]:
    """Whole-column aggregates: sum, max, min, and average rounded to two decimals."""
    words = {"sum": "total", "max": "largest", "min": "smallest", "average": "average"}

    def question(rng: random.Random, t: Table) -> Question:
        column = rng.choice(list(t.values))
        values = t.values[column]
        aggregates: dict[str, Callable[[list[int]], float]] = {
            "sum": sum, "max": max, "min": min, "average": lambda v: round(sum(v) / len(v), 2)
        }  # fmt: skip
        answer = aggregates[kind](values)
        suffix = " Round to two decimal places." if kind == "average" else ""
        return f"What is the {words[kind]} {column} over all {t.theme.plural}?{suffix}", answer, {"column": column}

    return question


def _arg(kind: str) -> Callable[[random.Random, Table], Question]:
    """Which row has the highest (argmax) or lowest (argmin) value of a column."""

    def question(rng: random.Random, t: Table) -> Question:
        column = rng.choice(list(t.values))
        values = t.values[column]
        best = values.index(max(values) if kind == "argmax" else min(values))
        word = "highest" if kind == "argmax" else "lowest"
        return f"Which {t.theme.entity.lower()} has the {word} {column}?", t.names[best], {"column": column}

    return question


def _count_above(rng: random.Random, t: Table) -> Question:
    column = rng.choice(list(t.values))
    threshold = rng.choice(t.values[column])
    answer = sum(v > threshold for v in t.values[column])
    text = f"How many {t.theme.plural} have a {column} greater than {threshold}?"
    return text, answer, {"column": column, "threshold": threshold}


def _count_category(rng: random.Random, t: Table) -> Question:
    category = rng.choice(t.categories)
    text = f"How many {t.theme.plural} have {t.theme.category} {category}?"
    return text, t.categories.count(category), {"category": category}


def _sum_where(rng: random.Random, t: Table) -> Question:
    column, category = rng.choice(list(t.values)), rng.choice(t.categories)
    answer = sum(v for v, c in zip(t.values[column], t.categories) if c == category)
    text = f"What is the total {column} of the {t.theme.plural} with {t.theme.category} {category}?"
    return text, answer, {"column": column, "category": category}


def _difference(rng: random.Random, t: Table) -> Question:
    column = rng.choice(list(t.values))
    i, j = rng.sample(range(len(t.names)), 2)
    values = t.values[column]
    if values[i] < values[j]:
        i, j = j, i
    text = f"How much larger is the {column} of {t.names[i]} than the {column} of {t.names[j]}?"
    return text, values[i] - values[j], {"column": column, "row": t.names[i], "other": t.names[j]}


QUESTIONS: dict[str, Callable[[random.Random, Table], Question]] = {
    "lookup": _lookup,
    "category": _category_of,
    "sum": _aggregate("sum"),
    "max": _aggregate("max"),
    "min": _aggregate("min"),
    "average": _aggregate("average"),
    "argmax": _arg("argmax"),
    "argmin": _arg("argmin"),
    "count_above": _count_above,
    "count_category": _count_category,
    "sum_where": _sum_where,
    "difference": _difference,
}


@dataclass(frozen=True)
class TabularConfig:
    """Knobs: table size (rows, numeric columns), the largest value, and which question types to ask."""

    rows: int = 6
    columns: int = 3
    max_value: int = 100
    questions: tuple[str, ...] = tuple(QUESTIONS)

    def __post_init__(self) -> None:
        check_range("rows", self.rows, 2, 16)
        check_range("columns", self.columns, 1, 5)
        check_range("max_value", self.max_value, self.rows, 100000)
        check_choices("questions", self.questions, tuple(QUESTIONS))


def make(rng: random.Random, config: TabularConfig) -> Generated:
    """One table and one question; the meta keeps the question spec (type and the columns, rows it names) and a
    worked solution (SFT data; never shown to the solver)."""
    theme = rng.choice(THEMES)
    columns = rng.sample(theme.columns, config.columns)
    table = Table(
        theme,
        rng.sample(theme.names, config.rows),
        [rng.choice(theme.categories) for _ in range(config.rows)],
        {c: rng.sample(range(1, config.max_value + 1), config.rows) for c in columns},
    )
    kind = rng.choice(config.questions)
    text, answer, spec = QUESTIONS[kind](rng, table)
    truth: dict[str, Any] = {"kind": "table_qa", "answer": answer}
    if not isinstance(answer, str):
        truth["tolerance"] = 0.01 if kind == "average" else 0
    prompt = f"Here is a table of {theme.plural}:\n\n{table.markdown()}\n\n{text}\n\n{instructions.BOXED}"
    solution = worked_solution(table, kind, spec, answer)
    meta = {"kind": "table_qa", "question": {"type": kind, **spec}, "solution": solution}
    return Generated(prompt, canonical_json(truth), meta)
