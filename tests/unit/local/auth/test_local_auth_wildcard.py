"""Policy wildcards: ``*`` any run, ``?`` one character; ``+`` and ``#`` are plain characters."""

from __future__ import annotations

import fnmatch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ota_deploy.local.auth.wildcard import WildcardPattern, wildcard_match

# fnmatch gives [...] a meaning policies do not have: keep brackets out of the comparison.
ALPHABET = st.sampled_from(list("ab/+#$*?.:-"))
PATTERN = st.text(ALPHABET, max_size=12)
TEXT = st.text(st.sampled_from(list("ab/+#$*?.:-")), max_size=16)


@settings(max_examples=600, deadline=None)
@given(PATTERN, TEXT)
def test_agrees_with_fnmatch_on_star_and_question_mark(pattern: str, text: str):
    assert wildcard_match(pattern, text) == fnmatch.fnmatchcase(text, pattern)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.text(ALPHABET, max_size=5), st.booleans()), max_size=5), TEXT)
def test_literal_pieces_never_act_as_wildcards(pieces: list[tuple[str, bool]], text: str):
    escaped = "".join(
        t if wild else "".join(f"[{c}]" if c in "*?" else c for c in t) for t, wild in pieces
    )
    assert WildcardPattern.compile(pieces).matches(text) == fnmatch.fnmatchcase(text, escaped)


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        # pub-sub-policy.html: "*" is not confined to one topic level as "+" is
        ("topic/some/*/topic", "topic/some/a/b/topic", True),
        ("topic/some/?????/topic", "topic/some/abcde/topic", True),
        ("topic/some/?????/topic", "topic/some/abcd/topic", False),
        ("topicfilter/some/sensor???/topic", "topicfilter/some/sensor123/topic", True),
        # "+" and "#" are characters with no special meaning
        ("topicfilter/some/+/topic", "topicfilter/some/+/topic", True),
        ("topicfilter/some/+/topic", "topicfilter/some/x/topic", False),
        ("topicfilter/a/#", "topicfilter/a/#", True),
        ("topicfilter/a/#", "topicfilter/a/b", False),
        ("*", "", True),
        ("", "", True),
        ("?", "", False),
        ("a*b*c", "abc", True),
        ("a*b*c", "acb", False),
        ("*a", "ba", True),
        ("a*", "ba", False),
        ("**a**", "xxaxx", True),
    ],
)
def test_examples(pattern: str, text: str, expected: bool):
    assert wildcard_match(pattern, text) is expected


def test_resources_are_case_sensitive_actions_are_not():
    assert not wildcard_match("topic/Room", "topic/room")
    assert wildcard_match("iot:pub*", "iot:Publish", ignore_case=True)
    assert wildcard_match("IOT:CONNECT", "iot:Connect", ignore_case=True)


def test_a_pattern_with_hundreds_of_stars_stays_linear():
    # a.*a.*a... backtracks catastrophically on a near miss; the segment matcher does not
    # (a pathological regex here would run for minutes; pytest's timeout would catch it).
    pattern = "*a" * 300 + "*b"
    assert not wildcard_match(pattern, "a" * 2000)
    assert wildcard_match(pattern, "a" * 300 + "b")
