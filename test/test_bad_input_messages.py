"""
Bad IMU and event messages fed to the real node classes: counted, reported, never fatal.

Frame ids: any ``header.frame_id`` is accepted (a wrist IMU has no TF tree to check
against); a change mid-stream is warned about once (see rep_coach/nodes/imu_intake.py).
"""

from __future__ import annotations

import json
import math
import random
import time
from typing import Any, Callable, Dict, List

from hypothesis import given, HealthCheck, settings, strategies as st
import numpy as np
import pytest

from rep_coach.core.near_failure import BaselineNearFailure
from rep_coach.core.segmentation import BaselineSegmenter
from rep_coach.core.sim import SimConfig, simulate
from rep_coach.core.types import ImuBlock, RepEvent
from rep_coach.core.units import STANDARD_GRAVITY
from rep_coach.core.validation import DROP_REASONS
from rep_coach.imu_msg import block_to_msgs
from rep_coach.launcher import claim_domain
from rep_coach.nodes.imu_intake import ImuIntake
from rep_coach.runtime import Node, qos_profile_sensor_data, rclpy, SingleThreadedExecutor
from rep_coach.runtime.msg import DiagnosticArray, Imu, String
from rep_coach.topics import IMU_CLOCK_PERIOD_S

SIM = simulate(SimConfig(seed=3, sets=1, rate_hz=100.0))


def sim_msgs(start: int, n: int, frame_id: str = 'imu_link') -> List[Any]:
    """``n`` simulated Imu messages from sample ``start`` on."""
    return block_to_msgs(SIM.imu.slice(start, start + n), frame_id, Imu)


def crafted_stream() -> tuple:
    """300 messages with every kind of bad sample; return (msgs, expected counts)."""
    msgs = sim_msgs(0, 300)
    msgs[50].linear_acceleration.x = math.nan
    msgs[60].angular_velocity.z = math.inf
    msgs[70].linear_acceleration.y = 1e4                     # absurd
    msgs[80].angular_velocity.x = -100.0                     # absurd (rad/s)
    msgs[90].linear_acceleration.z = 16 * STANDARD_GRAVITY   # saturated: plausible, kept
    msgs[150].header.stamp.sec += 10 ** 6                    # one corrupt stamp
    for msg in msgs[200:]:
        msg.header.frame_id = 'other_link'                  # a second publisher?
    resent = sim_msgs(100, 1)[0]                             # same stamp as #100
    late = sim_msgs(115, 1)[0]                               # older than #120
    stream = msgs[:101] + [resent] + msgs[101:121] + [late] + msgs[121:]
    expected = {'non_finite': 2, 'out_of_range': 2, 'duplicate': 1, 'out_of_order': 1,
                'stray_stamp': 1}
    return stream, expected


@pytest.fixture
def graph(monkeypatch: pytest.MonkeyPatch):
    """``rclpy`` on a random loopback domain with the segmenter and classifier node classes."""
    from rep_coach.nodes.near_failure_classifier import NearFailureClassifierNode
    from rep_coach.nodes.rep_segmenter import RepSegmenterNode
    monkeypatch.setenv('ROS_LOCALHOST_ONLY', '1')
    rclpy.init(args=['test', '--ros-args', '-p', 'model:=baseline'],
               domain_id=claim_domain().domain)   # held until pytest exits
    nodes = {'segmenter': RepSegmenterNode(), 'classifier': NearFailureClassifierNode(),
             'test': Node(f'bad_input_{random.randint(0, 10 ** 6)}')}
    executor = SingleThreadedExecutor()
    for node in nodes.values():
        executor.add_node(node)
    nodes['executor'] = executor
    yield nodes
    executor.shutdown()
    for key in ('segmenter', 'classifier', 'test'):
        nodes[key].destroy_node()
    rclpy.try_shutdown()


def spin_until(executor: Any, done: Callable[[], bool], timeout: float = 3.0) -> bool:
    """Spin until ``done`` or ``timeout``."""
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.01)
    return done()


