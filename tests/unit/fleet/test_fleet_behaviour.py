"""Behaviours: with every rate zero nothing is drawn, and the answer is what a draw gives."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ota_deploy.fleet.behaviour import (
    Behaviour,
    BehaviourChooser,
    _decide,
    choose_behaviour,
    seed_string,
)
from ota_deploy.fleet.options import FleetOptions

THINGS = [f"t{i}" for i in range(50)]


@settings(max_examples=50, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    job=st.text(min_size=1, max_size=20),
    execution=st.none() | st.integers(1, 5),
)
def test_no_rates_is_the_plain_behaviour_a_draw_would_give(
    seed: int, job: str, execution: int | None
) -> None:
    options = FleetOptions(seed=seed)
    chooser = BehaviourChooser(options, THINGS)
    for thing in THINGS[:5]:
        rng = random.Random(seed_string(seed, thing, job, execution))
        drawn = _decide(options, *(rng.random() for _ in range(5)))
        assert drawn == Behaviour()
        assert choose_behaviour(options, thing, job, execution) == drawn
        assert chooser.choose(thing, job, execution) == drawn


def test_no_rates_draws_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(random, "Random", None)  # any draw would fail
    chooser = BehaviourChooser(FleetOptions(), THINGS)
    assert all(chooser.choose(t, "J") == Behaviour() for t in THINGS)
    assert choose_behaviour(FleetOptions(), "lone", "J") == Behaviour()


def test_rates_still_draw_their_exact_shares() -> None:
    options = FleetOptions(fail_rate=0.2, seed=3)
    chooser = BehaviourChooser(options, THINGS)
    faults = [chooser.choose(t, "J").fault.value for t in THINGS]
    assert faults.count("fail") == 10  # exact shares over a known list
