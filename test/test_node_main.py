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
