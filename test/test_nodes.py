"""The node classes in one process, through the runtime (the same classes `ros2 run` starts)."""

from __future__ import annotations

import json
from pathlib import Path
import time
from typing import Callable, Dict, List, Tuple

import numpy as np
import pytest

from rep_coach import topics
from rep_coach.core.sim import SimConfig, simulate
from rep_coach.core.types import NearFailureState, RepEvent
from rep_coach.imu_msg import block_to_msgs, stamp_to_seconds
from rep_coach.launcher import claim_domain
from rep_coach.nodes.audio_feedback import AudioFeedbackNode
from rep_coach.nodes.near_failure_classifier import NearFailureClassifierNode
from rep_coach.nodes.rep_segmenter import RepSegmenterNode
from rep_coach.runtime import (Node, qos_profile_sensor_data, QoSProfile, rclpy,
                               ReliabilityPolicy, SingleThreadedExecutor)
from rep_coach.runtime.msg import CompressedImage, Header, Imu, String

RELIABLE = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)


@pytest.fixture
def ros(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv('ROS_LOCALHOST_ONLY', '1')
    args = ['test', '--ros-args', '-p', 'model:=baseline', '-p', f'sink:="wav:{tmp_path}"']
    rclpy.init(args=args, domain_id=claim_domain().domain)   # held until pytest exits
    executor = SingleThreadedExecutor()
    yield executor
    for node in list(executor.get_nodes()):
        close = getattr(node, 'close', None)
        if close is not None:
            close()
        node.destroy_node()
    executor.shutdown()
    rclpy.try_shutdown()


def spin_until(executor, done: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.02)
    return done()


def imu_readers(nodes: List[Node]) -> int:
    """How many subscriptions of ``nodes`` read ``imu/data_raw`` (for matching)."""
    return sum(1 for node in nodes for sub in node.subscriptions
               if sub.topic_name.endswith('/' + topics.IMU))


def listening_probe(ros, *names: str,
                    node_name: str = 'probe') -> Tuple[Node, Dict[str, List[str]]]:
    """Add a probe node to ``ros``; return it and the String data it hears on each topic."""
    probe = Node(node_name)
    ros.add_node(probe)
    heard: Dict[str, List[str]] = {name: [] for name in names}
    for name, store in heard.items():
        probe.create_subscription(String, name, lambda msg, s=store: s.append(msg.data),
                                  RELIABLE)
    return probe, heard


def send_two_reps(node: AudioFeedbackNode) -> None:
    """Hand the coach two reps of set 1, 2.5 s apart in data time."""
    for index, stamp in ((1, 100.0), (2, 102.5)):
        rep = RepEvent(set_index=1, rep_index=index, start=stamp - 2.0, end=stamp - 0.2,
                       stamp=stamp, features={'velocity_loss': 0.0})
        node.on_rep(String(data=rep.to_json()))


def test_imu_to_reps_to_verdicts_to_cues(ros) -> None:
    nodes = [node_class() for node_class in (RepSegmenterNode, NearFailureClassifierNode,
                                             AudioFeedbackNode)]
    for node in nodes:
        ros.add_node(node)
    probe, got = listening_probe(ros, topics.REPS, topics.NEAR_FAILURE, topics.FEEDBACK)
    imu_pub = probe.create_publisher(Imu, topics.IMU, qos_profile_sensor_data)
    recording = simulate(SimConfig(seed=3, sets=1, tail_s=10.0))
    msgs = block_to_msgs(recording.imu, 'imu_link', Imu)
    readers = imu_readers(nodes)
    assert spin_until(ros, lambda: imu_pub.get_subscription_count() >= readers, 10)
    # A tenth of a second of samples per spin: faster than real time, yet well within the
    # readers' queues even on a loaded machine.
    for start in range(0, len(msgs), 10):
        for msg in msgs[start:start + 10]:
            imu_pub.publish(msg)
        spin_until(ros, lambda: False, 0.01)
    true_reps = len(recording.sets[0].reps)
    assert spin_until(ros, lambda: any('reps' in c for c in got[topics.FEEDBACK]), 20), got
    reps = [RepEvent.from_json(text) for text in got[topics.REPS]]
    states = [NearFailureState.from_json(text) for text in got[topics.NEAR_FAILURE]]
    assert abs(len(reps) - true_reps) <= 1
    assert [s.rep_index for s in states] == [r.rep_index for r in reps]
    assert got[topics.FEEDBACK][0] == 'one'
    assert any(state.near_failure for state in states)


def test_only_the_segmenter_reads_the_imu_stream_among_the_coaching_nodes(ros) -> None:
    from rep_coach.core.params import specs_for
    from rep_coach.launcher import IMU_READERS
    segmenter, classifier, audio = (RepSegmenterNode(), NearFailureClassifierNode(),
                                    AudioFeedbackNode())
    for node in (segmenter, classifier, audio):
        ros.add_node(node)
    # Stage 2 gets each rep's raw signal inside the rep event: no 100 Hz wake-ups.
    assert [sub.topic_name.rsplit('/', 1)[-1] for sub in classifier.subscriptions] == \
        [topics.REPS]
    assert imu_readers([segmenter, classifier, audio]) == 1
    recorded = {s.name: s.default for s in specs_for('session_recorder')}['topics']
    # What the demo and the graph bench wait for: these plus the recorder.
    assert imu_readers([segmenter, classifier, audio]) + (topics.IMU in recorded) \
        == IMU_READERS


def segmenter_fed_by_probe(ros, subscribe: Callable[[Node], object]
                           ) -> Tuple[RepSegmenterNode, object]:
    """
    Add a segmenter and a probe that ``subscribe`` readies; return both wired up.

    Returns the segmenter and the probe's ``imu/data_raw`` publisher, once they match.
    """
    segmenter = RepSegmenterNode()
    ros.add_node(segmenter)
    probe = Node('probe')
    ros.add_node(probe)
    subscribe(probe)
    imu_pub = probe.create_publisher(Imu, topics.IMU, qos_profile_sensor_data)
    assert spin_until(ros, lambda: imu_pub.get_subscription_count() >= 1, 10)
    return segmenter, imu_pub


def test_a_segmenter_busy_for_seconds_of_samples_loses_none(ros) -> None:
    # Audit: at 8x on a loaded machine the segmenter lost over 2 s of samples at start-up
    # (a 100-sample queue); the gate took the hole for a clock jump and reset mid-rep,
    # which put every rep end of that set half a rep late.
    clock: List[float] = []     # the newest sample the segmenter took, every 0.2 s of data
    segmenter, imu_pub = segmenter_fed_by_probe(ros, lambda probe: probe.create_subscription(
        Header, topics.IMU_CLOCK, lambda msg: clock.append(stamp_to_seconds(msg.stamp)),
        qos_profile_sensor_data))
    block = simulate(SimConfig(seed=3, sets=1)).imu.slice(0, 800)
    for msg in block_to_msgs(block, 'imu', Imu):   # 8 s of samples, none taken meanwhile
        imu_pub.publish(msg)
    assert spin_until(ros, lambda: bool(clock) and clock[-1] > block.t[-1] - 0.2, 10), clock
    report = segmenter.intake.gate.take_report()
    assert report.received == report.accepted == len(block) and report.clean, report


def test_a_stream_in_g_gets_a_units_warning_on_diagnostics(ros) -> None:
    # Audit: accelerations in g (not REP-145's m/s^2) went through without a word.
    from rep_coach.core.types import ImuBlock
    from rep_coach.core.units import STANDARD_GRAVITY
    from rep_coach.runtime.msg import DiagnosticArray
    heard: List[str] = []
    _, imu_pub = segmenter_fed_by_probe(ros, lambda probe: probe.create_subscription(
        DiagnosticArray, topics.DIAGNOSTICS,
        lambda msg: heard.extend(s.message for s in msg.status), RELIABLE))
    imu = simulate(SimConfig(seed=3, sets=1)).imu.slice(0, 400)
    block = ImuBlock(imu.t, imu.accel / STANDARD_GRAVITY, imu.gyro)
    for msg in block_to_msgs(block, 'imu', Imu):
        imu_pub.publish(msg)
    assert spin_until(ros, lambda: any('look like g' in m for m in heard), 10), heard
    text = next(m for m in heard if 'look like g' in m)
    assert 'REP-145' in text and 'dropped 0 of' in text


def test_a_malformed_rep_message_does_not_stop_the_classifier(ros) -> None:
    classifier = NearFailureClassifierNode()
    ros.add_node(classifier)
    probe, heard = listening_probe(ros, topics.NEAR_FAILURE)
    verdicts = heard[topics.NEAR_FAILURE]
    pub = probe.create_publisher(String, topics.REPS, RELIABLE)
    assert spin_until(ros, lambda: pub.get_subscription_count() >= 1, 10)
    good = RepEvent(set_index=1, rep_index=1, start=0.0, end=2.0, stamp=2.3,
                    features={'velocity_loss': 0.0}).to_json()
    for text in ('not json', '{"rep_index": "x"}', json.dumps([1, 2]), good):
        pub.publish(String(data=text))
    assert spin_until(ros, lambda: len(verdicts) == 1, 10)
    assert NearFailureState.from_json(verdicts[0]).rep_index == 1


def test_form_coach_flags_low_elbows_from_a_compressed_image(ros, shared_data: Path) -> None:
    pytest.importorskip('mediapipe')
    cv2 = pytest.importorskip('cv2')
    from rep_coach.nodes.form_coach import FormCoachNode
    photo = shared_data / 'pose' / '715_low_elbows.jpg'
    if not photo.is_file():
        pytest.skip(f'{photo} absent')
    ros.add_node(FormCoachNode())
    probe = Node('probe')
    ros.add_node(probe)
    events: List[dict] = []
    probe.create_subscription(String, topics.FORM_EVENTS,
                              lambda m: events.append(json.loads(m.data)), RELIABLE)
    pub = probe.create_publisher(CompressedImage, topics.IMAGE_COMPRESSED,
                                 qos_profile_sensor_data)
    ok, jpeg = cv2.imencode('.jpg', cv2.imread(str(photo)))
    assert ok
    assert spin_until(ros, lambda: pub.get_subscription_count() >= 1, 10)
    for i in range(8):
        msg = CompressedImage()
        msg.header.stamp.sec = 100 + i
        msg.format = 'jpeg'
        msg.data = np.asarray(jpeg).tobytes()
        pub.publish(msg)
        spin_until(ros, lambda: False, 0.4)
    assert spin_until(ros, lambda: any('elbows_low' in e['faults'] for e in events), 20), events


def test_imu_intake_resets_before_every_part_that_follows_a_clock_jump(ros) -> None:
    from rep_coach.core.types import ImuBlock
    from rep_coach.core.validation import GateConfig
    from rep_coach.nodes.imu_intake import ImuIntake
    node = Node('intake_jumps')
    ros.add_node(node)

    def run(stamps: List[float], resume: bool = False) -> list:
        intake = ImuIntake(node, publish_clock=False)
        intake.gate.config = GateConfig(stall_s=0.2, jump_s=2.0)
        n = len(stamps)
        msgs = block_to_msgs(ImuBlock(stamps, np.tile([0.0, 0.0, 9.8], (n, 1)),
                                      np.zeros((n, 3))), 'imu_link', Imu)
        log: list = []
        for chunk in (msgs[:40], msgs[40:]):   # several messages per call
            intake.accept(chunk, lambda b: log.append(len(b)), lambda: log.append('reset'),
                          (lambda: log.append('resume')) if resume else None)
        return log

    base = list(np.arange(40) / 100.0)
    # A jump before the second call's first sample and one inside it: two resets.
    assert run(base + [10.0, 10.01, 20.0, 20.01]) == [40, 'reset', 2, 'reset', 2]
    # A jump inside the call only: the first part continues the old timeline.
    assert run(base + [0.40, 0.41, 20.0, 20.01]) == [40, 2, 'reset', 2]
    # Holes of the same stream (forward, up to HOLE_MAX_S) are resumed over; a jump
    # back, or one further forward, is another stream.
    assert run(base + [3.0, 3.01, 33.0, 33.01], resume=True) == [40, 'resume', 2, 'resume', 2]
    assert run(base + [3.0, 3.01, 1.0, 1.01, 40.0, 40.01], resume=True) == \
        [40, 'resume', 2, 'reset', 2, 'reset', 2]


def test_imu_intake_publishes_the_data_clock_every_period_of_data(ros) -> None:
    from rep_coach.nodes.imu_intake import ImuIntake
    from rep_coach.runtime.msg import Header
    node = Node('intake_probe')
    ros.add_node(node)
    intake = ImuIntake(node)
    clock: List[float] = []
    node.create_subscription(Header, topics.IMU_CLOCK,
                             lambda m: clock.append(m.stamp.sec + m.stamp.nanosec * 1e-9),
                             qos_profile_sensor_data)
    assert spin_until(ros, lambda: node.count_publishers(topics.IMU_CLOCK) >= 1, 10)
    recording = simulate(SimConfig(seed=3, sets=1))
    first = float(recording.imu.t[0])
    msgs = block_to_msgs(recording.imu.slice(0, 101), 'imu_link', Imu)   # 1 s at 100 Hz
    for msg in msgs:
        intake.accept([msg], lambda block: None, lambda: None)
        spin_until(ros, lambda: False, 0.002)
    assert spin_until(ros, lambda: len(clock) >= 6, 5), clock
    # One message per IMU_CLOCK_PERIOD_S of data, stamped with the newest sample.
    expected = [first + k * topics.IMU_CLOCK_PERIOD_S for k in range(6)]
    assert np.allclose(clock[:6], expected, atol=0.011), clock


def test_audio_feedback_times_rests_in_data_time_from_the_clock(ros) -> None:
    """
    A rest of ``set_rest_s`` on the IMU timeline ends the set, however fast data runs.

    The data clock comes from ``imu/clock`` (and the events' own stamps); wall time
    hardly passes here, so only data time can end the set.
    """
    from rep_coach.runtime.msg import Header
    node = AudioFeedbackNode()
    ros.add_node(node)
    cues: List[str] = []
    node._emit = (  # type: ignore[method-assign]
        lambda out, note='': cues.extend(c.text for c in out))
    rest = node.policy.config.set_rest_s
    send_two_reps(node)
    node.on_tick()
    assert cues == ['one', 'two']

    def clock_at(seconds: float) -> Header:
        msg = Header()
        msg.stamp.sec, msg.stamp.nanosec = int(seconds), int(round(seconds % 1 * 1e9))
        return msg
    node.on_clock(clock_at(102.5 + rest - 0.5))
    node.on_tick()
    assert cues == ['one', 'two']                     # still within the rest
    node.on_clock(clock_at(102.5 + rest + 0.1))
    node.on_tick()
    assert len(cues) == 3 and 'reps' in cues[2], cues  # the set summary


def test_node_parameters_are_read_only_after_start_up(ros) -> None:
    # The nodes read and check their parameters once; a later set must be refused, not
    # reported as applied while nothing changes.
    from rep_coach.runtime import Parameter
    node = NearFailureClassifierNode()
    ros.add_node(node)
    before = node.get_parameter('threshold').value
    result = node.set_parameters([Parameter('threshold', value=0.9)])[0]
    assert not getattr(result, 'successful', result)
    assert node.get_parameter('threshold').value == before


@pytest.mark.parametrize('publish_labels', [True, False])
def test_imu_publisher_offers_labels_only_when_asked(monkeypatch, publish_labels) -> None:
    from rep_coach.nodes.imu_publisher import ImuPublisherNode
    monkeypatch.setenv('ROS_LOCALHOST_ONLY', '1')
    flag = 'true' if publish_labels else 'false'
    rclpy.init(args=['test', '--ros-args', '-p', f'publish_labels:={flag}'],
               domain_id=claim_domain().domain)
    try:
        node = ImuPublisherNode()
        offered = [pub.topic_name.lstrip('/') for pub in node.publishers]
        node.close()
        node.destroy_node()
    finally:
        rclpy.try_shutdown()
    assert (topics.TRUE_REPS in offered) == publish_labels
    assert topics.IMU in offered


def test_audio_feedback_publishes_the_summary_of_a_set_in_progress_at_shutdown(ros) -> None:
    node = AudioFeedbackNode()
    ros.add_node(node)
    heard = listening_probe(ros, topics.FEEDBACK, node_name='feedback_probe')[1][topics.FEEDBACK]
    assert spin_until(ros, lambda: node.feedback_pub.get_subscription_count() >= 1, 10)
    send_two_reps(node)
    node.close()      # before the set's rest ran out
    assert spin_until(ros, lambda: len(heard) >= 3, 10), heard
    assert heard[:2] == ['one', 'two'] and 'reps' in heard[2]


def test_a_rep_numbered_beyond_speech_leaves_the_coach_counting(ros, capfd) -> None:
    # Before: a rep event numbered 10**7 raised inside the coaching policy after it had
    # half updated the set, so rep 2 was then dropped as a repeat ("two" never said) and
    # the set's summary raised at shutdown.  Now the payload is refused, named in the log.
    node = AudioFeedbackNode()
    ros.add_node(node)
    probe, heard = listening_probe(ros, topics.FEEDBACK, node_name='feedback_probe')
    pub = probe.create_publisher(String, topics.REPS, RELIABLE)
    assert spin_until(ros, lambda: pub.get_subscription_count() >= 1
                      and node.feedback_pub.get_subscription_count() >= 1, 10)
    reps = [RepEvent(set_index=1, rep_index=index, start=stamp - 2.0, end=stamp - 0.2,
                     stamp=stamp).to_json() for index, stamp in ((1, 100.0), (2, 105.0))]
    bogus = json.loads(reps[0])
    bogus.update(rep_index=10 ** 7, start=101.0, end=102.3, stamp=102.5)
    for text in (reps[0], json.dumps(bogus), reps[1]):
        pub.publish(String(data=text))
    assert spin_until(ros, lambda: heard[topics.FEEDBACK][-1:] == ['two'], 10), heard
    node.close()
    assert spin_until(ros, lambda: len(heard[topics.FEEDBACK]) >= 3, 10), heard
    assert heard[topics.FEEDBACK] == ['one', 'two', 'two reps']
    err = capfd.readouterr().err
    assert 'rep event: PayloadError' in err and "'rep_index' must be within" in err, err
