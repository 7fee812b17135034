"""Gravity-referenced forearm angle: invariance to mounting, reference pose, sign."""

import numpy as np

from rep_coach.core.arm_pose import ArmPose
from rep_coach.core.resample import StreamResampler
from rep_coach.core.sim import simulate
from rep_coach.core.sim.config import SimConfig
from rep_coach.core.units import STANDARD_GRAVITY
from rep_coach.learned.kinematic_input import replay_channels


def _run(accel, gyro, hop=10):
    pose, outs = ArmPose(), []
    for i in range(0, len(accel), hop):
        outs.append(pose.push(accel[i:i + hop], gyro[i:i + hop]))
    return {k: np.concatenate([getattr(o, k) for o in outs])
            for k in ('angle', 'rate', 'gyro_norm', 'accel_dev')}


def _rotation(seed):
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    return q * np.sign(np.linalg.det(q))


def _sim_grid(seed=4):
    rec = simulate(SimConfig(seed=seed, sets=1, fidgets=False, false_start_prob=0.0,
                             failed_attempt_prob=0.0))
    return rec, StreamResampler(100.0).push(rec.imu)


def test_angle_is_small_at_rep_ends_and_large_at_tops_with_lifting_rate_positive():
    rec, grid = _sim_grid()
    out = _run(grid.accel, grid.gyro)
    reps = rec.sets[0].reps
    at = np.searchsorted(grid.t, [r.end for r in reps])
    top = np.searchsorted(grid.t, [r.peak for r in reps])
    assert np.degrees(np.median(out['angle'][at])) < 25.0
    assert np.degrees(np.median(out['angle'][top])) > 80.0
    conc = [out['rate'][i0:i1].mean()
            for i0, i1 in zip(np.searchsorted(grid.t, [r.start for r in reps]), top)]
    assert np.median(conc) > 0.3  # rad/s, lifting positive whatever the gyro axis sign


def test_outputs_do_not_depend_on_the_sensor_mounting():
    _, grid = _sim_grid()
    rot = _rotation(7)
    a = _run(grid.accel, grid.gyro)
    b = _run(grid.accel @ rot.T, grid.gyro @ rot.T)
    for key in a:
        np.testing.assert_allclose(a[key], b[key], atol=1e-6, err_msg=key)


def _curl_stream(pause_top_s: float, n_reps: int = 4, rate: float = 100.0):
    """Gravity rotating 2 rad about x and back per rep, with a pause at the top."""
    parts = [np.zeros(int(2.0 * rate))]
    for _ in range(n_reps):
        for direction in (1.0, -1.0):
            n = int(1.0 * rate)
            phase = np.arange(n) / n
            parts.append(direction * 2.0 * (1 - np.cos(2 * np.pi * phase)))
            if direction > 0:
                parts.append(np.zeros(int(pause_top_s * rate)))
        parts.append(np.zeros(int(0.3 * rate)))
    omega = np.concatenate(parts)
    theta = np.cumsum(omega) / rate
    gyro = np.stack([omega, np.zeros_like(omega), np.zeros_like(omega)], axis=1)
    accel = STANDARD_GRAVITY * np.stack(
        [np.zeros_like(theta), np.sin(theta), np.cos(theta)], axis=1)
    return accel, gyro, theta


def test_a_pause_at_the_top_does_not_become_the_reference():
    accel, gyro, theta = _curl_stream(pause_top_s=1.5)
    out = _run(accel, gyro)
    bottoms = np.flatnonzero(theta < 0.05)
    last = bottoms[bottoms > len(theta) - 40]
    assert np.degrees(out['angle'][last].max()) < 10.0
    assert np.degrees(out['angle'].max()) > 100.0


def test_replay_channels_are_scaled_and_bounded():
    _, grid = _sim_grid()
    channels, angle, rate = replay_channels(grid)
    assert channels.shape == (4, len(grid)) and angle.shape == rate.shape == (len(grid),)
    assert np.all(np.abs(channels) <= 1.0)
    np.testing.assert_allclose(channels[0], np.clip(angle / np.pi, -1, 1), atol=1e-6)
