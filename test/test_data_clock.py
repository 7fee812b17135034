"""The coach's data clock: data time while samples flow, wall pace in between, no lone jumps."""

import math

from rep_coach.core.data_clock import DataClock


def test_follows_stamps_and_goes_on_at_wall_pace_between_them() -> None:
    clock = DataClock()
    assert clock.now(0.0) is None
    clock.observe(100.0, wall=0.0)
    clock.observe(100.2, wall=0.01)            # data faster than real time
    assert math.isclose(clock.now(0.01), 100.2)
    assert math.isclose(clock.now(3.01), 103.2)
    clock.observe(100.1, wall=3.02)            # an older stamp never moves it back
    assert math.isclose(clock.now(3.02), 103.21)


def test_a_lone_far_stamp_is_ignored() -> None:
    for bad in (1e12, -1e6, math.inf, math.nan):
        clock = DataClock()
        clock.observe(100.0, wall=0.0)
        clock.observe(bad, wall=0.1)
        clock.observe(100.2, wall=0.2)
        assert math.isclose(clock.now(0.2), 100.2), bad
        clock.observe(100.4, wall=0.3)
        assert math.isclose(clock.now(0.3), 100.4), bad
        assert clock.ignored == 1


def test_two_stamps_that_agree_move_it_to_a_new_timeline() -> None:
    clock = DataClock()
    clock.observe(500.0, wall=0.0)
    clock.observe(3.0, wall=1.0)               # a replay restarted from its beginning
    assert math.isclose(clock.now(1.0), 501.0)   # not yet: one stamp alone
    clock.observe(3.2, wall=1.1)
    assert math.isclose(clock.now(1.1), 3.2)
    # A bad first stamp is left the same way.
    clock = DataClock()
    clock.observe(1e12, wall=0.0)
    clock.observe(10.0, wall=0.1)
    clock.observe(10.2, wall=0.2)
    assert math.isclose(clock.now(0.2), 10.2)
