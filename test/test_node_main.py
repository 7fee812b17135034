"""The one main() pattern of every node (``rep_coach.nodes.common.run_node``)."""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys
import textwrap

import pytest

from rep_coach.core.params import list_type, NODE_PARAMS, specs_for
from rep_coach.launcher import claim_domain, isolated_env
from rep_coach.nodes import common
from rep_coach.nodes.common import EXIT_MIDDLEWARE, logger_name, run_node
from rep_coach.runtime.errors import is_middleware_startup_error, MiddlewareStartupError

SCRIPT = textwrap.dedent("""
    import importlib.abc, os, signal, sys, time
    from rep_coach.nodes.common import run_node

    def interrupted_import(*args):
        # As onnxruntime does when a SIGINT lands inside its native import.
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        except KeyboardInterrupt as exc:
            raise ImportError('initialization failed') from exc

    class InterruptedOnnxruntime(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name == 'onnxruntime':
                interrupted_import()

    if {node!r} == 'rep_segmenter':
        # The learned segmenter reports a failed onnxruntime import as its model's fault.
        from rep_coach.nodes.rep_segmenter import RepSegmenterNode as factory
        sys.modules.pop('onnxruntime', None)
        sys.meta_path.insert(0, InterruptedOnnxruntime())
    else:
        factory = interrupted_import
    run_node(factory, ['--ros-args', '-p', 'model:=learned'])
""")


@pytest.mark.parametrize('node', ['any', 'rep_segmenter'])
def test_a_stop_request_during_start_up_exits_cleanly(node: str) -> None:
    # The CI's case for rep_segmenter: the launcher stopped the graph while the node imported
    # onnxruntime, and it printed a second FATAL line blaming its model parameter.
    proc = subprocess.run([sys.executable, '-c', SCRIPT.replace('{node!r}', repr(node))],
                          capture_output=True, text=True, env=isolated_env(), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert 'Traceback' not in proc.stderr
    assert 'stopped while starting' in proc.stderr


def test_an_error_at_start_up_without_a_stop_request_is_not_hidden() -> None:
    code = textwrap.dedent("""
        from rep_coach.nodes.common import run_node

        def factory():
            raise ImportError('initialization failed')

        run_node(factory, [])
    """)
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          env=isolated_env(), timeout=60)
    assert proc.returncode == 1
    assert 'ImportError: initialization failed' in proc.stderr


def _start(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', textwrap.dedent(code)], capture_output=True,
                          text=True, env=isolated_env(), timeout=60)


def test_the_launchers_entry_exits_cleanly_when_stopped_during_the_imports() -> None:
    # As a native module does (numpy: "import numpy failed") when a SIGINT lands inside it.
    proc = _start("""
        import importlib, os, signal, sys

        def interrupted_import(name):
            os.kill(os.getpid(), signal.SIGINT)
            raise ImportError('import numpy failed')

        importlib.import_module = interrupted_import
        from rep_coach.nodes.__main__ import start
        sys.exit(start(['rep_segmenter', '--ros-args']))
    """)
    assert proc.returncode == 0, proc.stderr
    assert 'Traceback' not in proc.stderr
    assert '[rep_segmenter]: stopped while starting' in proc.stderr


def test_the_launchers_entry_exits_cleanly_when_stopped_before_rclpy_init() -> None:
    proc = _start("""
        import importlib, sys, types

        def interrupted_before_init():
            raise KeyboardInterrupt

        importlib.import_module = lambda name: types.SimpleNamespace(
            main=interrupted_before_init, __file__=name)
        from rep_coach.nodes.__main__ import start
        sys.exit(start(['audio_feedback']))
    """)
    assert proc.returncode == 0, proc.stderr
    assert 'Traceback' not in proc.stderr
    assert '[audio_feedback]: stopped while starting' in proc.stderr


