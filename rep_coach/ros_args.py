"""Command-line ROS arguments: the ``--ros-args ... [--]`` section, parsed as rcl does."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

from rep_coach.ros_names import RemapRule

ROS_ARGS_FLAG = '--ros-args'
END_FLAG = '--'

# Flags rcl accepts that this runtime has no use for; they are consumed (with their value, where
# they take one) rather than rejected so launch files written for rclpy keep working.
_IGNORED_WITH_VALUE = ('-e', '--enclave', '--log-config-file', '--log-file-name')
_IGNORED_FLAGS = ('--enable-rosout-logs', '--disable-rosout-logs', '--enable-stdout-logs',
                  '--disable-stdout-logs', '--enable-external-lib-logs',
                  '--disable-external-lib-logs')


class RosArgsError(ValueError):
    """Raised for malformed or unknown ROS arguments."""


@dataclass
class ParamOverride:
    """One ``-p name:=value`` override (value already YAML-typed)."""

    name: str
    value: object


@dataclass
class RosArgs:
    """Everything parsed from the ROS sections of a command line, in command-line order."""

    remaps: List[RemapRule] = field(default_factory=list)
    # Ordered sources: ('file', path) or ('param', ParamOverride); later ones win.
    param_sources: List[Tuple[str, object]] = field(default_factory=list)
    log_level: Optional[str] = None
    logger_levels: List[Tuple[str, str]] = field(default_factory=list)


def _split_assignment(text: str, flag: str) -> Tuple[str, str]:
    if ':=' not in text:
        raise RosArgsError(f'{flag} expects name:=value, got {text!r}')
    name, value = text.split(':=', 1)
    if not name:
        raise RosArgsError(f'{flag} expects name:=value, got {text!r}')
    return name, value


def _parse_remap(text: str) -> RemapRule:
    lhs, to_name = _split_assignment(text, '-r/--remap')
    node_name = None
    # "node:from" targets one node; "from" may itself not contain ':' (topic names cannot).
    if ':' in lhs:
        node_name, lhs = lhs.split(':', 1)
    return RemapRule(from_name=lhs, to_name=to_name, node_name=node_name)


def _yaml_value(text: str, name: str) -> object:
    import yaml

    from rep_coach import rcl_yaml

    try:
        # rcl types the value as it types a params file's (rcl_parse_yaml_value).
        return rcl_yaml.load(text) if text != '' else ''
    except yaml.YAMLError as exc:
        raise RosArgsError(f'-p {name}: value {text!r} is not valid YAML: {exc}') from exc


def parse_ros_args(args: Sequence[str]) -> RosArgs:
    """Parse every ``--ros-args`` section of ``args`` (``args[0]`` is the program)."""
    parsed = RosArgs()
    items = list(args[1:])
    i = 0
    in_ros = False
    while i < len(items):
        arg = items[i]
        if not in_ros:
            in_ros = arg == ROS_ARGS_FLAG
            i += 1
            continue
        if arg == END_FLAG:
            in_ros = False
            i += 1
            continue
        if arg == ROS_ARGS_FLAG:
            i += 1
            continue

        def value() -> str:
            if i + 1 >= len(items):
                raise RosArgsError(f'{arg} needs a value')
            return items[i + 1]

        if arg in ('-r', '--remap'):
            parsed.remaps.append(_parse_remap(value()))
        elif arg in ('-p', '--param'):
            name, text = _split_assignment(value(), arg)
            parsed.param_sources.append(('param', ParamOverride(name, _yaml_value(text, name))))
        elif arg == '--params-file':
            parsed.param_sources.append(('file', value()))
        elif arg == '--log-level':
            level = value()
            if ':=' in level:
                parsed.logger_levels.append(_split_assignment(level, arg))
            else:
                parsed.log_level = level
        elif arg in _IGNORED_WITH_VALUE:
            value()
        elif arg in _IGNORED_FLAGS:
            i += 1
            continue
        else:
            raise RosArgsError(f'unknown ROS argument {arg!r}')
        i += 2
    return parsed


def remove_ros_args(args: Optional[Sequence[str]] = None) -> List[str]:
    """Return ``args`` (default ``sys.argv``) without the ROS sections, like rclpy.utilities."""
    import sys

    if args is None:
        args = sys.argv
    out: List[str] = []
    in_ros = False
    for arg in args:
        if arg == ROS_ARGS_FLAG:
            in_ros = True
        elif in_ros and arg == END_FLAG:
            in_ros = False
        elif not in_ros:
            out.append(arg)
    return out
