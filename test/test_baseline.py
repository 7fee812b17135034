"""Tests of the baseline segmenter, rep features and near-failure rule."""

from dataclasses import asdict

import numpy as np
import pytest

from rep_coach.core.evaluation import REPLAY_BLOCK_S
from rep_coach.core.near_failure import BaselineNearFailure, BaselineNearFailureConfig
from rep_coach.core.rep_features import rep_kinematics, set_features
from rep_coach.core.segmentation import BaselineSegmenter, BaselineSegmenterConfig
from rep_coach.core.types import ImuBlock, RepEvent


def synthetic_curls(n_reps: int = 8, rate: float = 200.0, sign: float = 1.0,
                    slow_from: int = 100, seed: int = 0):
    """
    Wrist gyro of curls: 2 rad about a tilted axis, raised-cosine reps with rests.

    Returns (block, true rep ends).  Reps from ``slow_from`` on have a 40 % slower
    concentric.
    """
    rng = np.random.default_rng(seed)
    axis = np.array([0.2, -0.9, 0.3])
    axis /= np.linalg.norm(axis)
    t_knots, omega_parts, ends, t = [], [], [], 1.5
    dt = 1.0 / rate
    omega_parts.append(np.zeros(int(1.5 * rate)))
    for k in range(n_reps):
        conc = 1.0 * (1.4 if k >= slow_from else 1.0)
        ecc = 1.3
        for dur, direction in ((conc, 1.0), (ecc, -1.0)):
            n = int(dur * rate)
            phase = np.arange(n) / n
            # Raised cosine rate profile integrating to 2 rad.
            omega_parts.append(direction * 2.0 / dur * (1 - np.cos(2 * np.pi * phase)))
            t += n * dt
        ends.append(t)
        pause = int(0.4 * rate)
        omega_parts.append(np.zeros(pause))
        t += pause * dt
    omega_parts.append(np.zeros(int(3.0 * rate)))
    omega = np.concatenate(omega_parts) * sign
    n = omega.size
    gyro = omega[:, None] * axis[None, :] + 0.01 * rng.standard_normal((n, 3)) + 0.01
    accel = np.tile([0.0, 0.0, 9.81], (n, 1))
    del t_knots
    return ImuBlock(np.arange(n) * dt + 100.0, accel, gyro), np.array(ends) + 100.0


def _run(block: ImuBlock, config=None, block_s: float = 0.05):
    seg = BaselineSegmenter(config)
    step = int(round(block_s / (block.t[1] - block.t[0])))
    events = []
    for i in range(0, len(block), step):
        events += seg.push(block.slice(i, i + step))
    return events


@pytest.mark.parametrize('sign', [1.0, -1.0])
def test_counts_synthetic_curls_either_mounting(sign: float) -> None:
    block, ends = synthetic_curls(sign=sign)
    events = _run(block)
    assert len(events) == len(ends)
    got = np.array([e.end for e in events])
    assert np.max(np.abs(got - ends)) < 0.45  # the valley lies in the 0.4 s pause
    for k, e in enumerate(events, start=1):
        assert e.set_index == 1 and e.rep_index == k
        assert e.start < e.peak < e.end <= e.stamp
        assert e.stamp - e.end < 1.0
        assert abs(e.features['rom_rad'] - 2.0) < 0.4


def test_events_do_not_depend_on_block_size() -> None:
    block, _ = synthetic_curls()
    a = [(e.end, e.rep_index) for e in _run(block, block_s=0.02)]
    b = [(e.end, e.rep_index) for e in _run(block, block_s=0.1)]
    assert a == b


def test_new_set_after_rest() -> None:
    block, ends = synthetic_curls(n_reps=4)
    later = ImuBlock(block.t + (block.t[-1] - block.t[0]) + 20.0, block.accel, block.gyro)
    events = _run(ImuBlock.concat([block, later]),
                  BaselineSegmenterConfig(set_rest_s=10.0))
    assert [(e.set_index, e.rep_index) for e in events] == \
        [(1, 1), (1, 2), (1, 3), (1, 4), (2, 1), (2, 2), (2, 3), (2, 4)]


def test_velocity_loss_and_near_failure() -> None:
    block, ends = synthetic_curls(n_reps=8, slow_from=5)
    events = _run(block)
    assert len(events) == 8
    losses = [e.features['velocity_loss'] for e in events]
    assert max(losses[:5]) < 0.1 and min(losses[5:]) > 0.2
    clf = BaselineNearFailure()
    states = [clf.on_rep(e) for e in events]
    assert not any(s.near_failure for s in states[:5])
    assert all(s.near_failure for s in states[6:])
    assert states[-1].rir is not None and states[-1].rir <= 1


