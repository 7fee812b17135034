"""``rep-coach plot SET_OR_BAG -o OUT.png``: one set with the baseline's view of it.

``SET_OR_BAG`` is a thomas2025 set file (``.../Raw Data/A321_10_1.csv``), a
``DIR:SET`` pair (``data/thomas2025:A321_10_1``) or a labelled rosbag2 bag.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
import sys
from typing import Any

from rep_coach.cli.checks import output_problem
from rep_coach.core.evaluation import replay
from rep_coach.core.near_failure import BaselineNearFailure
from rep_coach.core.plotting import plot_replay
from rep_coach.core.segmentation import BaselineSegmenter
from rep_coach.core.types import ImuRecording


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``plot`` subcommand."""
    parser = subparsers.add_parser(
        'plot', help='draw a set: IMU, true and detected reps, near-failure probability',
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('source', metavar='SET_OR_BAG', help='set CSV, DIR:SET or a bag')
    parser.add_argument('-o', '--output', type=Path, required=True, help='PNG to write')
    parser.set_defaults(func=run)
    return parser


def load_one(source: str) -> ImuRecording:
    """Resolve ``SET_OR_BAG`` into one labelled recording."""
    from rep_coach.core.thomas2025 import load_set, RAW_DIR
    path = Path(source)
    if path.suffix.lower() == '.csv' and path.parent.name == RAW_DIR:
        return load_set(path.parent.parent, path.stem)
    if ':' in source and not path.exists():
        data_dir, name = source.rsplit(':', 1)
        return load_set(Path(data_dir), name)
    from rep_coach.cli.evaluate import read_labelled_bag
    return read_labelled_bag(path)


def run(args: argparse.Namespace) -> int:
    """Replay the set through the baseline stages and write the PNG."""
    problem = output_problem(args.output, ('.png',))
    if problem:
        print(f'rep-coach plot: {problem}', file=sys.stderr)
        return 2
    try:
        rec = load_one(args.source)
    except (OSError, ValueError) as exc:
        print(f'rep-coach plot: {exc}', file=sys.stderr)
        return 2
    # Keep the whole recording in the segmenter's history so it can be drawn afterwards.
    span = float(rec.imu.t[-1] - rec.imu.t[0]) if len(rec.imu) else 0.0
    seg = BaselineSegmenter(replace(BaselineSegmenter().config, history_s=span + 60.0))
    result = replay(rec, seg, BaselineNearFailure())
    t, theta, omega = seg.signals()
    out = plot_replay(rec, result, t, theta, omega, args.output)
    print(f'wrote {out} ({len(result.events)} reps detected, '
          f'{sum(len(s.reps) for s in rec.sets)} labelled)')
    return 0
