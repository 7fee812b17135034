"""
Start one node by name: ``python -m rep_coach.nodes NAME [--ros-args ...]``.

This is how ``rep-coach launch`` starts its nodes (``ros2 run`` uses the console
scripts, which call the same ``main()``).  What it adds is a clean stop while the
node is still starting.  The launcher stops a whole graph when one node fails, which
can be within a second of the start, while the others are still importing numpy,
the middleware or onnxruntime.  Python's own SIGINT handler would raise
KeyboardInterrupt in the middle of those imports, and a native module turns it into
an ImportError: the node printed a traceback and exited with an error for a stop it
had been asked for.  So until the node's runtime installs its own handlers (in
``rclpy.init``), a SIGINT is noted here, and a node stopped during its imports exits
0 with one line saying so.  Earlier still, while the interpreter itself starts, a SIGINT
kills it outright (exit code -2) or raises before this module can catch it; the launcher
holds SIGINT blocked for that stretch, and it is unblocked here.
"""

from __future__ import annotations

import importlib
import signal
import sys
from types import FrameType
from typing import List, Optional


def start(argv: List[str]) -> int:
    """Import and run the node ``argv[0]`` with the remaining arguments; return the exit code."""
    stop_requested: List[int] = []

    def note_stop(signum: int, frame: Optional[FrameType]) -> None:
        stop_requested.append(signum)

    previous = signal.signal(signal.SIGINT, note_stop)
    # The launcher starts nodes with SIGINT blocked (rep_coach.launcher._prepare_child), so
    # one sent while the interpreter itself was starting is pending: delivered now, it is
    # noted like any other.  Unblocked before any thread exists: threads inherit the mask.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    try:
        # Every node has a parameter table, named as its executable.
        from rep_coach.core.params import NODE_PARAMS
        if not argv or argv[0] not in NODE_PARAMS:
            print(f'usage: python -m rep_coach.nodes {{{",".join(NODE_PARAMS)}}} '
                  f'[--ros-args ...]; got {argv[:1] or "no node name"}', file=sys.stderr)
            return 2
        module = importlib.import_module(f'rep_coach.nodes.{argv[0]}')
    except Exception:  # noqa: B902 (re-raised unless a stop interrupted the import)
        if not stop_requested:
            raise
        # Interrupted inside a native import: the import error is the stop's doing.
    finally:
        signal.signal(signal.SIGINT, previous)
    if stop_requested:
        _say_stopped(argv[0])
        return 0
    # As if started as the node's own script: rclpy.init reads the ROS arguments there.
    sys.argv = [module.__file__ or argv[0], *argv[1:]]
    try:
        module.main()
    except KeyboardInterrupt:
        # main() handles a SIGINT once the runtime is up; this one came before rclpy.init
        # installed its handlers, after the imports.
        _say_stopped(argv[0])
    return 0


def _say_stopped(name: str) -> None:
    print(f'[INFO] [{name}]: stopped while starting (SIGINT before the node was up)',
          file=sys.stderr, flush=True)


if __name__ == '__main__':
    sys.exit(start(sys.argv[1:]))
