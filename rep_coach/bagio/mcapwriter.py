"""
A streaming MCAP writer whose file is readable after every flush, also after a SIGKILL.

rosbags' writer keeps a chunk in memory and makes a file indexed (summary,
footer) only at close, so a crash-safe recorder on top of it had to close one
file per flush.  This writer appends each chunk as soon as it is flushed: the
file is then a valid MCAP *data section* (magic, header, schema and channel
records, chunks with their message indexes) that lacks only its summary and
footer until :meth:`McapFileWriter.close`.  Streaming readers and
:func:`rep_coach.bagio.mcapscan.scan_mcap` read such a file; after a crash
``rep-coach repair BAG`` (:func:`~rep_coach.bagio.repair_bag`) turns it into an
indexed one.

Layout, following the MCAP spec (https://mcap.dev/spec) and the ``ros2``
profile of ``rosbag2_storage_mcap``: schemas (``ros2msg``) and channels are
top-level records written before the first chunk that uses them; chunks are
uncompressed with their CRC-32; the summary repeats schemas and channels and
holds one chunk index per chunk plus the statistics.

Memory: the pending chunk (at most ``chunk_size`` bytes plus one message) and
one ~100-byte chunk index per chunk of the file, released when the file is
closed; rotating files bounds the latter (see :class:`BagRecorder`).
"""

from __future__ import annotations

from dataclasses import dataclass
import os
from pathlib import Path
import struct
from typing import Dict, List, Optional, Sequence
import zlib

MAGIC = b'\x89MCAP0\r\n'
#: Bytes of records after which a chunk is written even before the flush is due
#: (rosbag2's MCAP default is 768 KiB, rosbags' 1 MiB): bounds memory for big messages.
CHUNK_SIZE = 1 << 20

_OP_HEADER = 0x01
_OP_FOOTER = 0x02
_OP_SCHEMA = 0x03
_OP_CHANNEL = 0x04
_OP_MESSAGE = 0x05
_OP_CHUNK = 0x06
_OP_MESSAGE_INDEX = 0x07
_OP_CHUNK_INDEX = 0x08
_OP_STATISTICS = 0x0B
_OP_SUMMARY_OFFSET = 0x0E
_OP_DATA_END = 0x0F

# opcode, record length, channel id, sequence, log time, publish time
_MESSAGE_HEAD = struct.Struct('<BQHIQQ')
_MESSAGE_FIXED = _MESSAGE_HEAD.size - 9
_INDEX_ENTRY = struct.Struct('<QQ')      # log time, offset of the message in the chunk
_U16 = struct.Struct('<H')
_U32 = struct.Struct('<I')
_U64 = struct.Struct('<Q')
_RECORD_HEAD = struct.Struct('<BQ')
_NO_MESSAGE = 2**64 - 1


def _string(text: str) -> bytes:
    data = text.encode('utf8')
    return _U32.pack(len(data)) + data


def _record(opcode: int, *fields: bytes) -> bytes:
    body = b''.join(fields)
    return _RECORD_HEAD.pack(opcode, len(body)) + body


def _write_all(fd: int, parts: Sequence[bytes]) -> int:
    """Write ``parts`` in order (one system call unless it comes back short); return the size."""
    views = [memoryview(p) for p in parts if len(p)]
    total = sum(len(v) for v in views)
    while views:
        done = os.writev(fd, views)
        while views and done >= len(views[0]):
            done -= len(views[0])
            views.pop(0)
        if views and done:
            views[0] = views[0][done:]
    return total


@dataclass
class McapChannel:
    """A channel of the file and its statistics."""

    id: int  # noqa: A003 (the MCAP record's field name)
    topic: str
    schema_id: int
    message_encoding: str
    metadata: Dict[str, str]
    message_count: int = 0

    def record(self) -> bytes:
        """Return the Channel record."""
        meta = b''.join(_string(k) + _string(v) for k, v in self.metadata.items())
        return _record(_OP_CHANNEL, _U16.pack(self.id), _U16.pack(self.schema_id),
                       _string(self.topic), _string(self.message_encoding),
                       _U32.pack(len(meta)), meta)


