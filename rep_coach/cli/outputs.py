"""One check of an output path before long work writes to it (plot, form)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence


def output_problem(path: Path, suffixes: Sequence[str]) -> Optional[str]:
    """Return why ``path`` cannot take the output, or None when it can.

    ``suffixes`` are the extensions the writer understands (lower case, with the dot);
    the first is named in the message as the usual choice.
    """
    if path.is_dir():
        return f'{path} is a directory; name a file, e.g. {path / ("out" + suffixes[0])}'
    if path.suffix.lower() not in suffixes:
        return (f'{path}: the file name must end in {", ".join(suffixes)} '
                f'(it says which format to write)')
    if not path.parent.is_dir():
        return f'{path}: directory {path.parent} does not exist'
    return None
