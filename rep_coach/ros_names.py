"""
ROS 2 name validation, expansion and remapping (the rcl rules, reimplemented, plain Python).

Expansion follows ``rcl_expand_topic_name``: ``~`` is the node's fully qualified name, ``{node}``
and ``{ns}`` substitute, relative names are joined to the node namespace. Remapping follows
``rcl_remap_topic_name``: both sides of a rule are expanded against the node first, the first
matching rule wins, node-specific rules (``node:from:=to``) only apply to that node. Which
sections of a parameter file apply to a node follows rclcpp's and rclpy's use of the keys
``rcl_yaml_param_parser`` reads (:func:`params_key_matches`).
"""

from __future__ import annotations

from dataclasses import dataclass
import functools
import re
from typing import Iterable, Optional

_NODE_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
_TOKEN = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')

TOPIC_PREFIX = 'rt'


class InvalidNodeNameException(ValueError):
    """Raised for a node name that breaks the ROS naming rules."""


class InvalidNamespaceException(ValueError):
    """Raised for a namespace that breaks the ROS naming rules."""


class InvalidTopicNameException(ValueError):
    """Raised for a topic name that breaks the ROS naming rules."""


@dataclass(frozen=True)
class RemapRule:
    """One ``-r [node:]from:=to`` rule."""

    from_name: str
    to_name: str
    node_name: Optional[str] = None


def validate_node_name(name: str) -> str:
    """Return ``name`` or raise ``InvalidNodeNameException``."""
    if not _NODE_NAME.match(name or ''):
        raise InvalidNodeNameException(
            f'invalid node name {name!r}: must be alphanumerics and underscores, '
            'not starting with a digit')
    return name


def normalize_namespace(namespace: Optional[str]) -> str:
    """Return an absolute namespace (rclpy prepends ``/`` to relative ones)."""
    namespace = namespace or ''
    if not namespace.startswith('/'):
        namespace = '/' + namespace
    # A trailing slash is harmless ("/station1/" means "/station1"); strip it before checks.
    namespace = namespace.rstrip('/') or '/'
    if namespace != '/':
        _validate_tokens(namespace, InvalidNamespaceException, 'namespace')
    return namespace


def join_name(namespace: str, relative: str) -> str:
    """
    Return ``relative`` (a node or topic name) under the absolute ``namespace``.

    The root may be written ``/`` or ``''``: ``join_name('/', 'reps')`` is ``/reps``.
    """
    return namespace.rstrip('/') + '/' + relative


def fully_qualified_name(namespace: str, node_name: str) -> str:
    """Join a namespace and a node name (``/`` + ``node`` -> ``/node``)."""
    return join_name(namespace, node_name)


def _validate_tokens(name: str, exc: type, what: str) -> None:
    if '//' in name or (len(name) > 1 and name.endswith('/')):
        raise exc(f'invalid {what} {name!r}: empty token')
    for token in name.strip('/').split('/'):
        if token and not _TOKEN.match(token):
            raise exc(f'invalid {what} {name!r}: token {token!r} must be alphanumerics and '
                      'underscores, not starting with a digit')
    if '__' in name:
        raise exc(f'invalid {what} {name!r}: repeated underscores are reserved')


def expand_topic_name(name: str, node_name: str, namespace: str) -> str:
    """Expand ``name`` to an absolute topic name for a node, validating it."""
    if not name:
        raise InvalidTopicNameException('topic name must not be empty')
    fqn = fully_qualified_name(namespace, node_name)
    expanded = name.replace('{node}', node_name).replace('{ns}', namespace)
    expanded = expanded.replace('{namespace}', namespace)
    if expanded.startswith('~'):
        rest = expanded[1:]
        if rest and not rest.startswith('/'):
            raise InvalidTopicNameException(f'invalid topic name {name!r}: "~" must be '
                                            'followed by "/"')
        expanded = fqn + rest
    elif not expanded.startswith('/'):
        expanded = join_name(namespace, expanded)
    if '~' in expanded or '{' in expanded or '}' in expanded:
        raise InvalidTopicNameException(f'invalid topic name {name!r}')
    _validate_tokens(expanded, InvalidTopicNameException, 'topic name')
    return expanded


def remap_topic_name(expanded: str, node_name: str, namespace: str,
                     rules: Iterable[RemapRule]) -> str:
    """Apply the first matching remap rule to an already expanded topic name."""
    for rule in rules:
        if rule.from_name.startswith('__'):
            continue
        if rule.node_name is not None and rule.node_name != node_name:
            continue
        try:
            source = expand_topic_name(rule.from_name, node_name, namespace)
        except InvalidTopicNameException:
            continue
        if source == expanded:
            return expand_topic_name(rule.to_name, node_name, namespace)
    return expanded


def resolve_topic_name(name: str, node_name: str, namespace: str,
                       rules: Iterable[RemapRule] = ()) -> str:
    """Expand then remap ``name`` (what ``Node.resolve_topic_name`` returns in rclpy)."""
    return remap_topic_name(expand_topic_name(name, node_name, namespace), node_name, namespace,
                            rules)


def dds_topic_name(resolved: str) -> str:
    """Return the DDS topic for a resolved ROS topic: ``/a/b`` -> ``rt/a/b``."""
    return TOPIC_PREFIX + resolved


def remapped_node_identity(node_name: str, namespace: str,
                           rules: Iterable[RemapRule]) -> tuple:
    """Apply ``__node``/``__name`` and ``__ns`` rules; return ``(name, namespace)``."""
    new_name, new_ns = node_name, namespace
    for rule in rules:
        if rule.node_name is not None and rule.node_name != node_name:
            continue
        if rule.from_name in ('__node', '__name') and new_name == node_name:
            new_name = validate_node_name(rule.to_name)
        elif rule.from_name == '__ns' and new_ns == namespace:
            new_ns = normalize_namespace(rule.to_name)
    return new_name, new_ns


@functools.lru_cache(maxsize=256)
def _params_key_regex(node_key: str) -> 're.Pattern[str]':
    if not node_key.startswith('/'):
        node_key = '/' + node_key
    parts = re.split(r'(/\*\*|/\*)', node_key)
    return re.compile(''.join(r'(/[A-Za-z0-9_]+)*' if part == '/**'
                              else r'(/[A-Za-z0-9_]+)' if part == '/*'
                              else re.escape(part) for part in parts))


def params_key_matches(node_key: str, node_fqn: str) -> bool:
    r"""
    Return whether a parameter file's node key applies to the node ``node_fqn``.

    The rule rclcpp (``parameter_map_from`` in rclcpp/src/rclcpp/parameter_map.cpp) and rclpy
    (``_populate_node_parameters_from_rcl_params`` in rclpy/src/rclpy/node.cpp) apply to the
    node names ``rcl_yaml_param_parser`` reads (nested YAML levels joined with ``/``, its
    ``NODE_NS_SEPERATOR``): a missing leading ``/`` is added, then ``/*`` becomes the regex
    ``(/\w+)``, so ``/**`` becomes ``(/\w+)*``, and the key must match the whole fully
    qualified name (``std::regex_match``). So ``/**`` is every node, ``/**/name`` a node
    ``name`` in any namespace (the root included), ``/*/name`` one ``name`` exactly one
    namespace level deep, ``/ns/*`` every node directly in ``/ns``, and ``name`` or ``/name``
    only the node in the root namespace.  rcl leaves the other characters of the key
    unescaped; here they are literal, which differs only for keys that are not ROS names
    (a ``*`` inside a token, which the ROS design article on command-line arguments rules
    out: no partial matches).
    """
    return _params_key_regex(node_key).fullmatch(node_fqn) is not None
