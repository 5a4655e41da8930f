"""Thing-list parsing: ARNs, groups, bare names, comments, duplicates, bad lines; and the
excerpt every message quotes a huge line through (``core.errors.excerpt``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ota_deploy.core.errors import EXCERPT_CHARS, InputError, excerpt
from ota_deploy.core.thinglist import parse_thing_list, read_thing_list, thing_arn

ACC = "123456789012"
REG = "us-east-1"
T = f"arn:aws:iot:{REG}:{ACC}:thing/"
G = f"arn:aws:iot:{REG}:{ACC}:thinggroup/"


def parse(text: str):  # type: ignore[no-untyped-def]
    return parse_thing_list(text, source="things.txt", account=ACC, region=REG)


def test_thinglist_mixed_entries_keep_order() -> None:
    text = f"""# fleet
{T}dev-1
  {T}dev-2   # trailing comment

{G}group_A
dev-3
{T}dev-1
"""
    tl = parse(text)
    assert tl.thing_arns == (f"{T}dev-1", f"{T}dev-2", f"{T}dev-3")
    assert tl.group_arns == (f"{G}group_A",)
    assert tl.thing_names == ("dev-1", "dev-2", "dev-3")
    assert tl.group_names == ("group_A",)
    assert tl.target_arns == tl.thing_arns + tl.group_arns
    assert len(tl.warnings) == 1
    assert "things.txt:7" in tl.warnings[0] and "line 2" in tl.warnings[0]


def test_thinglist_bare_name_uses_account_and_region() -> None:
    tl = parse_thing_list("my:thing_1\n", source="f", account="111122223333", region="eu-west-1")
    assert tl.thing_arns == ("arn:aws:iot:eu-west-1:111122223333:thing/my:thing_1",)


def test_thinglist_other_partition_and_region_warning() -> None:
    tl = parse(f"arn:aws-cn:iot:cn-north-1:{ACC}:thing/x\n{T}y\n")
    assert len(tl.thing_arns) == 2
    assert any("cn-north-1" in w for w in tl.warnings)


def test_thinglist_account_mismatch_warns() -> None:
    tl = parse("arn:aws:iot:us-east-1:999999999999:thing/x\n")
    assert any("999999999999" in w for w in tl.warnings)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("arn:aws:iot:us-east-1:123:thing/x", "12-digit"),
        ("arn:aws:iot:useast:123456789012:thing/x", "region"),
        ("arn:aws:iot:us-east-1:123456789012:policy/x", "thinggroup"),
        ("arn:aws:s3:::bucket/x", "ARN"),
        ("arn:aws:iot:us-east-1:123456789012:thing/bad name", "characters"),
        ("arn:aws:iot:us-east-1:123456789012:thing/", "empty"),
        ("bad name!", "characters"),
        ("x" * 129, "128"),
        (f"{T}{'y' * 129}", "128"),
        ("ARN:aws:iot:us-east-1:123456789012:thing/x", "lowercase"),
    ],
)
def test_thinglist_bad_line_names_file_and_line(line: str, reason: str) -> None:
    with pytest.raises(InputError) as info:
        parse(f"{T}ok\n\n{line}\n")
    err = info.value
    assert err.file == "things.txt" and err.line == 3
    assert "things.txt:3" in str(err)
    assert reason in str(err)


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n  # another\n"])
def test_thinglist_empty_is_error(text: str) -> None:
    with pytest.raises(InputError, match="empty"):
        parse(text)


def test_thinglist_read_file_and_missing(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_text(f"\ufeff{T}a\r\n{T}b\r\n", encoding="utf-8")
    assert read_thing_list(path, account=ACC, region=REG).thing_names == ("a", "b")
    with pytest.raises(InputError) as info:
        read_thing_list(tmp_path / "nope.txt", account=ACC, region=REG)
    assert info.value.file == str(tmp_path / "nope.txt")
    with pytest.raises(InputError, match="directory"):
        read_thing_list(tmp_path, account=ACC, region=REG)


_NAME = st.text(alphabet="abcXYZ0189:_-", min_size=1, max_size=12).filter(
    lambda n: not n.lower().startswith("arn:")
)
_ENTRY = st.one_of(
    _NAME.map(lambda n: ("thing", n, n)),
    _NAME.map(lambda n: ("thing", n, f"{T}{n}")),
    _NAME.map(lambda n: ("thinggroup", n, f"{G}{n}")),
)
_NOISE = st.sampled_from(["", "   ", "# comment", "#", "\t# x: y"])


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(_ENTRY, _NOISE, st.booleans()), max_size=12))
def test_thinglist_property_round_trip(rows: list[tuple[tuple[str, str, str], str, bool]]) -> None:
    lines: list[str] = []
    for (_, _, written), noise, trailing in rows:
        lines.append(noise)
        lines.append(f"  {written}  # note" if trailing else written)
    text = "\n".join(lines)
    expected_things: list[str] = []
    expected_groups: list[str] = []
    for kind, name, _ in (r[0] for r in rows):
        arn = thing_arn(name, account=ACC, region=REG) if kind == "thing" else f"{G}{name}"
        target = expected_things if kind == "thing" else expected_groups
        if arn not in target:
            target.append(arn)
    if not rows:
        with pytest.raises(InputError):
            parse(text)
        return
    tl = parse(text)
    assert tl.thing_arns == tuple(expected_things)
    assert tl.group_arns == tuple(expected_groups)
    assert len(tl.warnings) == len(rows) - len(expected_things) - len(expected_groups)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_thinglist_property_only_input_errors(text: str) -> None:
    try:
        tl = parse(text)
    except InputError as err:
        assert err.file == "things.txt"
        return
    for arn in tl.target_arns:
        assert arn.startswith("arn:aws")
    assert len(set(tl.target_arns)) == len(tl.target_arns)


# -- huge lines are quoted as excerpts (issue 10 §7) --------------------------------------------
HUGE = 10_000_000


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("a" * HUGE, "name is 10000000 characters long"),
        ("arn:aws:iot:" + "r" * HUGE + f":{ACC}:thing/x", "is not an AWS region name"),
        (f"arn:aws:iot:{REG}:" + "1" * HUGE + ":thing/x", "is not a 12-digit AWS account id"),
        (f"arn:aws:iot:{REG}:{ACC}:" + "k" * HUGE + "/x", "is neither 'thing' nor 'thinggroup'"),
        ("ARN:" + "z" * HUGE, "must start with lowercase 'arn:'"),
    ],
    ids=["name", "region", "account", "kind", "upper-arn"],
)
def test_thinglist_huge_line_is_quoted_as_an_excerpt(line: str, reason: str) -> None:
    with pytest.raises(InputError) as info:
        parse(f"dev-1\n{line}\n")
    message = str(info.value)
    assert message.startswith("things.txt:2: bad thing list entry ")
    assert reason in message
    assert "characters omitted>" in message
    assert len(message) < 3 * EXCERPT_CHARS


def test_thinglist_huge_partition_warning_is_an_excerpt() -> None:
    other = "arn:aws-" + "p" * HUGE + f":iot:eu-west-1:{ACC}:thing/x"
    listed = parse(f"{other}\n{other}\n")
    assert len(listed.warnings) == 3  # other region (twice), then the duplicate
    assert all(len(w) < 3 * EXCERPT_CHARS for w in listed.warnings)
    assert all("characters omitted>" in w for w in listed.warnings)


@given(st.text(max_size=600), st.integers(min_value=1, max_value=300))
def test_excerpt_keeps_short_text_and_both_ends_of_long_text(text: str, limit: int) -> None:
    shown = excerpt(text, limit)
    if len(text) <= limit:
        assert shown == text
        return
    head, _, rest = shown.partition("...<")
    note, _, tail = rest.partition(">...")
    assert text.startswith(head) and text.endswith(tail)
    assert len(head) + len(tail) == max(limit, 1 + len(tail))
    assert int(note.split()[0].replace(",", "")) == len(text) - len(head) - len(tail)
