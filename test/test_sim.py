"""Tests of the wrist-IMU simulator."""

import time

import numpy as np
import pytest

from rep_coach.core.sim import EXERCISES, SimConfig, SimConfigError, SimStream, simulate
from rep_coach.core.units import STANDARD_GRAVITY


def _idx(rec, t):
    return int(np.searchsorted(rec.imu.t, t))


def test_deterministic_for_a_seed():
    a = simulate(SimConfig(seed=5, sets=2, rest_s=20))
    b = simulate(SimConfig(seed=5, sets=2, rest_s=20))
    c = simulate(SimConfig(seed=6, sets=2, rest_s=20))
    np.testing.assert_array_equal(a.imu.accel, b.imu.accel)
    np.testing.assert_array_equal(a.imu.gyro, b.imu.gyro)
    assert [r.end for s in a.sets for r in s.reps] == [r.end for s in b.sets for r in s.reps]
    assert len(a.imu) != len(c.imu) or not np.array_equal(a.imu.accel, c.imu.accel)


def test_stream_equals_simulate_whatever_the_block_size():
    cfg = SimConfig(seed=2, sets=2, rest_s=15)
    whole = simulate(cfg)
    stream = SimStream(cfg)
    blocks = list(stream.blocks(block_size=7))
    t = np.concatenate([b.t for b in blocks])
    np.testing.assert_array_equal(t, whole.imu.t)
    np.testing.assert_allclose(np.concatenate([b.gyro for b in blocks]), whole.imu.gyro)
    assert np.all(np.diff(t) > 0)
    assert len(stream.labels) == 2


def test_labels_rir_rpe_and_order():
    rec = simulate(SimConfig(seed=1, sets=3, rest_s=30, reps_to_failure=12))
    for labels in rec.sets:
        rirs = [r.rir for r in labels.reps]
        assert rirs[-1] == 0 and rirs == sorted(rirs, reverse=True)
        assert all(r.rpe == min(10, max(1, 10 - r.rir)) for r in labels.reps)
        for a, b in zip(labels.reps, labels.reps[1:]):
            assert a.start < a.peak < a.end <= b.start
    assert len(rec.sets[0].reps) == 12
    assert len(rec.sets[1].reps) <= 12    # residual fatigue


def test_stop_at_rir_leaves_reps_in_reserve():
    rec = simulate(SimConfig(seed=4, reps_to_failure=10, stop_at_rir=3))
    assert [r.rir for r in rec.sets[0].reps] == list(range(9, 2, -1))
    assert rec.sets[0].reps[-1].rpe == 7


def test_units_at_rest():
    rec = simulate(SimConfig(seed=3, lead_in_s=5))
    first = rec.sets[0].reps[0].start
    still = rec.imu.t < min(first, 2.0)
    norm = np.linalg.norm(rec.imu.accel[still], axis=1)
    assert abs(np.median(norm) - STANDARD_GRAVITY) < 0.4
    assert np.max(np.abs(rec.imu.gyro[still])) < 0.3


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_gyro_angle_returns_to_start_at_each_labelled_end(seed):
    """Integrated principal-axis rotation peaks at ``peak`` and returns near 0 at ``end``."""
    rec = simulate(SimConfig(seed=seed, accel_bias=0, gyro_bias=0, gyro_bias_drift=0))
    gyro, dt = rec.imu.gyro, 1.0 / rec.rate_hz
    _, _, vt = np.linalg.svd(gyro, full_matrices=False)
    angle = np.cumsum(gyro @ vt[0]) * dt
    for rep in rec.sets[0].reps:
        i0, ip, ie = _idx(rec, rep.start), _idx(rec, rep.peak), _idx(rec, rep.end)
        seg = np.abs(angle[i0:ie + 1] - angle[i0])
        rom = seg.max()
        assert rom > np.radians(90)                       # a curl is >= 90 deg
        assert seg[ip - i0] > 0.9 * rom                   # at the top at ``peak``
        assert seg[(ip - i0) // 2] < 0.9 * rom            # still rising before it
        assert seg[-1] < 0.1 * rom                        # back at the bottom at the end


def test_concentric_slows_towards_failure():
    for seed in range(4):
        rec = simulate(SimConfig(seed=seed, reps_to_failure=12))
        conc = np.array([r.peak - r.start for r in rec.sets[0].reps])
        assert conc[-1] > 1.15 * conc[0]
        assert np.mean(conc[-3:]) > np.mean(conc[:3])
        # mean velocity loss of the last rep within the VBT range (with jitter margin)
        loss = 1.0 - conc[:2].mean() / conc[-1]
        assert 0.1 < loss < 0.65


@pytest.mark.parametrize('name', sorted(EXERCISES))
def test_every_exercise_runs_and_is_plausible(name):
    rec = simulate(SimConfig(seed=1, exercise=name, reps_to_failure=8))
    assert len(rec.sets[0].reps) == 8
    norm = np.linalg.norm(rec.imu.accel, axis=1)
    assert 8.5 < np.median(norm) < 11.0
    assert np.max(np.abs(rec.imu.gyro)) < 15.0


def test_hammer_curl_rotates_about_sensor_z():
    cfg = {'seed': 0, 'randomize_orientation': False, 'sway_deg': 0}
    curl = simulate(SimConfig(exercise='biceps_curl', **cfg))
    hammer = simulate(SimConfig(exercise='hammer_curl', **cfg))
    assert np.argmax(np.sum(curl.imu.gyro ** 2, axis=0)) == 1
    assert np.argmax(np.sum(hammer.imu.gyro ** 2, axis=0)) == 2


def test_one_hour_is_fast():
    t0 = time.perf_counter()
    rec = simulate(SimConfig(seed=9, sets=24, rest_s=140))
    assert rec.imu.t[-1] > 3600
    assert time.perf_counter() - t0 < 3.0


def test_options_and_errors():
    cfg = SimConfig.from_options({'exercise': 'squat', 'sets': '2', 'rest_s': 'none',
                                  'fidgets': 'false'})
    assert cfg.exercise == 'squat' and cfg.sets == 2 and cfg.rest_s is None and not cfg.fidgets
    with pytest.raises(SimConfigError, match='bogus'):
        SimConfig.from_options({'bogus': '1'})
    with pytest.raises(SimConfigError, match='sets'):
        SimConfig.from_options({'sets': 'two'})
    with pytest.raises(SimConfigError, match='exercise'):
        SimConfig.from_options({'exercise': 'deadlift'})
    with pytest.raises(SimConfigError, match='endless'):
        simulate(SimConfig(sets=0))


def test_endless_stream():
    stream = SimStream(SimConfig(sets=0, rest_s=10))
    n = 0
    for block in stream.blocks():
        n += 1
        if n == 4:
            break
    assert len(stream.labels) == 4
