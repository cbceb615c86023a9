"""Head-to-head: k2think vs the K2-Think reference flow vs optillm best-of-n on one concurrent backend.

Entry point kept for ``make bench``, ``bench/run_all.py`` and ``k2think bench headtohead``; the bench itself lives in
the ``bench.headtohead`` package (see its modules). Quick run: ``python -m bench.headtohead_bench --limit 4``.
"""

from __future__ import annotations

import sys

from bench.headtohead.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
