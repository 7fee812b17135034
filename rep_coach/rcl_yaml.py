"""
YAML with rcl's scalar types: parameter values read as ``rcl_yaml_param_parser`` reads them.

PyYAML resolves plain scalars by YAML 1.1, rcl by its own rules (``get_value`` in
``rcl_yaml_param_parser/src/parse.c``), and the two disagree on values users write:
``null`` (a string to rcl, "no value" to PyYAML, so ``-p sink:=null`` was refused),
``1e-1`` (a double to rcl, a string to PyYAML), ``12:30`` and ``2025-03-14`` (strings to
rcl; an int and a date to PyYAML), ``y``/``n`` (booleans to rcl).  Here a plain scalar is,
in rcl's order: a boolean (its word list), an integer (C ``strtol`` with base 0, so
``0x68`` and ``010``), a double (C ``strtod``, and ``.nan``/``.inf``), else a string; a
quoted scalar is always a string.  Maps and sequences are YAML's.
"""

from __future__ import annotations

import math
import re
from typing import Any, Union

import yaml

#: rcl's boolean words (``get_value``).
_TRUE = frozenset({'Y', 'y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON'})
_FALSE = frozenset({'N', 'n', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off',
                    'OFF'})
#: YAML's special floats, which rcl checks by name before ``strtod``.
_SPECIAL = {'.nan': math.nan, '.NaN': math.nan, '.NAN': math.nan,
            '.inf': math.inf, '.Inf': math.inf, '.INF': math.inf,
            '+.inf': math.inf, '+.Inf': math.inf, '+.INF': math.inf,
            '-.inf': -math.inf, '-.Inf': -math.inf, '-.INF': -math.inf}
#: What C ``strtol(text, &end, 0)`` consumes whole: hex, octal (leading 0) or decimal.
_C_INT = re.compile(r'\s*([+-]?)(?:0[xX]([0-9a-fA-F]+)|(0[0-7]*)|([1-9][0-9]*))')
#: What C ``strtod`` consumes whole (decimal forms, inf/infinity, nan).
_C_FLOAT = re.compile(r'\s*[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?'
                      r'|(?i:inf(?:inity)?|nan(?:\([0-9A-Za-z_]*\))?))')
_INT64 = 2 ** 63


def scalar(text: str) -> Union[bool, int, float, str]:
    """Type one plain (unquoted) scalar as rcl does."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    match = _C_INT.fullmatch(text)
    if match:
        sign, hexa, octal, decimal = match.groups()
        value = int(hexa, 16) if hexa else int(octal, 8) if octal else int(decimal)
        value = -value if sign == '-' else value
        if -_INT64 <= value < _INT64:   # strtol's range (64-bit long); beyond: ERANGE
            return value
    if text in _SPECIAL:
        return _SPECIAL[text]
    if _C_FLOAT.fullmatch(text):
        word = text.strip().lower().split('(')[0]      # "nan(...)": a NaN all the same
        value = float(word)
        if not _out_of_range(word, value):
            return value
    return text


def _out_of_range(word: str, value: float) -> bool:
    """Tell whether strtod would report ERANGE (rcl then keeps the text as a string)."""
    if 'inf' in word or 'nan' in word:
        return False
    mantissa = re.split('e', word)[0]
    return math.isinf(value) or (value == 0.0 and bool(re.search('[1-9]', mantissa)))


#: Tag of a mapping key: names stay strings, whatever they look like (``n``, ``on``, ``1``).
_KEY_TAG = 'tag:rep_coach,2026:key'


class _RclLoader(yaml.SafeLoader):
    """SafeLoader whose plain scalars are all strings until :func:`scalar` types them."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Any:
        """Construct a map whose scalar keys are kept as written."""
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                key_node.tag = _KEY_TAG
        return super().construct_mapping(node, deep)


# No implicit resolvers: every plain scalar reaches the str constructor below untyped.
_RclLoader.yaml_implicit_resolvers = {}
_RclLoader.add_constructor(_KEY_TAG, lambda loader, node: loader.construct_scalar(node))


def _construct_str(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    text = loader.construct_scalar(node)
    return scalar(text) if node.style is None and text != '' else text


_RclLoader.add_constructor('tag:yaml.org,2002:str', _construct_str)


def load(text: str) -> Any:
    """Parse ``text`` as YAML with rcl's scalar types (raises ``yaml.YAMLError``)."""
    return yaml.load(text, Loader=_RclLoader)  # noqa: S506 - a SafeLoader subclass
