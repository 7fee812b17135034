"""
ROS 2 parameter files (``<node key>: {ros__parameters: {...}}``), read as rcl reads them.

Plain Python (PyYAML only, with rcl's scalar types: :mod:`rep_coach.rcl_yaml`), so the
launcher checks a file by the same rules the DDS runtime applies it with: nested YAML
levels above ``ros__parameters`` are namespaces (joined with ``/``, as
``rcl_yaml_param_parser`` does), nested parameter maps are dotted names, and which
sections apply to a node is :func:`rep_coach.ros_names.params_key_matches`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List

from rep_coach.ros_names import params_key_matches

PARAMS_KEY = 'ros__parameters'


class ParamsFileError(ValueError):
    """A params file is missing, unreadable, malformed or not in the ros__parameters layout."""


@dataclass
class ParamsEntry:
    """The parameters one node key of one file gives, in file order."""

    node_key: str
    params: Dict[str, Any]
    source: str


def load_params_file(path: str) -> List[ParamsEntry]:
    """
    Read a ``<node key>: {ros__parameters: {...}}`` YAML file into ordered entries.

    Raises ParamsFileError naming the file (and the entry) for anything rcl would refuse.
    """
    import yaml

    from rep_coach import rcl_yaml

    file = Path(path)
    if file.is_dir():   # it exists: "does not exist" would send the user looking elsewhere
        raise ParamsFileError(f'params file {path!r} is a directory; name the YAML file')
    if not file.is_file():
        raise ParamsFileError(f'params file {path!r} does not exist')
    try:
        data = rcl_yaml.load(file.read_text(encoding='utf-8'))
    except (OSError, UnicodeDecodeError) as exc:
        raise ParamsFileError(f'params file {path!r} could not be read: {exc}') from exc
    except yaml.YAMLError as exc:
        raise ParamsFileError(f'params file {path!r} is not valid YAML: {exc}') from exc
    if data is None:
        return []
    if not isinstance(data, dict):
        raise ParamsFileError(f'params file {path!r}: top level must map node names to '
                              f'{{{PARAMS_KEY}: ...}}')
    entries: List[ParamsEntry] = []
    _collect(data, '', str(path), entries)
    return entries


def params_for_node(entries: Iterable[ParamsEntry], node_fqn: str) -> Dict[str, Any]:
    """Merge the entries whose key applies to ``node_fqn``; later entries win."""
    merged: Dict[str, Any] = {}
    for entry in entries:
        if params_key_matches(entry.node_key, node_fqn):
            merged.update(entry.params)
    return merged


def _flatten(prefix: str, tree: Dict[str, Any], out: Dict[str, Any]) -> None:
    for key, value in tree.items():
        name = f'{prefix}.{key}' if prefix else str(key)
        if isinstance(value, dict):
            _flatten(name, value, out)
        else:
            out[name] = value


def _collect(tree: Dict[str, Any], ns: str, path: str, entries: List[ParamsEntry]) -> None:
    # rcl allows nesting namespaces as YAML levels ("ns: {node: {ros__parameters: ...}}").
    for key, body in tree.items():
        key = str(key)
        node_key = f'{ns}/{key.lstrip("/")}' if ns else key
        if not isinstance(body, dict):
            raise ParamsFileError(f'params file {path!r}: entry {node_key!r} must be a mapping')
        if PARAMS_KEY in body:
            params = body[PARAMS_KEY]
            if not isinstance(params, dict):
                raise ParamsFileError(f'params file {path!r}: {node_key}.{PARAMS_KEY} must '
                                      'be a mapping')
            flat: Dict[str, Any] = {}
            _flatten('', params, flat)
            entries.append(ParamsEntry(node_key, flat, path))
            others = {k: v for k, v in body.items() if k != PARAMS_KEY}
        else:
            others = body
        if others:
            _collect(others, node_key, path, entries)
