"""Loaders for the real public datasets packaged in ``k2core/data/packaged`` (see its README): one function per
file shape."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from k2core.config import Settings
from k2core.data import instructions
from k2core.data.problem import Problem
from k2core.data.public_tests import public_tests

PACKAGED_DIR = Path(__file__).resolve().parent / "packaged"
_CALCULATOR = re.compile(r"<<[^>]*>>")

Row = dict[str, Any]


def data_dir(settings: Settings) -> Path:
    """The data folder of ``settings``: ``data_dir`` (env ``K2_DATA_DIR`` at the edges that read the environment),
    else the data packaged with k2core."""
    return settings.data_dir or PACKAGED_DIR


def _open_rows(path: Path) -> IO[str]:
    """``path`` as text lines: the gzip-compressed ``.jsonl.gz`` beside it wins, else the plain file."""
    packed = path.with_name(path.name + ".gz")
    if packed.is_file():
        return gzip.open(packed, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def number_text(value: Any) -> str:
    """An answer as text: JSON numbers lose a trailing ``.0`` (``27.0`` -> ``27``), strings are stripped."""
    if isinstance(value, bool):
        raise ValueError(f"answer {value!r} is not a number or text")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)):
        return repr(value)
    return str(value).strip()


def _math_prompt(question: str) -> str:
    return f"{question}\n\n{instructions.BOXED}"


def _competition(*meta_keys: str) -> Callable[[Row], tuple[str, str, dict]]:
    """AIME / AMC / MATH-500 rows: ``problem`` and ``answer``; the named fields are kept in meta."""
    return lambda row: (_math_prompt(row["problem"]), number_text(row["answer"]), {k: row[k] for k in meta_keys})


def _gsm8k(row: Row) -> tuple[str, str, dict]:
    """GSM8K: the answer is the number after ``####``; the worked solution (calculator marks removed) goes to meta."""
    solution, final = row["answer"].rsplit("####", 1)
    meta = {"solution": _CALCULATOR.sub("", solution).strip()}
    return _math_prompt(row["question"]), final.strip().replace(",", ""), meta


def _gpqa(row: Row) -> tuple[str, str, dict]:
    """GPQA Diamond: the options are inside the question; the answer is one letter."""
    return f"{row['question']}\n\n{instructions.CHOICE}", row["answer"].strip().upper(), {}


def _humaneval(row: Row) -> tuple[str, str, dict]:
    """HumanEval: complete the function; the ground truth is JSON with the tests, entry point and prompt."""
    truth = json.dumps({"test": row["test"], "entry_point": row["entry_point"], "prompt": row["prompt"]})
    prompt = f"{instructions.CODE}\n\n```python\n{row['prompt']}```"
    meta = {"task_id": row["task_id"], "canonical_solution": row["canonical_solution"]}
    if (visible := public_tests(row["prompt"], row["entry_point"])) is not None:
        meta["public_tests"] = visible
    return prompt, truth, meta


def read_rows(path: Path) -> list[Row]:
    """Every JSON row of a data file (``.jsonl`` or its ``.jsonl.gz``), canary lines left out."""
    with _open_rows(path) as lines:
        return [json.loads(line) for line in lines if line.strip() and not line.startswith('{"canary"')]


@dataclass(frozen=True)
class FileDataset:
    """One JSONL file of INDEX.md: where it lives, its domain and how a row becomes a Problem."""

    name: str
    path: str
    domain: str
    convert: Callable[[Row], tuple[str, str, dict]]
    strata: str | None = None  # the meta field a seeded subset keeps in proportion

    def rows(self, root: Path = PACKAGED_DIR) -> list[Row]:
        """The file's raw JSON rows, in file order, from the data folder ``root``."""
        return read_rows(root / self.path)

    def load(self, root: Path = PACKAGED_DIR, limit: int | None = None) -> list[Problem]:
        """The first ``limit`` rows (all when None) in file order, from the data folder ``root``."""
        return list(self._iter(root, limit))

    def _iter(self, root: Path, limit: int | None) -> Iterator[Problem]:
        path = root / self.path
        with _open_rows(path) as lines:
            rows = (line for line in lines if not line.startswith('{"canary"'))
            for index, line in enumerate(rows):
                if limit is not None and index >= limit:
                    return
                try:
                    prompt, answer, meta = self.convert(json.loads(line))
                except (KeyError, ValueError, AttributeError) as exc:
                    raise ValueError(f"{path}:{index + 1}: bad {self.name} row: {exc!r}") from exc
                yield Problem(f"{self.name}-{index}", self.domain, prompt, answer, meta)


FILE_DATASETS: dict[str, FileDataset] = {
    d.name: d
    for d in (
        FileDataset("aime24", "math/aime24.jsonl", "math", _competition("id", "solution", "url")),
        FileDataset("aime25", "math/aime25.jsonl", "math", _competition()),
        FileDataset("amc23", "math/amc23.jsonl", "math", _competition("id", "url")),
        FileDataset(
            "math500", "math/math500.jsonl", "math", _competition("solution", "subject", "level", "unique_id"), "level"
        ),
        FileDataset("gsm8k_test", "math/gsm8k_test.jsonl", "math", _gsm8k),
        FileDataset("gsm8k_train", "math/gsm8k_train.jsonl", "math", _gsm8k),
        FileDataset("gpqa_diamond", "science/gpqa_diamond.jsonl", "science", _gpqa),
        FileDataset("humaneval", "code/humaneval.jsonl", "code", _humaneval),
    )
}
