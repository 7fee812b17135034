"""
``rep-coach play``: republish a session bag onto the graph, like ``ros2 bag play``.

The timing core (:class:`Player`) is independent of ROS: it paces an iterator
of ``(topic, timestamp_ns, payload)`` against a monotonic clock and hands each
message to a ``publish`` callable, so it is tested with a fake clock and
publisher.  :func:`run` wires it to the runtime layer: one publisher per topic
with the topic's recorded QoS, messages deserialised into the runtime's classes.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
import importlib
import logging
from pathlib import Path
import sys
import time
from typing import Any, Callable, Dict, Iterable, Optional, Tuple

from rep_coach.bagio import BagError, BagMetadata, load_metadata, QosSpec, read_bag
from rep_coach.cli.checks import namespace, positive_float
from rep_coach.core.sources import no_messages
from rep_coach.topics import recorded_namespace

LOG = logging.getLogger('play')

#: Longest single sleep, so Ctrl-C and ``stop()`` are honoured promptly.
_MAX_SLEEP_S = 0.1

#: The help text, wrapped here: the formatter keeps the lines of the exit statuses, so
#: of this too.
DESCRIPTION = """\
Republish the messages of a rosbag2 session bag with their recorded timing and QoS,
through the rep_coach runtime (rclpy when available, else Cyclone DDS). Ctrl-C stops
it; like the end of the bag, it prints what was published. On a ROS 2 machine
`ros2 bag play BAG` does the same.
"""

#: What run returns, as --help says; Ctrl-C is a clean end, as for rep-coach launch.
EPILOG = """\
exit status: 0 played: to the end of the bag, or until Ctrl-C or a shutdown (how
--loop ends); the last line says how many messages were published; 2 nothing
played: BAG is missing or unreadable, holds no message (or none on the topics
played), --topics names a topic the bag lacks, no topic has a runtime message
class, --rate is not above 0, or the runtime is unavailable (the message says which)
"""


@dataclass
class PlayStats:
    """What a playback did."""

    published: int = 0
    loops: int = 0
    skipped: int = 0
    max_lag_s: float = 0.0   # worst lateness of a publish against its schedule


class Player:
    """
    Publish messages at their recorded pace, scaled by ``rate``.

    ``source()`` returns a fresh iterable of ``(topic, timestamp_ns, payload)`` in
    timestamp order (called again for every loop).  Message *k* is published at
    ``wall_start + (t_k - t_0) / rate``; each loop re-anchors on its first message,
    so a loop restarts immediately after the previous one ends.  Timestamps that go
    backwards are published at once rather than delaying everything after them.
    """

    def __init__(self, source: Callable[[], Iterable[Tuple[str, int, Any]]],
                 publish: Callable[[str, Any], None], rate: float = 1.0, loop: bool = False,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep,
                 ok: Callable[[], bool] = lambda: True) -> None:
        if not rate > 0:
            raise ValueError(f'rate must be > 0, got {rate!r}')
        self.source = source
        self.publish = publish
        self.rate = float(rate)
        self.loop = loop
        self.clock = clock
        self.sleep = sleep
        self.ok = ok
        self._stopped = False
        self.stats = PlayStats()

    def stop(self) -> None:
        """Ask :meth:`run` to return after the current message."""
        self._stopped = True

    def _running(self) -> bool:
        return not self._stopped and self.ok()

    def _wait_until(self, deadline: float) -> bool:
        while self._running():
            remaining = deadline - self.clock()
            if remaining <= 0:
                return True
            self.sleep(min(remaining, _MAX_SLEEP_S))
        return False

    def run(self) -> PlayStats:
        """Play once (or until stopped with ``loop``); return the statistics."""
        while self._running():
            wall0: Optional[float] = None
            bag0 = 0
            count = 0
            for topic, stamp, payload in self.source():
                if wall0 is None:
                    wall0, bag0 = self.clock(), stamp
                due = wall0 + max(0, stamp - bag0) / 1e9 / self.rate
                if not self._wait_until(due):
                    return self.stats
                self.stats.max_lag_s = max(self.stats.max_lag_s, self.clock() - due)
                self.publish(topic, payload)
                self.stats.published += 1
                count += 1
            self.stats.loops += 1
            if not self.loop or count == 0:
                break
        return self.stats


def playback_qos(metadata: BagMetadata, topic: str) -> QosSpec:
    """
    Return the QoS to publish ``topic`` with, from its recorded offered profiles.

    Several profiles (several publishers) are merged as ``ros2 bag play`` does:
    reliable only if every publisher was, transient-local only if every one was.
    Topics recorded without QoS get rclpy's default (reliable, volatile, depth 10).

    A latched topic (transient local, keep last) keeps at least as many messages as the
    bag holds of it: it was written by several writers (``stage_info``: one per stage
    node, keep last 1 each), but the player is one writer, and with the recorded depth a
    reader that joins later would get the last stage's description only.
    """
    entry = next((t for t in metadata.topics if t.name == topic), None)
    specs = [QosSpec.from_rosbags(q) for q in (entry.qos if entry else [])]
    if not specs:
        return QosSpec()
    spec = specs[0] if len(set(specs)) == 1 else QosSpec(
        reliability='reliable' if all(s.reliability == 'reliable' for s in specs)
        else 'best_effort',
        durability='transient_local' if all(s.durability == 'transient_local' for s in specs)
        else 'volatile',
        history='keep_last', depth=max(max(s.depth for s in specs), 1))
    if spec.durability == 'transient_local' and spec.history == 'keep_last' and entry:
        spec = replace(spec, depth=max(spec.depth, entry.message_count))
    return spec


def output_topic(recorded: str, namespace: str, strip: str) -> str:
    """
    Topic to publish ``recorded`` on.

    Without ``--namespace`` names stay as recorded.  With it, the recording's own
    namespace ``strip`` (``custom_data['namespace']`` of the bag, else inferred from
    its topic names by :func:`rep_coach.topics.recorded_namespace`) is removed and
    the rest is published relative to the player node's namespace.
    """
    if not namespace:
        return recorded
    name = recorded
    prefix = '/' + strip.strip('/') + '/' if strip.strip('/') else ''
    if prefix and name.startswith(prefix):
        name = name[len(prefix) - 1:]
    return name.lstrip('/')


def bag_topic(name: str, known: Iterable[str], recorded_namespace: str = '') -> Optional[str]:
    """
    Return the bag's topic that ``--topics`` entry ``name`` means, or None.

    An absolute name is taken as it is.  A relative one (``imu/data_raw``, as the
    nodes name their topics) is resolved as a node in the recording's namespace
    would resolve it, else against the root: ``/station3/imu/data_raw`` in a bag
    recorded under ``/station3``, ``/imu/data_raw`` in one recorded without.
    """
    topics = set(known)
    if name.startswith('/'):
        return name if name in topics else None
    ns = recorded_namespace.strip('/')
    candidates = [f'/{ns}/{name}'] if ns else []
    return next((c for c in [*candidates, f'/{name}'] if c in topics), None)


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``play`` subcommand."""
    parser = subparsers.add_parser(
        'play', help='replay a recorded session bag onto the graph (like ros2 bag play)',
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('bag', type=Path, metavar='BAG', help='bag directory')
    parser.add_argument('--rate', type=positive_float, default=1.0, metavar='X',
                        help='playback speed factor (default 1.0; 2 = twice as fast)')
    parser.add_argument('--loop', action='store_true', help='play again and again')
    parser.add_argument('--topics', nargs='+', default=None, metavar='TOPIC',
                        help="play only these topics: as recorded ('/imu/data_raw') or "
                             "relative ('imu/data_raw', resolved in the recording's namespace)")
    parser.add_argument('--namespace', default='', metavar='NS', type=namespace,
                        help="publish under this namespace instead of the recording's")
    return parser


def _resolve_class(runtime: Any, msgtype: str) -> Optional[type]:
    """Runtime message class for ``pkg/msg/Name``, or None if the runtime lacks it."""
    pkg, _, name = msgtype.split('/')
    try:
        msg_module = importlib.import_module('rep_coach.runtime.msg')
        cls = getattr(msg_module, name, None)
        if cls is not None and _class_type_name(cls) in (msgtype, ''):
            return cls
    except ImportError:
        pass
    if getattr(runtime, 'BACKEND', '') == 'rclpy':
        try:
            return getattr(importlib.import_module(f'{pkg}.msg'), name)
        except (ImportError, AttributeError):
            return None
    try:
        from rep_coach.runtime.dds.messages import message_class
        return message_class(msgtype)
    except (ImportError, KeyError):
        return None


def _class_type_name(cls: type) -> str:
    ros_type = getattr(cls, '_ros_type', None)   # the DDS runtime's classes
    if ros_type:
        return str(ros_type)
    module = getattr(cls, '__module__', '')      # rclpy: sensor_msgs.msg._imu
    parts = module.split('.')
    return f'{parts[0]}/msg/{cls.__name__}' if len(parts) >= 2 and parts[1] == 'msg' else ''


def _deserializer(runtime: Any, cls: type) -> Callable[[bytes], Any]:
    """CDR bytes -> runtime message: rclpy's deserializer, or the DDS class's own."""
    if getattr(runtime, 'BACKEND', '') == 'rclpy':
        from rclpy.serialization import deserialize_message
        return lambda raw: deserialize_message(raw, cls)
    if callable(getattr(cls, 'deserialize', None)):  # cyclonedds IdlStruct
        return lambda raw: cls.deserialize(raw)
    raise TypeError(f'cannot deserialise into {cls!r}')


def _error(message: str) -> int:
    """Report the error play stops on, as its node's log lines (on stderr); return 2."""
    print(f'[ERROR] [play]: {message}', file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    """Play the bag; see :data:`EPILOG` for the exit status."""
    try:
        metadata = load_metadata(args.bag)
    except BagError as exc:
        return _error(str(exc))
    known = {t.name: t.msgtype for t in metadata.topics}
    recorded = recorded_namespace(metadata.custom_data, known)
    if recorded.source == 'topics':
        LOG.info("%s: metadata.yaml does not say the recording's namespace; %s inferred "
                 'from its topic names', args.bag, recorded.name)
    elif not recorded.source and args.namespace:
        LOG.warning("%s: the recording's namespace is unknown (%s); topics are published "
                    'under %s with their recorded names', args.bag, recorded.reason,
                    args.namespace)
    strip = recorded.name
    wanted = list(known)
    if args.topics:
        found = {name: bag_topic(name, known, strip) for name in args.topics}
        missing = [name for name, topic in found.items() if topic is None]
        if missing:
            return _error(f'{args.bag}: no topic {", ".join(missing)} in the bag; '
                          f'it has {", ".join(sorted(known)) or "none"}')
        wanted = list(dict.fromkeys(t for t in found.values() if t is not None))
    try:
        runtime = importlib.import_module('rep_coach.runtime')
    except ImportError as exc:
        return _error(f'the runtime is unavailable: {exc}')

    rclpy = runtime.rclpy
    rclpy.init()
    node = None
    try:
        node = runtime.Node('rep_coach_player', namespace=args.namespace or None)
        publishers: Dict[str, Tuple[Any, Callable[[bytes], Any]]] = {}
        for topic in wanted:
            cls = _resolve_class(runtime, known[topic])
            if cls is None:
                node.get_logger().warning(f'{topic}: no runtime class for {known[topic]}; '
                                          'not played')
                continue
            spec = playback_qos(metadata, topic)
            out = output_topic(topic, args.namespace, strip)
            publishers[topic] = (node.create_publisher(cls, out, spec.to_runtime(runtime)),
                                 _deserializer(runtime, cls))
            LOG.info('%s -> %s (%s, %s)', topic, out, known[topic], spec)
        if not publishers:
            return _error(f'{args.bag}: nothing to play')

        def source() -> Iterable[Tuple[str, int, Any]]:
            for msg in read_bag(args.bag, topics=list(publishers), raw=True,
                                on_warning=lambda text: LOG.warning(text)):
                yield msg.topic, msg.timestamp_ns, msg.message

        def publish(topic: str, raw: bytes) -> None:
            publisher, decode = publishers[topic]
            publisher.publish(decode(raw))

        player = Player(source, publish, rate=args.rate, loop=args.loop, ok=rclpy.ok)
        stopped = ''
        try:
            stats = player.run()
        except BagError as exc:
            return _error(str(exc))
        except KeyboardInterrupt:
            # Ctrl-C ends a playback as it ends a launch: cleanly, saying what was done.
            stats, stopped = player.stats, '; stopped by Ctrl-C'
        if stats.loops and not stats.published:   # a whole pass without a message
            # Name the topics played when they are not all of the bag's.
            played = list(publishers) if len(publishers) < len(known) else None
            return _error(no_messages(args.bag, played))
        LOG.info('published %d messages in %d pass(es); worst lag %.1f ms%s',
                 stats.published, stats.loops, stats.max_lag_s * 1e3, stopped)
        return 0
    except KeyboardInterrupt:
        # Ctrl-C while the publishers were being set up: nothing was played yet.
        LOG.info('published 0 messages; stopped by Ctrl-C before playback began')
        return 0
    except getattr(runtime, 'ExternalShutdownException', KeyboardInterrupt):
        return 0
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