def counting(intake: ImuIntake) -> List[int]:
    """Count the messages reaching ``intake`` (wraps its accept)."""
    seen = [0]
    accept = intake.accept

    def wrapped(msgs: Any, *args: Any) -> int:
        seen[0] += 1
        return accept(msgs, *args)
    intake.accept = wrapped  # type: ignore[method-assign]
    return seen


def test_bad_imu_messages_are_dropped_counted_and_reported_once(graph, capfd) -> None:
    seg, clf, test, executor = (graph['segmenter'], graph['classifier'], graph['test'],
                                graph['executor'])
    imu_pub = test.create_publisher(Imu, 'imu/data_raw', qos_profile_sensor_data)
    diags: List[Any] = []
    test.create_subscription(DiagnosticArray, 'diagnostics', diags.append, 100)
    # The segmenter is the only IMU reader of the two: stage 2 gets the rep's signal
    # inside the rep event.
    seen = counting(seg.intake)
    assert spin_until(executor, lambda: imu_pub.get_subscription_count() >= 1), 'no match'
    stream, expected = crafted_stream()
    for i, msg in enumerate(stream, start=1):
        # One at a time: the sensor QoS keeps only 5, and this test is about content.
        imu_pub.publish(msg)
        assert spin_until(executor, lambda: seen[0] >= i), i
    seg.close()
    clf.close()
    assert spin_until(executor, lambda: len(diags) >= 2)
    spin_until(executor, lambda: False, timeout=0.2)
    assert {d.status[0].name.rsplit('/', 1)[-1] for d in diags} == {'rep_segmenter'}
    mine = [d.status[0] for d in diags]
    totals = {reason: sum(int(kv.value) for s in mine for kv in s.values
                          if kv.key == reason) for reason in DROP_REASONS}
    assert totals == expected, totals
    received = sum(int(kv.value) for s in mine for kv in s.values if kv.key == 'received')
    assert received == len(stream)
    # The corrupt stamp was dropped, not followed: no resync reset the segmenter.
    assert sum(int(kv.value) for s in mine for kv in s.values if kv.key == 'clock_jump') == 0
    err = capfd.readouterr().err
    # The rate limit: the first problem at once, the rest summed at close -> 2.
    warnings = [line for line in err.splitlines()
                if '[rep_segmenter]' in line and 'imu/data_raw: dropped' in line]
    assert 1 <= len(warnings) <= 2, warnings
    frame = [line for line in err.splitlines()
             if '[rep_segmenter]' in line and 'frame_id changed' in line]
    assert len(frame) == 1 and "'other_link'" in frame[0], frame
    assert seg.intake.frame_changes == 1 and seg.intake.frame_id == 'other_link'
    assert 'Traceback' not in err


def test_garbled_event_payloads_are_logged_counted_and_survived(graph, capfd) -> None:
    test, executor = graph['test'], graph['executor']
    reps_pub = test.create_publisher(String, 'reps', 100)
    states: List[str] = []
    test.create_subscription(String, 'near_failure', lambda m: states.append(m.data), 100)
    diags: List[Any] = []
    test.create_subscription(DiagnosticArray, 'diagnostics', diags.append, 100)
    assert spin_until(executor, lambda: reps_pub.get_subscription_count() >= 1)
    for bad in ('not json', '{"set_index": 1}', '[1, 2]', '{"set_index": "x", "rep_index": 1, '
                '"start": 0, "end": 1, "stamp": 1}', '',
                '{"set_index": 1, "rep_index": 1, "start": 0, "end": 1, "stamp": 1, '
                '"signal": [[0.5, 1.5]]}'):
        reps_pub.publish(String(data=bad))
    good = ('{"set_index": 1, "rep_index": 1, "start": 0.0, "end": 2.0, "stamp": 2.1, '
            '"peak": 1.0, "features": {}, "v": 1}')
    reps_pub.publish(String(data=good))
    assert spin_until(executor, lambda: len(states) >= 1), 'the node died on bad payloads'
    err = capfd.readouterr().err
    failures = [line for line in err.splitlines() if 'rep event:' in line]
    assert len(failures) == 1 and '1 failure(s) so far; the node goes on' in failures[0]
    assert 'Traceback' not in err
    # ...and on diagnostics, where a gym's monitoring sees it.
    assert spin_until(executor, lambda: len(diags) >= 1), 'no diagnostics'
    status = diags[0].status[0]
    assert status.name.endswith('/near_failure_classifier')
    assert status.message.startswith('rep event: PayloadError: ')
    assert graph['classifier'].state_pub is not None      # the node object is intact


