"""
Salvage messages from an MCAP file that lacks its summary and footer.

A recorder killed mid-file leaves an MCAP whose tail (summary, footer, end
magic) was never written, or whose last record is cut in half.  Indexed readers
(rosbags, ``mcap``, rosbag2) refuse such files.  MCAP records are
length-prefixed (opcode u8, length u64), so a linear scan recovers every record
that is complete; we stop at the first record that runs past the end of the
file or does not parse, and report how many bytes were lost.  A damaged magic
(the file's first 8 bytes) does not stop the scan: the records after it are
read all the same, and the damage is noted in ``ScanResult.problems``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import struct
from typing import BinaryIO, Dict, List, Tuple
import zlib

# One definition of the format's constants, shared with the writer.
from rep_coach.bagio.mcapwriter import (_OP_CHANNEL, _OP_CHUNK, _OP_DATA_END, _OP_FOOTER,
                                        _OP_HEADER, _OP_MESSAGE, _OP_SCHEMA, MAGIC)


class ScanError(ValueError):
    """Nothing in the file can be read as MCAP (no ros2 header record where it belongs)."""


@dataclass
class ScannedSchema:
    """A schema record: message type and its definition."""

    id: int  # noqa: A003 (the MCAP record's field name)
    name: str
    encoding: str
    data: str


@dataclass
class ScannedChannel:
    """A channel record: topic, schema and user metadata (offered QoS)."""

    id: int  # noqa: A003 (the MCAP record's field name)
    schema_id: int
    topic: str
    message_encoding: str
    metadata: Dict[str, str]


@dataclass
class ScanResult:
    """Everything recovered from one file, messages in file order."""

    schemas: Dict[int, ScannedSchema] = field(default_factory=dict)
    channels: Dict[int, ScannedChannel] = field(default_factory=dict)
    messages: List[Tuple[int, int, bytes]] = field(default_factory=list)  # channel, ns, data
    complete: bool = False      # reached DataEnd/Footer: nothing was lost
    lost_bytes: int = 0         # bytes after the last complete record
    problems: List[str] = field(default_factory=list)  # damage the scan read past


class _Buf:
    """Cursor over bytes; raises IndexError when a field runs past the end."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, size: int) -> bytes:
        if size < 0 or self.pos + size > len(self.data):
            raise IndexError('record runs past the end')
        out = self.data[self.pos:self.pos + size]
        self.pos += size
        return out

    def u16(self) -> int:
        return struct.unpack('<H', self.take(2))[0]

    def u32(self) -> int:
        return struct.unpack('<I', self.take(4))[0]

    def u64(self) -> int:
        return struct.unpack('<Q', self.take(8))[0]

    def string(self) -> str:
        return self.take(self.u32()).decode('utf8')


def _decompress(data: bytes, compression: str, size: int) -> bytes:
    if compression == '':
        return data
    if compression == 'zstd':
        try:
            from compression import zstd  # type: ignore[import-not-found]
        except ImportError:  # Python < 3.14, as rosbags does
            from backports import zstd  # type: ignore[import-not-found,no-redef]
        return zstd.decompress(data)
    if compression == 'lz4':
        import lz4.frame
        return lz4.frame.decompress(data)
    raise ValueError(f'unsupported chunk compression {compression!r}')


def _parse_records(data: bytes, result: ScanResult, top_level: bool) -> int:
    """Parse records of ``data`` into ``result``; return the offset after the last good one."""
    buf = _Buf(data)
    good = 0
    while buf.pos < len(data):
        try:
            opcode = buf.take(1)[0]
            body = _Buf(buf.take(buf.u64()))
            if opcode == _OP_SCHEMA:
                sid, name, enc = body.u16(), body.string(), body.string()
                result.schemas[sid] = ScannedSchema(sid, name, enc,
                                                    body.take(body.u32()).decode('utf8'))
            elif opcode == _OP_CHANNEL:
                cid, sid, topic, enc = body.u16(), body.u16(), body.string(), body.string()
                meta = _Buf(body.take(body.u32()))
                pairs = {}
                while meta.pos < len(meta.data):
                    key = meta.string()
                    pairs[key] = meta.string()
                result.channels[cid] = ScannedChannel(cid, sid, topic, enc, pairs)
            elif opcode == _OP_MESSAGE:
                cid = body.u16()
                body.take(4)              # sequence
                log_time = body.u64()
                body.take(8)              # publish time
                result.messages.append((cid, log_time, body.data[body.pos:]))
            elif opcode == _OP_CHUNK and top_level:
                body.take(16)             # message start and end time
                size = body.u64()
                crc = body.u32()          # 0 = not computed (rosbags' files)
                compression = body.string()
                records = _decompress(body.take(body.u64()), compression, size)
                if crc and zlib.crc32(records) != crc:
                    # e.g. a chunk whose pages never reached the disk before a power loss
                    raise ValueError('chunk CRC mismatch')
                # A chunk is atomic: stage its records so a bad chunk adds nothing.
                staged = ScanResult(dict(result.schemas), dict(result.channels))
                if _parse_records(records, staged, top_level=False) != len(records):
                    raise ValueError('chunk content is damaged')
                result.schemas, result.channels = staged.schemas, staged.channels
                result.messages.extend(staged.messages)
            elif opcode in (_OP_DATA_END, _OP_FOOTER) and top_level:
                result.complete = True
                return len(data)
        except Exception:  # noqa: B902 - truncation, bad UTF-8, lz4/zstd errors alike
            # Whatever the cause, this record and everything after it are lost.
            return good
        good = buf.pos
    return good


def _header_profile(head: _Buf) -> str:
    """Read the header record at ``head``; return its profile or raise ScanError."""
    try:
        if head.take(1)[0] != _OP_HEADER:
            raise ScanError('MCAP file does not start with a header record')
        return _Buf(head.take(head.u64())).string()
    except (IndexError, UnicodeDecodeError) as exc:
        raise ScanError('MCAP header is truncated or damaged') from exc


def scan_mcap(stream: BinaryIO) -> ScanResult:
    """
    Recover the complete records of an MCAP stream, tolerating a missing tail.

    An empty stream, or one holding only (part of) the magic, is a file created
    with nothing in it yet: an empty result.  Raises ScanError when the header
    record that follows the magic does not parse (nothing can be read).
    """
    data = stream.read()
    result = ScanResult()
    if MAGIC.startswith(data):
        return result
    if not data.startswith(MAGIC):
        result.problems.append('damaged file header (bad MCAP magic); read the records '
                               'after it by a scan')
    body = data[len(MAGIC):]
    head = _Buf(body)
    try:
        profile = _header_profile(head)
    except ScanError as exc:
        if result.problems:  # neither magic nor header: not an MCAP file at all
            raise ScanError('not an MCAP file (bad magic, no MCAP header)') from exc
        raise
    if profile != 'ros2':
        raise ScanError(f'MCAP profile is {profile!r}, not ros2')
    good = _parse_records(body[head.pos:], result, top_level=True)
    if not result.complete:
        result.lost_bytes = len(body) - head.pos - good
    return result
