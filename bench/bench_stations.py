"""
N gym stations on one machine at once: CPU %, RSS and rep latency per station.

Each station is the whole graph with its recorder under ``/stationK`` on one DDS domain
(loopback), its lifter a different simulated session in real time.  Definitions in
:mod:`rep_coach.benchmarks.stations`.

Usage: ``python bench/bench_stations.py [--stations 1 2 4] [--duration 60] [--json]``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
from typing import List, Optional

try:
    import rep_coach  # noqa: F401
except ImportError:  # run from a source checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rep_coach.benchmarks.graph import GraphBenchError  # noqa: E402
from rep_coach.benchmarks.stations import (measure_stations, stations_table,  # noqa: E402
                                           StationsConfig)


def main(argv: Optional[List[str]] = None) -> int:
    """Measure each requested number of stations in turn; print tables or JSON."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--stations', type=int, nargs='+', default=[1, 2, 4],
                        help='station counts to measure, one run each (default 1 2 4)')
    parser.add_argument('--duration', type=float, default=60.0,
                        help='wall seconds per run (default 60)')
    parser.add_argument('--warmup', type=float, default=10.0,
                        help='seconds after the start left out (default 10)')
    parser.add_argument('--model', choices=['learned', 'baseline'], default=None,
                        help='stages every station runs (default: the learned ones when the '
                             'model files are present, else the baseline)')
    parser.add_argument('--json', action='store_true', help='print JSON only')
    args = parser.parse_args(argv)
    if any(n < 1 for n in args.stations) or not args.duration > args.warmup >= 0:
        parser.error('--stations must be >= 1 and --duration > --warmup >= 0')
    results = []
    for count in args.stations:
        config = StationsConfig(stations=count, duration_s=args.duration,
                                warmup_s=args.warmup, model=args.model,
                                progress=lambda text: print(text, file=sys.stderr, flush=True))
        try:
            results.append(measure_stations(config))
        except GraphBenchError as exc:
            print(f'bench_stations: {exc}', file=sys.stderr)
            return 1
        if not args.json:
            print(stations_table(results[-1]), flush=True)
    if args.json:
        print(json.dumps(results, indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
