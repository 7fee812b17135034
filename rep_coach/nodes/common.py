"""What every node shares: parameter declaration, QoS profiles, the main() pattern."""

from __future__ import annotations

import faulthandler
import inspect
import json
import sys
import textwrap
from typing import Any, Callable, Dict, List, Optional, Tuple

from rep_coach import runtime
from rep_coach.core.params import list_type, ParameterError, specs_for
from rep_coach.qos import QosSpec
from rep_coach.ros_args import parse_ros_args, remove_ros_args
from rep_coach.ros_names import remapped_node_identity
from rep_coach.runtime import ExternalShutdownException, ParameterDescriptor, QoSProfile, rclpy
from rep_coach.runtime.errors import is_middleware_startup_error
from rep_coach.runtime.msg import DiagnosticArray, DiagnosticStatus, KeyValue, String
from rep_coach.stage_info import StageInfo
from rep_coach.topics import DIAGNOSTICS, EVENT_QOS, IMU, STAGE_INFO, topic_qos

#: Exit code of a node that refused to start (bad parameter, unusable source...).
EXIT_BAD_CONFIG = 2
#: Exit code of a node the middleware refused (no DDS participant): nothing in the node's
#: own configuration is wrong, so not EXIT_BAD_CONFIG; 1 as the traceback it replaces.
EXIT_MIDDLEWARE = 1
#: Exit code of a node whose shutdown code failed (a bag it could not close...).
EXIT_SHUTDOWN_FAILED = 1


class StartupError(RuntimeError):
    """A node cannot start; the message names the culprit (file, device, model)."""


def qos_profile(spec: QosSpec, depth: Optional[int] = None) -> QoSProfile:
    """Return the runtime's QoSProfile of ``spec``; ``depth`` replaces its history depth."""
    return spec.to_runtime(runtime, depth)


def qos_for(topic: str, depth: Optional[int] = None) -> QoSProfile:
    """
    Return the QoS of ``topic`` (``rep_coach.topics.topic_qos``), optionally deeper.

    A reader may keep a deeper history than the writer offers; the policies that
    must match the writer's (reliability, durability) stay the topic's.
    """
    return qos_profile(topic_qos(topic), depth)


def event_qos() -> QoSProfile:
    """Return the QoS of the event topics: reliable, volatile, keep last ``EVENT_DEPTH``."""
    return qos_profile(EVENT_QOS)


#: Reader history of IMU consumers.  The writer offers sensor-data QoS (best effort,
#: keep last 5); a reader may keep more, and should: a replay faster than real time or
#: a driver catching up delivers samples in bursts that a queue of 5 would cut short.
#: 10 s of samples at 100 Hz, as the recorder keeps: 100 (1 s, an eighth of a second at
#: 8x) lost over 2 s of samples when the segmenter stalled at start-up on a loaded
#: machine; the gate took the hole for a clock jump and reset mid-rep.  About 0.4 MB.
IMU_READER_DEPTH = 1000


def imu_reader_qos() -> QoSProfile:
    """Best effort (matches the sensor-data writer) with a burst-proof queue."""
    return qos_for(IMU, IMU_READER_DEPTH)


def publish_stage_info(node: Any, info: StageInfo) -> Any:
    """
    Publish ``info``, what the node's stage runs, once on ``stage_info``.

    The topic is latched (transient local, keep last 1), so the returned publisher must
    live as long as the node: it holds the message for every reader that joins later (a
    recorder started after the node).
    """
    publisher = node.create_publisher(String, STAGE_INFO, qos_for(STAGE_INFO))
    publisher.publish(String(data=info.to_json()))
    return publisher


def declare_parameters(node: Any, table: str) -> Dict[str, Any]:
    """
    Declare every parameter of ``table`` with its default; return validated values.

    Raises ParameterError naming the first bad parameter.  Every parameter is read
    only: the nodes read and check them once at start-up, so a later ``ros2 param
    set`` is refused rather than reported as applied while it changes nothing.
    """
    values = {}
    for spec in specs_for(table):
        descriptor = ParameterDescriptor(description=spec.description, read_only=True)
        try:
            node.declare_parameter(spec.name, spec.default, descriptor)
        except Exception as exc:  # noqa: B902 (rclpy: InvalidParameterTypeException and kin)
            # A value of the wrong type (-p threshold:=high) names the parameter, too.
            raise ParameterError(node.get_name(), spec.name, '?', str(exc)) from exc
        values[spec.name] = spec.validate(node.get_name(), node.get_parameter(spec.name).value)
    return values


