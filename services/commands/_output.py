"""Output conventions shared by commands: one JSON object on stdout, progress and logs on stderr."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

stderr = Console(stderr=True)


def print_json(obj: Any) -> None:
    """Print exactly one JSON object on stdout."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()
