"""The stop-string automaton: the earliest stop found, what to hold back, and a cost that ignores the list size."""

from __future__ import annotations

import random

import pytest

from k2core.engines.stops import StopAutomaton, StopMatcher


def _first_stop(text: str, stops: list[str], before: int) -> int | None:
    """The reference: the earliest stop occurrence that ends after ``before`` characters."""
    start = max(0, before - max(map(len, stops)) + 1)
    hits = [i for i in (text.find(stop, start) for stop in stops) if i >= 0]
    return min(hits) if hits else None


def _held_back(text: str, stops: list[str]) -> int:
    """The reference: the longest tail of ``text`` that is a proper prefix of a stop string."""
    return max((k for s in stops for k in range(min(len(s) - 1, len(text)), 0, -1) if text.endswith(s[:k])), default=0)


def test_matches_the_brute_force_scan_on_random_streams() -> None:
    rng = random.Random(7)
    for _ in range(300):
        stops = ["".join(rng.choices("abc", k=rng.randint(1, 4))) for _ in range(rng.randint(1, 5))]
        matcher, text = StopMatcher(stops), ""
        while True:
            piece = "".join(rng.choices("abcd", k=rng.randint(1, 3)))
            before, text = len(text), text + piece
            found = matcher.feed(piece)
            assert found == _first_stop(text, stops, before), (stops, text)
            if found is not None or len(text) > 40:
                break
            assert matcher.held_back == _held_back(text, stops), (stops, text)


def test_a_longer_stop_beginning_earlier_in_the_same_piece_wins() -> None:
    matcher = StopMatcher(["bc", "abcd"])
    assert matcher.feed("xabcdy") == 1


def test_a_stop_split_across_pieces_is_found_and_held_back_meanwhile() -> None:
    matcher = StopMatcher(["</answer>"])
    assert matcher.feed("the answer is 4</ans") is None
    assert matcher.held_back == len("</ans")
    assert matcher.feed("wer> trailing") == len("the answer is 4")


def test_unicode_stops() -> None:
    matcher = StopMatcher(["最终答案", "∎"])
    assert matcher.feed("证明完毕 ∎ 然后") == 5


def test_empty_stop_strings_are_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        StopAutomaton(["ok", ""])


def test_work_per_piece_does_not_grow_with_the_number_of_stops() -> None:
    """Automaton steps per character, counted: the same for 1 and for 5,000 stop strings of 64 characters."""
    rng = random.Random(3)
    many = ["".join(rng.choices("abcdefgh", k=64)) for _ in range(5000)]
    text = "".join(rng.choices("abcdefgh ", k=2000))

    def fail_steps(stops: list[str]) -> int:
        auto, node, steps = StopAutomaton(stops), 0, 0
        for ch in text:
            while node and ch not in auto.goto[node]:
                node, steps = auto.fail[node], steps + 1
            node, steps = auto.goto[node].get(ch, 0), steps + 1
        return steps

    assert fail_steps(many) <= 2 * len(text)
    assert fail_steps(many[:1]) <= 2 * len(text)


@pytest.mark.parametrize(
    ("text", "stops", "held"), [("the answer is </th", ["</think>"], 4), ("the answer", ["</think>", "\n\n"], 0), ("line\n", ["\n\n"], 1)]
)
def test_held_back_text_is_a_possible_stop_prefix(text: str, stops: list[str], held: int) -> None:
    matcher = StopMatcher(stops)
    assert matcher.feed(text) is None
    assert matcher.held_back == held
