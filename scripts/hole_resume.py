#!/usr/bin/env python3
"""
Measure a hole in the IMU stream mid-set: reset the segmenter, resume it, or neither.

For every third thomas2025 set (15), ``--hole-s`` seconds of samples (default 2.1)
are dropped twice over, in separate runs: halfway through the first rep, and from
0.3 s before a middle rep's top.  The committed learned segmenter then goes on
after the hole in four ways: ``none`` (fed on, no reset), ``reset`` (what the nodes
did at a clock jump until session 14), ``restart`` (session 14's resume: the arm's
filters, the network's state and the end picker start afresh, the extended pose
and the set stay) and ``resume`` (what the nodes do now for a forward jump of up to
``HOLE_MAX_S``: only the arm's filters start afresh).  A case counts as kept when
every true end after the hole but one (the set's last, whose label lies in the
final rest) is met within 0.3 s; ``false`` counts the ends after the hole and
before the set's last rep that meet no true end.  Results: docs/models.md, stage 1
(about 40 s)::

    .venv/bin/python scripts/hole_resume.py [--data DIR] [--models DIR] [--hole-s S]
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from rep_coach.core.evaluation import match_events  # noqa: E402
from rep_coach.core.thomas2025 import load_dataset  # noqa: E402
from rep_coach.core.types import ImuBlock  # noqa: E402
import rep_coach.learned as learned  # noqa: E402

HOLE_S = 2.1
MODES = ('none', 'reset', 'restart', 'resume')


def _push_all(segmenter, block: ImuBlock, step: int) -> list:
    return [e for i in range(0, len(block), step)
            for e in segmenter.push(block.slice(i, min(len(block), i + step)))]


def _go_on(segmenter, mode: str) -> None:
    """Do what ``mode`` does at the hole."""
    if mode == 'restart':
        segmenter.kin.resume()
        segmenter._restart_signal()
    elif mode != 'none':
        getattr(segmenter, mode)()


def main() -> int:
    """Run every case; print one line per case and the tally."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--data', type=Path, default=ROOT.parent / 'shared/data/thomas2025')
    parser.add_argument('--models', type=Path, default=ROOT / 'models')
    parser.add_argument('--hole-s', type=float, default=HOLE_S,
                        help=f'seconds of samples dropped (default {HOLE_S})')
    args = parser.parse_args()
    hole_s = args.hole_s
    make_segmenter, _ = learned.load_stages(args.models)
    kept = dict.fromkeys(MODES, 0)
    false = dict.fromkeys(MODES, 0)
    cases = 0
    for rec in load_dataset(args.data)[::3]:
        reps, t = rec.sets[0].reps, rec.imu.t
        step = int(round(rec.rate_hz))
        middle = reps[len(reps) // 2]
        for where, start in (('first rep', reps[0].start + 0.5 * (reps[0].end - reps[0].start)),
                             ('middle top', (middle.peak or middle.start) - 0.3)):
            before = rec.imu.slice(0, int(np.searchsorted(t, start)))
            after = rec.imu.slice(int(np.searchsorted(t, start + hole_s)))
            truth = [r.end for r in reps if r.end > start + hole_s + 0.5]
            met = {}
            for mode in MODES:
                segmenter = make_segmenter()
                events = _push_all(segmenter, before, step)
                _go_on(segmenter, mode)
                ends = [e.end for e in events + _push_all(segmenter, after, step)
                        if e.end > start + hole_s + 0.5]
                met[mode] = len(match_events(truth, ends))
                kept[mode] += met[mode] >= len(truth) - 1
                inner = [e for e in ends if e < reps[-1].start]
                inner_truth = [x for x in truth if x < reps[-1].start + 0.3]
                false[mode] += len(inner) - len(match_events(inner_truth, inner))
            cases += 1
            print(f'{rec.name:11s} {where:10s} of {len(truth)} ends met: '
                  + ', '.join(f'{mode} {n}' for mode, n in met.items()))
    print(f'kept (all ends but the last met), of {cases} cases: '
          + ', '.join(f'{mode} {n}' for mode, n in kept.items()))
    print('false ends (before the last rep): '
          + ', '.join(f'{mode} {n}' for mode, n in false.items()))
    return 0


if __name__ == '__main__':
    sys.exit(main())
