"""``rep-coach plot SET_OR_BAG -o OUT.png``: one set with the baseline's view of it.

``SET_OR_BAG`` is a thomas2025 set file (``.../Raw Data/A321_10_1.csv``), a
``DIR:SET`` pair (``data/thomas2025:A321_10_1``), a rosbag2 bag (the whole
session) or ``BAG:N`` (set N of the bag, counting its labelled sets from 1, as
``rep-coach evaluate BAG`` names them in per_set).

The PNG has three panels over time (seconds since the first sample):
  1. the gyro rate about the forearm's principal axis (rad/s),
  2. the high-passed rotation angle (rad) the baseline segmenter finds rep ends in,
  3. the near-failure probability after each detected rep, its 0.5 threshold and
     the true near-failure reps (RPE >= 8, an assumption of rep_coach).
True reps are shaded (red: RPE >= 8) with their RPE and a black line at their end;
detected rep ends are orange dashes, with a triangle where the decision was made
(stamp - end is the cue delay).  Detections and probabilities are the baseline
stages', replayed causally over the whole recording.  A bag without labels is drawn
with the detections only (a note says so).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
import sys
from typing import Any, Optional, Tuple

from rep_coach.cli.checks import output_problem
from rep_coach.core.evaluation import replay
from rep_coach.core.near_failure import BaselineNearFailure
from rep_coach.core.plotting import plot_replay
from rep_coach.core.segmentation import BaselineSegmenter
from rep_coach.core.types import ImuRecording

EPILOG = """\
exit status: 0 written; 2 nothing written: the output is not a writable .png path, or
SET_OR_BAG is missing, unreadable, an empty bag or a bag without IMU messages, or N is
not one of the bag's labelled sets (the message names the culprit)
"""

#: Seconds drawn before the first and after the last rep of a bag's set.
SET_MARGIN_S = 5.0

#: What to draw: the recording, the span of it to show (None: all) and what it is.
Loaded = Tuple[ImuRecording, Optional[Tuple[float, float]], str]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``plot`` subcommand."""
    parser = subparsers.add_parser(
        'plot', help='draw a set: IMU, true and detected reps, near-failure probability',
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('source', metavar='SET_OR_BAG',
                        help='set CSV, DIR:SET, a bag or BAG:N (set N of the bag)')
    parser.add_argument('-o', '--output', type=Path, required=True, help='PNG to write')
    parser.set_defaults(func=run)
    return parser


def load_one(source: str) -> Loaded:
    """Resolve ``SET_OR_BAG`` into a recording, the span to draw and its description."""
    from rep_coach.cli.evaluate import is_bag, read_bag_recording
    from rep_coach.core.thomas2025 import load_set, RAW_DIR
    path = Path(source)
    if path.suffix.lower() == '.csv' and path.parent.name == RAW_DIR:
        return load_set(path.parent.parent, path.stem), None, path.stem
    if ':' in source and not path.exists():
        data_dir, name = source.rsplit(':', 1)
        if is_bag(Path(data_dir)):
            rec = read_bag_recording(Path(data_dir))
            return rec, set_span(rec, name, data_dir), f'set {name} of {data_dir}'
        return load_set(Path(data_dir), name), None, name
    return read_bag_recording(path), None, str(path)


def set_span(recording: ImuRecording, number: str, bag: str) -> Tuple[float, float]:
    """Return the time span of labelled set ``number`` (from 1) of a bag, with margins."""
    sets = [s for s in recording.sets if s.reps]
    if not number.isdigit() or not 1 <= int(number) <= len(sets):
        have = f'sets 1-{len(sets)}' if sets else 'no labelled sets'
        raise ValueError(f'{bag}:{number}: no such set; the bag has {have}')
    reps = sets[int(number) - 1].reps
    return reps[0].start - SET_MARGIN_S, reps[-1].end + SET_MARGIN_S


def run(args: argparse.Namespace) -> int:
    """Replay the set through the baseline stages and write the PNG."""
    problem = output_problem(args.output, ('.png',))
    if problem:
        print(f'rep-coach plot: {problem}', file=sys.stderr)
        return 2
    try:
        rec, window, what = load_one(args.source)
    except (OSError, ValueError) as exc:
        print(f'rep-coach plot: {exc}', file=sys.stderr)
        return 2
    if not any(s.reps for s in rec.sets):
        print(f'rep-coach plot: note: {args.source} has no labels (labels/reps): '
              'detections only, nothing to compare them with', file=sys.stderr)
    # Keep the whole recording in the segmenter's history so it can be drawn afterwards.
    span = float(rec.imu.t[-1] - rec.imu.t[0]) if len(rec.imu) else 0.0
    seg = BaselineSegmenter(replace(BaselineSegmenter().config, history_s=span + 60.0))
    classifier = BaselineNearFailure()
    result = replay(rec, seg, classifier)
    t, theta, omega = seg.signals()
    lo, hi = window or (-float('inf'), float('inf'))
    title = f'{what}: detected reps and p(near failure) of the baseline stages'
    out = plot_replay(rec, result, t, theta, omega, args.output, title=title, window=window,
                      threshold=classifier.config.threshold)
    detected = sum(lo <= e.end <= hi for e in result.events)
    labelled = sum(lo <= r.end <= hi for s in rec.sets for r in s.reps)
    print(f'wrote {out} ({what}: {detected} reps detected, {labelled} labelled)')
    return 0
