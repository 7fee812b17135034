"""The one main() pattern of every node (``rep_coach.nodes.common.run_node``)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from rep_coach.launcher import isolated_env

SCRIPT = textwrap.dedent('''
    import os, signal, time
    from rep_coach.nodes.common import run_node

    def factory():
        # As onnxruntime does when a SIGINT lands inside its native import.
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        except KeyboardInterrupt as exc:
            raise ImportError('initialization failed') from exc

    run_node(factory, [])
''')


def test_a_stop_request_during_start_up_exits_cleanly() -> None:
    proc = subprocess.run([sys.executable, '-c', SCRIPT], capture_output=True, text=True,
                          env=isolated_env(), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert 'Traceback' not in proc.stderr
    assert 'stopped while starting' in proc.stderr


def test_an_error_at_start_up_without_a_stop_request_is_not_hidden() -> None:
    code = textwrap.dedent('''
        from rep_coach.nodes.common import run_node

        def factory():
            raise ImportError('initialization failed')

        run_node(factory, [])
    ''')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          env=isolated_env(), timeout=60)
    assert proc.returncode == 1
    assert 'ImportError: initialization failed' in proc.stderr


def _start(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', textwrap.dedent(code)], capture_output=True,
                          text=True, env=isolated_env(), timeout=60)


def test_the_launchers_entry_exits_cleanly_when_stopped_during_the_imports() -> None:
    # As a native module does (numpy: "import numpy failed") when a SIGINT lands inside it.
    proc = _start('''
        import importlib, os, signal, sys

        def interrupted_import(name):
            os.kill(os.getpid(), signal.SIGINT)
            raise ImportError('import numpy failed')

        importlib.import_module = interrupted_import
        from rep_coach.nodes.__main__ import start
        sys.exit(start(['rep_segmenter', '--ros-args']))
    ''')
    assert proc.returncode == 0, proc.stderr
    assert 'Traceback' not in proc.stderr
    assert '[rep_segmenter]: stopped while starting' in proc.stderr


def test_the_launchers_entry_exits_cleanly_when_stopped_before_rclpy_init() -> None:
    proc = _start('''
        import importlib, sys, types

        def interrupted_before_init():
            raise KeyboardInterrupt

        importlib.import_module = lambda name: types.SimpleNamespace(
            main=interrupted_before_init, __file__=name)
        from rep_coach.nodes.__main__ import start
        sys.exit(start(['audio_feedback']))
    ''')
    assert proc.returncode == 0, proc.stderr
    assert 'Traceback' not in proc.stderr
    assert '[audio_feedback]: stopped while starting' in proc.stderr


def test_the_launchers_entry_reports_import_errors_and_unknown_nodes() -> None:
    proc = _start('''
        import importlib, sys

        def broken_import(name):
            raise ImportError('initialization failed')

        importlib.import_module = broken_import
        from rep_coach.nodes.__main__ import start
        sys.exit(start(['rep_segmenter']))
    ''')
    assert proc.returncode == 1 and 'ImportError: initialization failed' in proc.stderr
    proc = subprocess.run([sys.executable, '-m', 'rep_coach.nodes', 'rep_segmentr'],
                          capture_output=True, text=True, env=isolated_env(), timeout=60)
    assert proc.returncode == 2
    assert "got ['rep_segmentr']" in proc.stderr and 'rep_segmenter' in proc.stderr