class McapFileWriter:
    """
    Append-only MCAP (``ros2`` profile) with explicit, durable flushes.

    ``write`` buffers a message in the open chunk; ``flush`` appends the chunk
    and its message indexes and, with ``fsync``, syncs the file's data, after
    which every message written before is on disk and readable by a scan.
    ``close`` adds the summary and footer.  The file is created exclusively
    with mode 0600 (the caller's directory is owner-only).
    """

    def __init__(self, path: Path, *, fsync: bool = True, library: str = 'rep_coach',
                 chunk_size: int = CHUNK_SIZE) -> None:
        self.path = Path(path)
        self._sync = fsync
        self._chunk_size = chunk_size
        # O_APPEND: after a failed append is cut off (ftruncate), writing resumes at the end.
        self._fd: Optional[int] = os.open(
            self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        self.schemas: Dict[int, bytes] = {}          # id -> Schema record
        self.channels: Dict[int, McapChannel] = {}
        self._unwritten: List[bytes] = []            # top-level records for the next append
        self._chunk = bytearray()
        self._indexes: Dict[int, bytearray] = {}     # channel id -> message index entries
        self._chunk_start = _NO_MESSAGE
        self._chunk_end = 0
        self._chunk_indexes = bytearray()            # one ChunkIndex record per chunk
        self.chunk_count = 0
        self.message_start = _NO_MESSAGE
        self.message_end = 0
        self.flushed_size = 0                         # bytes on disk after the last append
        self._unsynced = False
        self._torn = False                            # an append may have stopped halfway
        try:
            os.fchmod(self._fd, 0o600)               # O_CREAT's mode is filtered by the umask
            header = _record(_OP_HEADER, _string('ros2'), _string(library))
            self.flushed_size = _write_all(self._fd, [MAGIC, header])
        except OSError:
            self.abort()
            raise

    @property
    def size(self) -> int:
        """Bytes of the file once everything pending is written (without the summary)."""
        return self.flushed_size + len(self._chunk) + sum(len(r) for r in self._unwritten)

    @property
    def pending(self) -> bool:
        """Whether anything is buffered that a flush would write."""
        return bool(self._chunk or self._unwritten)

    def add_schema(self, name: str, data: str, encoding: str = 'ros2msg') -> int:
        """Declare a message type; return its schema id."""
        sid = len(self.schemas) + 1
        self.schemas[sid] = _record(_OP_SCHEMA, _U16.pack(sid), _string(name),
                                    _string(encoding), _string(data))
        self._unwritten.append(self.schemas[sid])
        return sid

    def add_channel(self, topic: str, schema_id: int, metadata: Dict[str, str],
                    message_encoding: str = 'cdr') -> int:
        """Declare a topic; return its channel id."""
        cid = len(self.channels) + 1
        channel = McapChannel(cid, topic, schema_id, message_encoding, dict(metadata))
        self.channels[cid] = channel
        self._indexes[cid] = bytearray()
        # Written before any chunk holding its messages: the file is valid at every flush.
        self._unwritten.append(channel.record())
        return cid

    def write(self, channel_id: int, timestamp_ns: int, data: bytes) -> None:
        """Buffer one message (appended at the next flush, or now if the chunk is full)."""
        chunk = self._chunk
        channel = self.channels[channel_id]
        self._indexes[channel_id] += _INDEX_ENTRY.pack(timestamp_ns, len(chunk))
        chunk += _MESSAGE_HEAD.pack(_OP_MESSAGE, _MESSAGE_FIXED + len(data), channel_id,
                                    channel.message_count & 0xFFFFFFFF, timestamp_ns,
                                    timestamp_ns)
        chunk += data
        channel.message_count += 1
        if timestamp_ns < self._chunk_start:
            self._chunk_start = timestamp_ns
        if timestamp_ns > self._chunk_end:
            self._chunk_end = timestamp_ns
        if len(chunk) >= self._chunk_size:
            self._append()

    def flush(self) -> None:
        """Append the pending chunk and sync the file: what was written survives a crash."""
        if self._fd is None:
            raise ValueError(f'{self.path}: file is closed')
        if self.pending:
            self._append()
        if self._sync and self._unsynced:
            os.fdatasync(self._fd)
        self._unsynced = False
        self._torn = False                            # an append may have stopped halfway

    def _cut_torn_append(self) -> None:
        """
        Cut off whatever an interrupted append left after the last complete one.

        An append interrupted by an I/O error (disk full) or an exception (a signal)
        may have written part of its data, or all of it without the bookkeeping.
        Truncating to ``flushed_size`` makes the file end with the last complete record
        again; with O_APPEND the next write continues right there.
        """
        if self._torn and self._fd is not None:
            os.ftruncate(self._fd, self.flushed_size)
            self._torn = False

    def _append(self) -> None:
        """Write pending top-level records, then the open chunk and its message indexes."""
        assert self._fd is not None
        self._cut_torn_append()
        parts = list(self._unwritten)
        offset = self.flushed_size + sum(len(p) for p in parts)
        chunk = self._chunk
        if chunk:
            head = (_U64.pack(self._chunk_start) + _U64.pack(self._chunk_end)
                    + _U64.pack(len(chunk)) + _U32.pack(zlib.crc32(chunk)) + _string('')
                    + _U64.pack(len(chunk)))
            chunk_head = _RECORD_HEAD.pack(_OP_CHUNK, len(head) + len(chunk)) + head
            chunk_length = len(chunk_head) + len(chunk)
            index_offsets = bytearray()
            index_records = bytearray()
            index_start = offset + chunk_length
            for cid, entries in self._indexes.items():
                if entries:
                    index_offsets += _U16.pack(cid) + _U64.pack(index_start + len(index_records))
                    index_records += _record(_OP_MESSAGE_INDEX, _U16.pack(cid),
                                             _U32.pack(len(entries)), entries)
            parts += [chunk_head, chunk, index_records]
            chunk_index = _record(
                _OP_CHUNK_INDEX, _U64.pack(self._chunk_start), _U64.pack(self._chunk_end),
                _U64.pack(offset), _U64.pack(chunk_length), _U32.pack(len(index_offsets)),
                index_offsets, _U64.pack(len(index_records)), _string(''),
                _U64.pack(len(chunk)), _U64.pack(len(chunk)))
        # Until the append is complete and counted, the file's tail is uncertain; if the
        # write raises, the next append (or discard_pending) cuts it off.
        self._torn = True
        self.flushed_size += _write_all(self._fd, parts)
        self._unsynced = True
        self._torn = False
        self._unwritten.clear()
        if chunk:
            self._chunk_indexes += chunk_index
            self.chunk_count += 1
            self.message_start = min(self.message_start, self._chunk_start)
            self.message_end = max(self.message_end, self._chunk_end)
            self._chunk = bytearray()
            for entries in self._indexes.values():
                entries.clear()
            self._chunk_start, self._chunk_end = _NO_MESSAGE, 0

    def close(self) -> None:
        """Flush, then write the summary and footer: an indexed, complete MCAP file."""
        if self._fd is None:
            return
        if self.pending:
            self._append()
        self._cut_torn_append()
        data_end = _record(_OP_DATA_END, _U32.pack(0))   # 0: no data section CRC
        summary_start = self.flushed_size + len(data_end)
        groups = []
        position = summary_start
        counts = b''.join(_U16.pack(c.id) + _U64.pack(c.message_count)
                          for c in self.channels.values())
        messages = sum(c.message_count for c in self.channels.values())
        statistics = _record(
            _OP_STATISTICS, _U64.pack(messages), _U16.pack(len(self.schemas)),
            _U32.pack(len(self.channels)), _U32.pack(0), _U32.pack(0),
            _U32.pack(self.chunk_count),
            _U64.pack(self.message_start if messages else 0), _U64.pack(self.message_end),
            _U32.pack(len(counts)), counts)
        sections = [(_OP_SCHEMA, b''.join(self.schemas.values())),
                    (_OP_CHANNEL, b''.join(c.record() for c in self.channels.values())),
                    (_OP_CHUNK_INDEX, bytes(self._chunk_indexes)),
                    (_OP_STATISTICS, statistics)]
        for opcode, data in sections:
            if data:
                groups.append(_record(_OP_SUMMARY_OFFSET, bytes((opcode,)),
                                      _U64.pack(position), _U64.pack(len(data))))
                position += len(data)
        footer = _record(_OP_FOOTER, _U64.pack(summary_start), _U64.pack(position),
                         _U32.pack(0))                # 0: no summary CRC
        parts = [data_end] + [d for _, d in sections if d] + groups + [footer, MAGIC]
        self._torn = True
        self.flushed_size += _write_all(self._fd, parts)
        self._torn = False
        if self._sync:
            os.fsync(self._fd)
        os.close(self._fd)
        self._fd = None
        self._chunk_indexes = bytearray()

    @property
    def pending_messages(self) -> int:
        """Messages buffered in the open chunk."""
        return sum(len(entries) for entries in self._indexes.values()) // _INDEX_ENTRY.size

    def discard_pending(self) -> int:
        """
        Drop the open chunk after a failed write; return how many messages it held.

        The file is cut back to its last complete append, freeing the disk of a
        partial one.
        """
        dropped = self.pending_messages
        for cid, entries in self._indexes.items():
            self.channels[cid].message_count -= len(entries) // _INDEX_ENTRY.size
            entries.clear()
        self._chunk = bytearray()
        self._chunk_start, self._chunk_end = _NO_MESSAGE, 0
        self._cut_torn_append()
        return dropped

    def abort(self) -> None:
        """Close the descriptor without the summary (the file stays a scannable data section)."""
        if self._fd is not None:
            try:
                os.close(self._fd)
            finally:
                self._fd = None

    @property
    def closed(self) -> bool:
        """Whether the descriptor is closed."""
        return self._fd is None