def diagnostics_publisher(node: Any) -> Any:
    """
    Return the node's one ``diagnostics`` publisher, made on first use.

    Whatever in a node reports on ``diagnostics`` (its sample intake, its callback guard,
    the node itself) shares this writer, as it shares the node.
    """
    publisher = getattr(node, '_rep_coach_diagnostics', None)
    if publisher is None:
        publisher = node.create_publisher(DiagnosticArray, DIAGNOSTICS, event_qos())
        node._rep_coach_diagnostics = publisher
    return publisher


def diagnostic(node: Any, level: bytes, message: str, values: Dict[str, Any]) -> Any:
    """Build a DiagnosticArray with one status of this node."""
    status = DiagnosticStatus()
    status.level = level
    status.name = f'{node.get_fully_qualified_name()}'
    status.message = message
    status.hardware_id = ''
    status.values = [_key_value(k, v) for k, v in values.items()]
    array = DiagnosticArray()
    array.header.stamp = node.get_clock().now().to_msg()
    array.status = [status]
    return array


def _key_value(key: str, value: Any) -> Any:
    kv = KeyValue()
    kv.key = str(key)
    kv.value = str(value)
    return kv


WARN = bytes([1])
ERROR = bytes([2])


def publish_safely(publisher: Any, msg: Any) -> str:
    """
    Publish ``msg``; return '' or why it could not be published, never raising.

    For what is published while something else is reported: from a node's ``close``,
    and from a callback's failure report.  After Ctrl-C rclpy's signal handler shuts
    the context down before ``close`` runs, and a publish then raises (``RCLError``:
    the publisher's context is invalid).  What there is to say is then still logged,
    with this note, instead of the error ending the node before ``destroy_node`` (or
    escaping the callback guard).
    """
    try:
        publisher.publish(msg)
    except Exception as exc:  # noqa: BLE001 - the middleware is down; the caller logs it
        return f', not published: {exc}'
    return ''


def run_node(factory: Callable[[], Any], args: Optional[List[str]] = None) -> None:
    """
    Init, build the node, spin until Ctrl-C / SIGTERM, shut down cleanly.

    A node that cannot start (bad parameter, unreadable source, missing model) logs
    one FATAL line naming the culprit and exits with code 2 instead of a traceback.
    One the middleware refuses while the node is created (no DDS participant: the
    host's participant indices are used up, a bad Cyclone configuration) logs one FATAL
    line with the middleware's reason and exits with code 1.  These lines name the node
    as its own log lines do, with its namespace (``station1.imu_publisher``).
    """
    argv = sys.argv if args is None else args
    if {'-h', '--help'} & set(remove_ros_args(argv)[1:]) and hasattr(factory, 'NODE_NAME'):
        # rclpy ignores arguments outside --ros-args, so `ros2 run rep_coach NODE --help`
        # would otherwise start the node; it explains the node instead.
        print(node_help(factory))
        return
    name = logger_name(getattr(factory, 'NODE_NAME', 'rep_coach'), argv)
    # A crash in native code (middleware, numpy, onnxruntime) then leaves the Python stack
    # of every thread in the node's log instead of a bare "exit code -11".
    faulthandler.enable()
    try:
        rclpy.init(args=args)
    except Exception as exc:  # noqa: BLE001 - bad --ros-args or params file (names it)
        # Not the middleware: init parses arguments and parameter files, and the participant
        # comes with the first node (rmw_cyclonedds creates it lazily, as the fallback does).
        print(f'[FATAL] [{name}]: cannot start: {exc}', file=sys.stderr, flush=True)
        sys.exit(EXIT_BAD_CONFIG)
    node = None
    code = 0
    try:
        node = factory()
        rclpy.spin(node)
    except (ParameterError, StartupError) as exc:
        if _caused_by_import_error(exc) and not rclpy.ok():
            # A stop request that interrupted a library's import (see below), which the stage
            # then reported as that library missing: the node was asked to stop, not broken.
            _say_stopped(name)
        else:
            print(f'[FATAL] [{name}]: {exc}', file=sys.stderr, flush=True)
            code = EXIT_BAD_CONFIG
    except (KeyboardInterrupt, ExternalShutdownException):
        if node is None:
            # Stopped while being built (the launcher stopping a graph whose required node
            # failed at start): it never ran, and its log says so rather than nothing.
            _say_stopped(name)
    except Exception as exc:  # noqa: B902 (reported, or re-raised below)
        if node is None and is_middleware_startup_error(exc):
            # Raised by the node's construction, where the backend creates its participant:
            # the reason (and what to change) is the whole story, a traceback adds nothing.
            print(f'[FATAL] [{name}]: the middleware refused to start: {exc}',
                  file=sys.stderr, flush=True)
            code = EXIT_MIDDLEWARE
        elif rclpy.ok():
            raise
        else:
            # A stop request (SIGINT from the launcher stopping the graph) that lands while
            # the node is still starting can surface as another error: interrupted inside a
            # native module's import, onnxruntime raises "ImportError: initialization
            # failed".  The context is already shut down then, and the node was asked to
            # stop anyway.
            _say_stopped(name)
    finally:
        if node is not None:
            report_callback_failures(node)
            if not _close(node, name) and not code:
                code = EXIT_SHUTDOWN_FAILED
            node.destroy_node()
        rclpy.try_shutdown()
    if code:
        sys.exit(code)


