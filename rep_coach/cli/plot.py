"""
``rep-coach plot SET_OR_BAG -o OUT.png``: one set as a coach's pipeline saw it.

``SET_OR_BAG`` is a thomas2025 set file (``.../Raw Data/A321_10_1.csv``), a
``DIR:SET`` pair (``data/thomas2025:A321_10_1``), a rosbag2 bag (the whole
session) or ``BAG:N`` (set N of the bag, counting its labelled sets from 1, as
``rep-coach evaluate BAG`` names them in per_set).  Any other IMU CSV (a Trigno
file outside its dataset, or ``t,ax,ay,az,gx,gy,gz``) is drawn without labels.

The set is replayed causally over the whole recording through the stages the
nodes build: ``--pipeline learned`` (the nodes' default; ``--models DIR`` as for
``rep-coach evaluate``) or ``--pipeline baseline``.  The panels over time
(seconds since the first sample) show what that pipeline's segmenter looks at:
  learned:  1. the gravity-referenced forearm angle (deg) and
            2. the principal-axis rate, lifting positive (deg/s), as fed to the
               network (its input channels 0 and 1, clipped at +-250 deg/s),
            3. the network's rep-end probability with the end picker's levels
               (a run starts at 0.25; a set's first rep needs a run peaking at
               0.5), x where a picked end was dropped (no range of motion, an
               unsure first rep), and in grey its "inside a rep" probability;
  baseline: 1. the gyro rate about the forearm's principal axis (rad/s),
            2. the high-passed rotation angle (rad) it finds rep ends in;
and last the near-failure probability after each detected rep, its threshold
and the true near-failure reps (RPE >= 8, an assumption of rep_coach).
True reps are shaded (red: RPE >= 8) with their RPE and a black line at their end;
detected rep ends are orange dashes, with a triangle where the decision was made
(stamp - end is the cue delay).  A bag without labels is drawn with the
detections only (a note says so).
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys
from typing import Any, List, Optional, Sequence, Tuple, TYPE_CHECKING

import numpy as np

from rep_coach.cli.checks import output_path, output_problem
from rep_coach.core.evaluation import Replay, replay
from rep_coach.core.plotting import Level, Panel, plot_replay, Trace
from rep_coach.core.segmentation import BaselineSegmenter
from rep_coach.core.types import ImuRecording
from rep_coach.paths import models_dir as resolve_models_dir
from rep_coach.pipeline import stage_factories, StageError

if TYPE_CHECKING:   # the learned package is imported only when it is drawn
    from rep_coach.learned.events import PickedEnd
    from rep_coach.learned.segmenter import LearnedSegmenter

EPILOG = """\
exit status: 0 written; 2 nothing written: the output is not a writable .png path,
SET_OR_BAG is missing, unreadable, an empty bag or a bag without IMU messages, N is
not one of the bag's labelled sets, or the learned models do not load (the message
names the culprit; --pipeline baseline needs no models)
"""

#: Seconds drawn before the first and after the last rep of a bag's set.
SET_MARGIN_S = 5.0

#: Pipelines that can be drawn; the first is the nodes' default (config/rep_coach.yaml).
PIPELINES = ('learned', 'baseline')
#: Seconds of signal kept beyond the recording's span (the stages keep at least this).
HISTORY_MARGIN_S = 60.0

#: What to draw: the recording, the span of it to show (None: all) and what it is.
Loaded = Tuple[ImuRecording, Optional[Tuple[float, float]], str]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``plot`` subcommand."""
    parser = subparsers.add_parser(
        'plot', help="draw a set as a pipeline saw it: its segmenter's signals, true and "
                     'detected reps, near-failure probability',
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('source', metavar='SET_OR_BAG',
                        help='set CSV, DIR:SET, a bag or BAG:N (set N of the bag)')
    parser.add_argument('-o', '--output', type=output_path, required=True, help='PNG to write')
    parser.add_argument('--pipeline', choices=PIPELINES, default=PIPELINES[0],
                        help='stages to replay (default: %(default)s, as the nodes run)')
    parser.add_argument('--models', type=Path, default=None, metavar='DIR',
                        help='directory of the learned models (default: the package models)')
    parser.set_defaults(func=run)
    return parser


def load_one(source: str) -> Loaded:
    """Resolve ``SET_OR_BAG`` into a recording, the span to draw and its description."""
    from rep_coach.cli.evaluate import is_bag, read_bag_recording
    from rep_coach.core.sources import read_csv
    from rep_coach.core.thomas2025 import load_set, RAW_DIR, REP_INDEX_FILE, set_names
    path = Path(source)
    if path.suffix.lower() == '.csv':
        if path.parent.name == RAW_DIR:
            return load_set(path.parent.parent, path.stem), None, path.stem
        # Any other IMU CSV (a Trigno file on its own, our format): drawn unlabelled.
        return read_csv(path), None, path.stem
    if ':' in source and not path.exists():
        data_dir, name = source.rsplit(':', 1)
        if is_bag(Path(data_dir)):
            rec = read_bag_recording(Path(data_dir))
            return rec, set_span(rec, name, data_dir), f'set {name} of {data_dir}'
        return load_set(Path(data_dir), name), None, name
    if (path / REP_INDEX_FILE).is_file():
        names = set_names(path)
        example = f'; e.g. {source}:{names[0]} ({len(names)} sets)' if names else ''
        raise ValueError(f'{path}: a thomas2025 dataset, not one set: name the set as '
                         f'DIR:SET{example}')
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
    """Replay the set through the chosen pipeline's stages and write the PNG."""
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
    models = str(args.models) if args.models is not None else ''
    if args.models is not None and args.pipeline == 'baseline':
        print('rep-coach plot: note: --models is not used: the baseline stages have no model '
              'files', file=sys.stderr)
    # The stages keep the whole recording's signals so they can be drawn afterwards.
    span = float(rec.imu.t[-1] - rec.imu.t[0]) if len(rec.imu) else 0.0
    try:
        make_segmenter, make_classifier = stage_factories(
            args.pipeline, models, history_s=span + HISTORY_MARGIN_S)
    except StageError as exc:
        where = f'--models {args.models}' if args.models is not None else 'learned models'
        print(f'rep-coach plot: {where}: {exc}; --pipeline baseline works without them',
              file=sys.stderr)
        return 2
    seg, classifier = make_segmenter(), make_classifier()
    result = replay(rec, seg, classifier)
    if args.pipeline == 'baseline':
        panels = baseline_panels(seg)
        pipeline = 'baseline pipeline'
    else:
        panels = learned_panels(seg, result)
        pipeline = f'learned pipeline (models {resolve_models_dir(models)})'
    lo, hi = window or (-float('inf'), float('inf'))
    title = f'{what}: detected reps and p(near failure) of the {pipeline}'
    try:
        out = plot_replay(rec, result, panels, args.output, title=title, window=window,
                          threshold=classifier.threshold)
    except OSError as exc:   # checked up front, but the disk may fill or the path change
        print(f'rep-coach plot: {args.output}: cannot be written ({exc.strerror or exc})',
              file=sys.stderr)
        return 2
    detected = sum(lo <= e.end <= hi for e in result.events)
    labelled = sum(lo <= r.end <= hi for s in rec.sets for r in s.reps)
    print(f'wrote {out} ({what}: {detected} reps detected, {labelled} labelled; '
          f'{args.pipeline} pipeline)')
    return 0


def baseline_panels(seg: BaselineSegmenter) -> List[Panel]:
    """Return the baseline segmenter's view: rate and high-passed angle, principal axis."""
    t, theta, omega = seg.signals()
    return [Panel('angular rate (rad/s)',
                  [Trace('gyro about the principal axis', t, omega, 'tab:blue', 0.8)]),
            Panel('forearm angle (rad)',
                  [Trace('rotation angle (high-passed)', t, theta, 'tab:purple', 1.0)],
                  decisions=True)]


def learned_panels(seg: LearnedSegmenter, result: Replay) -> List[Panel]:
    """
    Return the learned segmenter's view: input angle and rate, rep-end probability.

    ``seg`` is a :class:`~rep_coach.learned.segmenter.LearnedSegmenter` that kept
    the whole recording (``history_s``).
    """
    from rep_coach.learned.kinematic_input import THETA_SCALE
    from rep_coach.learned.preprocess import GYRO_SCALE
    from rep_coach.learned.segmenter import FIRST_REP_MIN_PEAK
    sig = seg.signals()
    cfg = seg.picker_config
    clip = float(np.degrees(GYRO_SCALE))   # the rate channel is clipped at +-1
    dropped = np.array([p.stamp for p in dropped_ends(picked_ends(seg), result)])
    return [
        Panel('forearm angle (deg)',
              [Trace('angle from the extended arm, gravity-referenced (input 0)', sig.t,
                     np.degrees(sig.inputs[0] * THETA_SCALE), 'tab:purple', 1.0)]),
        Panel('angular rate (deg/s)',
              [Trace('principal-axis rate, lifting positive (input 1)', sig.t,
                     np.degrees(sig.inputs[1] * GYRO_SCALE), 'tab:blue', 0.8)],
              levels=[Level(clip, f'input clipped at +-{clip:g} deg/s'),
                      Level(-clip, '_nolegend_')]),
        Panel('probability',
              [Trace('p(rep end), the network output', sig.t, sig.p_end, 'tab:blue', 1.0),
               Trace('p(inside a rep)', sig.t, sig.p_active, 'tab:gray', 0.7, alpha=0.6),
               Trace('picked end dropped (no range of motion, unsure first rep)', dropped,
                     np.interp(dropped, sig.t, sig.p_end) if dropped.size else dropped,
                     'k', style='', marker='x')],
              levels=[Level(cfg.on, f'a run starts ({cfg.on:g})', 'tab:green'),
                      Level(cfg.off, f'a run ends below {cfg.off:g} or half its peak',
                            'tab:red'),
                      Level(FIRST_REP_MIN_PEAK, f"a set's first rep needs a run peaking at "
                                                f'{FIRST_REP_MIN_PEAK:g}', 'k')],
              ylim=(-0.03, 1.03), decisions=True)]


def picked_ends(seg: LearnedSegmenter) -> List[PickedEnd]:
    """
    Run a fresh end picker of ``seg``'s configuration over its kept rep-end probability.

    The picker is a deterministic function of the probabilities it is fed, so over
    the whole recording it picks exactly the candidates ``seg`` was offered; ``seg``
    made a rep of each unless its checks dropped it (``rejected``, ``unsure_first``).
    """
    from rep_coach.learned.events import EndPicker
    sig = seg.signals()
    return EndPicker(seg.picker_config).update(sig.t, sig.p_end)


def dropped_ends(picked: Sequence[PickedEnd], result: Replay) -> List[PickedEnd]:
    """Return the picked ends that did not become a rep of ``result``."""
    made = {e.end for e in result.events}    # a rep's end is its picked end, unchanged
    return [p for p in picked if p.end not in made]
