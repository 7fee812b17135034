"""
The node graph as separate processes over DDS at 100 Hz IMU: latency, CPU, RSS, losses.

Starts imu_publisher, rep_segmenter, near_failure_classifier, audio_feedback and
session_recorder (Cyclone DDS on loopback, a domain of its own), plays a
simulated set in real time, samples every node's CPU time and RSS from /proc
and reads the recorded bag: latency from an IMU sample's stamp to the rep event,
the feedback text and the start of playback; reliable-topic counts.  Definitions
in :mod:`rep_coach.benchmarks.graph`.

Usage: ``python bench/bench_graph.py [--json] [--speed 1] [--sets 1] [--keep DIR]``.
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

from rep_coach.benchmarks.graph import GraphBenchError, GraphConfig, measure_graph  # noqa: E402
from rep_coach.benchmarks.suite import graph_table  # noqa: E402


def main(argv: Optional[List[str]] = None) -> int:
    """Run the graph benchmark; print a table or JSON."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--json', action='store_true', help='print JSON only')
    parser.add_argument('--speed', type=float, default=1.0,
                        help='playback speed (default 1: 100 Hz in real time)')
    parser.add_argument('--sets', type=int, default=1, help='simulated sets (default 1)')
    parser.add_argument('--seed', type=int, default=7, help='simulated lifter (default 7)')
    parser.add_argument('--sim', default='tail_s=10', metavar='OPTS',
                        help='extra sim key=value options (default tail_s=10)')
    parser.add_argument('--model', choices=['learned', 'baseline'], default=None)
    parser.add_argument('--warmup', type=float, default=5.0,
                        help='seconds after the first sample left out of CPU/RSS')
    parser.add_argument('--keep', type=Path, default=None, metavar='DIR',
                        help='keep the bag and the cue WAVs in DIR')
    parser.add_argument('--logs', action='store_true', help='echo node output to stderr')
    args = parser.parse_args(argv)
    config = GraphConfig(speed=args.speed, sets=args.sets, seed=args.seed,
                         sim_options=args.sim, model=args.model, warmup_s=args.warmup,
                         keep_dir=args.keep, echo_logs=args.logs,
                         progress=lambda text: print(text, file=sys.stderr, flush=True))
    try:
        result = measure_graph(config)
    except GraphBenchError as exc:
        print(f'bench_graph: {exc}', file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(graph_table(result))
    return 0


if __name__ == '__main__':
    sys.exit(main())