def node_help(factory: Callable[[], Any]) -> str:
    """
    Return the ``--help`` text of the node class ``factory``.

    Its module's docstring (what the node reads and writes), how to start it, and
    every parameter from its table (``rep_coach.core.params``) with type, default and
    meaning: the one source the node declares them from.
    """
    name = factory.NODE_NAME  # type: ignore[attr-defined]
    about = inspect.cleandoc(sys.modules[factory.__module__].__doc__ or '')
    lines = [f'usage: {name} [--ros-args [-r __ns:=/STATION] [-p NAME:=VALUE ...] '
             '[--params-file FILE]]', '', about, '',
             'parameters (read once at start-up; set with -p NAME:=VALUE, or with '
             '--params-file and',
             "a file in config/rep_coach.yaml's ros__parameters layout):"]
    for spec in specs_for(name):
        lines.append(f'  {spec.name} ({list_type(spec.default)}, '
                     f'default {json.dumps(spec.default)})')
        lines += textwrap.wrap(spec.description, 88, initial_indent=' ' * 6,
                               subsequent_indent=' ' * 6)
    lines += ['', 'exit status: 0 when stopped by Ctrl-C or SIGTERM, '
              f'{EXIT_BAD_CONFIG} when it cannot start (the FATAL line',
              f'names the culprit), {EXIT_MIDDLEWARE} when the middleware refuses it or '
              'its shutdown fails.']
    return '\n'.join(lines)


def logger_name(node_name: str, args: List[str]) -> str:
    """
    Return the name the node ``node_name`` logs under when started with ``args``.

    The namespace's tokens and the node's name joined by dots, as rclpy and the DDS
    runtime name a node's logger (``/gym/station_2`` -> ``gym.station_2.imu_publisher``),
    after the ``__ns`` and ``__node`` remaps of the ``--ros-args`` sections of ``args``
    (``args[0]`` is the program).  A line printed before the node exists (a bad
    parameter, a refused middleware) then says which station's node it is.  Arguments
    that do not parse leave the bare name: the node's own error will name them.
    """
    try:
        remaps = parse_ros_args(args).remaps
        name, namespace = remapped_node_identity(node_name, '/', remaps)
    except ValueError:      # RosArgsError, an invalid node name or namespace
        return node_name
    return '.'.join([token for token in namespace.split('/') if token] + [name])


def _close(node: Any, name: str) -> bool:
    """Run the node's shutdown code; False if it failed (``destroy_node`` must still run)."""
    close = getattr(node, 'close', None)
    if close is None:
        return True
    try:
        close()
    except Exception as exc:  # noqa: BLE001 - reported; the node is ending either way
        print(f'[ERROR] [{name}]: failed at shutdown: {type(exc).__name__}: {exc}',
              file=sys.stderr, flush=True)
        return False
    return True


