"""The job poller's record of every thing's state, changed copy-on-write, one poll at a time.

Data flow: ``JobPoller`` opens a :class:`Draft` over its :class:`ThingBoard` at the start of a
poll; the listings and detail calls edit the draft, which copies a thing's ``ThingState`` the
first time the poll changes it and leaves every other thing shared with the board. A poll that
completes commits its draft (``ThingBoard.commit``: the changed states replace their entries);
a throttled one drops it, and the board -- with every snapshot made from it -- is as before.

So a poll costs what changed, not what exists: no copy of the 10,000 states of a big job when
ten moved. The board also keeps which things hold each status (what a listing of one status is
compared with) and how many things hold each ``ExecutionStatus`` (``_consistent_counts``), both
updated by the commit, never recounted.

States on the board are never changed in place once committed: snapshots share them (a
snapshot's ``things`` is a plain dict of them), and a new state replaces an old one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from ota_deploy.core.observed import NoExecution, ThingStatus
from ota_deploy.core.status import ExecutionStatus
from ota_deploy.monitor.snapshot import ThingState


class ThingBoard:
    """Every thing's committed ``ThingState``, indexed by status."""

    def __init__(self) -> None:
        self._states: dict[str, ThingState] = {}
        self._by_status: dict[ThingStatus, dict[str, None]] = {}

    def __contains__(self, name: str) -> bool:
        return name in self._states

    def get(self, name: str) -> ThingState | None:
        return self._states.get(name)

    def names_with(self, status: ThingStatus) -> Iterator[str]:
        return iter(self._by_status.get(status, ()))

    def tally(self) -> dict[ExecutionStatus, int]:
        """How many things hold each execution status."""
        return {s: len(self._by_status.get(s, ())) for s in ExecutionStatus}

    def states(self) -> dict[str, ThingState]:
        """A new dict of the committed states (the states themselves are shared, never
        changed in place: a snapshot's ``things``)."""
        return dict(self._states)

    def clear(self) -> None:
        self._states.clear()
        self._by_status.clear()

    def draft(self) -> Draft:
        return Draft(self)

    def commit(self, draft: Draft) -> None:
        """Make ``draft``'s changes the board's."""
        for name, new in draft.changed.items():
            old = self._states.get(name)
            if old is not None:
                self._by_status[old.status].pop(name, None)
            self._states[name] = new
            self._by_status.setdefault(new.status, {})[name] = None


class Draft:
    """One poll's view of a board: its own copies of the states it changed, the board's for the
    rest. ``edit`` is the one way to change a state."""

    def __init__(self, board: ThingBoard) -> None:
        self.board = board
        self.changed: dict[str, ThingState] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.changed or name in self.board

    def get(self, name: str) -> ThingState | None:
        state = self.changed.get(name)
        return state if state is not None else self.board.get(name)

    def edit(self, name: str) -> ThingState:
        """``name``'s state, copied into this draft on its first change (a new NONE state for
        a thing not seen before)."""
        state = self.changed.get(name)
        if state is None:
            committed = self.board.get(name)
            state = (
                ThingState(thing_name=name, status=NoExecution.NONE)
                if committed is None
                else replace(committed)
            )
            self.changed[name] = state
        return state

    def names_with(self, status: ThingStatus) -> list[str]:
        """The things holding ``status`` in this draft."""
        changed = self.changed
        kept = [n for n in self.board.names_with(status) if n not in changed]
        return kept + [n for n, s in changed.items() if s.status == status]

    def tally(self) -> dict[ExecutionStatus, int]:
        """How many things hold each execution status in this draft."""
        seen = self.board.tally()
        for name, state in self.changed.items():
            old = self.board.get(name)
            if old is not None and isinstance(old.status, ExecutionStatus):
                seen[old.status] -= 1
            if isinstance(state.status, ExecutionStatus):
                seen[state.status] += 1
        return seen
