"""monitor/board.py: the poller's thing states, changed copy-on-write through drafts.

A property test runs random polls (drafts whose edits are committed or dropped) against a plain
dict of every thing's status, and checks the board's index by status and its tally agree with
it, inside the draft and after it.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ota_deploy.core.observed import NoExecution, ThingStatus
from ota_deploy.core.status import ExecutionStatus
from ota_deploy.monitor.board import ThingBoard

NAMES = [f"t{i}" for i in range(6)]
STATUSES = [*ExecutionStatus, NoExecution.NONE]


def test_a_draft_copies_on_first_edit_and_commits_or_is_dropped() -> None:
    board = ThingBoard()
    draft = board.draft()
    draft.edit("a").status = ExecutionStatus.QUEUED
    assert "a" in draft and "a" not in board
    board.commit(draft)
    committed = board.get("a")
    assert committed is not None and committed.status == ExecutionStatus.QUEUED
    before = board.states()

    dropped = board.draft()
    dropped.edit("a").status = ExecutionStatus.IN_PROGRESS
    assert dropped.get("a") is not committed  # a copy, the committed state untouched
    assert committed.status == ExecutionStatus.QUEUED
    assert board.states() == before and board.get("a") is committed

    fresh = board.draft()
    assert fresh.get("a") is committed  # unchanged: shared, not copied
    assert fresh.edit("a") is fresh.edit("a")  # one copy per draft
    new = fresh.get("a")
    assert new is not None and new is not committed
    assert fresh.names_with(ExecutionStatus.QUEUED) == ["a"]
    fresh.edit("b")
    assert fresh.names_with(NoExecution.NONE) == ["b"]  # a thing not seen before: NONE


EDIT = st.tuples(st.sampled_from(NAMES), st.sampled_from(STATUSES))
POLL = st.tuples(st.lists(EDIT, max_size=8), st.booleans())  # (edits, committed?)


@given(st.lists(POLL, max_size=10))
def test_index_and_tally_follow_the_committed_polls(
    polls: list[tuple[list[tuple[str, ThingStatus]], bool]],
) -> None:
    board = ThingBoard()
    model: dict[str, ThingStatus] = {}
    for edits, commit in polls:
        draft = board.draft()
        working = dict(model)
        for name, status in edits:
            draft.edit(name).status = status
            working[name] = status
        for status in STATUSES:
            assert sorted(draft.names_with(status)) == sorted(
                n for n, s in working.items() if s == status
            )
        assert draft.tally() == {s: list(working.values()).count(s) for s in ExecutionStatus}
        if commit:
            board.commit(draft)
            model = working
        assert {n: t.status for n, t in board.states().items()} == model
        assert board.tally() == {s: list(model.values()).count(s) for s in ExecutionStatus}
        for status in STATUSES:
            assert sorted(board.names_with(status)) == sorted(
                n for n, s in model.items() if s == status
            )
