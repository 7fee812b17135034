#!/usr/bin/env python3
"""
Measurement: thomas2025's rep boundaries are its authors' detector's span midpoints.

Checks every labelled boundary of a thomas2025-layout directory against the detector
described in :mod:`rep_coach.training.label_convention`, then scores the best any live
segmenter could do by the evaluation's rules.  Results and their reading: docs/models.md,
"Where the rep-end misses are".

Run (about 10 s)::

    .venv/bin/python scripts/label_convention.py [--data DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
import sys

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rep_coach.core.thomas2025 import (DatasetError, load_dataset,  # noqa: E402
                                       read_rep_indexes, REP_INDEX_FILE)
from rep_coach.training.label_convention import (check_recording, EXACT_SAMPLES,  # noqa: E402
                                                 live_ceiling)


def main() -> int:
    """Print (or ``--json``) how the labels relate to the detector, and the live ceiling."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--data', type=Path, default=ROOT.parent / 'shared/data/thomas2025',
                        help='a thomas2025-layout directory')
    parser.add_argument('--json', action='store_true', help='print one JSON object')
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    try:
        recordings = load_dataset(args.data)
        indexes = read_rep_indexes(args.data / REP_INDEX_FILE)
    except DatasetError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    checks = [check_recording(r, indexes[r.name].boundaries) for r in recordings]

    def exact(which: slice) -> int:
        return int(sum(np.count_nonzero(c.errors[which] <= EXACT_SAMPLES) for c in checks))

    def total(which: slice) -> int:
        return int(sum(c.errors[which].size for c in checks))

    # Over the sets whose edges are span midpoints: how close the first and last rest
    # spans come to the recording's start and end, and how far the labelled last end
    # lies from where the arm came to rest.
    first = [c for c in checks if c.errors[0] <= EXACT_SAMPLES]
    last = [c for c in checks if c.errors[-1] <= EXACT_SAMPLES]
    from_start = [c.spans[0][0] / c.rate_hz for c in first]
    to_end = [(c.n_samples - 1 - c.last_rest[1]) / c.rate_hz for c in last]
    after_rest = [(c.boundaries[-1] - c.last_rest[0]) / c.rate_hz for c in last]
    ceiling = live_ceiling(recordings, checks)
    report = {
        'sets': len(checks),
        'first_starts_exact': [exact(slice(0, 1)), total(slice(0, 1))],
        'interior_boundaries_exact': [exact(slice(1, -1)), total(slice(1, -1))],
        'last_ends_exact': [exact(slice(-1, None)), total(slice(-1, None))],
        'not_exact': [f'{c.name} boundary {i}: {int(e)} samples'
                      for c in checks for i, e in enumerate(c.errors) if e > EXACT_SAMPLES],
        'first_rest_start_after_recording_start_s': _quantiles(from_start),
        'last_rest_end_to_recording_end_s': _quantiles(to_end),
        'last_end_after_arm_at_rest_s': _quantiles(after_rest),
        'live_ceiling': {'sample_f1': round(ceiling.sample_f1, 4),
                         'event_f1': round(ceiling.event_f1, 4),
                         'last_ends_matched': [ceiling.last_matched, ceiling.n_sets]},
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f'{report["sets"]} sets; labelled boundaries that are a span midpoint '
          f'(within {EXACT_SAMPLES} samples):')
    for key in ('first_starts_exact', 'interior_boundaries_exact', 'last_ends_exact'):
        done, of = report[key]
        print(f'  {key.replace("_exact", "").replace("_", " "):22s} {done} of {of}')
    for line in report['not_exact']:
        print(f'  not a midpoint: {line}')
    print('first rest span: starts {min:.2f}-{max:.2f} s after the recording does '
          '(median {median:.2f})'.format(**report['first_rest_start_after_recording_start_s']))
    print('last rest span: ends {min:.2f}-{max:.2f} s before the recording does '
          '(median {median:.2f})'.format(**report['last_rest_end_to_recording_end_s']))
    print('last labelled end: {min:.2f}-{max:.2f} s after the arm came to rest '
          '(median {median:.2f})'.format(**report['last_end_after_arm_at_rest_s']))
    live = report['live_ceiling']
    print(f'live ceiling (every other end exact; last end at rest + half a bottom pause): '
          f'sample_f1 {live["sample_f1"]:.3f}, event_f1 {live["event_f1"]:.3f}, '
          f'last ends matched {live["last_ends_matched"][0]} of {live["last_ends_matched"][1]}')
    return 0


def _quantiles(values) -> dict:
    v = np.asarray(values, dtype=float)
    return {'min': round(float(v.min()), 3), 'median': round(float(np.median(v)), 3),
            'max': round(float(v.max()), 3)}


if __name__ == '__main__':
    sys.exit(main())
