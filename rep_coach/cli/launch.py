"""``rep-coach launch``: start the graph as separate processes, as ``ros2 launch`` would."""

from __future__ import annotations

import argparse
from pathlib import Path

from rep_coach.cli.checks import imu_source, namespace, positive_float, record_dir
from rep_coach.launcher import GRAPH, Launcher, LaunchError, standard_graph
from rep_coach.paths import default_params_file

#: The help text, wrapped here: the formatter keeps the lines of the exit statuses, so
#: of this too.
DESCRIPTION = """\
Start imu_publisher, rep_segmenter, near_failure_classifier and audio_feedback (and
session_recorder with --record) as separate processes from one parameter file.
Ctrl-C stops them all cleanly and finalises the recording. Every node is required:
when one exits, the others are stopped (at once, and exit code 1, if it failed; 2 s
later if it finished) unless it is given to --respawn. On a ROS 2 machine use:
ros2 launch rep_coach rep_coach.launch.py
"""

#: What run returns (Launcher.run's 0 or 1, or 2 for a LaunchError), as --help says.
EPILOG = """\
exit status: 0 every node ended cleanly (the graph finished, or was stopped by Ctrl-C
or --duration); 1 a node failed (exit code neither 0 nor SIGINT's: a source that
cannot be opened, a crash; with --respawn, also one that was then restarted);
2 nothing started: a bad option, parameter file or override (the message names it)
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``launch`` subcommand."""
    parser = subparsers.add_parser(
        'launch', help='start every node as its own process, as ros2 launch would',
        description=DESCRIPTION,
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--params', type=Path, default=None, metavar='FILE',
                        help='YAML in the ros__parameters layout (default: the installed '
                             'config/rep_coach.yaml)')
    parser.add_argument('--namespace', default='', metavar='NS', type=namespace,
                        help='namespace of every node and topic, one per gym station')
    parser.add_argument('--source', default=None, metavar='SPEC', type=imu_source,
                        help='IMU source overriding the YAML: sim, csv:PATH, bag:PATH, mpu6050')
    parser.add_argument('--record', type=record_dir, default=None, metavar='DIR',
                        help='record the session as a rosbag2 (MCAP) under DIR')
    parser.add_argument('--duration', type=positive_float, default=None, metavar='SECONDS',
                        help='stop everything after this many seconds')
    parser.add_argument('--respawn', nargs='+', default=[], metavar='NODE',
                        choices=list(GRAPH) + ['session_recorder'],
                        help='restart these nodes if they die')
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the graph until Ctrl-C, --duration, or every node has exited."""
    params = args.params or default_params_file()
    try:
        nodes = standard_graph(args.source, args.record, respawn=args.respawn)
        return Launcher(nodes, params_file=params, namespace=args.namespace).run(
            duration=args.duration)
    except LaunchError as exc:
        print(f'[ERROR] [launch]: {exc}')
        return 2
