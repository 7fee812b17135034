"""
ROS 2 message classes generated from the rosbags type store as Cyclone DDS IDL structs.

Each ROS type ``pkg/msg/Name`` becomes an ``IdlStruct`` dataclass whose DDS type name is
``pkg::msg::dds_::Name_`` (the rosidl/rmw convention), with ``@final`` extensibility, no key and
XCDR1 encoding, exactly what ``rmw_cyclonedds_cpp`` puts on the wire. Definitions are never copied
by hand: the field list comes from ``rosbags.typesys`` so one source feeds both the classes and
the RIHS01 type hashes advertised in USER_DATA.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Dict, Optional, Tuple

from cyclonedds.idl import IdlStruct
from cyclonedds.idl import types as idl
from cyclonedds.idl._machinery import Machine, PlainCdrV2SequenceOfPrimitiveMachine
from cyclonedds.idl._machinery import PrimitiveMachine, StructMachine
from cyclonedds.idl._main import IdlMeta
from cyclonedds.idl._support import Endianness
from rosbags.typesys import get_typestore, Stores
from rosbags.typesys.base import Nodetype

from . import codec

# Humble holds every definition the package uses; they are unchanged in Iron/Jazzy so the RIHS01
# hashes match. Types whose layout changed between distros (rmw_dds_common Gid) pick the Jazzy
# store explicitly through ``store=``.
_DEFAULT_STORE = Stores.ROS2_HUMBLE

_BASE_TYPES: Dict[str, Any] = {
    'bool': bool,
    'byte': idl.byte,
    # rosidl maps ``char`` to IDL uint8, not IDL char.
    'char': idl.uint8,
    'int8': idl.int8,
    'uint8': idl.uint8,
    'int16': idl.int16,
    'uint16': idl.uint16,
    'int32': idl.int32,
    'uint32': idl.uint32,
    'int64': idl.int64,
    'uint64': idl.uint64,
    'float32': idl.float32,
    'float64': idl.float64,
}

_DEFAULTS: Dict[str, Any] = {
    'bool': False, 'byte': b'\x00', 'char': 0, 'float32': 0.0, 'float64': 0.0, 'string': '',
}

#: Field defaults that the ROS IDL declares (``float64 w 1`` in geometry_msgs/Quaternion, so an
#: unset orientation is the identity, as in rclpy).  The rosbags type store carries no default
#: values; these are the declared ones of every message type the package uses.
_FIELD_DEFAULTS: Dict[Tuple[str, str], Any] = {
    ('geometry_msgs/msg/Quaternion', 'w'): 1.0,
}

_OCTET_TYPES = ('byte', 'char', 'uint8')

#: ``struct`` code and size of each primitive, for the compiled codecs (see codec.py).
_PRIMS: Dict[str, codec.Prim] = {
    'bool': codec.Prim('?', 1), 'byte': codec.Prim('B', 1, byte=True), 'char': codec.Prim('B', 1),
    'int8': codec.Prim('b', 1), 'uint8': codec.Prim('B', 1), 'int16': codec.Prim('h', 2),
    'uint16': codec.Prim('H', 2), 'int32': codec.Prim('i', 4), 'uint32': codec.Prim('I', 4),
    'int64': codec.Prim('q', 8), 'uint64': codec.Prim('Q', 8), 'float32': codec.Prim('f', 4),
    'float64': codec.Prim('d', 8),
}


class _ByteScalarMachine(Machine):
    """Serialize an IDL octet that, as in rclpy, reads back as a 1-byte ``bytes`` object."""

    def __init__(self) -> None:
        self.alignment = 1

    def serialize(self, buffer, value, serialize_kind=None, key_enabled=None) -> None:
        """Accept a 1-byte ``bytes`` (rclpy style) or an int."""
        buffer.write('B', 1, value[0] if isinstance(value, (bytes, bytearray)) else int(value))

    def deserialize(self, buffer, deserialize_kind=None, key_enabled=None) -> bytes:
        """Return the octet as ``bytes`` of length 1, like rclpy ``byte`` fields."""
        return bytes((buffer.read('B', 1),))

    def key_scan(self):  # pragma: no cover - messages are keyless
        """Delegate key scanning (unused: ROS messages have no keys)."""
        return PrimitiveMachine(idl.uint8).key_scan()

    def cdr_key_machine_op(self, skip):  # pragma: no cover - messages are keyless
        """Delegate key ops (unused: ROS messages have no keys)."""
        return PrimitiveMachine(idl.uint8).cdr_key_machine_op(skip)

    def default_initialize(self) -> bytes:
        """Return a zero octet."""
        return b'\x00'


class _OctetSequenceMachine(Machine):
    """
    Serialize ``sequence<uint8>`` as one memory copy instead of one struct field per byte.

    The wire format (4-byte aligned length, then raw octets) is identical to the generic
    sequence machine; only the Python representation differs: it reads back as ``bytes`` and
    accepts ``bytes``, ``bytearray``, ``memoryview``, numpy ``uint8`` arrays or lists of ints.
    """

    def __init__(self, bound: Optional[int]) -> None:
        self.alignment = 4
        self.bound = bound
        self._generic = PlainCdrV2SequenceOfPrimitiveMachine(idl.uint8, max_length=bound)

    def serialize(self, buffer, value, serialize_kind=None, key_enabled=None) -> None:
        """Write the length and the raw octets."""
        if not isinstance(value, (bytes, bytearray)):
            value = bytes(value)
        if self.bound and len(value) > self.bound:
            raise ValueError(f'sequence longer than its bound {self.bound}')
        buffer.align(4)
        buffer.write('I', 4, len(value))
        buffer.write_bytes(value)

    def deserialize(self, buffer, deserialize_kind=None, key_enabled=None) -> bytes:
        """Read the length and return the octets as ``bytes``."""
        buffer.align(4)
        return buffer.read_bytes(buffer.read('I', 4))

    def key_scan(self):  # pragma: no cover - messages are keyless
        """Delegate key scanning (unused: ROS messages have no keys)."""
        return self._generic.key_scan()

    def cdr_key_machine_op(self, skip):  # pragma: no cover - messages are keyless
        """Delegate key ops (unused: ROS messages have no keys)."""
        return self._generic.cdr_key_machine_op(skip)

    def default_initialize(self) -> bytes:
        """Return ``b''``."""
        return b''


class MessageFactory:
    """Generate (and cache) IdlStruct classes for ROS message types of one rosbags type store."""

    def __init__(self, store: Stores = _DEFAULT_STORE) -> None:
        self.typestore = get_typestore(store)
        self._classes: Dict[str, type] = {}
        self._layouts: Dict[str, Optional[codec.Struct]] = {}

    def get(self, ros_type: str) -> type:
        """Return the class for ``pkg/msg/Name`` (also accepts ``pkg/Name``)."""
        ros_type = _normalize(ros_type)
        cls = self._classes.get(ros_type)
        if cls is None:
            cls = self._build(ros_type)
            self._classes[ros_type] = cls
        return cls

    def _build(self, ros_type: str) -> type:
        if ros_type not in self.typestore.fielddefs:
            raise KeyError(f'message type {ros_type!r} is not in the rosbags type store')
        constants, fields = self.typestore.fielddefs[ros_type]
        pkg, _, name = ros_type.split('/')
        typename = f'{pkg}::msg::dds_::{name}_'
        namespace = IdlMeta.__prepare__(name, (IdlStruct,), typename=typename)
        namespace['__idl_annotations__']['extensibility'] = 'final'
        # Swaps applied once the serialization machines exist (see _install_fast_machines).
        swaps: Dict[str, Machine] = {}
        for fname, (kind, detail) in fields:
            annotation, default_factory, swap = self._field(ros_type, fname, kind, detail)
            namespace['__annotations__'][fname] = annotation
            namespace[fname] = dataclasses.field(default_factory=default_factory)
            if swap is not None:
                swaps[fname] = swap
        for cname, ctype, cvalue in constants:
            namespace[cname] = _constant(ctype, cvalue)
        cls = dataclasses.dataclass(IdlMeta(name, (IdlStruct,), namespace))
        cls.__module__ = __name__
        cls.__qualname__ = name
        cls._ros_type = ros_type
        cls._type_hash = self.typestore.hash_rihs01(ros_type)
        _install_fast_machines(cls, swaps)
        layout = self.layout(ros_type, cls)
        if layout is not None:
            _install_codec(cls, layout)
        return cls

    def layout(self, ros_type: str, cls: Optional[type] = None) -> Optional[codec.Struct]:
        """
        Return the shape of ``ros_type`` for a compiled codec, None if it has no such codec.

        Compiled: primitives, strings, fixed arrays of numbers, octet sequences and nested
        structs of those; anything else (sequences of structs or numbers, octet arrays)
        leaves the type on cyclonedds' generic machines.
        """
        ros_type = _normalize(ros_type)
        if ros_type in self._layouts:
            return self._layouts[ros_type]
        _, fields = self.typestore.fielddefs[ros_type]
        root: Optional[codec.Struct] = codec.Struct(cls or self.get(ros_type))
        for fname, (kind, detail) in fields:
            node = self._layout_node(kind, detail)
            if node is None:
                root = None
                break
            root.members.append((fname, node))
        self._layouts[ros_type] = root
        return root

    def _layout_node(self, kind: Nodetype, detail: Any) -> Optional[codec.Node]:
        if kind == Nodetype.NAME:
            return self.layout(detail)
        if kind == Nodetype.BASE:
            typ, bound = detail
            return codec.Str(bound or 0) if typ == 'string' else _PRIMS.get(typ)
        (subkind, subdetail), count = detail
        if subkind != Nodetype.BASE or subdetail[0] == 'string':
            return None
        typ = subdetail[0]
        if kind == Nodetype.SEQUENCE and typ in _OCTET_TYPES:
            return codec.Octets(count or 0)
        if kind == Nodetype.ARRAY and typ not in _OCTET_TYPES and typ != 'bool':
            return codec.Array(_PRIMS[typ], count)
        return None

    def _field(self, owner: str, fname: str, kind: Nodetype,
               detail: Any) -> Tuple[Any, Callable[[], Any], Optional[Machine]]:
        if kind == Nodetype.BASE:
            return self._base(owner, fname, detail)
        if kind == Nodetype.NAME:
            sub = self.get(detail)
            return sub, sub, None
        (subkind, subdetail), count = detail
        if subkind == Nodetype.NAME:
            element = self.get(subdetail)
            element_default: Callable[[], Any] = element
        else:
            element, element_default, _ = self._base(owner, fname, subdetail)
        octets = subkind == Nodetype.BASE and subdetail[0] in _OCTET_TYPES
        if kind == Nodetype.ARRAY:
            if octets:
                # cyclonedds already maps octet arrays to a raw-bytes machine.
                return idl.array[idl.uint8 if subdetail[0] != 'byte' else idl.byte, count], \
                    (lambda: bytes(count)), None
            return idl.array[element, count], \
                (lambda: [element_default() for _ in range(count)]), None
        if kind == Nodetype.SEQUENCE:
            annotation = idl.sequence[element, count] if count else idl.sequence[element]
            if octets:
                if subdetail[0] == 'byte':
                    annotation = idl.sequence[idl.byte, count] if count else \
                        idl.sequence[idl.byte]
                return annotation, bytes, _OctetSequenceMachine(count or None)
            return annotation, list, None
        raise TypeError(f'{owner}.{fname}: unsupported field kind {kind}')

    @staticmethod
    def _base(owner: str, fname: str,
              detail: Tuple[str, int]) -> Tuple[Any, Callable[[], Any], Optional[Machine]]:
        typ, bound = detail
        if typ == 'string':
            annotation = idl.bounded_str[bound] if bound else str
            return annotation, str, None
        if typ not in _BASE_TYPES:
            raise TypeError(f'{owner}.{fname}: unsupported base type {typ!r}')
        default = _FIELD_DEFAULTS.get((owner, fname), _DEFAULTS.get(typ, 0))
        swap = _ByteScalarMachine() if typ == 'byte' else None
        return _BASE_TYPES[typ], (lambda: default), swap


def _normalize(ros_type: str) -> str:
    parts = ros_type.split('/')
    if len(parts) == 2:
        return f'{parts[0]}/msg/{parts[1]}'
    return ros_type


def _constant(ctype: str, value: Any) -> Any:
    # rclpy exposes byte constants as 1-byte bytes objects (DiagnosticStatus.OK == b'\x00').
    if ctype == 'byte':
        return bytes((int(value),))
    return value


def _install_fast_machines(cls: type, swaps: Dict[str, Machine]) -> None:
    """
    Build cyclonedds' serializers now and replace the slow/odd ones named in ``swaps``.

    cyclonedds derives XTypes type information from the annotations (so peers see the true
    IDL types) but uses per-field "machines" to (de)serialize. Replacing a machine keeps the
    wire format and type information and changes only the Python representation.
    """
    cls.__idl__.populate()
    for machine in (cls.__idl__.v1_machine, cls.__idl__.v2_machine):
        if isinstance(machine, StructMachine):
            for fname, replacement in swaps.items():
                machine.members_machines[fname] = replacement


def _install_codec(cls: type, layout: codec.Struct) -> None:
    """
    Give ``cls`` the compiled codec for the calls it serves; others stay generic.

    Served: what DataWriter.write and DataReader.take call (native byte order, XCDR1, with
    the encapsulation header).  Data in the other byte order or in XCDR2, as another DDS
    implementation may send, goes through the generic machines.
    """
    fast_serialize, fast_deserialize = codec.compile_codec(layout)
    native = Endianness.native()
    header = codec.HEADER[:2]

    def serialize(self: Any, buffer: Any = None, endianness: Optional[Endianness] = None,
                  use_version_2: Optional[bool] = None) -> bytes:
        if buffer is None and not use_version_2 and endianness in (None, native):
            return fast_serialize(self)
        return IdlStruct.serialize(self, buffer=buffer, endianness=endianness,
                                   use_version_2=use_version_2)

    def deserialize(klass: type, data: Any, has_header: bool = True,
                    use_version_2: Optional[bool] = None) -> Any:
        if has_header and use_version_2 is None and data[:2] == header:
            return fast_deserialize(data)
        return klass.__idl__.deserialize(data, has_header=has_header,
                                         use_version_2=use_version_2)

    serialize.__doc__ = 'Return the XCDR1 bytes with encapsulation header (compiled codec).'
    deserialize.__doc__ = 'Build a message from XCDR bytes (compiled codec for XCDR1).'
    cls.serialize = serialize
    cls.deserialize = classmethod(deserialize)


def ros_type_name(msg_type: type) -> str:
    """Return ``pkg/msg/Name`` for a generated class."""
    return msg_type._ros_type


def type_hash(msg_type: type) -> str:
    """Return the ``RIHS01_<hex>`` hash for a generated class."""
    return msg_type._type_hash


def dds_type_name(msg_type: type) -> str:
    """Return the DDS type name, e.g. ``sensor_msgs::msg::dds_::Imu_``."""
    return msg_type.__idl_typename__.replace('.', '::')


_factory = MessageFactory()
_jazzy_factory: Optional[MessageFactory] = None


def message_class(ros_type: str) -> type:
    """Return the generated class for ``pkg/msg/Name`` from the default (Humble) store."""
    return _factory.get(ros_type)


def jazzy_message_class(ros_type: str) -> type:
    """Return the generated class from the Jazzy store (for types whose layout changed)."""
    global _jazzy_factory
    if _jazzy_factory is None:
        _jazzy_factory = MessageFactory(Stores.ROS2_JAZZY)
    return _jazzy_factory.get(ros_type)