def test_rep_kinematics_and_set_features() -> None:
    t = np.arange(0, 3, 0.01)
    omega = np.where(t < 1, 2.0, np.where(t < 2, -2.0, 0.0))
    angle = np.cumsum(omega) * 0.01
    kin = rep_kinematics(t, angle, omega, 0.0, 2.0)
    # The lift is timed from 10 % of the rise (0.2 rad at 0.1 s) to the top at 1 s, the
    # lowering to 90 % of the fall (1.9 s), so the rest after it (to 3 s) does not count.
    assert abs(kin.concentric_s - 0.9) < 0.02 and abs(kin.rom_rad - 2.0) < 0.05
    assert abs(kin.mean_conc_vel - 2.0) < 0.05 and abs(kin.eccentric_s - 0.9) < 0.02
    assert abs(kin.duration_s - 1.8) < 0.02 and abs(kin.lift_start - 0.1) < 0.02
    assert rep_kinematics(t, angle, omega, 0.0, 3.0).duration_s == kin.duration_s
    feats = set_features(t, angle, omega, [(0.0, 2.0, 1.0), (0.0, 2.0, 0.5)])
    assert feats[0]['velocity_loss'] == 0.0 and feats[1]['rep_in_set'] == 2.0


def curl(pause_s: float, lift_rate: float = 2.0) -> tuple:
    """Lowering tail, a pause at the bottom, a 2 rad lift and its lowering (100 Hz)."""
    parts = [np.full(40, -2.0), np.zeros(int(pause_s * 100)),
             np.full(int(200 / lift_rate), lift_rate), np.full(100, -2.0)]
    omega = np.concatenate(parts)
    return np.arange(omega.size) / 100.0, omega


def test_rep_kinematics_ignore_the_pause_and_the_start() -> None:
    # A segmenter that starts the rep at the previous rep's end (0 s, still lowering)
    # must measure the same lift as one that starts it at the bottom.
    t, omega = curl(pause_s=0.8)
    at_bottom = rep_kinematics(t, None, omega, 1.2, t[-1])
    early = rep_kinematics(t, None, omega, 0.0, t[-1])
    for kin in (at_bottom, early):
        assert abs(kin.mean_conc_vel - 2.0) < 0.03 and abs(kin.rom_rad - 2.0) < 0.03
        assert abs(kin.concentric_s - 0.9) < 0.03 and kin.peak_conc_vel == 2.0
    # A longer pause changes nothing, a slower lift is read as slower.
    t2, omega2 = curl(pause_s=2.0)
    assert abs(rep_kinematics(t2, None, omega2, 0.0, t2[-1]).mean_conc_vel - 2.0) < 0.03
    t3, omega3 = curl(pause_s=0.8, lift_rate=1.5)
    assert abs(rep_kinematics(t3, None, omega3, 0.0, t3[-1]).mean_conc_vel - 1.5) < 0.03


def test_rep_kinematics_integrate_the_rate_when_no_angle() -> None:
    t, omega = curl(pause_s=0.5)
    angle = np.concatenate(([0.0], np.cumsum(0.5 * (omega[1:] + omega[:-1]) * 0.01))) + 7.0
    given = rep_kinematics(t, angle, omega, 0.3, t[-1])
    integrated = rep_kinematics(t, None, omega, 0.3, t[-1])
    assert np.allclose(list(asdict(given).values()), list(asdict(integrated).values()),
                       rtol=1e-9, atol=1e-9)


def test_rep_kinematics_without_a_lift_are_nan() -> None:
    t = np.arange(0, 2, 0.01)
    kin = rep_kinematics(t, None, np.full(t.size, -1.0), 0.0, 2.0)
    assert np.isnan(kin.mean_conc_vel) and np.isnan(kin.concentric_s)
    assert kin.duration_s == 2.0


def test_classifier_resets_per_set() -> None:
    clf = BaselineNearFailure()

    def rep(s: int, k: int, loss: float) -> RepEvent:
        return RepEvent(s, k, 0.0, 1.0, 1.0, 0.5, {'velocity_loss': loss})
    assert clf.on_rep(rep(1, 1, 0.0)).near_failure is False
    assert clf.on_rep(rep(1, 2, 0.5)).near_failure is True
    assert clf.on_rep(rep(2, 1, 0.0)).near_failure is False


