#!/usr/bin/env python3
"""
Measure a hole in the IMU stream mid-set: reset the segmenter, resume it, or neither.

For every third thomas2025 set (15), 2.1 s of samples are dropped twice over, in
separate runs: halfway through the first rep, and from 0.3 s before a middle rep's
top.  The committed learned segmenter then goes on after the hole in three ways:
``none`` (fed on, no reset), ``reset`` (what the nodes did at a clock jump until
session 14) and ``resume`` (what they do now for a forward jump of up to
``HOLE_MAX_S``).  A case counts as kept when every true end after the hole but one
(the set's last, whose label lies in the final rest) is met within 0.3 s.  Results:
docs/models.md, stage 1 (about 30 s)::

    .venv/bin/python scripts/hole_resume.py [--data DIR] [--models DIR]
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
MODES = ('none', 'reset', 'resume')


def _push_all(segmenter, block: ImuBlock, step: int) -> list:
    return [e for i in range(0, len(block), step)
            for e in segmenter.push(block.slice(i, min(len(block), i + step)))]


def main() -> int:
    """Run every case; print one line per case and the tally."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--data', type=Path, default=ROOT.parent / 'shared/data/thomas2025')
    parser.add_argument('--models', type=Path, default=ROOT / 'models')
    args = parser.parse_args()
    make_segmenter, _ = learned.load_stages(args.models)
    kept = dict.fromkeys(MODES, 0)
    cases = 0
    for rec in load_dataset(args.data)[::3]:
        reps, t = rec.sets[0].reps, rec.imu.t
        step = int(round(rec.rate_hz))
        middle = reps[len(reps) // 2]
        for where, start in (('first rep', reps[0].start + 0.5 * (reps[0].end - reps[0].start)),
                             ('middle top', (middle.peak or middle.start) - 0.3)):
            before = rec.imu.slice(0, int(np.searchsorted(t, start)))
            after = rec.imu.slice(int(np.searchsorted(t, start + HOLE_S)))
            truth = [r.end for r in reps if r.end > start + HOLE_S + 0.5]
            met = {}
            for mode in MODES:
                segmenter = make_segmenter()
                events = _push_all(segmenter, before, step)
                if mode != 'none':
                    getattr(segmenter, mode)()
                ends = [e.end for e in events + _push_all(segmenter, after, step)
                        if e.end > start + HOLE_S + 0.5]
                met[mode] = len(match_events(truth, ends))
                kept[mode] += met[mode] >= len(truth) - 1
            cases += 1
            print(f'{rec.name:11s} {where:10s} of {len(truth)} ends met: '
                  + ', '.join(f'{mode} {n}' for mode, n in met.items()))
    print(f'kept (all ends but the last met), of {cases} cases: '
          + ', '.join(f'{mode} {n}' for mode, n in kept.items()))
    return 0


if __name__ == '__main__':
    sys.exit(main())