def test_the_launchers_entry_reports_import_errors_and_unknown_nodes() -> None:
    proc = _start("""
        import importlib, sys

        def broken_import(name):
            raise ImportError('initialization failed')

        importlib.import_module = broken_import
        from rep_coach.nodes.__main__ import start
        sys.exit(start(['rep_segmenter']))
    """)
    assert proc.returncode == 1 and 'ImportError: initialization failed' in proc.stderr
    proc = subprocess.run([sys.executable, '-m', 'rep_coach.nodes', 'rep_segmentr'],
                          capture_output=True, text=True, env=isolated_env(), timeout=60)
    assert proc.returncode == 2
    assert "got ['rep_segmentr']" in proc.stderr and 'rep_segmenter' in proc.stderr


# -- the middleware refusing the node ----------------------------------------------------------

@pytest.fixture
def in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let run_node run inside pytest: its faulthandler would hold pytest's captured stderr."""
    import faulthandler
    monkeypatch.setattr(faulthandler, 'enable', lambda *args, **kwargs: None)


def _refused_participant(domain_id: int, **kwargs: object) -> None:
    # What Cyclone raises when it has no free participant index left (32 per host with
    # ROS_LOCALHOST_ONLY=1) or rejects its configuration.
    from cyclonedds.core import DDSException
    raise DDSException(DDSException.DDS_RETCODE_ERROR,
                       'Occurred upon initialisation of a cyclonedds.domain.DomainParticipant')


def test_a_refused_dds_participant_is_one_fatal_line_and_exit_1(
        in_process: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from rep_coach.nodes.audio_feedback import AudioFeedbackNode
    from rep_coach.runtime.dds import participant

    for name in ('ROS_LOCALHOST_ONLY', 'ROS_STATIC_PEERS', 'CYCLONEDDS_URI'):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv('ROS_DOMAIN_ID', '0')      # never joined: the participant is refused
    monkeypatch.setattr(participant, '_participants', {})   # none left over from other tests
    monkeypatch.setattr(participant, 'DomainParticipant', _refused_participant)
    with pytest.raises(SystemExit) as info:
        run_node(AudioFeedbackNode, [])
    assert info.value.code == EXIT_MIDDLEWARE == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [
        '[FATAL] [audio_feedback]: the middleware refused to start: cannot join DDS domain 0 '
        '(discovery range SUBNET): [DDS_RETCODE_ERROR] Non specific error. Occurred upon '
        'initialisation of a cyclonedds.domain.DomainParticipant'], lines


def _rclpy_error(name: str, base: type = RuntimeError) -> type:
    """Stand in for an exception class of rclpy's bindings (pybind11 names its module)."""
    return type(name, (base,), {'__module__': 'rclpy._rclpy_pybind11'})


def test_rclpys_error_creating_the_node_is_one_fatal_line_and_exit_1(
        in_process: None, capsys: pytest.CaptureFixture) -> None:
    # With rclpy, rmw creates the participant with the first node: rcl_node_init fails and
    # rclpy raises RCLError.  rclpy is not installed here, so a class of the same name.
    rcl_error = _rclpy_error('RCLError')

    class Refused:
        NODE_NAME = 'rep_segmenter'

        def __init__(self) -> None:
            raise rcl_error("error creating node: rcl node's rmw handle is invalid")

    with pytest.raises(SystemExit) as info:
        run_node(Refused, [])
    assert info.value.code == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        '[FATAL] [rep_segmenter]: the middleware refused to start: error creating node: '
        "rcl node's rmw handle is invalid"]


def test_only_the_middleware_refusing_counts_as_a_middleware_start_up_error() -> None:
    from rep_coach.runtime.dds.participant import ParticipantError

    rcl_error = _rclpy_error('RCLError')
    assert is_middleware_startup_error(MiddlewareStartupError('no participant'))
    assert is_middleware_startup_error(ParticipantError('cannot join DDS domain 0'))
    assert is_middleware_startup_error(rcl_error('error creating node'))
    # rclpy's subclasses of RCLError are a bad command line, a runtime error is just that.
    assert not is_middleware_startup_error(_rclpy_error('RCLInvalidROSArgsError', rcl_error)())
    assert not is_middleware_startup_error(RuntimeError('RCLError'))
    assert not is_middleware_startup_error(type('RCLError', (RuntimeError,), {})())