class FakeNode:
    """The little of a Node that ImuIntake uses, recording what it logs and publishes."""

    def __init__(self) -> None:
        self.logged: List[str] = []
        self.published: List[Any] = []

    def create_publisher(self, *_: Any) -> Any:
        """Return a publisher that keeps messages."""
        return type('Pub', (), {'publish': lambda _, msg: self.published.append(msg)})()

    def create_timer(self, *_: Any) -> None:
        """Timers are not needed: the test calls close()."""

    def get_logger(self) -> Any:
        """Return a logger that keeps warnings and errors."""
        keep = (lambda _, text: self.logged.append(text))
        return type('Log', (), {'warning': keep, 'error': keep})()

    def get_fully_qualified_name(self) -> str:
        """Return a fixed name."""
        return '/fake'

    def get_clock(self) -> Any:
        """Return a clock good enough for a diagnostics stamp."""
        from rep_coach.runtime.msg import Header
        stamp = Header().stamp
        return type('Clock', (), {'now': lambda _: type('T', (), {
            'to_msg': lambda _: stamp})()})()


BAD_VALUES = st.sampled_from([math.nan, math.inf, -math.inf, 1e6, -1e9, 1e300])


@st.composite
def corrupted_streams(draw: Any) -> tuple:
    """Draw a simulated stream with random bad values, re-sent and late samples."""
    start = draw(st.integers(0, len(SIM.imu) - 400))
    block = SIM.imu.slice(start, start + 300)
    t, acc, gyr = block.t.copy(), block.accel.copy(), block.gyro.copy()
    for _ in range(draw(st.integers(0, 20))):
        i, axis = draw(st.integers(0, 299)), draw(st.integers(0, 5))
        (acc if axis < 3 else gyr)[i, axis % 3] = draw(BAD_VALUES)
    order = list(range(300))
    for _ in range(draw(st.integers(0, 10))):
        i = draw(st.integers(1, 299))
        order.insert(i + draw(st.integers(0, 3)), draw(st.integers(max(0, i - 50), i)))
    return ImuBlock(t[order], acc[order], gyr[order])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corrupted_streams(), st.sampled_from([1, 7]))
def test_intake_and_stages_survive_any_corruption(block: ImuBlock, step: int) -> None:
    node = FakeNode()
    intake = ImuIntake(node)
    segmenter, classifier = BaselineSegmenter(), BaselineNearFailure()
    fed: List[ImuBlock] = []

    def feed(part: ImuBlock) -> None:
        fed.append(part)
        for rep in segmenter.push(part):
            classifier.on_rep(rep)

    def reset() -> None:
        segmenter.reset()
        classifier.reset()

    msgs = block_to_msgs(block, 'imu_link', Imu)
    total = 0
    for i in range(0, len(msgs), step):
        total += intake.accept(msgs[i:i + step], feed, reset)
    intake.close()
    clean = ImuBlock.concat(fed) if fed else ImuBlock.empty()
    assert total == len(clean)
    assert np.isfinite(clean.accel).all() and np.isfinite(clean.gyro).all()
    assert (np.diff(clean.t) > 0).all()      # no clock jump here: strictly increasing
    diags = [m for m in node.published if isinstance(m, DiagnosticArray)]
    counts: Dict[str, int] = {}
    for diag in diags:
        for kv in diag.status[0].values:
            counts[kv.key] = counts.get(kv.key, 0) + int(float(kv.value or 0))
    dropped = sum(counts.get(r, 0) for r in DROP_REASONS)
    assert dropped + total == len(block)
    assert len(node.logged) == len(diags) <= 2
    # The data clock (imu/clock) only ever moves forward, a period of data at a time,
    # and only to stamps of samples that were accepted.
    clock = [m.stamp.sec + m.stamp.nanosec * 1e-9 for m in node.published
             if not isinstance(m, DiagnosticArray)]
    assert all(b - a >= IMU_CLOCK_PERIOD_S - 1e-6 for a, b in zip(clock, clock[1:]))
    assert all(np.isclose(clean.t, c, rtol=0, atol=1e-6).any() for c in clock)


