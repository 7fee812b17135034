"""Tests of ``rep-coach play``: timing core with a fake clock, QoS, wiring to the runtime."""

from __future__ import annotations

import argparse
from enum import IntEnum
from pathlib import Path
import sys
import types
from typing import Any, List, Tuple

import pytest

from rep_coach.bagio import BagRecorder, load_metadata, QosSpec
from rep_coach.bagio.types import default_typestore
from rep_coach.cli import play

STRING = 'std_msgs/msg/String'


class FakeClock:
    """A monotonic clock that only advances when slept on."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: List[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def run_player(msgs: List[Tuple[str, int, Any]], **kwargs: Any) -> Tuple[list, Any]:
    clock = FakeClock()
    published: list = []
    player = play.Player(lambda: iter(msgs),
                         lambda topic, payload: published.append((clock(), topic, payload)),
                         clock=clock, sleep=clock.sleep, **kwargs)
    return published, player


def test_player_respects_recorded_timing_scaled_by_rate() -> None:
    msgs = [('a', 5_000_000_000, 1), ('b', 5_500_000_000, 2), ('a', 7_000_000_000, 3)]
    published, player = run_player(msgs, rate=2.0)
    stats = player.run()
    assert stats.published == 3 and stats.loops == 1
    assert [t - 100.0 for t, _, _ in published] == pytest.approx([0.0, 0.25, 1.0])
    assert [p for _, _, p in published] == [1, 2, 3]
    assert max(player.sleep.__self__.sleeps) <= play._MAX_SLEEP_S


def test_player_loops_and_stops() -> None:
    msgs = [('a', 0, 1), ('a', 1_000_000_000, 2)]
    published, player = run_player(msgs, loop=True)
    original = player.publish

    def publish(topic: str, payload: Any) -> None:
        original(topic, payload)
        if len(published) == 5:
            player.stop()

    player.publish = publish
    stats = player.run()
    assert stats.published == 5 and stats.loops == 2
    # Each pass restarts at once after the previous one: 0, 1, 1, 2, 2 seconds.
    assert [t - 100.0 for t, _, _ in published] == pytest.approx([0, 1, 1, 2, 2])


def test_player_backwards_timestamps_and_bad_rate() -> None:
    published, player = run_player([('a', 10, 1), ('a', 5, 2)])
    player.run()
    assert [t for t, _, _ in published] == [100.0, 100.0]
    with pytest.raises(ValueError, match='rate'):
        play.Player(lambda: [], lambda t, p: None, rate=0)


def test_playback_qos_and_namespace(tmp_path: Path) -> None:
    bag = tmp_path / 'b'
    rec = BagRecorder(bag, {'/s1/imu/data_raw': ('sensor_msgs/msg/Imu', 'sensor_data'),
                            '/s1/reps': (STRING, ['events', QosSpec('best_effort', depth=3)]),
                            '/s1/raw': (STRING, None)},
                      custom_data={'namespace': '/s1'})
    rec.close()
    meta = load_metadata(bag)
    assert play.playback_qos(meta, '/s1/imu/data_raw') == QosSpec('best_effort', 'volatile',
                                                                  'keep_last', 5)
    assert play.playback_qos(meta, '/s1/reps') == QosSpec('best_effort', 'volatile',
                                                          'keep_last', 100)
    assert play.playback_qos(meta, '/s1/raw') == QosSpec()
    assert play.output_topic('/s1/reps', '', '/s1') == '/s1/reps'
    assert play.output_topic('/s1/reps', 'station2', '/s1') == 'reps'
    assert play.output_topic('/other/x', 'station2', '/s1') == 'other/x'


def test_a_latched_topic_of_several_writers_keeps_all_their_messages(tmp_path: Path) -> None:
    """Each stage node latched its own stage_info; the player alone replays both."""
    bag = tmp_path / 'b'
    rec = BagRecorder(bag, {'/stage_info': (STRING, 'latched'),
                            '/imu/data_raw': ('sensor_msgs/msg/Imu', 'sensor_data')})
    store = default_typestore()
    for n, stage in enumerate(('segmenter', 'near_failure')):
        rec.write('/stage_info', n, bytes(store.serialize_cdr(store.types[STRING](stage),
                                                              STRING)))
    rec.close()
    meta = load_metadata(bag)
    assert play.playback_qos(meta, '/stage_info') == QosSpec('reliable', 'transient_local',
                                                             'keep_last', 2)
    assert play.playback_qos(meta, '/imu/data_raw').depth == 5   # not latched: as recorded


def _fake_runtime(published: list) -> types.ModuleType:
    """Build a stand-in for rep_coach.runtime (DDS backend) that records publishes."""
    import rep_coach
    runtime = types.ModuleType('rep_coach.runtime')
    runtime.__path__ = [str(Path(rep_coach.__file__).parent / 'runtime')]
    runtime.BACKEND = 'dds'

    class Policy(IntEnum):
        SYSTEM_DEFAULT = 0
        RELIABLE = 1
        BEST_EFFORT = 2
        KEEP_LAST = 1
        KEEP_ALL = 2
        TRANSIENT_LOCAL = 1
        VOLATILE = 2

    runtime.HistoryPolicy = runtime.ReliabilityPolicy = runtime.DurabilityPolicy = Policy
    runtime.QoSProfile = lambda **kw: kw

    class Publisher:

        def __init__(self, cls: type, topic: str, qos: Any) -> None:
            self.cls, self.topic, self.qos = cls, topic, qos

        def publish(self, msg: Any) -> None:
            published.append((self.topic, self.qos, msg))

    class Node:

        def __init__(self, name: str, namespace: Any = None) -> None:
            self.namespace = namespace

        def create_publisher(self, cls: type, topic: str, qos: Any) -> Publisher:
            return Publisher(cls, topic, qos)

        def get_logger(self) -> Any:
            return types.SimpleNamespace(warning=print)

        def destroy_node(self) -> None:
            pass

    runtime.Node = Node
    runtime.rclpy = types.SimpleNamespace(init=lambda: None, ok=lambda: True,
                                          try_shutdown=lambda: None)
    runtime.ExternalShutdownException = type('ExternalShutdownException', (Exception,), {})
    return runtime


def test_run_publishes_runtime_messages_with_recorded_qos(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip('cyclonedds')
    bag = tmp_path / 'b'
    store = default_typestore()
    rec = BagRecorder(bag, {'/feedback': (STRING, 'events')})
    for i, text in enumerate(['three', 'two left', 'stop']):
        rec.write('/feedback', i * 1_000_000, store.types[STRING](text))
    rec.close()
    published: list = []
    monkeypatch.setitem(sys.modules, 'rep_coach.runtime', _fake_runtime(published))
    monkeypatch.setitem(sys.modules, 'rep_coach.runtime.msg', types.ModuleType('msg'))
    args = argparse.Namespace(bag=bag, rate=10.0, loop=False, topics=None, namespace='')
    assert play.run(args) == 0
    assert [(t, m.data) for t, _, m in published] == \
        [('/feedback', 'three'), ('/feedback', 'two left'), ('/feedback', 'stop')]
    qos = published[0][1]
    assert qos['depth'] == 100 and qos['reliability'] == 1
    assert play.run(argparse.Namespace(bag=bag, rate=1.0, loop=False, topics=['/nope'],
                                       namespace='')) == 2
    assert play.run(argparse.Namespace(bag=tmp_path / 'missing', rate=1.0, loop=False,
                                       topics=None, namespace='')) == 2


def test_relative_topics_resolve_in_the_recording_namespace() -> None:
    known = ['/s1/reps', '/s1/imu/data_raw', '/diagnostics']
    assert play.bag_topic('reps', known, '/s1') == '/s1/reps'
    assert play.bag_topic('/s1/reps', known, '/s1') == '/s1/reps'
    assert play.bag_topic('diagnostics', known, '/s1') == '/diagnostics'
    assert play.bag_topic('imu/data_raw', ['/imu/data_raw'], '/') == '/imu/data_raw'
    assert play.bag_topic('reps', known, '') is None
    assert play.bag_topic('/reps', known, '/s1') is None


def test_topics_without_the_leading_slash_play_and_unknown_ones_are_named(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip('cyclonedds')
    bag = tmp_path / 'b'
    store = default_typestore()
    rec = BagRecorder(bag, {'/feedback': (STRING, 'events'), '/reps': (STRING, 'events')})
    rec.write('/feedback', 0, store.types[STRING]('stop'))
    rec.write('/reps', 1, store.types[STRING]('{}'))
    rec.close()
    published: list = []
    monkeypatch.setitem(sys.modules, 'rep_coach.runtime', _fake_runtime(published))
    monkeypatch.setitem(sys.modules, 'rep_coach.runtime.msg', types.ModuleType('msg'))

    def run(*topics: str) -> int:
        return play.run(argparse.Namespace(bag=bag, rate=10.0, loop=False,
                                           topics=list(topics), namespace=''))

    assert run('feedback', '/feedback') == 0
    assert [(t, m.data) for t, _, m in published] == [('/feedback', 'stop')]
    assert run('feedback', 'feedbak', '/nope') == 2
    captured = capsys.readouterr()     # errors on stderr: stdout stays clean
    assert captured.err.strip().endswith(
        'no topic feedbak, /nope in the bag; it has /feedback, /reps')
    assert 'no topic' not in captured.out


def test_parser() -> None:
    parser = argparse.ArgumentParser()
    play.add_parser(parser.add_subparsers(dest='command'))
    args = parser.parse_args(['play', 'BAG', '--rate', '2', '--loop', '--topics', 'a', 'b',
                              '--namespace', 'ns'])
    assert (args.rate, args.loop, args.topics, args.namespace) == (2.0, True, ['a', 'b'], 'ns')
    for bad in ('0', '-1', 'nan'):     # refused by argparse, before the bag is read
        with pytest.raises(SystemExit):
            parser.parse_args(['play', 'BAG', '--rate', bad])


def test_recorded_namespace_from_metadata_else_from_topic_names() -> None:
    from rep_coach.topics import recorded_namespace
    station = ['/station1/imu/data_raw', '/station1/labels/reps', '/station1/reps', '/rosout']
    assert recorded_namespace({'namespace': '/s1'}, station) == ('/s1', 'metadata', '')
    assert recorded_namespace({}, station)[:2] == ('/station1', 'topics')
    # labels/reps is one name, not reps under /gym/s2/labels.
    assert recorded_namespace({}, ['/gym/s2/labels/reps', '/gym/s2/reps'])[:2] == \
        ('/gym/s2', 'topics')
    assert recorded_namespace({}, ['/imu/data_raw', '/feedback'])[:2] == ('/', 'topics')
    mixed = recorded_namespace({}, ['/s1/reps', '/diagnostics'])
    assert mixed.name == '' and '/: /diagnostics; /s1: /s1/reps' in mixed.reason
    assert recorded_namespace({}, ['/rosout', '/tf']).reason.startswith('no rep_coach topic')


def test_namespace_of_a_ros2_bag_record_bag_is_inferred_not_doubled(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip('cyclonedds')
    bag = tmp_path / 'b'
    store = default_typestore()
    # As `ros2 bag record` writes it: namespaced topics, no custom_data namespace.
    rec = BagRecorder(bag, {'/station1/feedback': (STRING, 'events'),
                            '/station1/reps': (STRING, 'events')})
    rec.write('/station1/feedback', 0, store.types[STRING]('stop'))
    rec.write('/station1/reps', 1, store.types[STRING]('{}'))
    rec.close()
    assert 'namespace' not in load_metadata(bag).custom_data
    published: list = []
    monkeypatch.setitem(sys.modules, 'rep_coach.runtime', _fake_runtime(published))
    monkeypatch.setitem(sys.modules, 'rep_coach.runtime.msg', types.ModuleType('msg'))
    caplog.set_level('INFO', logger='play')
    args = argparse.Namespace(bag=bag, rate=10.0, loop=False, topics=['feedback'],
                              namespace='station2')
    assert play.run(args) == 0
    # Published relative to the player's namespace (/station2/feedback), not
    # /station2/station1/feedback.
    assert [(t, m.data) for t, _, m in published] == [('feedback', 'stop')]
    assert '/station1 inferred from its topic names' in caplog.text


def _feedback_bag(bag: Path, texts: List[str]) -> Path:
    """Record ``texts`` on /feedback, plus a /reps topic without messages; close the bag."""
    store = default_typestore()
    rec = BagRecorder(bag, {'/feedback': (STRING, 'events'), '/reps': (STRING, 'events')})
    for i, text in enumerate(texts):
        rec.write('/feedback', i * 1_000_000, store.types[STRING](text))
    rec.close()
    return bag


def test_a_bag_with_nothing_to_play_is_an_error_as_in_evaluate(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture,
        caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip('cyclonedds')
    bag = _feedback_bag(tmp_path / 'b', ['stop'])
    storage = bag / 'b_0.mcap'
    storage.write_bytes(b'')        # nothing recoverable; metadata.yaml still lists it
    published: list = []
    monkeypatch.setitem(sys.modules, 'rep_coach.runtime', _fake_runtime(published))
    monkeypatch.setitem(sys.modules, 'rep_coach.runtime.msg', types.ModuleType('msg'))

    def run(topics: Any = None, loop: bool = False) -> int:
        return play.run(argparse.Namespace(bag=bag, rate=10.0, loop=loop, topics=topics,
                                           namespace=''))

    assert run(loop=True) == 2 and published == []
    assert capsys.readouterr().err == f'[ERROR] [play]: {bag}: empty bag (no messages)\n'
    assert 'lost 1 of 1 messages' in caplog.text     # the reader's warning says what
    # A topic of the bag without messages: named, as the bag itself has some.
    _feedback_bag(tmp_path / 'c', ['stop'])
    bag = tmp_path / 'c'
    assert run(['reps']) == 2 and published == []
    assert capsys.readouterr().err == f'[ERROR] [play]: {bag}: no messages on /reps\n'


def _play_interrupted(monkeypatch: pytest.MonkeyPatch, runtime: types.ModuleType, bag: Path,
                      loop: bool) -> int:
    """Run ``play`` on ``bag`` over ``runtime``, whose node raises Ctrl-C; return its status."""
    monkeypatch.setitem(sys.modules, 'rep_coach.runtime', runtime)
    monkeypatch.setitem(sys.modules, 'rep_coach.runtime.msg', types.ModuleType('msg'))
    args = argparse.Namespace(bag=bag, rate=1000.0, loop=loop, topics=None, namespace='')
    try:
        return play.run(args)
    except KeyboardInterrupt:   # escaping, it would stop pytest itself
        pytest.fail('Ctrl-C escaped play.run: exit 130')


def test_ctrl_c_ends_a_loop_with_the_summary_and_exit_0(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip('cyclonedds')
    bag = _feedback_bag(tmp_path / 'b', ['three', 'two left', 'stop'])
    published: list = []
    runtime = _fake_runtime(published)
    node_class = runtime.Node

    class InterruptedNode(node_class):   # type: ignore[misc, valid-type]
        """A node whose publishers are stopped by Ctrl-C at the sixth message."""

        def create_publisher(self, cls: type, topic: str, qos: Any) -> Any:
            publisher = super().create_publisher(cls, topic, qos)
            original = publisher.publish

            def publish(msg: Any) -> None:
                if len(published) == 5:     # Ctrl-C during the second pass
                    raise KeyboardInterrupt
                original(msg)

            publisher.publish = publish
            return publisher

    runtime.Node = InterruptedNode
    caplog.set_level('INFO', logger='play')
    code = _play_interrupted(monkeypatch, runtime, bag, loop=True)
    assert code == 0 and len(published) == 5
    assert 'published 5 messages in 1 pass(es); worst lag' in caplog.text
    assert caplog.text.rstrip().endswith('; stopped by Ctrl-C'), caplog.text


def test_ctrl_c_while_play_sets_up_is_exit_0_with_nothing_published(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    # Once Ctrl-C in the moment the publishers were being created escaped: exit 130.
    pytest.importorskip('cyclonedds')
    bag = _feedback_bag(tmp_path / 'b', ['three'])
    published: list = []
    runtime = _fake_runtime(published)
    node_class = runtime.Node

    class InterruptedNode(node_class):   # type: ignore[misc, valid-type]
        """A node whose first publisher is interrupted by Ctrl-C while it is created."""

        def create_publisher(self, cls: type, topic: str, qos: Any) -> Any:
            raise KeyboardInterrupt

    runtime.Node = InterruptedNode
    caplog.set_level('INFO', logger='play')
    code = _play_interrupted(monkeypatch, runtime, bag, loop=False)
    assert code == 0 and published == []
    assert caplog.text.rstrip().endswith('stopped by Ctrl-C before playback began')


def test_help_says_the_exit_status(capsys: pytest.CaptureFixture) -> None:
    from rep_coach.cli import main
    with pytest.raises(SystemExit) as exit_:
        main(['play', '--help'])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert 'exit status: 0 played' in text and 'Ctrl-C' in text.split('exit status:')[1]
