"""``rep-coach demo``: the whole graph on a simulated lifter doing one set to failure."""

from __future__ import annotations

import argparse
from datetime import datetime
import json
import os
from pathlib import Path
import sys
import time

from rep_coach.bagio import BagError
from rep_coach.cli.checks import audio_sink, fail, playback_speed, record_dir
from rep_coach.core.params import SINK_SPECS
from rep_coach.core.sim.exercises import EXERCISES
from rep_coach.launcher import IMU_READERS, isolated_env, Launcher, LaunchError, standard_graph
from rep_coach.paths import default_params_file
from rep_coach.session_summary import summarize_bag

#: The help text, wrapped here: the formatter keeps the lines of the exit statuses, so
#: of this too.
DESCRIPTION = """\
Start imu_publisher (simulated lifter, one set to failure), rep_segmenter,
near_failure_classifier, audio_feedback and session_recorder as separate processes
over DDS, print the cues, record the session as a rosbag2 and summarise it.
"""

#: What run returns, as --help says.
EPILOG = """\
exit status: 0 the session ran, every node ended cleanly and the summary is printed;
1 a node failed (its exit code neither 0 nor SIGINT's; the summary is printed all the
same) or the session was not recorded (no bag to summarise); 2 nothing started: a bad
option, parameter file or override (the message names it)
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``demo`` subcommand."""
    parser = subparsers.add_parser(
        'demo', help='run the whole graph on a simulated set to failure and summarise it',
        description=DESCRIPTION,
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--json', action='store_true',
                        help='print one JSON object (reps_true, reps_detected, '
                             'near_failure_rep, cues, bag) on stdout; logs go to stderr')
    parser.add_argument('--seed', type=int, default=7, help='simulated lifter (default 7)')
    parser.add_argument('--exercise', default='biceps_curl', choices=sorted(EXERCISES),
                        help='simulated exercise (default biceps_curl); the IMU stages are built '
                        'for curls: they count no rep of overhead_press or front_squat and few '
                        'of lateral_raise (README, "What it is")')
    parser.add_argument('--speed', type=playback_speed, default=4.0,
                        help='simulation speed, multiples of real time, above 0 and up to '
                             "imu_publisher's playback_speed limit, 1000 (default 4)")
    parser.add_argument('--audio', default='auto', metavar='SINK', type=audio_sink,
                        help=f'audio output: {", ".join(SINK_SPECS)} (default auto)')
    parser.add_argument('--model', choices=['learned', 'baseline'], default=None,
                        help="stage implementation (default: the parameter file's)")
    parser.add_argument('--record', type=record_dir, default='rep_coach_bags', metavar='DIR',
                        help='directory for the session bag (default ./rep_coach_bags)')
    parser.add_argument('--params', type=Path, default=None, metavar='FILE',
                        help='parameter file (default: the installed config)')
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the demo graph until the simulated set is over; print the summary."""
    bag_name = datetime.now().strftime('demo_%Y%m%d_%H%M%S_') + str(os.getpid())
    overrides = {
        'imu_publisher': {'sim_seed': args.seed, 'sim_exercise': args.exercise,
                          'sim_sets': 1, 'playback_speed': args.speed,
                          'shutdown_when_done': True, 'wait_for_subscribers': IMU_READERS,
                          'start_delay_s': 20.0},
        'audio_feedback': {'sink': args.audio},
        'session_recorder': {'bag_name': bag_name},
    }
    if args.model:
        overrides['rep_segmenter'] = {'model': args.model}
        overrides['near_failure_classifier'] = {'model': args.model}
    # The demo is one machine's business: unless the user chose a domain or a discovery
    # range, keep its traffic on loopback and on a domain no other graph uses.
    chosen = {'ROS_DOMAIN_ID', 'ROS_LOCALHOST_ONLY', 'ROS_AUTOMATIC_DISCOVERY_RANGE'}
    env = dict(os.environ) if chosen & set(os.environ) else isolated_env()
    started = time.monotonic()
    try:
        nodes = standard_graph('sim:tail_s=10', args.record, overrides)
        launcher = Launcher(nodes, params_file=args.params or default_params_file(),
                            namespace='', env=env, output=sys.stderr)
        # imu_publisher exits once the set is over (shutdown_when_done); it is required,
        # so the launcher stops the rest DRAIN_S later, when they have said their last.
        code = launcher.run()
    except LaunchError as exc:
        return fail('demo', str(exc), args.json)
    bag = Path(args.record).expanduser() / bag_name   # as session_recorder reads bag_dir
    try:
        summary = summarize_bag(bag)
    except BagError as exc:
        return fail('demo', f'the session was not recorded: {exc}', args.json, status=1)
    result = summary.to_dict()
    result['seconds'] = round(time.monotonic() - started, 1)
    result['exit_codes'] = launcher.exit_codes
    if args.json:
        print(json.dumps(result))
    else:
        _print_summary(result)
    return code


def _print_summary(result: dict) -> None:
    print()
    print('Session summary')
    print(f'  reps (simulator)      {result["reps_true"]}')
    print(f'  reps detected         {result["reps_detected"]}')
    print(f'  near failure at rep   {result["near_failure_rep"]}')
    print(f'  cues                  {", ".join(result["cues"]) or "-"}')
    print(f'  recording             {result["bag"]}')
    print(f'  took                  {result["seconds"]} s')