@pytest.mark.parametrize('literal', ['NaN', 'Infinity', '-Infinity'])
@pytest.mark.parametrize('field', ['start', 'end', 'stamp'])
def test_event_times_must_be_finite(field: str, literal: str) -> None:
    # json.loads takes these literals; a rep stamped Infinity froze the coach's data clock.
    from rep_coach.core.types import PayloadError, RepEvent
    payload = json.loads(RepEvent(1, 1, 1.0, 2.0, 2.5).to_json())
    payload[field] = 123.25
    text = json.dumps(payload).replace('123.25', literal)
    with pytest.raises(PayloadError, match=f"'{field}' must be finite"):
        RepEvent.from_json(text)


def test_state_stamp_must_be_finite() -> None:
    from rep_coach.core.types import NearFailureState, PayloadError
    text = NearFailureState(1, 1, 123.25, 0.5, False).to_json().replace('123.25', 'NaN')
    with pytest.raises(PayloadError, match="'stamp' must be finite"):
        NearFailureState.from_json(text)


def _rep_payload(**fields: Any) -> str:
    payload = json.loads(RepEvent(1, 1, 1.0, 2.0, 2.5).to_json())
    payload.update(fields)
    return json.dumps(payload)


@pytest.mark.parametrize('field', ['set_index', 'rep_index'])
@pytest.mark.parametrize('value', [1.7, True, 0, -5, 10 ** 7, 10 ** 30])
def test_event_indices_must_be_one_based_integers(field: str, value: Any) -> None:
    # Before: int() took 1.7 and true as 1 and kept 0, -5 and 10**30; a rep numbered
    # 10**7 raised inside the coach after half updating its set, so audio_feedback then
    # dropped every later rep of the set as a repeat and failed at shutdown.
    from rep_coach.core.types import NearFailureState, PayloadError, TrueRep
    state = json.loads(NearFailureState(1, 1, 2.5, 0.5, False).to_json())
    label = json.loads(TrueRep(1, 1, 1.0, 2.0).to_json())
    for decode, payload in ((RepEvent.from_json, json.loads(_rep_payload())),
                            (NearFailureState.from_json, state), (TrueRep.from_json, label)):
        payload[field] = value
        with pytest.raises(PayloadError, match=field):
            decode(json.dumps(payload))
    # A whole number written as a float is still that index.
    assert getattr(RepEvent.from_json(_rep_payload(**{field: 3.0})), field) == 3


def test_a_rep_ending_before_it_starts_is_refused() -> None:
    # Before: accepted; the coach measured the rest from the bogus end, split the set and
    # counted the next rep as "one" again.
    from rep_coach.core.types import PayloadError
    with pytest.raises(PayloadError, match="'end' 1.0 is before 'start' 5.0"):
        RepEvent.from_json(_rep_payload(start=5.0, end=1.0))


@pytest.mark.parametrize('field, value', [('near_failure', 'no'), ('near_failure', 1),
                                          ('probability', 5.0), ('probability', -0.1),
                                          ('rir', -5), ('rir', 4), ('rir', 10 ** 30),
                                          ('rir', 2.5), ('rir', True)])
