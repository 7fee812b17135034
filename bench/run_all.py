"""
Every benchmark side by side (the same as ``rep-coach bench``).

Usage: ``python bench/run_all.py [--json] [--quick] [--only inference,graph,...]``;
``--soak [--soak-minutes N]`` runs the soak instead.  See ``bench/README.md``.
"""

from __future__ import annotations

from pathlib import Path
import sys
from typing import List, Optional

try:
    import rep_coach  # noqa: F401
except ImportError:  # run from a source checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rep_coach.cli import main as cli_main  # noqa: E402


def main(argv: Optional[List[str]] = None) -> int:
    """Run ``rep-coach bench`` with these arguments."""
    return cli_main(['bench', *(sys.argv[1:] if argv is None else argv)])


if __name__ == '__main__':
    sys.exit(main())
