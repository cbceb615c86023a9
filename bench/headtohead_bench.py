"""Head-to-head: k2think vs the K2-Think reference flow vs optillm best-of-n on one concurrent backend.

The entry point only (``k2think bench headtohead`` and ``python -m bench.headtohead_bench``); the bench lives in the
``bench.headtohead`` package (see its modules). Quick run: ``k2think bench headtohead --limit 4``.
"""

from __future__ import annotations

import sys

from bench.headtohead.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
