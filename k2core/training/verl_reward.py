"""verl's ``custom_reward_function`` entry (path = this file, name = ``compute_score``).

verl imports this file by path in its own reward workers, so it is an edge like the CLI: on import it applies the
worker's ``K2_SANDBOX__*`` environment to the process-wide sandbox the code grader uses, then scores with
``k2core.rewards.compute_score``. Library code never reads the environment itself.
"""

from __future__ import annotations

from k2core.config import Settings
from k2core.rewards import compute_score
from k2core.verify.sandbox import configure_sandbox

configure_sandbox(Settings().sandbox)

__all__ = ["compute_score"]
