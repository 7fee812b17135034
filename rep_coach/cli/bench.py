"""
``rep-coach bench``: inference, graph latency, CPU, memory, evaluation and pose side by side.

Sections (``--only``): ``inference`` (bench/bench_inference.py: ours vs the
published-size reference, ORT vs PyTorch, one thread), ``graph`` (the nodes as
separate processes over DDS at 100 Hz: latency sample -> rep event -> feedback
-> playback start, CPU % and RSS per node, reliable-topic losses, start-up),
``evaluation`` (offline evaluation speed in multiples of real time), ``pose``
(bench/bench_pose.py) and ``audio`` (bench/bench_audio_latency.py).  A table on
stdout, or one JSON object with ``--json``; progress goes to stderr.  ``--soak``
runs the long session instead (memory flat, counts match, latency stable).
Timings depend on the machine and its load; both are printed with the figures.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
from typing import Any, List

from rep_coach.benchmarks.suite import EXIT_NOT_MEASURED, SECTIONS
from rep_coach.cli.checks import playback_speed, positive_float


#: What run returns (suite.exit_status; the soak's verdict), as --help says.
EPILOG = """\
exit status: 0 every section asked for ran and every target it measured was met (the
soak: passed); 1 a target measured was missed, whatever else (the soak: failed); 2 a
bad option; 3 no target missed, but something asked for could not be measured: a
section or part of one "not available" (e.g. the PyTorch reference without the train
extra, pose without the pose extra), a target left without a value, or the graph run
on the baseline stages because the learned models would not load (the soak: the graph
did not run)
"""


def _sections(text: str) -> List[str]:
    names = [n.strip() for n in text.split(',') if n.strip()]
    unknown = [n for n in names if n not in SECTIONS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f'unknown section(s) {unknown or text!r}; choose from '
                                         f'{",".join(SECTIONS)}')
    return names


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``bench`` subcommand."""
    parser = subparsers.add_parser(
        'bench', help='measure inference, graph latency, CPU and memory side by side',
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--json', action='store_true',
                        help='print one JSON object on stdout (progress stays on stderr)')
    parser.add_argument('--quick', action='store_true',
                        help='short runs (a CI smoke test; figures are rough)')
    parser.add_argument('--only', type=_sections, default=list(SECTIONS), metavar='LIST',
                        help=f'comma-separated sections (default all: {",".join(SECTIONS)})')
    parser.add_argument('--keep', type=Path, default=None, metavar='DIR',
                        help="keep the graph run's bag and cue WAVs in DIR")
    parser.add_argument('--logs', action='store_true', help='echo node output to stderr')
    parser.add_argument('--soak', action='store_true',
                        help='run the soak (a long simulated session) instead')
    parser.add_argument('--soak-minutes', type=positive_float, default=60.0, metavar='N',
                        help='simulated minutes of the soak (default 60)')
    parser.add_argument('--soak-speed', type=playback_speed, default=4.0, metavar='X',
                        help='soak playback speed, multiples of real time, above 0 and up to '
                             "imu_publisher's playback_speed limit, 1000 (default 4)")
    parser.set_defaults(func=run)
    return parser


def _progress(text: str) -> None:
    print(f'[bench] {text}', file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    """Run the benchmarks (or the soak); print a table or JSON; return the exit code."""
    if getattr(args, 'soak', False):
        return _soak(args)
    from rep_coach.benchmarks.suite import exit_status, run_suite, table
    result = run_suite(only=args.only, quick=args.quick, progress=_progress,
                       keep=getattr(args, 'keep', None), echo_logs=getattr(args, 'logs', False))
    if args.json:
        print(json.dumps(result, allow_nan=False, default=str))
    else:
        print(table(result))
    return exit_status(result)


def _soak(args: argparse.Namespace) -> int:
    from rep_coach.benchmarks.graph import GraphBenchError
    from rep_coach.benchmarks.machine import describe
    from rep_coach.benchmarks.soak import run_soak, soak_table, SoakConfig
    info = describe()
    _progress(f'soak: {args.soak_minutes:g} simulated minutes at x{args.soak_speed:g} '
              f'(~{args.soak_minutes * 60 / args.soak_speed:.0f} s)')
    try:
        result = run_soak(SoakConfig(minutes=args.soak_minutes, speed=args.soak_speed,
                                     progress=_progress))
    except GraphBenchError as exc:
        print(f'rep-coach bench --soak: {exc}', file=sys.stderr)
        return EXIT_NOT_MEASURED
    result['machine'] = info
    if args.json:
        print(json.dumps(result, allow_nan=False, default=str))
    else:
        print(soak_table(result))
    return 0 if result['passed'] else 1
