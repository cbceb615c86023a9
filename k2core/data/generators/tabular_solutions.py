"""Worked solutions for ``gen:tabular`` questions: the steps a careful reader takes, one value at a time.

The domain's counterpart of GSM8K's human-written solutions: SFT trains on them (``meta["solution"]``), the
evaluation never shows them. Each walks the table the way a small model can follow token by token (running sums,
a running best, a running count) and ends with the answer in ``\\boxed{}``; the verifier grades every one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from k2core.data.generators.tabular import Table


def _column(t: Table, column: str) -> str:
    return ", ".join(f"{name} {value}" for name, value in zip(t.names, t.values[column]))


def _running_sum(values: list[int]) -> tuple[str, int]:
    """'a + b = s1; s1 + c = s2; …' and the total (one value alone needs no addition)."""
    total, steps = values[0], []
    for value in values[1:]:
        steps.append(f"{total} + {value} = {total + value}")
        total += value
    return "; ".join(steps), total


def _row(t: Table, name: str) -> str:
    """One row read out: 'Avalon: Region North, Parks 42, Schools 7'."""
    i = t.names.index(name)
    cells = [f"{t.theme.category} {t.categories[i]}", *(f"{c} {v[i]}" for c, v in t.values.items())]
    return f"{name}: " + ", ".join(cells)


def _lookup(t: Table, spec: dict[str, Any], answer: Any) -> str:
    return f"The row of {_row(t, spec['row'])}.\nSo the {spec['column']} of {spec['row']} is {answer}."


def _category(t: Table, spec: dict[str, Any], answer: Any) -> str:
    return f"The row of {_row(t, spec['row'])}.\nSo the {t.theme.category} of {spec['row']} is {answer}."


def _added(t: Table, column: str) -> tuple[str, int]:
    """The column read out, then its running sum; returns the text and the total."""
    steps, total = _running_sum(t.values[column])
    return f"The {column} column: {_column(t, column)}.\nAdding them in order: {steps}.", total


def _sum(t: Table, spec: dict[str, Any], answer: Any) -> str:
    added, total = _added(t, spec["column"])
    return f"{added}\nThe total is {total}."


def _average(t: Table, spec: dict[str, Any], answer: Any) -> str:
    added, total = _added(t, spec["column"])
    count = len(t.names)
    return (
        f"{added}\nThere are {count} {t.theme.plural}, so the average is {total} / {count} = {total / count:.4f}, "
        f"which is {answer} to two decimal places."
    )


def _best(t: Table, column: str, largest: bool) -> tuple[str, int]:
    """A running best down the column: each value against the best so far; returns the steps and the best row."""
    values, word = t.values[column], "larger" if largest else "smaller"
    best, steps = 0, [f"Start with {t.names[0]} {values[0]}."]
    for i in range(1, len(values)):
        better = values[i] > values[best] if largest else values[i] < values[best]
        if better:
            steps.append(f"{t.names[i]} {values[i]} is {word} than {values[best]}, so the best so far is {values[i]}.")
            best = i
        else:
            steps.append(f"{t.names[i]} {values[i]} is not {word} than {values[best]}.")
    return "\n".join(steps), best


def _extreme(largest: bool, which_row: bool) -> Callable[[Table, dict[str, Any], Any], str]:
    """max/min (the value) or argmax/argmin (``which_row``: the row that holds it), by a running best."""

    def solve(t: Table, spec: dict[str, Any], answer: Any) -> str:
        column = spec["column"]
        steps, best = _best(t, column, largest)
        head = f"Going down the {column} column:\n{steps}\n"
        if which_row:
            word = "highest" if largest else "lowest"
            return f"{head}The {word} {column} is {t.values[column][best]}, which belongs to {t.names[best]}."
        return f"{head}The {'largest' if largest else 'smallest'} {column} is {t.values[column][best]}."

    return solve


def _counted(checks: list[tuple[str, bool]]) -> str:
    """A running count: each check's line ends 'yes, k so far.' or 'no.', then the count."""
    count, steps = 0, []
    for check, hit in checks:
        count += hit
        steps.append(f"{check}: yes, {count} so far." if hit else f"{check}: no.")
    return "\n".join(steps) + f"\nThe count is {count}."


def _count_above(t: Table, spec: dict[str, Any], answer: Any) -> str:
    column, threshold = spec["column"], spec["threshold"]
    checks = [(f"{name} {value} > {threshold}", value > threshold) for name, value in zip(t.names, t.values[column])]
    return f"Checking each {column} against {threshold}:\n" + _counted(checks)


def _count_category(t: Table, spec: dict[str, Any], answer: Any) -> str:
    wanted = spec["category"]
    checks = [(f"{name} is {category}", category == wanted) for name, category in zip(t.names, t.categories)]
    return f"Checking each {t.theme.category} for {wanted}:\n" + _counted(checks)


def _sum_where(t: Table, spec: dict[str, Any], answer: Any) -> str:
    column, wanted = spec["column"], spec["category"]
    rows = [(n, v) for n, v, c in zip(t.names, t.values[column], t.categories) if c == wanted]
    listed = ", ".join(f"{name} {value}" for name, value in rows)
    head = f"The {t.theme.plural} with {t.theme.category} {wanted} and their {column}: {listed}."
    if len(rows) == 1:
        return f"{head}\nThere is only one, so the total is {rows[0][1]}."
    steps, total = _running_sum([value for _, value in rows])
    return f"{head}\nAdding them in order: {steps}.\nThe total is {total}."


def _difference(t: Table, spec: dict[str, Any], answer: Any) -> str:
    column, row, other = spec["column"], spec["row"], spec["other"]
    first, second = (t.values[column][t.names.index(name)] for name in (row, other))
    return (
        f"The row of {_row(t, row)}.\nThe row of {_row(t, other)}.\n"
        f"{row} has {column} {first} and {other} has {column} {second}.\n{first} - {second} = {first - second}."
    )


WRITERS: dict[str, Callable[[Table, dict[str, Any], Any], str]] = {
    "lookup": _lookup,
    "category": _category,
    "sum": _sum,
    "max": _extreme(True, which_row=False),
    "min": _extreme(False, which_row=False),
    "average": _average,
    "argmax": _extreme(True, which_row=True),
    "argmin": _extreme(False, which_row=True),
    "count_above": _count_above,
    "count_category": _count_category,
    "sum_where": _sum_where,
    "difference": _difference,
}


def worked_solution(table: Table, kind: str, spec: dict[str, Any], answer: Any) -> str:
    """The steps for one question of type ``kind`` (spec as the question recorded it), then the boxed answer."""
    return f"{WRITERS[kind](table, spec, answer)}\n\\boxed{{{answer}}}"
