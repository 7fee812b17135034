"""Parameters: the rclpy ``Parameter`` subset, YAML params files and override resolution."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Dict, List, Optional, Sequence, Tuple

from rep_coach.params_file import load_params_file as read_params_file
from rep_coach.params_file import params_for_node, ParamsEntry, ParamsFileError
from rep_coach.ros_args import ParamOverride


class ParameterException(Exception):
    """Base class of the parameter errors (rclpy keeps them in rclpy.exceptions)."""


class InvalidParameterTypeException(ParameterException, TypeError):
    """A value's type differs from the declared parameter type (message names the parameter)."""

    def __init__(self, parameter: 'Parameter', expected_type: 'Parameter.Type') -> None:
        super().__init__(
            f"Trying to set parameter '{parameter.name}' to '{parameter.value!r}' of type "
            f"'{parameter.type_.name}', expecting type '{expected_type.name}'")
        self.parameter = parameter
        self.expected_type = expected_type


class ParameterAlreadyDeclaredException(ParameterException):
    """The parameter was declared before."""

    def __init__(self, names: Sequence[str]) -> None:
        super().__init__(f'Parameter(s) already declared: {list(names)}')


class ParameterNotDeclaredException(ParameterException):
    """The parameter was not declared."""

    def __init__(self, names: Sequence[str]) -> None:
        super().__init__(f'Invalid access to undeclared parameter(s): {list(names)}')


class Parameter:
    """A named, typed parameter value (same constructor and attributes as rclpy's)."""

    class Type(IntEnum):
        """Parameter types, numbered as rcl_interfaces/ParameterType."""

        NOT_SET = 0
        BOOL = 1
        INTEGER = 2
        DOUBLE = 3
        STRING = 4
        BYTE_ARRAY = 5
        BOOL_ARRAY = 6
        INTEGER_ARRAY = 7
        DOUBLE_ARRAY = 8
        STRING_ARRAY = 9

        @classmethod
        def from_parameter_value(cls, value: Any) -> 'Parameter.Type':
            """Infer the type of a Python value, rejecting unsupported ones."""
            if value is None:
                return cls.NOT_SET
            if isinstance(value, bool):
                return cls.BOOL
            if isinstance(value, int):
                return cls.INTEGER
            if isinstance(value, float):
                return cls.DOUBLE
            if isinstance(value, str):
                return cls.STRING
            if isinstance(value, (bytes, bytearray)):
                return cls.BYTE_ARRAY
            if isinstance(value, (list, tuple)) or hasattr(value, 'tolist'):
                items = list(value.tolist() if hasattr(value, 'tolist') else value)
                for kind, typ in ((bool, cls.BOOL_ARRAY), (int, cls.INTEGER_ARRAY),
                                  (float, cls.DOUBLE_ARRAY), (str, cls.STRING_ARRAY)):
                    if items and all(type(v) is kind for v in items):
                        return typ
                if items and all(isinstance(v, bytes) and len(v) == 1 for v in items):
                    return cls.BYTE_ARRAY
                raise TypeError(f'parameter value {value!r}: arrays must be non-empty and of '
                                'one type (bool, int, float or str)')
            raise TypeError(f'parameter value {value!r} of type {type(value).__name__} is not '
                            'a supported parameter type')

        def check(self, value: Any) -> bool:
            """Return whether ``value`` has this type."""
            return self is Parameter.Type.from_parameter_value(value)

    def __init__(self, name: str, type_: Optional['Parameter.Type'] = None,
                 value: Any = None) -> None:
        if type_ is None:
            type_ = Parameter.Type.from_parameter_value(value)
        if not isinstance(type_, Parameter.Type):
            raise TypeError("type must be an instance of 'Parameter.Type'")
        if type_ is not Parameter.Type.NOT_SET and not type_.check(value):
            raise ValueError(f"Type '{type_.name}' and value '{value!r}' do not agree")
        self._name = name
        self._type_ = type_
        self._value = list(value) if isinstance(value, tuple) else value

    @property
    def name(self) -> str:
        """Return the parameter name."""
        return self._name

    @property
    def type_(self) -> 'Parameter.Type':
        """Return the parameter type."""
        return self._type_

    @property
    def value(self) -> Any:
        """Return the parameter value."""
        return self._value

    def __repr__(self) -> str:
        return f'Parameter(name={self._name!r}, type_={self._type_.name}, value={self._value!r})'

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Parameter) and (self.name, self.type_, self.value) == (
            other.name, other.type_, other.value)


@dataclass
class ParameterDescriptor:
    """The fields of rcl_interfaces/ParameterDescriptor that this runtime honours."""

    name: str = ''
    type: int = 0  # noqa: A003 (rcl_interfaces/ParameterDescriptor's field, as in rclpy)
    description: str = ''
    additional_constraints: str = ''
    read_only: bool = False
    dynamic_typing: bool = False
    floating_point_range: list = field(default_factory=list)
    integer_range: list = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# params files: read (and matched to nodes) by rep_coach.params_file, plain Python shared with
# the launcher; here each value must also be a parameter type.


def load_params_file(path: str) -> List[ParamsEntry]:
    """Read a params file into ordered entries, refusing values no parameter type holds."""
    entries = read_params_file(path)
    for entry in entries:
        for name, value in entry.params.items():
            try:
                Parameter.Type.from_parameter_value(value)
            except TypeError as exc:
                raise ParamsFileError(f'params file {path!r}: {entry.node_key}: parameter '
                                      f'{name!r}: {exc}') from exc
    return entries


def resolve_overrides(sources: Sequence[Tuple[str, object]], node_fqn: str) -> Dict[str, Any]:
    """
    Return the parameter overrides for one node.

    ``sources`` is the ordered list from the command line: params files and ``-p`` values.
    Every matching entry is applied in command-line order and, within a file, in file order, so
    later files and later ``-p`` win over earlier ones.
    """
    result: Dict[str, Any] = {}
    for kind, payload in sources:
        if kind == 'param':
            assert isinstance(payload, ParamOverride)
            result[payload.name] = payload.value
            continue
        result.update(params_for_node(load_params_file(str(payload)), node_fqn))
    return result


def validate_sources(sources: Sequence[Tuple[str, object]]) -> None:
    """Load every params file once so errors surface at ``init`` naming the file."""
    for kind, payload in sources:
        if kind == 'file':
            load_params_file(str(payload))
