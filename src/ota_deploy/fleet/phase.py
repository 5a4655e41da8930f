"""Where the device agent is within one job execution: its phases and the one table of moves.

A ``JobRun`` (``fleet.agent_state``) is always in one ``Phase``; ``JobRun.enter`` is the only
place that changes it and it checks the move against ``MOVES`` first, as h11 keeps its states
and transitions in one table with one method that both checks and applies them. A move the
table lacks is a bug in the agent and raises ``PhaseError``::

    starting --> http --------------------------> link-pacing --> finishing
       |          \\ (the URL failed: MQTT)            ^
       |           v                                  |
       +-----> describing <--> downloading <--> pacing
       +-----> hung (simulated: silence until the service ends the execution)
       +-----> finishing (rejected, unusable document, nothing to download)

Every phase but ``hung`` may end in ``finishing`` (the terminal status is decided and being
reported); the execution itself ends when the service accepts that report or ends it first.
"""

from __future__ import annotations

from enum import StrEnum


class Phase(StrEnum):
    STARTING = "starting"  # start-next accepted it; the job document is being read
    HTTP = "http"  # GET of the presigned URL in flight, or waiting to retry it
    DESCRIBING = "describing"  # DescribeStream sent: waiting for the file's size
    DOWNLOADING = "downloading"  # GetStream windows of missing blocks
    PACING = "pacing"  # slow link: waiting before asking for the next window
    LINK_PACING = "link-pacing"  # every byte is in; slow link: waiting until the last one
    #                              would have arrived, then verify and report
    HUNG = "hung"  # simulated hang: IN_PROGRESS and silent from now on
    FINISHING = "finishing"  # the terminal status is decided and being reported


_S = Phase
MOVES: dict[Phase, frozenset[Phase]] = {
    _S.STARTING: frozenset({_S.HTTP, _S.DESCRIBING, _S.HUNG, _S.FINISHING}),
    _S.HTTP: frozenset({_S.DESCRIBING, _S.LINK_PACING, _S.FINISHING}),
    # DescribeStream again (a timeout, a resume after a reconnect, a changed stream)
    _S.DESCRIBING: frozenset({_S.DESCRIBING, _S.DOWNLOADING, _S.FINISHING}),
    _S.DOWNLOADING: frozenset(
        {_S.DOWNLOADING, _S.DESCRIBING, _S.PACING, _S.LINK_PACING, _S.FINISHING}
    ),
    # a reply still on the wire when pacing began can complete the file or reject the request
    _S.PACING: frozenset({_S.DOWNLOADING, _S.DESCRIBING, _S.LINK_PACING, _S.FINISHING}),
    _S.LINK_PACING: frozenset({_S.FINISHING}),
    _S.HUNG: frozenset(),
    _S.FINISHING: frozenset(),
}

STREAMING: frozenset[Phase] = frozenset({_S.DESCRIBING, _S.DOWNLOADING, _S.PACING})
"""The phases in which replies of MQTT file delivery are still of use."""


class PhaseError(RuntimeError):
    """A phase change ``MOVES`` does not allow: a bug in the agent, not a fault of the peer."""

    def __init__(self, current: Phase, target: Phase) -> None:
        super().__init__(f"the agent cannot move from phase {current} to {target}")
        self.current = current
        self.target = target


def check_move(current: Phase, target: Phase) -> None:
    """Raise ``PhaseError`` unless ``MOVES`` allows ``current`` -> ``target``."""
    if target not in MOVES[current]:
        raise PhaseError(current, target)
