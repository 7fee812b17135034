"""
IMU stream faults driven through the real nodes: stall, burst, rate changes, clock jumps.

A simulated session is written in our CSV format with the faults inserted, then
replayed by ``imu_publisher`` (``source: csv:PATH``) into ``rep_segmenter`` (baseline
model, for speed) while ``session_recorder`` records; the bag must hold the
segmenter's counted diagnostics and the reps detected after the faults, and every
process must exit 0.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
import json
from pathlib import Path
import time
from typing import Dict, List

from graph_helpers import Lines
import numpy as np
import pytest
from rep_coach.bagio import read_bag
from rep_coach.core.sim import SimConfig, simulate
from rep_coach.core.sources import write_our_csv
from rep_coach.core.types import ImuBlock
from rep_coach.launcher import isolated_env, Launcher, NodeLaunch
from rep_coach.paths import default_params_file

#: Replay speed: fast enough for the test budget, slow enough for a keep-last-5 reader.
SPEED = 6.0
#: Where set 2 starts on the source clock: far before set 1 (a clock reset).
RESET_TO = -200.0


@dataclass
class FaultySession:
    """A faulty recording and what the gate must count in it."""

    block: ImuBlock
    expected: Dict[str, int]
    set2_start: float            # source time of the first sample after the clock reset
    set2_reps: int


def _resample(block: ImuBlock, t0: float, t1: float, rate: float) -> ImuBlock:
    t = np.arange(t0, t1, 1.0 / rate)
    acc = np.column_stack([np.interp(t, block.t, block.accel[:, i]) for i in range(3)])
    gyr = np.column_stack([np.interp(t, block.t, block.gyro[:, i]) for i in range(3)])
    return ImuBlock(t, acc, gyr)


def _window(block: ImuBlock, t0: float, t1: float) -> ImuBlock:
    keep = (block.t >= t0 - 1e-9) & (block.t < t1 - 1e-9)
    return ImuBlock(block.t[keep], block.accel[keep], block.gyro[keep])


def faulty_session() -> FaultySession:
    """
    Two simulated sets at 100 Hz with every stream fault inserted in the first.

    Set 1 (0-38 s): a 0.8 s stall at 12 s; a burst of 9 bunched stamps at 16 s; the
    rate goes 100 -> 50 Hz at 20 s, -> 100 Hz at 25 s, -> 200 Hz at 27 s, -> 100 Hz at
    30 s (4 rate changes); the clock jumps 3 s forward at 32 s.  Set 2 follows with
    the clock reset to ``RESET_TO`` (a backward jump): 2 clock jumps in all.
    """
    rec = simulate(SimConfig(seed=7, sets=2, rate_hz=100.0))
    imu = rec.imu
    pieces = [_window(imu, 0.0, 12.0), _window(imu, 12.8, 20.0),
              _resample(imu, 20.0, 25.0, 50.0), _window(imu, 25.0, 27.0),
              _resample(imu, 27.0, 30.0, 200.0), _window(imu, 30.0, 32.0)]
    after = _window(imu, 32.0, 38.0)
    pieces.append(ImuBlock(after.t + 3.0, after.accel, after.gyro))
    set1 = ImuBlock.concat(pieces)
    t = set1.t.copy()
    k = int(np.searchsorted(t, 16.0))
    t[k + 1:k + 10] = t[k] + 0.001 * np.arange(1, 10)
    set1 = ImuBlock(t, set1.accel, set1.gyro)
    second = rec.sets[1]
    t2 = second.reps[0].start - 3.0
    set2 = _window(imu, t2, second.reps[-1].end + 4.0)
    shift = RESET_TO - set2.t[0]
    set2 = ImuBlock(set2.t + shift, set2.accel, set2.gyro)
    expected = {'stall': 1, 'burst': 9, 'rate_change': 4, 'clock_jump': 2,
                'non_finite': 0, 'out_of_range': 0, 'duplicate': 0, 'out_of_order': 0}
    return FaultySession(ImuBlock.concat([set1, set2]), expected, RESET_TO, len(second.reps))


@pytest.mark.parametrize('step', [1, 8])
def test_faulty_session_is_counted_exactly_by_the_gate(step: int) -> None:
    from rep_coach.core.validation import SampleGate
    session = faulty_session()
    gate = SampleGate()
    block = session.block
    for i in range(0, len(block), step):   # 1: as the nodes push; 8: a publisher tick
        gate.push(block.slice(i, i + step))
    counts = gate.take_report().counts
    assert {k: counts.get(k, 0) for k in session.expected} == session.expected


@pytest.fixture(scope='module')
def faulty_run(tmp_path_factory) -> dict:
    """Replay the faulty session through publisher, segmenter and recorder, once."""
    tmp = tmp_path_factory.mktemp('faults')
    session = faulty_session()
    csv_path = tmp / 'faulty.csv'
    write_our_csv(csv_path, session.block, comment='rep_coach fault-injection session')
    out = Lines()
    nodes = [
        NodeLaunch('session_recorder', overrides={'bag_dir': str(tmp / 'bags'),
                                                  'bag_name': 'faults',
                                                  'flush_interval_s': 0.5}),
        NodeLaunch('rep_segmenter', overrides={'model': 'baseline'}),
        NodeLaunch('imu_publisher', overrides={
            'source': f'csv:{csv_path}', 'playback_speed': SPEED, 'publish_labels': False,
            'wait_for_subscribers': 2, 'start_delay_s': 15.0, 'shutdown_when_done': True}),
    ]
    launcher = Launcher(nodes, params_file=default_params_file(), env=isolated_env(), output=out)
    started = time.monotonic()
    # Stop once the publisher finished and the segmenter's last report had its chance.
    finished: List[float] = []

    def done(run: Launcher) -> bool:
        if not finished and 'finished after' in out.text():
            finished.append(time.monotonic())
        return bool(finished) and time.monotonic() - finished[0] > 1.5

    code = launcher.run(until=done, duration=90, handle_signals=False)
    return {'code': code, 'log': out.text(), 'bag': tmp / 'bags' / 'faults',
            'session': session, 'launcher': launcher, 'elapsed': time.monotonic() - started}


def _segmenter_diagnostics(bag: Path) -> List[Dict[str, str]]:
    found = []
    for msg in read_bag(bag, topics=['/diagnostics']):
        for status in msg.message.status:
            if status.name.endswith('rep_segmenter'):
                found.append({kv.key: kv.value for kv in status.values}
                             | {'_message': status.message, '_level': int(status.level)})
    return found


def test_faults_are_reported_on_diagnostics_with_the_right_counts(faulty_run) -> None:
    assert faulty_run['code'] == 0, faulty_run['log'][-4000:]
    reports = _segmenter_diagnostics(faulty_run['bag'])
    assert reports, faulty_run['log'][-4000:]
    assert all(r['_level'] == 1 for r in reports)   # WARN
    totals: Counter = Counter()
    for report in reports:
        for key in faulty_run['session'].expected:
            totals[key] += int(report[key])
    expected = faulty_run['session'].expected
    # Deterministic faults are exact; a best-effort reader on a loaded machine may lose
    # a sample of the burst, never gain one.
    for key in ('stall', 'clock_jump', 'rate_change', 'non_finite', 'out_of_range',
                'duplicate', 'out_of_order'):
        assert totals[key] == expected[key], (key, dict(totals))
    assert 1 <= totals['burst'] <= expected['burst'], dict(totals)
    # One counted warning per report in the log, not one per sample.
    warnings = [line for line in faulty_run['log'].splitlines()
                if 'rep_segmenter' in line and 'imu/data_raw: dropped' in line]
    assert len(warnings) == len(reports), warnings


def test_reps_are_detected_after_the_faults(faulty_run) -> None:
    session = faulty_run['session']
    epoch_reps = [json.loads(m.message.data) for m in read_bag(faulty_run['bag'],
                                                               topics=['/reps'])]
    assert epoch_reps, faulty_run['log'][-3000:]
    # Set 2 is stamped before set 1 (the clock went back): its reps have the smallest stamps.
    first_stamp = min(r['start'] for r in epoch_reps)
    set2 = [r for r in epoch_reps if r['start'] < first_stamp + 60.0]
    set1 = [r for r in epoch_reps if r['start'] >= first_stamp + 60.0]
    assert abs(len(set2) - session.set2_reps) <= 1, (len(set2), session.set2_reps)
    assert len(set1) >= 5   # set 1 still counted through stall, burst and rate changes


def test_every_process_exits_cleanly_after_the_faults(faulty_run) -> None:
    codes = faulty_run['launcher'].exit_codes
    assert all(c == [0] for c in codes.values()), (codes, faulty_run['log'][-3000:])
    assert 'Traceback' not in faulty_run['log']
    assert faulty_run['elapsed'] < 40