def test_verdict_fields_out_of_their_domain_are_refused(field: str, value: Any) -> None:
    # Before: bool('no') is True, and a probability of 5 made the coach say "two left"
    # with no classifier behind it; a reserve of -5 read as "stop", one of 2.5 as 2.
    from rep_coach.core.types import NearFailureState, PayloadError
    payload = json.loads(NearFailureState(1, 1, 2.5, 0.5, False, 2).to_json())
    payload[field] = value
    with pytest.raises(PayloadError, match=field):
        NearFailureState.from_json(json.dumps(payload))


def test_a_label_with_a_fractional_reserve_is_refused_and_a_whole_float_read() -> None:
    # Before: int() read a labelled reserve of 2.5 as 2 and scored the rep with it.
    from rep_coach.core.types import PayloadError, TrueRep
    payload = json.loads(TrueRep(1, 1, 1.0, 2.0, rpe=8.0, rir=2).to_json())
    assert TrueRep.from_json(json.dumps(payload | {'rir': 2.0})).rir == 2
    with pytest.raises(PayloadError, match="'rir' must be an integer, got 2.5"):
        TrueRep.from_json(json.dumps(payload | {'rir': 2.5}))


@pytest.mark.parametrize('text', ['[' * 100_000, '{"a":' * 10_000 + '1' + '}' * 10_000])
def test_deeply_nested_payloads_are_payload_errors(text: str) -> None:
    # Before: RecursionError, which is no PayloadError: it ended the readers that skip
    # bad payloads (rep-coach evaluate, the session summary) instead of being skipped.
    from rep_coach.core.types import NearFailureState, PayloadError, TrueRep
    for decode in (RepEvent.from_json, NearFailureState.from_json, TrueRep.from_json):
        with pytest.raises(PayloadError, match='nested too deeply'):
            decode(text)


def test_guarded_logs_and_publishes_the_first_failure_of_each_kind() -> None:
    # Before: one count for every kind, so after an undecodable rep event the first
    # failure of another kind (here a KeyError) stayed unlogged until the 100th failure;
    # and failures were only logged, never on diagnostics, nor summed up at shutdown.
    from rep_coach.nodes.common import guarded, report_callback_failures
    node = FakeNode()

    def callback(exc: Exception) -> None:
        raise exc
    safe = guarded(node, 'rep event')(callback)
    for exc in [ValueError('bad json')] * 3 + [KeyError('stamp')] + [ValueError('x')] * 99:
        safe(exc)
    assert node.logged == [
        'rep event: ValueError: bad json (1 failure(s) so far; the node goes on)',
        "rep event: KeyError: 'stamp' (4 failure(s) so far; the node goes on)",
        'rep event: ValueError: x (101 failure(s) so far; the node goes on)']
    status = [msg.status[0] for msg in node.published]
    assert [s.message for s in status] == ['rep event: ValueError: bad json',
                                           "rep event: KeyError: 'stamp'",
                                           'rep event: ValueError: x']
    assert {kv.key: kv.value for kv in status[2].values} == {
        'callback': 'rep event', 'error': 'ValueError', 'failures': '100',
        'failures_of_callback': '101'}
    assert all(s.level == bytes([1]) for s in status)       # WARN: the node goes on
    # The two ValueErrors after the 100th were never said: summed up at shutdown, once.
    report_callback_failures(node)
    report_callback_failures(node)
    assert node.logged[3:] == ['callback failures not yet reported: rep event: ValueError x2 '
                               '(at shutdown; in all: 103)']
    assert node.published[-1].status[0].message == ('callback failures not yet reported: '
                                                    'rep event: ValueError x2')
    assert len(node.published) == 4


def test_a_node_without_callback_failures_says_nothing_at_shutdown() -> None:
    from rep_coach.nodes.common import guarded, report_callback_failures
    node = FakeNode()
    guarded(node, 'rep event')(lambda: None)()
    report_callback_failures(node)
    report_callback_failures(FakeNode())     # never guarded anything
    assert node.logged == [] and node.published == []
