"""thomas2025's boundaries are its authors' detector's span midpoints; the live ceiling."""

import numpy as np

from rep_coach.core.evaluation import EVENT_TOL_S
from rep_coach.core.thomas2025 import load_dataset, read_rep_indexes, REP_INDEX_FILE
from rep_coach.core.types import ImuBlock, ImuRecording
from rep_coach.core.units import STANDARD_GRAVITY
from rep_coach.training.label_convention import (check_recording, EXACT_SAMPLES, flat_spans,
                                                 live_ceiling, midpoint)

RATE = 370.3704


def _curls(rest_before_s: float, rest_after_s: float, reps: int = 4,
           pause_s: float = 0.4) -> np.ndarray:
    """ACC_X in g: -1 with the arm down, +1 at the top; smooth half-cosine moves."""
    def hold(value: float, seconds: float) -> np.ndarray:
        return np.full(int(seconds * RATE), value)

    move = 0.5 * (1 - np.cos(np.linspace(0, np.pi, int(1.0 * RATE))))  # 0 -> 1 in 1 s
    parts = [hold(-1.0, rest_before_s)]
    for i in range(reps):
        parts += [-1.0 + 2.0 * move, hold(1.0, 0.3), 1.0 - 2.0 * move]
        parts.append(hold(-1.0, pause_s if i < reps - 1 else rest_after_s))
    return np.concatenate(parts)


def _recording(accel_x_g: np.ndarray) -> ImuRecording:
    n = accel_x_g.size
    accel = np.zeros((n, 3))
    accel[:, 0] = accel_x_g * STANDARD_GRAVITY
    return ImuRecording('X001_5_1', ImuBlock(np.arange(n) / RATE, accel, np.zeros((n, 3))),
                        RATE)


def test_spans_split_by_side_and_the_open_one_ends_at_the_second_to_last_flat_sample() -> None:
    x = _curls(2.0, 3.0)
    spans = flat_spans(x, RATE)
    # Arm down: the rest before, three pauses, the rest after; at the top: four holds.
    assert len(spans[False]) == 5 and len(spans[True]) == 4
    first, last = spans[False][0], spans[False][-1]
    assert first[0] < 0.2 * RATE                       # from the recording's start...
    assert x.size - 1 - last[1] < 0.2 * RATE           # ...to its end
    assert all(a <= b for a, b in spans[True] + spans[False])
    # Every span lies where the signal does not move.
    for a, b in spans[False]:
        assert np.all(x[a + 30:b - 30] == -1.0)


def test_labels_that_are_the_midpoints_are_exact_and_a_moved_one_is_not() -> None:
    x = _curls(2.0, 3.0)
    rec = _recording(x)
    bounds = [midpoint(s) for s in flat_spans(x, RATE)[False]]
    check = check_recording(rec, bounds)
    assert check.errors.tolist() == [0] * len(bounds)
    moved = bounds[:2] + [bounds[2] + 100] + bounds[3:]
    assert check_recording(rec, moved).errors.tolist() == [0, 0, 100, 0, 0]


def test_the_live_ceiling_misses_a_last_end_set_by_a_long_rest_and_meets_a_short_one() -> None:
    long_rest = _recording(_curls(2.0, 4.0))
    short_rest = _recording(_curls(2.0, 0.45))
    checks = [check_recording(r, [midpoint(s) for s in flat_spans(
        r.imu.accel[:, 0] / STANDARD_GRAVITY, RATE)[False]]) for r in (long_rest, short_rest)]
    # A long rest puts the labelled end ~2 s after the arm came down: out of reach.
    assert (checks[0].boundaries[-1] - checks[0].live_last_end()) / RATE > 1.5
    assert (checks[1].boundaries[-1] - checks[1].live_last_end()) / RATE < EVENT_TOL_S
    both = live_ceiling([long_rest, short_rest], checks)
    assert both.last_matched == 1 and both.n_sets == 2
    assert both.event_f1 == 2 * 7 / (2 * 7 + 2)        # 7 of 8 ends matched, one false end
    alone = live_ceiling([short_rest], checks[1:])
    assert alone.event_f1 == 1.0


def test_the_shared_labels_are_the_detectors_midpoints(thomas2025_dir) -> None:
    recordings = load_dataset(thomas2025_dir)
    assert all(r.sets[0].edges_from_recording for r in recordings)   # what the loader says
    indexes = read_rep_indexes(thomas2025_dir / REP_INDEX_FILE)
    checks = [check_recording(r, indexes[r.name].boundaries) for r in recordings]
    interior = np.concatenate([c.errors[1:-1] for c in checks])
    assert np.all(interior <= EXACT_SAMPLES)
    assert all(c.errors[0] <= EXACT_SAMPLES for c in checks)
    exact_last = [c for c in checks if c.errors[-1] <= EXACT_SAMPLES]
    assert len(exact_last) >= len(checks) - 1
    # Those last rests run to the end of the recording (the smoothing edge, 0.13 s).
    assert all(c.n_samples - 1 - c.last_rest[1] < 0.5 * c.rate_hz for c in exact_last)
    ceiling = live_ceiling(recordings, checks)
    assert ceiling.event_f1 < 0.93 and ceiling.sample_f1 < 0.93