def test_a_node_the_middleware_refuses_says_so_in_one_line() -> None:
    # The real thing, end to end: a Cyclone configuration it rejects (as in test_stations)
    # fails the participant the way a host out of participant indices does.
    with claim_domain() as claim:           # given back at once: the node never joins it
        env = isolated_env(claim=claim)
        env['CYCLONEDDS_URI'] = ('<CycloneDDS><Domain><Discovery><MaxAutoParticipantIndex>'
                                 'many</MaxAutoParticipantIndex></Discovery></Domain>'
                                 '</CycloneDDS>')
        proc = subprocess.run([sys.executable, '-m', 'rep_coach.nodes', 'audio_feedback',
                               '--ros-args', '-p', 'sink:=null'],
                              capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert 'Traceback' not in proc.stderr, proc.stderr
    fatal = [line for line in proc.stderr.splitlines() if '[FATAL]' in line]
    assert len(fatal) == 1, proc.stderr
    assert fatal[0].startswith('[FATAL] [audio_feedback]: the middleware refused to start: '
                               'cannot join DDS domain '), fatal
    assert 'MaxAutoParticipantIndex' in fatal[0], fatal


@pytest.mark.parametrize('args,expected', [
    ([], 'imu_publisher'),
    (['prog', '--ros-args', '-r', '__ns:=/station1'], 'station1.imu_publisher'),
    (['prog', '--ros-args', '-r', '__ns:=/gym/station_2', '-r', '__node:=imu'],
     'gym.station_2.imu'),
    (['prog', '--ros-args', '--bogus'], 'imu_publisher'),
    (['prog', '--ros-args', '-r', 'imu_publisher:__ns:=/a', '-r', '__ns:=/b'], 'a.imu_publisher'),
    (['prog', '--ros-args', '-r', 'other:__ns:=/a', '-r', '__ns:=/b'], 'b.imu_publisher'),
    (['prog', '-r', '__ns:=/not_ros', '--ros-args', '-p', 'x:=1', '--', '-r', '__ns:=/no'],
     'imu_publisher'),
    (['prog', '--ros-args', '-r', '__ns:=/'], 'imu_publisher'),
])
def test_logger_name_is_the_nodes_with_its_namespace(args, expected: str) -> None:
    assert logger_name('imu_publisher', args) == expected


def test_a_fatal_line_names_the_station(tmp_path) -> None:
    # The README: log lines say which station. A node that cannot start said only
    # '[FATAL] [imu_publisher]', whichever of a gym's stations it belonged to.
    missing = tmp_path / 'missing.csv'
    proc = subprocess.run([sys.executable, '-m', 'rep_coach.nodes', 'imu_publisher',
                           '--ros-args', '-r', '__node:=imu_publisher', '-r',
                           '__ns:=/gym/station_2', '-p', f'source:=csv:{missing}'],
                          capture_output=True, text=True, env=isolated_env(), timeout=60)
    assert proc.returncode == 2, proc.stderr
    fatal = [line for line in proc.stderr.splitlines() if '[FATAL]' in line]
    assert len(fatal) == 1 and fatal[0].startswith(
        '[FATAL] [gym.station_2.imu_publisher]: '), proc.stderr
    assert str(missing) in fatal[0], fatal


# -- shutdown ----------------------------------------------------------------------------------

HELD_REPORT_AT_SIGINT = """
    import math, os, signal
    from rep_coach.nodes.common import run_node
    from rep_coach.nodes.rep_segmenter import RepSegmenterNode
    from rep_coach.runtime.msg import Imu

    class HoldingAReport(RepSegmenterNode):
        def __init__(self):
            super().__init__()
            for sec in (1, 2):
                msg = Imu()
                msg.header.stamp.sec = sec
                msg.linear_acceleration.x = math.nan
                self.on_imu(msg)     # the first is reported at once, the second held back
            self.create_timer(0.05, lambda: os.kill(os.getpid(), signal.SIGINT))

    run_node(HoldingAReport, [])
"""


def test_a_report_held_at_ctrl_c_is_logged_though_the_middleware_is_down() -> None:
    # As rclpy: Ctrl-C shuts the context down before the node's close() runs, so the
    # diagnostics publish there fails; the node must still log it and end cleanly.
    proc = _start(HELD_REPORT_AT_SIGINT)
    assert proc.returncode == 0, proc.stderr
    assert 'Traceback' not in proc.stderr
    held = [line for line in proc.stderr.splitlines() if '(at shutdown)' in line]
    assert len(held) == 1 and 'dropped' in held[0], proc.stderr
    assert "not published: Failed to publish: publisher's context is invalid" in held[0]


def test_a_failing_close_is_reported_and_the_node_still_destroyed(
        in_process: None, capsys: pytest.CaptureFixture) -> None:
    from rep_coach.runtime import Node, rclpy

    destroyed = []

    class FailsAtClose(Node):
        NODE_NAME = 'session_recorder'

        def __init__(self) -> None:
            super().__init__(self.NODE_NAME)
            rclpy.shutdown()          # spin returns at once

        def close(self) -> None:
            raise OSError('No space left on device')

        def destroy_node(self) -> None:
            destroyed.append(True)
            super().destroy_node()

    with pytest.raises(SystemExit) as info:
        run_node(FailsAtClose, [])
    assert info.value.code == 1 and destroyed == [True]
    assert capsys.readouterr().err.strip().splitlines() == [
        '[ERROR] [session_recorder]: failed at shutdown: OSError: No space left on device']


@pytest.mark.parametrize('node', sorted(NODE_PARAMS))
@pytest.mark.parametrize('args', [['prog', '--help'], ['prog', '--ros-args', '-r',
                                                       '__ns:=/gym', '--', '-h']])
def test_help_explains_the_node_and_does_not_start_it(
        node: str, args: list, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    module = importlib.import_module(f'rep_coach.nodes.{node}')

    def no_start(*_: object, **__: object) -> None:
        raise AssertionError('the node was started for --help')

    monkeypatch.setattr(common.rclpy, 'init', no_start)
    module.main(args)
    out = capsys.readouterr().out
    assert out.startswith(f'usage: {node} [--ros-args')
    # The module's own description, then every declared parameter with its default.
    assert inspect.cleandoc(module.__doc__).splitlines()[0] in out
    for spec in specs_for(node):
        assert f'  {spec.name} ({list_type(spec.default)}, default ' \
               f'{json.dumps(spec.default)})' in out
    assert 'exit status: 0' in out


def test_help_inside_the_ros_arguments_is_not_the_nodes(
        in_process: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    # `-p start_delay_s:=--help` is a parameter's value, for rclpy to judge: the node starts.
    def started(*_: object, **__: object) -> None:
        raise RuntimeError('rclpy.init reached')

    monkeypatch.setattr(common.rclpy, 'init', started)
    from rep_coach.nodes.imu_publisher import main
    with pytest.raises(SystemExit) as stopped:
        main(['prog', '--ros-args', '-p', 'start_delay_s:=--help'])
    assert stopped.value.code == 2
    assert 'rclpy.init reached' in capsys.readouterr().err


def test_a_stop_while_the_node_is_built_is_said(in_process: None,
                                                capsys: pytest.CaptureFixture) -> None:
    # Before: nothing at all, so a recorder stopped this way (the launcher stopping a graph
    # whose imu_publisher failed at start) left neither a bag nor a word about it.
    class StoppedWhileBuilt:
        NODE_NAME = 'session_recorder'

        def __init__(self) -> None:
            raise KeyboardInterrupt

    run_node(StoppedWhileBuilt, ['prog'])
    assert capsys.readouterr().err == ('[INFO] [session_recorder]: stopped while starting '
                                       '(shutdown requested)\n')
