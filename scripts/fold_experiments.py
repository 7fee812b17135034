"""What the stage-2 experiment scripts share: the command line naming a training run's folds."""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def fold_parser(doc: str) -> argparse.ArgumentParser:
    """Return a parser with ``--folds`` (a ``rep-coach train`` work dir) and ``--data``."""
    parser = argparse.ArgumentParser(description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--folds', type=Path, required=True,
                        help='work dir of a rep-coach train run (holds fold_<SUBJECT>/)')
    parser.add_argument('--data', type=Path, default=ROOT.parent / 'shared/data/thomas2025',
                        help='the thomas2025 directory the run trained on')
    return parser
