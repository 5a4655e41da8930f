"""IAM-style wildcard matching (``*`` any run of characters, ``?`` exactly one), in linear time.

Data flow: policy resources, actions and ``StringLike``/``ArnLike`` values are turned into
pieces (text written in the policy, where ``*`` and ``?`` are wildcards, and text substituted
from policy variables or the ``${*}`` / ``${?}`` / ``${$}`` escapes, which is literal);
``WildcardPattern.compile(pieces)`` builds a matcher once per policy version and connection,
and ``matches(text)`` runs on every PUBLISH, SUBSCRIBE and delivery.

Rules (https://docs.aws.amazon.com/iot/latest/developerguide/pub-sub-policy.html): "In a
policy document, the ``*`` represents any combination of characters and a question mark ``?``
represents any single character"; ``*`` is not confined to one topic level; "the MQTT wildcard
characters, ``+`` and ``#`` are treated as those characters with no special meaning". Matching
is case-sensitive for resources (ARNs) and case-insensitive for action names (IAM: "action
names are case-insensitive").

Why not one regular expression: ``a*b*c*...`` compiled to ``a.*b.*c.*`` backtracks
polynomially (exponentially in the number of stars) on a near miss, and a policy may hold
hundreds of stars. Splitting at stars gives fixed-length segments: the first must match at the
start, the last at the end, and each middle one is found leftmost in turn -- the classic
greedy glob algorithm, O(len(text) x segments), and correct because a later star can absorb
whatever an earlier, leftmost choice skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

Piece = tuple[str, bool]  # (text, wild): wild text honours * and ?, other text is literal


def _segment_regex(chars: list[str], flags: int) -> re.Pattern[str]:
    return re.compile("".join(chars), flags)


@dataclass(frozen=True)
class WildcardPattern:
    """A compiled ``*``/``?`` pattern. Build with ``compile`` or ``of``."""

    head: re.Pattern[str]  # matches at position 0
    head_len: int
    middles: tuple[re.Pattern[str], ...]
    tail: re.Pattern[str] | None  # None: no star at all, head must span the whole text
    tail_len: int

    @staticmethod
    def compile(pieces: Iterable[Piece], *, ignore_case: bool = False) -> WildcardPattern:
        flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
        segments: list[list[str]] = [[]]
        lengths = [0]
        for text, wild in pieces:
            for ch in text:
                if wild and ch == "*":
                    if segments[-1] or len(segments) == 1:
                        segments.append([])
                        lengths.append(0)
                    continue  # consecutive stars are one star
                segments[-1].append("." if wild and ch == "?" else re.escape(ch))
                lengths[-1] += 1
        if len(segments) == 1:
            return WildcardPattern(_segment_regex(segments[0], flags), lengths[0], (), None, 0)
        head, tail = segments[0], segments[-1]
        middles = tuple(_segment_regex(s, flags) for s in segments[1:-1] if s)
        return WildcardPattern(
            _segment_regex(head, flags),
            lengths[0],
            middles,
            _segment_regex(tail, flags),
            lengths[-1],
        )

    @staticmethod
    def of(pattern: str, *, ignore_case: bool = False) -> WildcardPattern:
        """A pattern written entirely in policy syntax (every ``*`` and ``?`` is a wildcard)."""
        return _cached(pattern, ignore_case)

    def matches(self, text: str) -> bool:
        if self.tail is None:
            return len(text) == self.head_len and self.head.match(text) is not None
        end = len(text) - self.tail_len
        if end < self.head_len or self.head.match(text) is None:
            return False
        if self.tail.match(text, end) is None:
            return False
        pos = self.head_len
        for segment in self.middles:
            found = segment.search(text, pos, end)
            if found is None:
                return False
            pos = found.end()
        return True


@lru_cache(maxsize=4096)
def _cached(pattern: str, ignore_case: bool) -> WildcardPattern:
    return WildcardPattern.compile([(pattern, True)], ignore_case=ignore_case)


def wildcard_match(pattern: str, text: str, *, ignore_case: bool = False) -> bool:
    """Whether ``text`` matches the policy-syntax ``pattern``."""
    return WildcardPattern.of(pattern, ignore_case=ignore_case).matches(text)
