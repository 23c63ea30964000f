"""A flow position the handler committed is not written again by the persistence in the same
update; anything else still is."""

from __future__ import annotations

from bot.runtime.stored_states import already_stored, committed, one_update

KEY = (500_001, 500_001)


def test_outside_an_update_scope_nothing_counts_as_stored() -> None:
    committed({("report", KEY): 4})
    assert not already_stored("report", KEY, 4)


def test_the_same_position_in_the_same_update_is_already_stored() -> None:
    with one_update():
        committed({("report", KEY): 4, ("inbox", KEY): None})
        assert already_stored("report", KEY, 4)
        assert already_stored("inbox", KEY, None), "an ended flow (None) counts too"
        assert not already_stored("report", KEY, 5), "another position must be written"
        assert not already_stored("casework", KEY, 4), "another flow must be written"
        assert not already_stored("report", (1, 1), 4), "another person must be written"


def test_the_record_ends_with_its_update() -> None:
    with one_update():
        committed({("report", KEY): 4})
    with one_update():
        assert not already_stored("report", KEY, 4), "a later update writes again"
