"""``fleet run --shard K/N``: shards of one thing list cover every thing exactly once, the same
on every host (a stable hash of the name, whatever the list's order); workers get even shares."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ota_deploy.fleet.shard import in_shard, parse_shard, shard_of, split_even

NAMES = st.lists(st.from_regex(r"[A-Za-z0-9_:-]{1,20}", fullmatch=True), unique=True, max_size=60)


@given(NAMES, st.integers(1, 6))
def test_shards_cover_every_thing_exactly_once(names: list[str], n: int) -> None:
    shards = [in_shard(names, k, n) for k in range(1, n + 1)]
    together = [t for shard in shards for t in shard]
    assert sorted(together) == sorted(names)
    assert len(together) == len(set(together))


@given(NAMES, st.integers(1, 6), st.randoms())
def test_a_thing_s_shard_does_not_depend_on_the_list_order(
    names: list[str], n: int, rnd: object
) -> None:
    shuffled = list(names)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    for k in range(1, n + 1):
        assert set(in_shard(names, k, n)) == set(in_shard(shuffled, k, n))


def test_two_shards_of_a_large_list_are_disjoint_and_near_even() -> None:
    names = [f"ota-sim-{i:06d}" for i in range(100_000)]
    one, two = in_shard(names, 1, 2), in_shard(names, 2, 2)
    assert not set(one) & set(two) and len(one) + len(two) == len(names)
    assert abs(len(one) - len(two)) < 0.02 * len(names)
    # Pinned: the same assignment on every host and Python version (blake2b of the name).
    assert [shard_of(f"ota-sim-{i:06d}", 4) for i in range(8)] == [3, 1, 2, 3, 4, 1, 2, 3]
    assert 1 <= shard_of("x", 4) <= 4


@given(NAMES, st.integers(1, 8))
def test_split_even_deals_everything_in_near_equal_parts(names: list[str], parts: int) -> None:
    split = split_even(names, parts)
    assert sorted(t for part in split for t in part) == sorted(names)
    assert all(split)  # no empty worker
    sizes = [len(p) for p in split]
    assert not sizes or max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize(
    ("text", "expected"), [("1/1", (1, 1)), ("2/4", (2, 4)), (" 3/3", (3, 3))]
)
def test_parse_shard(text: str, expected: tuple[int, int]) -> None:
    assert parse_shard(text) == expected


@pytest.mark.parametrize("text", ["", "1", "0/2", "3/2", "a/b", "1/0", "-1/2", "1/2/3"])
def test_parse_shard_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="K/N"):
        parse_shard(text)
