"""
Soak: a one-hour session at 100 Hz played faster than real time through the graph.

Memory flat (growth <= 5 MB after warm-up), reliable counts matching, latency
stable per 5-minute window; exits 1 when any of them fails.  Definitions in
:mod:`rep_coach.benchmarks.soak`.

Usage: ``python bench/soak.py [--minutes 60] [--speed 4] [--json]``
(the same as ``rep-coach bench --soak --soak-minutes 60 --soak-speed 4``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys
from typing import List, Optional

try:
    import rep_coach  # noqa: F401
except ImportError:  # run from a source checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rep_coach.cli import main as cli_main  # noqa: E402


def main(argv: Optional[List[str]] = None) -> int:
    """Parse the soak options and run ``rep-coach bench --soak``."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--minutes', type=float, default=60.0, help='simulated minutes')
    parser.add_argument('--speed', type=float, default=4.0,
                        help='multiples of real time (default 4)')
    parser.add_argument('--json', action='store_true', help='print JSON')
    args = parser.parse_args(argv)
    cmd = ['bench', '--soak', '--soak-minutes', str(args.minutes), '--soak-speed',
           str(args.speed)] + (['--json'] if args.json else [])
    return cli_main(cmd)


if __name__ == '__main__':
    sys.exit(main())
