"""Checks of command-line values before any work starts (one clear line, exit 2).

argparse types (``namespace``, ``positive_int``, ``positive_float``, ``imu_source``,
``audio_sink``, ``classifier_threshold``, ``set_rest``) and the output path check that
plot and form share.
"""

from __future__ import annotations

import argparse
from pathlib import Path
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
    """Check ``text`` as ``node``'s parameter ``name`` by its table entry (as the node would).

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
    """Check an IMU source spec by imu_publisher's ``source`` parameter."""
    return _node_parameter('imu_publisher', 'source', text)


def audio_sink(text: str) -> str:
    """Check an audio sink spec by audio_feedback's ``sink`` parameter."""
    return _node_parameter('audio_feedback', 'sink', text)


def classifier_threshold(text: str) -> float:
    """Parse and check a threshold by near_failure_classifier's ``threshold`` parameter."""
    return _node_parameter('near_failure_classifier', 'threshold', text, float)


def set_rest(text: str) -> float:
    """Parse and check a rest between sets by rep_segmenter's ``set_rest_s`` parameter."""
    return _node_parameter('rep_segmenter', 'set_rest_s', text, float)


def positive_int(text: str) -> int:
    """Parse an integer of 1 or more."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f'must be 1 or more, got {value}')
    return value


def positive_float(text: str) -> float:
    """Parse a finite number above 0."""
    value = float(text)
    if not 0.0 < value < float('inf'):
        raise argparse.ArgumentTypeError(f'must be a number above 0, got {text}')
    return value


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