def _caused_by_import_error(exc: BaseException) -> bool:
    cause = exc.__cause__
    while cause is not None and not isinstance(cause, ImportError):
        cause = cause.__cause__
    return cause is not None


def _say_stopped(name: str) -> None:
    print(f'[INFO] [{name}]: stopped while starting (shutdown requested)',
          file=sys.stderr, flush=True)


def guarded(node: Any, what: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """
    Wrap a callback so one bad message is logged, counted and reported, never fatal.

    rclpy lets a callback's exception end ``spin``; a coaching node must survive a
    malformed message, so each callback catches and counts.  The first failure of a
    kind (the exception's type) and then every 100th of that kind is logged and
    published as a WARN on ``diagnostics``, where a gym's monitoring sees a station
    rejecting messages; counting every kind together left a new kind of failure
    unexplained until the 100th failure.  What was never reported is summed up when
    the node shuts down (:func:`report_callback_failures`).
    """
    failures = _callback_failures(node)

    def wrap(callback: Callable[..., None]) -> Callable[..., None]:
        def safe(*args: Any) -> None:
            try:
                callback(*args)
            except Exception as exc:  # noqa: BLE001 - a node never dies on one message
                failures.add(what, exc)
        return safe
    return wrap


class CallbackFailures:
    """What one node's guarded callbacks caught: counts by callback and kind, and reports."""

    def __init__(self, node: Any) -> None:
        self.node = node
        self.counts: Dict[Tuple[str, str], int] = {}
        self.reported: Dict[Tuple[str, str], int] = {}
        # Made with the node, not on the first failure: readers match a new writer only
        # after discovery, and the first report is the one that matters.
        self._diagnostics = diagnostics_publisher(node)

    def add(self, what: str, exc: Exception) -> None:
        """Count a failure of the callback ``what``; report the first of its kind, every 100th."""
        kind = type(exc).__name__
        key = (what, kind)
        count = self.counts[key] = self.counts.get(key, 0) + 1
        if count == 1 or count % 100 == 0:
            self.reported[key] = count
            total = sum(n for (name, _), n in self.counts.items() if name == what)
            text = f'{what}: {kind}: {exc}'
            note = self._publish(text, {'callback': what, 'error': kind, 'failures': count,
                                        'failures_of_callback': total})
            self.node.get_logger().error(f'{text} ({total} failure(s) so far; the node goes '
                                         f'on){note}')

    def unreported(self) -> Dict[Tuple[str, str], int]:
        """Return the failures counted since each kind was last reported."""
        return {key: n - self.reported.get(key, 0) for key, n in self.counts.items()
                if n > self.reported.get(key, 0)}

    def report_at_shutdown(self) -> None:
        """Log and publish the failures never reported, in one line (a node's last words)."""
        left = self.unreported()
        if not left:
            return
        text = 'callback failures not yet reported: ' + ', '.join(
            f'{what}: {kind} x{n}' for (what, kind), n in sorted(left.items()))
        values = {f'{what}: {kind}': n for (what, kind), n in sorted(self.counts.items())}
        note = self._publish(text, values)
        self.node.get_logger().warning(f'{text} (at shutdown; in all: '
                                       f'{sum(self.counts.values())}){note}')
        self.reported.update(self.counts)

    def _publish(self, text: str, values: Dict[str, Any]) -> str:
        """Publish ``text`` as a WARN on ``diagnostics``; return '' or why it was not."""
        try:
            msg = diagnostic(self.node, WARN, text, values)
        except Exception as exc:  # noqa: BLE001 - called from the guard: must not raise
            return f', not published: {exc}'
        return publish_safely(self._diagnostics, msg)


def _callback_failures(node: Any) -> CallbackFailures:
    """Return the node's one :class:`CallbackFailures`, shared by all its guarded callbacks."""
    failures = getattr(node, '_rep_coach_callback_failures', None)
    if failures is None:
        failures = CallbackFailures(node)
        node._rep_coach_callback_failures = failures
    return failures


def report_callback_failures(node: Any) -> None:
    """At shutdown, report the failures of ``node``'s guarded callbacks not yet reported."""
    failures = getattr(node, '_rep_coach_callback_failures', None)
    if failures is not None:
        failures.report_at_shutdown()
