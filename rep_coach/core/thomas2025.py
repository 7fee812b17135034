"""
Loader for the thomas2025 wrist-IMU biceps-curl layout.

J. Thomas, J. Wahlstrom, "Estimation of Resistance Training RPE using Inertial
Sensors and Electromyography", arXiv 2510.03197 (2025).  Layout::

    Raw Data/<SUBJECT>_<LOAD>_<SET>.csv   Delsys Trigno export, g and deg/s
    rep_indexes_corrected.txt             NAME, [b0..bN], [p1..pN], N, N
    rpes.csv                              column-wise RPE per rep

Any directory in this layout loads, so the same code evaluates data it has never
seen.  Near-failure is reps in reserve <= 2, i.e. RPE >= 8 on the RIR-based RPE
scale: that mapping is *our assumption*, not a statement of the dataset's authors.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
import io
import logging
import math
from pathlib import Path
import re
from typing import Dict, Iterable, List, Optional, Tuple

import numpy as np

from rep_coach.core.types import ImuBlock, ImuRecording, RepLabel, rir_class, SetLabels
from rep_coach.core.units import DEG_TO_RAD, STANDARD_GRAVITY
from rep_coach.core.validation import first_out_of_range, GateConfig

LOG = logging.getLogger(__name__)

RAW_DIR = 'Raw Data'
REP_INDEX_FILE = 'rep_indexes_corrected.txt'
RPE_FILE = 'rpes.csv'
_IMU_COLUMNS = ('ACC X', 'ACC Y', 'ACC Z', 'GYRO X', 'GYRO Y', 'GYRO Z')
#: A set's name: SUBJECT_LOAD_SET.  The last two fields are numbers, so the subject is
#: all before them, whatever its form (P-05, S_12); LOAD may have decimals (7.5).
_NAME_RE = re.compile(r'^(?P<subject>.+)_(?P<load>[0-9]+(?:\.[0-9]+)?)_(?P<set>[0-9]+)$')


class DatasetError(ValueError):
    """A file of the dataset that cannot be read; the message names it."""


def rpe_to_rir(rpe: float) -> int:
    """
    Return reps in reserve for an RIR-based RPE (10 -> 0, 9 -> 1, 8 -> 2, <=7 -> 3 = 3+).

    A half point rounds the reserve up (7.5 -> 3, 8.5 -> 2), so RIR <= 2 is exactly
    RPE >= 8 for any value (Python's round() sent 7.5 to 2 and 9.5 to 0).
    """
    return rir_class(max(0, math.ceil(10.0 - float(rpe))))


def read_trigno_csv(path: Path) -> Tuple[ImuBlock, float]:
    """
    Read the IMU rows of a Trigno set file; return (block in SI units, rate in Hz).

    The header is found by content (the row naming ``ACC X``) because some files
    were re-saved with an extra leading index column.  Rows whose ACC X is blank
    (EMG-only tail) are skipped.  Time starts at 0 and advances by 1/rate.
    """
    path = Path(path)
    try:
        # utf-8-sig: a byte-order mark (a re-save by Excel) is not part of the first cell.
        with path.open(newline='', encoding='utf-8-sig', errors='replace') as handle:
            rows = list(csv.reader(handle))
    except OSError as exc:
        raise DatasetError(f'{path}: cannot read ({exc.strerror or exc})') from exc
    header_row = next((i for i, row in enumerate(rows[:40])
                       if any(cell.strip().startswith('ACC X') for cell in row)), None)
    if header_row is None:
        raise DatasetError(f'{path}: no header row naming "ACC X" in the first 40 lines')
    header = [cell.strip() for cell in rows[header_row]]
    try:
        cols = [next(i for i, c in enumerate(header) if c.startswith(name))
                for name in _IMU_COLUMNS]
    except StopIteration:
        raise DatasetError(f'{path}: header lacks one of {", ".join(_IMU_COLUMNS)}') from None
    rate = _rate_from_row(path, header_row + 2,
                          rows[header_row + 1] if header_row + 1 < len(rows) else [], cols[0])
    values: List[List[float]] = []
    lines: List[int] = []          # the file line of each value row, to name a culprit
    last_line = len(rows)
    for line_no, row in enumerate(rows[header_row + 2:], start=header_row + 3):
        if len(row) <= cols[0] or not row[cols[0]].strip():
            continue
        try:
            sample = [float(row[c]) for c in cols]
        except (ValueError, IndexError):
            problem = _imu_row_problem(row, cols)
        else:
            if all(math.isfinite(v) for v in sample):
                values.append(sample)
                lines.append(line_no)
                continue
            # nan or inf parse, but are no measurement (and no row cut short): one would
            # poison the stages' filters for the rest of the set.
            raise DatasetError(f'{path}:{line_no}: malformed IMU row: '
                               f'{_imu_row_problem(row, cols)}')
        if line_no == last_line:
            # A file cut while it was written or copied ends mid-row: the rows before
            # it are whole, and only the last sample is lost.
            LOG.warning('%s:%d: last row cut short (%s); dropped', path, line_no, problem)
        else:
            raise DatasetError(f'{path}:{line_no}: malformed IMU row: {problem}')
    if not values:
        raise DatasetError(f'{path}: no IMU rows')
    data = np.asarray(values, dtype=np.float64)
    n = data.shape[0]
    block = ImuBlock(np.arange(n) / rate, data[:, 0:3] * STANDARD_GRAVITY,
                     data[:, 3:6] * DEG_TO_RAD)
    culprit = first_out_of_range(block.accel, block.gyro)
    if culprit is not None:
        # The nodes' sample gate would drop it; in a file it is damage, named like a NaN.
        row, col = culprit
        raise DatasetError(f'{path}:{lines[row]}: malformed IMU row: {_IMU_COLUMNS[col]} is '
                           f'{data[row, col]:g} {"g" if col < 3 else "deg/s"}, beyond what an '
                           f'IMU measures ({GateConfig().limits()})')
    return block, rate


def _imu_row_problem(row: List[str], cols: List[int]) -> str:
    """Say what is wrong with a data row whose IMU cells are not six finite numbers."""
    if len(row) <= max(cols):
        return f'{len(row)} fields, the IMU columns need {max(cols) + 1}'
    for name, col in zip(_IMU_COLUMNS, cols):
        try:
            value = float(row[col])
        except ValueError:
            return f'{name} is {row[col].strip()!r}, not a number'
        if not math.isfinite(value):
            return f'{name} is {row[col].strip()!r}, not a finite number'
    return 'unreadable'


def _rate_from_row(path: Path, line_no: int, row: List[str], col: int) -> float:
    """Return the IMU rate that line ``line_no`` (below the header) gives, in Hz."""
    match = re.search(r'([0-9]+(?:\.[0-9]+)?)\s*Hz', row[col]) if len(row) > col else None
    if not match or float(match.group(1)) <= 0.0:
        raise DatasetError(f'{path}:{line_no}: no sample rate ("370.3704 Hz") below the '
                           'header')
    return float(match.group(1))


def _read_text(path: Path) -> str:
    """
    Return the text of a label file, without the byte-order mark Excel or Notepad may add.

    Kept, the mark would be glued to the first set name, and that set would silently
    lose its boundaries or RPE.  Bytes that are not UTF-8 are a :class:`DatasetError`
    naming the file and line, not a bare codec error.
    """
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise DatasetError(f'{path}: cannot read ({exc.strerror or exc})') from exc
    try:
        return raw.decode('utf-8-sig')
    except UnicodeDecodeError as exc:
        line_no = raw.count(b'\n', 0, exc.start) + 1
        raise DatasetError(f'{path}:{line_no}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); '
                           'save it as UTF-8') from None


@dataclass
class _IndexLine:
    boundaries: List[int]
    peaks: List[int]
    #: The fields after the peaks (``N, N``: the rep count, twice), as written; only checked.
    counts: List[str] = field(default_factory=list, compare=False)
    line_no: int = field(default=0, compare=False)


def read_rep_indexes(path: Path) -> Dict[str, _IndexLine]:
    """Parse ``rep_indexes_corrected.txt`` into boundaries and peaks per set name."""
    out: Dict[str, _IndexLine] = {}
    first_line: Dict[str, int] = {}
    lines = _read_text(path).splitlines()
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        match = re.match(r'\s*([^,\[]+?)\s*,\s*\[([^\]]*)\]\s*,\s*\[([^\]]*)\]', line)
        if not match:
            raise DatasetError(f'{path}:{line_no}: expected "NAME, [b0, ...], [p1, ...], N, N"')
        try:
            bounds = [int(v) for v in match.group(2).split(',') if v.strip()]
            peaks = [int(v) for v in match.group(3).split(',') if v.strip()]
        except ValueError as exc:
            raise DatasetError(f'{path}:{line_no}: non-integer index ({exc})') from exc
        if len(bounds) < 2 or np.any(np.diff(bounds) <= 0):
            raise DatasetError(f'{path}:{line_no}: boundaries must increase, at least two')
        if min(bounds + peaks) < 0:
            raise DatasetError(f'{path}:{line_no}: negative sample index '
                               f'{min(bounds + peaks)}')
        counts = [f.strip() for f in line[match.end():].split(',') if f.strip()]
        name, labels = match.group(1), _IndexLine(bounds, peaks, counts, line_no)
        if out.get(name, labels) != labels:
            # Which line is the corrected one cannot be told: the later one silently won.
            raise DatasetError(f'{path}:{line_no}: set {name} again, with other indexes '
                               f'than on line {first_line[name]}')
        first_line.setdefault(name, line_no)
        out[name] = labels
    return out


def read_rpes(path: Path) -> Dict[str, List[float]]:
    """Parse the column-wise ``rpes.csv``: set name -> RPE of each rep in order."""
    rows = list(csv.reader(io.StringIO(_read_text(path), newline='')))
    if len(rows) < 2:
        raise DatasetError(f'{path}: expected a row of set names and a row of counts')
    names = [n.strip() for n in rows[0]]
    twice = next((n for i, n in enumerate(names) if n and n in names[:i]), None)
    if twice:
        # Both columns' values would be interleaved into one set's RPEs.
        raise DatasetError(f'{path}:1: set {twice} names columns {names.index(twice) + 1} '
                           f'and {names.index(twice, names.index(twice) + 1) + 1}')
    out: Dict[str, List[float]] = {name: [] for name in names if name}
    for line_no, row in enumerate(rows[2:], start=3):
        for col, cell in enumerate(row[:len(names)]):
            if cell.strip() and names[col]:
                try:
                    value = float(cell)
                except ValueError as exc:
                    raise DatasetError(f'{path}:{line_no}: bad RPE {cell!r}') from exc
                if not 0.0 <= value <= 10.0:    # also refuses nan and inf
                    raise DatasetError(f'{path}:{line_no}: RPE {cell.strip()!r} of set '
                                       f'{names[col]} is not on the 0-10 scale')
                out[names[col]].append(value)
    _report_count_mismatches(path, names, rows[1], out)
    return out


def _report_count_mismatches(path: Path, names: List[str], counts: List[str],
                             values: Dict[str, List[float]]) -> None:
    """
    Warn where a set's count field (row 2) disagrees with the RPE values under it.

    The values are used, as the dataset's README says to trust them (two shared sets
    carry one RPE more than their count); the count is only checked, so a mistyped
    one, or a file without the count row, is said rather than hidden.
    """
    for name, count in zip(names, counts):
        if not name or not count.strip():
            continue
        try:
            agrees = float(count) == len(values[name])
        except ValueError:
            agrees = False
        if not agrees:
            LOG.warning('%s: set %s: count field %s, but %d RPE values; using the values',
                        path, name, count.strip(), len(values[name]))


def read_dataset_rpes(data_dir: Path) -> Dict[str, List[float]]:
    """
    Read the RPE file of a thomas2025-layout directory; empty, with a warning, when absent.

    RPE is optional (without it the reps are still labelled and segmentation is scored),
    so an absent file is a warning naming it; one that is there but cannot be read (a
    directory, say) or is malformed is a :class:`DatasetError`, as :func:`read_rpes` says.
    """
    path = Path(data_dir) / RPE_FILE
    if not path.exists():
        LOG.warning('%s: no such file; the reps carry no RPE, so near failure is not scored',
                    path)
        return {}
    return read_rpes(path)


def set_names(data_dir: Path) -> List[str]:
    """Names of the sets that have both a raw file and rep boundaries, sorted."""
    data_dir = Path(data_dir)
    indexes = read_rep_indexes(data_dir / REP_INDEX_FILE)
    return sorted(n for n in indexes if (data_dir / RAW_DIR / f'{n}.csv').is_file())


def subjects(data_dir: Path) -> List[str]:
    """Codes of the subjects that have at least one set (:func:`set_names`), sorted."""
    return subjects_of(set_names(data_dir))


def subjects_of(names: Iterable[str]) -> List[str]:
    """Codes of the subjects of the sets ``names`` (``A321_10_1`` -> ``A321``), sorted."""
    matches = (_NAME_RE.match(name) for name in names)
    return sorted({m.group('subject') for m in matches if m})


def load_set(data_dir: Path, name: str,
             indexes: Optional[Dict[str, _IndexLine]] = None,
             rpes: Optional[Dict[str, List[float]]] = None) -> ImuRecording:
    """Load one set of a thomas2025-layout directory with its labels."""
    data_dir = Path(data_dir)
    indexes = indexes if indexes is not None else read_rep_indexes(data_dir / REP_INDEX_FILE)
    if rpes is None:
        rpes = read_dataset_rpes(data_dir)
    csv_path = data_dir / RAW_DIR / f'{name}.csv'
    if not csv_path.is_file():
        # The set's own file is the culprit, whether or not the index names the set.
        listed = 'named' if name in indexes else 'not named either'
        raise DatasetError(f'{csv_path}: no such file (set {name!r}; {listed} in '
                           f'{REP_INDEX_FILE})')
    if name not in indexes:
        raise DatasetError(f'{data_dir / REP_INDEX_FILE}: no line for set {name!r}')
    block, rate = read_trigno_csv(csv_path)
    line = indexes[name]
    n_reps = len(line.boundaries) - 1
    if line.boundaries[-1] >= len(block):
        # The index and the file disagree (a file cut short, or another set's line).
        raise DatasetError(f'{data_dir / REP_INDEX_FILE}: {name}: boundary '
                           f'{line.boundaries[-1]} beyond the {len(block)} IMU rows of '
                           f'{csv_path}')
    rpe_values = rpes.get(name, [])
    if rpes and not rpe_values:
        # A set rpes.csv does not name (or names otherwise) has no near-failure labels.
        LOG.warning('%s: no RPE values in %s; its reps are scored for segmentation only',
                    name, RPE_FILE)
    if rpe_values and len(rpe_values) != n_reps:
        LOG.warning('%s: %d RPE values for %d reps; using the first %d', name,
                    len(rpe_values), n_reps, min(n_reps, len(rpe_values)))
    if any(count != str(n_reps) for count in line.counts):
        # The boundaries are used, as the dataset's README says to trust them; a line whose
        # boundaries lost or gained a rep is said, not hidden.  Here, once per set loaded:
        # the index file is read more than once (to list sets and subjects).
        LOG.warning('%s:%d: set %s: count field(s) %s, but %d rep(s) between its boundaries; '
                    'using the boundaries', data_dir / REP_INDEX_FILE, line.line_no, name,
                    ', '.join(line.counts), n_reps)
    peaks = line.peaks if len(line.peaks) == n_reps else [None] * n_reps
    if len(line.peaks) != n_reps:
        LOG.warning('%s: %d peaks for %d reps; ignoring peaks', name, len(line.peaks), n_reps)
    for i, peak in enumerate(peaks):
        if peak is not None and not line.boundaries[i] < peak < line.boundaries[i + 1]:
            raise DatasetError(f'{data_dir / REP_INDEX_FILE}: {name}: peak {peak} of rep '
                               f'{i + 1} lies outside the rep [{line.boundaries[i]}, '
                               f'{line.boundaries[i + 1]}]')
    reps = []
    for i in range(n_reps):
        rpe = rpe_values[i] if i < len(rpe_values) else None
        reps.append(RepLabel(start=float(block.t[line.boundaries[i]]),
                             end=float(block.t[line.boundaries[i + 1]]),
                             peak=None if peaks[i] is None else float(block.t[peaks[i]]),
                             rpe=rpe, rir=None if rpe is None else rpe_to_rir(rpe)))
    match = _NAME_RE.match(name)
    meta = {'load': float(match.group('load')), 'set': int(match.group('set'))} if match else {}
    if not match:
        LOG.warning('%s: not named SUBJECT_LOAD_SET (as A321_10_1); scored under subject "?", '
                    'which --subjects cannot pick', name)
    # The authors' detector put a set's outer boundaries halfway through the rests
    # that reach the recording's start and end (rep_coach.training.label_convention).
    labels = SetLabels(reps, edges_from_recording=True)
    return ImuRecording(name=name, imu=block, rate_hz=rate, sets=[labels],
                        subject=match.group('subject') if match else None, meta=meta)


def load_dataset(data_dir: Path, subjects: Optional[Iterable[str]] = None,
                 unreadable: Optional[Dict[str, str]] = None) -> List[ImuRecording]:
    """
    Load every labelled set of a thomas2025-layout directory (optionally some subjects).

    Sets named in the index file whose raw file is absent are skipped with a warning.
    A set whose file or labels cannot be read raises :class:`DatasetError`, unless
    ``unreadable`` is given: the set is then left out and listed there (name -> why),
    for a caller that reports it (an evaluation scores the other sets and says which
    were not scored; training stops instead, as a model must not quietly learn from
    fewer sets).
    """
    data_dir = Path(data_dir)
    if not (data_dir / REP_INDEX_FILE).is_file():
        raise DatasetError(f'{data_dir}: not a thomas2025-layout directory '
                           f'(no {REP_INDEX_FILE})')
    indexes = read_rep_indexes(data_dir / REP_INDEX_FILE)
    rpes = read_dataset_rpes(data_dir)
    wanted = set(subjects) if subjects is not None else None
    recordings = []
    absent = [n for n in sorted(indexes) if not (data_dir / RAW_DIR / f'{n}.csv').is_file()]
    if absent:
        LOG.warning('%d set(s) named in %s have no file in %s/ and are skipped: %s',
                    len(absent), REP_INDEX_FILE, RAW_DIR, ', '.join(absent))
    for name in sorted(set(indexes) - set(absent)):
        match = _NAME_RE.match(name)
        if wanted is not None and (not match or match.group('subject') not in wanted):
            continue
        try:
            recordings.append(load_set(data_dir, name, indexes, rpes))
        except DatasetError as exc:
            if unreadable is None:
                raise
            unreadable[name] = str(exc)
    return recordings
