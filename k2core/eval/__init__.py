"""Evaluation: the paper's protocol (avg pass@1 over k runs, pass@k, maj@k), resumable runs, and the reports.

Modules: ``metrics`` (pure functions), ``harness`` (runs (problem, run) pairs, one JSONL line each, resume),
``summary`` (the summary object), ``components`` / ``selection_study`` / ``scaling`` (the three studies) and
``reports`` (markdown + PNG). The CLI is ``k2think eval`` (``services/commands/eval.py``).
"""