def test_classifier_reads_the_recent_velocity_loss_feature() -> None:
    # One smoothing for both classifiers: the rule judges the segmenter's
    # recent_velocity_loss, not a list of its own (which read 0.0 here).
    clf = BaselineNearFailure()
    rep = RepEvent(1, 2, 1.0, 2.0, 2.0, 1.5,
                   {'velocity_loss': 0.0, 'recent_velocity_loss': 0.5})
    assert clf.on_rep(rep).near_failure is True


def test_classifier_verdicts_follow_the_segmenters_feature_through_a_reset() -> None:
    block, _ = synthetic_curls(n_reps=8, slow_from=4)
    events = _run(block)
    assert len(events) == 8 and {e.set_index for e in events} == {1}
    config = BaselineNearFailureConfig()
    clf = BaselineNearFailure(config)
    for event in events:
        if event.rep_index == 5:
            clf.reset()  # a restarted classifier node still knows the set's last rep
        state = clf.on_rep(event)
        loss = event.features['recent_velocity_loss']
        assert loss == pytest.approx(np.mean([e.features['velocity_loss']
                                              for e in events[max(0, event.rep_index - 2):
                                                              event.rep_index]]))
        if event.rep_index >= config.min_reps:
            centre, width = config.loss_center, config.loss_width
            assert state.probability == pytest.approx(1 / (1 + np.exp(-(loss - centre) / width)))


@pytest.mark.parametrize('centre', [0.1, 0.125, 0.3])
def test_rir_reads_two_or_less_exactly_when_near_failure(centre: float) -> None:
    # Near failure is defined as RIR <= 2, so the rule must never say one without the
    # other (at the default threshold 0.5, i.e. at the centre).
    config = BaselineNearFailureConfig(loss_center=centre)
    for loss in np.linspace(0.0, 0.6, 241):
        clf = BaselineNearFailure(config)
        clf.on_rep(RepEvent(1, 1, 0.0, 1.0, 1.0, 0.5, {'velocity_loss': loss}))
        state = clf.on_rep(RepEvent(1, 2, 1.0, 2.0, 2.0, 1.5, {'velocity_loss': loss}))
        assert state.near_failure == (state.rir <= 2), (centre, loss, state)
    assert config.rir_bands == pytest.approx([centre, centre + 0.075, centre + 0.15])


def test_simulated_curls_if_available() -> None:
    sim = pytest.importorskip('rep_coach.core.sim')
    rec = sim.simulate(sim.SimConfig(seed=3, exercise='biceps_curl', sets=1))
    events = _run(rec.imu)
    n_true = len(rec.sets[0].reps)
    assert abs(len(events) - n_true) <= max(2, n_true // 5)


def _push_sizes(block: ImuBlock, sizes) -> list:
    seg, events, i = BaselineSegmenter(), [], 0
    for size in sizes:
        events += seg.push(block.slice(i, i + size))
        i += size
    return [e.to_json() for e in events + seg.push(block.slice(i))]


def _with_stall(block: ImuBlock, t0: float, t1: float) -> ImuBlock:
    keep = (block.t < t0) | (block.t > t1)
    return ImuBlock(block.t[keep], block.accel[keep], block.gyro[keep])


@pytest.mark.parametrize('stall', [False, True])
def test_one_sample_pushes_give_the_same_events_as_blocks(stall: bool) -> None:
    """One message at a time (nodes), 0.05 s, 1 s (evaluation) or random blocks: same events."""
    block, _ = synthetic_curls(n_reps=6, rate=370.37)
    if stall:
        block = _with_stall(block, 104.2, 104.9)   # 0.7 s without samples inside rep 1
    n = len(block)
    step = int(round(0.05 * 370.37))
    one = _push_sizes(block, [1] * n)
    assert one, 'no reps detected'
    assert one == _push_sizes(block, [step] * (n // step))
    replay_step = int(round(REPLAY_BLOCK_S * 370.37))
    assert one == _push_sizes(block, [replay_step] * (n // replay_step))
    rng = np.random.default_rng(7)
    assert one == _push_sizes(block, rng.integers(0, 60, size=n // 20))


def test_one_sample_pushes_real_set(thomas2025_dir) -> None:
    from rep_coach.core.thomas2025 import load_set
    rec = load_set(thomas2025_dir, 'A321_10_1')
    step = int(round(0.05 * rec.rate_hz))
    blocks = _push_sizes(rec.imu, [step] * (len(rec.imu) // step))
    assert len(blocks) >= 5
    assert _push_sizes(rec.imu, [1] * len(rec.imu)) == blocks
    replay_step = int(round(REPLAY_BLOCK_S * rec.rate_hz))
    assert _push_sizes(rec.imu, [replay_step] * (len(rec.imu) // replay_step)) == blocks
