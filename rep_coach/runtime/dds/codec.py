"""
Compiled XCDR1 (de)serializers for ROS messages of a fixed shape, e.g. sensor_msgs/Imu.

cyclonedds (de)serializes a sample by walking one Python "machine" object per field, a few
microseconds each; an Imu has 30 fields and arrives at 100 Hz in every IMU consumer, so the walk
was a large share of a node's CPU.  For a message made only of primitives, fixed arrays of
numbers, strings, octet sequences and nested such structs, the layout is known up to the
lengths of its strings: this module generates one Python function per direction that reads or
writes each run of fixed-size fields with a single precompiled ``struct`` format (padding
included) and builds the message objects directly.

The bytes are exactly those of the generic machines (the tests compare both, and rosbags'
independent CDR codec): encapsulation header ``00 01 00 00`` (CDR, native little endian),
XCDR1 alignment (8-byte fields aligned to 8 counted from the end of the header).  Types with
other members (sequences of structs or numbers, octet arrays) return no codec and keep the
generic path; so does any call with arguments the fast path does not handle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import struct
import sys
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

#: Byte order of the data written (cyclonedds writes native order) and read on the fast path.
NATIVE = '<' if sys.byteorder == 'little' else '>'
#: The encapsulation header cyclonedds writes: CDR (XCDR1) in native byte order, no options.
HEADER = bytes((0, 1 if NATIVE == '<' else 0, 0, 0))
#: XCDR1 aligns to at most 8 bytes, counted from the end of the 4-byte encapsulation header.
_ORIGIN = 4
_MAX_ALIGN = 8


@dataclass(frozen=True)
class Prim:
    """A primitive: ``struct`` code, size (= alignment); ``byte`` reads back as 1-byte bytes."""

    code: str
    size: int
    byte: bool = False


@dataclass(frozen=True)
class Str:
    """A string (UTF-8, length with the NUL, then the NUL); ``bound`` in characters, 0 = none."""

    bound: int = 0


@dataclass(frozen=True)
class Octets:
    """A ``sequence<uint8>`` that reads back as ``bytes``; ``bound`` 0 = unbounded."""

    bound: int = 0


@dataclass(frozen=True)
class Array:
    """A fixed array of numeric primitives (a list in Python)."""

    prim: Prim
    count: int


@dataclass
class Struct:
    """A struct: its class and members in declaration order."""

    cls: type
    members: List[Tuple[str, 'Node']] = field(default_factory=list)


Node = Union[Prim, Str, Octets, Array, Struct]

Serializer = Callable[[Any], bytes]
Deserializer = Callable[[Any], Any]


class _Phase:
    """What is known statically about the write/read position: ``offset mod modulus``."""

    def __init__(self) -> None:
        self.value, self.modulus = 0, _MAX_ALIGN

    def static_pad(self, align: int) -> Optional[int]:
        """Return the padding before a field of ``align``, or None when only known at run time."""
        align = min(align, _MAX_ALIGN)
        if align <= self.modulus:
            return (-self.value) % align
        return None

    def advance(self, size: int) -> None:
        self.value = (self.value + size) % self.modulus

    def aligned_dynamically(self, align: int) -> None:
        self.value, self.modulus = 0, min(align, _MAX_ALIGN)

    def unknown(self) -> None:
        self.value, self.modulus = 0, 1


class _Source:
    """Lines of generated code plus the run of fixed-size fields not yet emitted."""

    def __init__(self) -> None:
        self.lines: List[str] = []
        self.fmt = ''
        self.size = 0
        self.items: List[str] = []
        self.phase = _Phase()
        self.counter = 0

    def name(self, prefix: str) -> str:
        self.counter += 1
        return f'{prefix}{self.counter}'

    def emit(self, line: str) -> None:
        self.lines.append('    ' + line)

    def pad(self, align: int) -> None:
        """Pad the run (or the position, when only known at run time) to ``align``."""
        pad = self.phase.static_pad(align)
        if pad is None:
            self.flush()
            align = min(align, _MAX_ALIGN)
            self.emit(f'p += (-(p - {_ORIGIN})) % {align}')
            self.phase.aligned_dynamically(align)
        elif pad:
            self.fmt += f'{pad}x'
            self.size += pad
            self.phase.advance(pad)

    def add(self, code: str, size: int, item: str) -> None:
        self.fmt += code
        self.size += size
        self.items.append(item)
        self.phase.advance(size)

    def flush(self) -> None:
        raise NotImplementedError


class _Reader(_Source):
    """Generates ``def de(d, p)``: unpack runs into ``t``, then pick fields out of it."""

    def __init__(self) -> None:
        super().__init__()
        self.pending: List[Tuple[str, str]] = []   # (variable, expression over the run)
        self.count = 0
        # Objects are built at the end, so that runs of fields span struct boundaries (an
        # Imu's 37 doubles are one unpack, not one per Quaternion/Vector3).
        self.build: List[str] = []

    def value(self, prim: Prim, count: int = 0) -> str:
        """Queue a primitive (or an array of ``count``); return the variable it will be in."""
        self.pad(prim.size)
        var = self.name('v')
        code = 'c' if prim.byte else prim.code
        if count:
            self.pending.append((var, f'list(t[{self.count}:{self.count + count}])'))
            self.count += count
            self.add(f'{count}{code}', prim.size * count, var)
        else:
            self.pending.append((var, f't[{self.count}]'))
            self.count += 1
            self.add(code, prim.size, var)
        return var

    def flush(self) -> None:
        if not self.fmt:
            return
        self.emit(f't = unpack_from({NATIVE + self.fmt!r}, d, p)')
        self.emit(f'p += {self.size}')
        for var, expr in self.pending:
            self.emit(f'{var} = {expr}')
        self.fmt, self.size, self.items, self.pending, self.count = '', 0, [], [], 0

    def sized(self, node: Union[Str, Octets]) -> str:
        length = self.value(Prim('I', 4))
        self.flush()
        var = self.name('s')
        if isinstance(node, Str):
            self.emit(f'{var} = bytes(d[p:p + {length} - 1]).decode("utf-8")')
        else:
            self.emit(f'{var} = bytes(d[p:p + {length}])')
        self.emit(f'p += {length}')
        self.phase.unknown()
        return var

    def node(self, node: Node, classes: Dict[str, type]) -> str:
        if isinstance(node, Prim):
            return self.value(node)
        if isinstance(node, Array):
            return self.value(node.prim, node.count)
        if isinstance(node, (Str, Octets)):
            return self.sized(node)
        values = [(fname, self.node(member, classes)) for fname, member in node.members]
        cls = self.name('C')
        classes[cls] = node.cls
        var = self.name('o')
        items = ', '.join(f'{fname!r}: {value}' for fname, value in values)
        self.build += [f'    {var} = new({cls})', f'    {var}.__dict__.update({{{items}}})']
        return var


class _Writer(_Source):
    """Generates ``def ser(m)``: pack runs into ``parts``; ``p`` is the length so far."""

    def value(self, prim: Prim, expr: str, count: int = 0) -> None:
        self.pad(prim.size)
        code = 'B' if prim.byte else prim.code
        if count:
            self.add(f'{count}{code}', prim.size * count, f'*{expr}')
        else:
            self.add(code, prim.size, f'byte({expr})' if prim.byte else expr)

    def flush(self) -> None:
        if not self.fmt:
            return
        self.emit(f'parts.append(pack({NATIVE + self.fmt!r}, {", ".join(self.items)}))')
        self.emit(f'p += {self.size}')
        self.fmt, self.size, self.items = '', 0, []

    def sized(self, node: Union[Str, Octets], expr: str) -> None:
        var = self.name('b')
        if node.bound:
            self.emit(f'if len({expr}) > {node.bound}:')
            self.emit(f'    raise ValueError("longer than its bound {node.bound}")')
        if isinstance(node, Str):
            self.emit(f'{var} = {expr}.encode("utf-8") + b"\\x00"')
        else:
            self.emit(f'{var} = octets({expr})')
        self.value(Prim('I', 4), f'len({var})')
        self.flush()
        self.emit(f'parts.append({var})')
        self.emit(f'p += len({var})')
        self.phase.unknown()

    def pad(self, align: int) -> None:
        """Pad as ``_Source.pad``; a run-time padding must also write its zero bytes."""
        if self.phase.static_pad(align) is None:
            self.flush()
            align = min(align, _MAX_ALIGN)
            self.emit(f'n = (-(p - {_ORIGIN})) % {align}')
            self.emit('parts.append(ZEROS[:n])')
            self.emit('p += n')
            self.phase.aligned_dynamically(align)
        else:
            super().pad(align)

    def node(self, node: Node, expr: str) -> None:
        if isinstance(node, Prim):
            self.value(node, expr)
        elif isinstance(node, Array):
            self.value(node.prim, expr, node.count)
        elif isinstance(node, (Str, Octets)):
            self.sized(node, expr)
        else:
            for fname, member in node.members:
                if isinstance(member, Struct):
                    var = self.name('m')
                    self.emit(f'{var} = {expr}.{fname}')
                    self.node(member, var)
                else:
                    self.node(member, f'{expr}.{fname}')


def _byte(value: Any) -> int:
    """Return an octet given as 1-byte bytes (rclpy style) or as an int, as an int."""
    return value[0] if isinstance(value, (bytes, bytearray)) else int(value)


def _octets(value: Any) -> bytes:
    """Return bytes, bytearray, memoryview, a numpy uint8 array or a list of ints as bytes."""
    return value if isinstance(value, bytes) else bytes(value)


def compile_codec(root: Struct) -> Tuple[Serializer, Deserializer]:
    """
    Return ``(serialize(msg) -> bytes, deserialize(data) -> msg)`` for ``root``.

    ``serialize`` writes the encapsulation header; ``deserialize`` expects data that starts
    with :data:`HEADER` (the caller checks, and uses the generic path otherwise).
    """
    reader = _Reader()
    classes: Dict[str, type] = {}
    result = reader.node(root, classes)
    reader.flush()
    writer = _Writer()
    writer.node(root, 'm')
    writer.flush()
    source = '\n'.join(['def de(d):', '    p = 4'] + reader.lines + reader.build
                       + [f'    return {result}', '', 'def ser(m):', '    parts = [HEADER]',
                          '    p = 4'] + writer.lines + ['    return b"".join(parts)'])
    namespace: Dict[str, Any] = {'unpack_from': struct.unpack_from, 'pack': struct.pack,
                                 'new': object.__new__, 'HEADER': HEADER,
                                 'ZEROS': bytes(_MAX_ALIGN), 'byte': _byte,
                                 'octets': _octets, **classes}
    exec(compile(source, f'<xcdr1 codec {root.cls.__name__}>', 'exec'), namespace)  # noqa: S102
    return namespace['ser'], namespace['de']
