"""Stop strings matched in time that does not grow with their number: one Aho–Corasick automaton per sequence.

Engines that match stop strings themselves feed each decoded piece to a ``StopMatcher``: the cost per piece is
its length (amortised), whatever the number or length of the stop strings, and what to hold back from a stream
(a tail that may still grow into a stop string) is known without scanning them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence


class StopAutomaton:
    """The trie of the stop strings with failure links; ``longest[node]`` is the longest stop ending there (0: none)."""

    def __init__(self, stops: Sequence[str]) -> None:
        if any(not stop for stop in stops):
            raise ValueError("stop strings must not be empty")
        self.goto: list[dict[str, int]] = [{}]
        self.depth = [0]
        self.longest = [0]
        for stop in stops:
            node = 0
            for ch in stop:
                nxt = self.goto[node].get(ch)
                if nxt is None:
                    nxt = len(self.goto)
                    self.goto[node][ch] = nxt
                    self.goto.append({})
                    self.depth.append(self.depth[node] + 1)
                    self.longest.append(0)
                node = nxt
            self.longest[node] = len(stop)
        self.fail = [0] * len(self.goto)
        self._link()

    def _link(self) -> None:
        """Failure links in breadth-first order; a node that ends no stop inherits its failure node's longest."""
        queue = deque(self.goto[0].values())
        while queue:
            node = queue.popleft()
            for ch, child in self.goto[node].items():
                f = self.fail[node]
                while f and ch not in self.goto[f]:
                    f = self.fail[f]
                target = self.goto[f].get(ch, 0)
                self.fail[child] = target if target != child else 0
                if not self.longest[child]:
                    self.longest[child] = self.longest[self.fail[child]]
                queue.append(child)

    def step(self, node: int, ch: str) -> int:
        """The state after reading ``ch`` in state ``node``."""
        while node and ch not in self.goto[node]:
            node = self.fail[node]
        return self.goto[node].get(ch, 0)


class StopMatcher:
    """Streams one sequence's text through the automaton; reports where the earliest stop string found begins."""

    def __init__(self, stops: Sequence[str]) -> None:
        self.automaton = StopAutomaton(stops)
        self.state = 0
        self.consumed = 0

    def feed(self, piece: str) -> int | None:
        """Read the next ``piece``; the offset in the whole text of the earliest stop string it completes, or None."""
        auto, node, first = self.automaton, self.state, None
        for offset, ch in enumerate(piece, self.consumed + 1):
            node = auto.step(node, ch)
            length = auto.longest[node]
            if length and (first is None or offset - length < first):
                first = offset - length
        self.state, self.consumed = node, self.consumed + len(piece)
        return first

    @property
    def held_back(self) -> int:
        """How many trailing characters could still grow into a stop string (not to be streamed yet)."""
        return self.automaton.depth[self.state]
