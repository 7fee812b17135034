"""
Checks of command-line values before any work starts (one clear line, exit 2).

argparse types (``namespace``, ``positive_int``, ``non_negative_int``, ``positive_float``,
``imu_source``, ``audio_sink``, ``classifier_threshold``, ``set_rest``, ``playback_speed``,
``record_dir``, ``output_path``), the output file and directory checks
(``output_problem``, ``directory_problem``), the message for a missing optional extra
(``missing_extra``) and ``fail``: how a command reports the error it stops on.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import sys
import tempfile
from typing import Any, Callable, Optional, Sequence

from rep_coach.core.params import ParameterError, specs_for
from rep_coach.ros_names import normalize_namespace


def namespace(text: str) -> str:
    """Check a ROS namespace by the rcl rules (as each node would, but before starting)."""
    try:
        normalize_namespace(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _node_parameter(node: str, name: str, text: str,
                    parse: Callable[[str], Any] = str) -> Any:
    """
    Check ``text`` as ``node``'s parameter ``name`` by its table entry (as the node would).

    ``parse`` turns the text into the parameter's type first; the parsed value is returned.
    """
    spec = next(s for s in specs_for(node) if s.name == name)
    try:
        value = parse(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'{text!r}: expected {type(spec.default).__name__}') from None
    try:
        spec.validate(node, value)
    except ParameterError as exc:
        raise argparse.ArgumentTypeError(f'{text!r}: {exc.reason}') from None
    return value


def imu_source(text: str) -> str:
    """Check an IMU source spec by imu_publisher's ``source`` parameter, options too."""
    from rep_coach.core.sources import check_spec, SourceError
    _node_parameter('imu_publisher', 'source', text)
    try:
        check_spec(text)
    except SourceError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def audio_sink(text: str) -> str:
    """Check an audio sink spec by audio_feedback's ``sink`` parameter."""
    return _node_parameter('audio_feedback', 'sink', text)


def classifier_threshold(text: str) -> float:
    """Parse and check a threshold by near_failure_classifier's ``threshold`` parameter."""
    return _node_parameter('near_failure_classifier', 'threshold', text, float)


def set_rest(text: str) -> float:
    """Parse and check a rest between sets by rep_segmenter's ``set_rest_s`` parameter."""
    return _node_parameter('rep_segmenter', 'set_rest_s', text, float)


def _int_from(text: str, least: int) -> int:
    """Parse an integer of ``least`` or more."""
    value = int(text)
    if value < least:
        raise argparse.ArgumentTypeError(f'must be {least} or more, got {value}')
    return value


def playback_speed(text: str) -> float:
    """
    Parse a speed in multiples of real time by imu_publisher's ``playback_speed``, above 0.

    The node's 0 ("as fast as the graph takes it") is refused: the runs that take a
    speed (demo, the soak) time their session by it.
    """
    try:
        refused = float(text) <= 0   # before the node's check, whose rule is ">= 0"
    except ValueError:
        refused = False   # not a number: the node's check says so
    if refused:
        raise argparse.ArgumentTypeError(f'{text!r}: must be above 0')
    return _node_parameter('imu_publisher', 'playback_speed', text, float)


def record_dir(text: str) -> str:
    """
    Check a directory to record session bags under (session_recorder's ``bag_dir``).

    It must be a directory, or one the recorder can create (:func:`directory_problem`);
    otherwise the recorder fails only after the graph has run.
    """
    _node_parameter('session_recorder', 'bag_dir', text)   # not empty
    problem = directory_problem(Path(text).expanduser())   # as the recorder reads it
    if problem:
        raise argparse.ArgumentTypeError(f'{text!r}: {problem}')
    return text


def directory_problem(path: Path) -> Optional[str]:
    """
    Return why ``path`` cannot be a directory to write in, or None when it can.

    It must be a directory, or one that can be created: its nearest existing ancestor
    a directory that takes a new entry.  That is tried (a directory made and removed):
    root passes ``os.access`` where the kernel still refuses (``/proc``, ``/sys``).
    The message does not repeat ``path``; the caller names it.
    """
    existing = path
    while not os.path.lexists(existing):   # lexists: a dangling symbolic link is in the way
        existing = existing.parent
    if not existing.is_dir():
        where = '' if existing == path else f'{existing} '
        return f'{where}is not a directory'
    try:
        os.rmdir(tempfile.mkdtemp(prefix='.rep_coach_check_', dir=existing))
    except OSError as exc:
        return f'cannot create a directory in {existing} ({exc.strerror})'
    return None


def positive_int(text: str) -> int:
    """Parse an integer of 1 or more."""
    return _int_from(text, 1)


def non_negative_int(text: str) -> int:
    """Parse an integer of 0 or more (where 0 means no limit, as the option says)."""
    return _int_from(text, 0)


def positive_float(text: str) -> float:
    """Parse a finite number above 0."""
    value = float(text)
    if not 0.0 < value < float('inf'):
        raise argparse.ArgumentTypeError(f'must be a finite number above 0, got {text}')
    return value


def output_path(text: str) -> Path:
    """Parse an output file's path; an empty one names no file (``Path('')`` is ``.``)."""
    if not text:
        raise argparse.ArgumentTypeError('empty; name the file to write')
    return Path(text)


def output_problem(path: Path, suffixes: Sequence[str]) -> Optional[str]:
    """
    Return why ``path`` cannot take the output, or None when it can.

    ``suffixes`` are the extensions the writer understands (lower case, with the dot);
    the first is named in the message as the usual choice.  The file is opened for
    appending (and removed again if it was not there) to learn whether it can be
    written: permissions alone do not say (root passes ``os.access`` for ``/sys``,
    where the kernel still refuses to create a file).
    """
    if path.is_dir():
        return f'{path} is a directory; name a file, e.g. {path / ("out" + suffixes[0])}'
    if path.suffix.lower() not in suffixes:
        return (f'{path}: the file name must end in {", ".join(suffixes)} '
                f'(it says which format to write)')
    # Writing follows a symbolic link: the file written, and its directory, are the target's.
    where = str(path)
    if path.is_symlink():
        where = f'{path} (a symbolic link to {os.readlink(path)})'
        path = Path(os.path.realpath(path))
    if not path.parent.exists():
        return f'{where}: directory {path.parent} does not exist'
    if not path.parent.is_dir():
        return f'{where}: {path.parent} is not a directory'
    existed = path.exists()
    try:
        with open(path, 'ab'):
            pass
    except OSError as exc:
        return f'{where}: cannot be written ({exc.strerror})'
    if not existed:
        path.unlink()
    return None


def missing_extra(command: str, exc: ImportError, extra: str, as_json: bool = False) -> int:
    """
    Say that ``command`` needs the optional ``extra`` to import (see `fail`); return 2.

    ``extra`` is the name in setup.py's ``extras_require`` (``pip install rep_coach[extra]``).
    """
    return fail(command, f'missing dependency ({exc}); install rep_coach[{extra}]', as_json)


def fail(command: str, message: str, as_json: bool = False, status: int = 2) -> int:
    """
    Report the error ``command`` stops on; return ``status``, its exit status.

    One line on stderr, ``rep-coach COMMAND: MESSAGE``.  With ``--json`` (``as_json``)
    stdout also gets ``{"error": MESSAGE}``: a caller that parses stdout gets an object
    on failure too, instead of nothing to parse.
    """
    print(f'rep-coach {command}: {message}', file=sys.stderr)
    if as_json:
        print(json.dumps({'error': message}))
    return status
