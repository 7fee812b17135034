"""BagRecorder: crash-safe rosbag2 (MCAP, version 8) writing for the session recorder."""

from __future__ import annotations

from dataclasses import dataclass
import os
from pathlib import Path
import threading
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

from rosbags.typesys.store import Typestore

from .chunkfile import ChunkFile
from .errors import BagError, BagExistsError, BagWriteError
from .metadata import build_metadata, FileEntry, TopicEntry, write_metadata
from .qos import to_rosbags_qos
from .types import default_typestore, msgdef_and_hash

Serializer = Callable[[Any], bytes]
TopicSpecs = Mapping[str, Tuple[str, Any]]


@dataclass
class RecorderStats:
    """Counters for diagnostics; ``flushed`` messages survive a SIGKILL."""

    flushed: int = 0
    pending: int = 0
    dropped: int = 0
    files: int = 0


def _make_private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) with mode 0700, whatever the umask."""
    if path.exists() or path.is_symlink():
        raise BagExistsError(path, 'bag directory exists already; bags are never overwritten')
    missing = []
    parent = path.parent
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    try:
        for directory in reversed(missing):
            os.mkdir(directory, 0o700)
            os.chmod(directory, 0o700)
        os.mkdir(path, 0o700)
        os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask
    except FileExistsError:
        raise BagExistsError(path, 'bag directory exists already; bags are never '
                                   'overwritten') from None
    except OSError as exc:
        raise BagWriteError(path, f'cannot create bag directory: {exc.strerror or exc}') \
            from None


class BagRecorder:
    """Write a rosbag2 directory (MCAP storage, metadata version 8) that survives SIGKILL.

    The bag is split into one MCAP file per ``flush_interval_s`` (only when it
    holds messages).  Each file is closed completely (summary, footer) before it
    is listed in metadata.yaml, and metadata.yaml is replaced atomically, so a
    killed recorder loses at most the messages since the last flush.  ``ros2 bag
    info/play`` (Humble and later) and rosbags read the result as one bag.

    ``topics`` maps topic name to ``(ros type name, offered QoS)``; the QoS may be a
    preset name, :class:`~rep_coach.bagio.qos.QosSpec`, dict, rclpy ``QoSProfile``
    or list of them.  More topics can be added at any time (:meth:`add_topic`, or
    ``write(..., msgtype=...)``).

    Errors: creating the bag raises :class:`BagExistsError` / :class:`BagWriteError`.
    An I/O error while recording (disk full) raises one :class:`BagWriteError`;
    afterwards the recorder is *failed*: writes are counted as dropped and return
    False, nothing raises again, and the bag keeps every flushed file readable.
    """

    def __init__(self, path: Union[str, Path], topics: Optional[TopicSpecs] = None,
                 flush_interval_s: float = 1.0, *, serialize: Optional[Serializer] = None,
                 typestore: Optional[Typestore] = None,
                 custom_data: Optional[Mapping[str, str]] = None, fsync: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = Path(path)
        if not flush_interval_s > 0:
            raise ValueError(f'flush_interval_s={flush_interval_s!r} must be > 0')
        self.flush_interval_s = float(flush_interval_s)
        self._serialize = serialize
        self._store = typestore or default_typestore()
        self._custom = {str(k): str(v) for k, v in (custom_data or {}).items()}
        self._fsync = fsync
        self._clock = clock
        self._lock = threading.RLock()
        self._topics: Dict[str, TopicEntry] = {}
        self._msgdefs: Dict[str, str] = {}
        self._files: List[FileEntry] = []
        self._chunk: Optional[ChunkFile] = None
        self._chunk_opened = 0.0
        self._next_index = 0
        self._dropped = 0
        self.failed: Optional[BagWriteError] = None
        self.closed = False
        # Validate the topics before touching the disk: a typo must not leave a bag behind.
        specs = [(name, *self._resolve(name, msgtype, qos))
                 for name, (msgtype, qos) in (topics or {}).items()]
        _make_private_dir(self.path)
        for name, msgtype, qos, type_hash in specs:
            self._topics[name] = TopicEntry(name, msgtype, qos, type_hash)
        # An empty but valid bag right away: a recorder killed before its first
        # flush still leaves something every reader opens.
        write_metadata(self.path, self._metadata(), fsync=self._fsync)

    # -- topics ---------------------------------------------------------------

    def _resolve(self, name: str, msgtype: str, qos: Any) -> Tuple[str, list, str]:
        if not name:
            raise ValueError('topic name is empty')
        try:
            msgdef, type_hash = msgdef_and_hash(self._store, msgtype)
        except KeyError:
            raise BagError(self.path, f'topic {name!r}: message type {msgtype!r} is not in '
                                      'the type store') from None
        self._msgdefs[msgtype] = msgdef
        return msgtype, to_rosbags_qos(qos), type_hash

    def add_topic(self, name: str, msgtype: str, qos: Any = None) -> None:
        """Declare a topic; a no-op if it is known with the same type."""
        with self._lock:
            known = self._topics.get(name)
            if known is not None:
                if known.msgtype != msgtype:
                    raise BagError(self.path, f'topic {name!r} is recorded as {known.msgtype}, '
                                              f'not {msgtype}')
                return
            msgtype, qos_list, type_hash = self._resolve(name, msgtype, qos)
            self._topics[name] = TopicEntry(name, msgtype, qos_list, type_hash)
            if self._chunk is not None and self.failed is None:
                self._guard(lambda: self._declare(self._chunk, self._topics[name]))

    @property
    def topics(self) -> Dict[str, str]:
        """Known topics and their types."""
        with self._lock:
            return {t.name: t.msgtype for t in self._topics.values()}

    # -- writing --------------------------------------------------------------

    def write(self, topic: str, timestamp_ns: int, data: Any, *,
              serialize: Optional[Serializer] = None, msgtype: Optional[str] = None,
              qos: Any = None) -> bool:
        """Record one message; return False if it was dropped (recorder failed/closed).

        ``data`` is CDR bytes (bytes, bytearray, memoryview) or a message object,
        serialised by ``serialize`` (or the constructor's, e.g.
        ``rclpy.serialization.serialize_message``); rosbags message objects need no
        serializer.  ``msgtype`` (and ``qos``) declare a topic seen for the first time.
        Flushes when ``flush_interval_s`` has passed since the current file began.
        """
        with self._lock:
            if self.failed is not None or self.closed:
                self._dropped += 1
                return False
            if topic not in self._topics:
                if msgtype is None:
                    raise BagError(self.path, f'topic {topic!r} was not declared; pass '
                                              'msgtype= or call add_topic first')
                self.add_topic(topic, msgtype, qos)
            raw = self._to_bytes(topic, data, serialize)
            self._guard(lambda: self._write(topic, int(timestamp_ns), raw))
            if self._clock() - self._chunk_opened >= self.flush_interval_s:
                self.flush()
            return True

    def _to_bytes(self, topic: str, data: Any, serialize: Optional[Serializer]) -> bytes:
        if isinstance(data, (bytes, bytearray, memoryview)):
            return bytes(data)
        func = serialize or self._serialize
        if func is not None:
            return bytes(func(data))
        msgtype = getattr(data, '__msgtype__', None)
        if msgtype is not None:  # a rosbags message class instance
            return bytes(self._store.serialize_cdr(data, msgtype))
        raise TypeError(f'{self.path}: topic {topic!r}: got {type(data).__name__}, not CDR '
                        'bytes, and no serialize function was given')

    def _write(self, topic: str, timestamp_ns: int, raw: bytes) -> None:
        if self._chunk is None:
            self._chunk = ChunkFile.open(self.path, self._next_index)
            self._next_index += 1
            self._chunk_opened = self._clock()
            # Every file declares every known topic, so each stands on its own.
            for entry in self._topics.values():
                self._declare(self._chunk, entry)
        self._chunk.write(topic, timestamp_ns, raw)

    def _declare(self, chunk: Optional[ChunkFile], entry: TopicEntry) -> None:
        if chunk is not None and entry.name not in chunk.connections:
            chunk.add_connection(entry.name, entry.msgtype, self._msgdefs[entry.msgtype],
                                 entry.type_hash, entry.qos)

    def flush_if_due(self) -> bool:
        """Flush if the current file is older than ``flush_interval_s``; call from a timer.

        Needed because :meth:`write` only checks on arrival: when messages stop,
        the pending ones would otherwise wait for the next message or close.
        """
        with self._lock:
            if self._chunk is not None and \
                    self._clock() - self._chunk_opened >= self.flush_interval_s:
                self.flush()
                return True
            return False

    def flush(self) -> None:
        """Close the current file and list it in metadata.yaml; a no-op if nothing pending."""
        with self._lock:
            chunk = self._chunk
            if chunk is None or self.failed is not None:
                return
            self._chunk = None
            self._guard(lambda: self._finish(chunk), chunk)

    def _finish(self, chunk: ChunkFile) -> None:
        entry = chunk.finish(fsync=self._fsync)
        self._files.append(entry)
        for topic, count in chunk.counts.items():
            self._topics[topic].message_count += count
        write_metadata(self.path, self._metadata(), fsync=self._fsync)

    def _guard(self, action: Callable[[], None], chunk: Optional[ChunkFile] = None) -> None:
        """Run an I/O action; on failure, fail the recorder once with one clear error."""
        try:
            action()
        except BagWriteError as exc:
            self._fail(exc, chunk)
        except OSError as exc:
            self._fail(BagWriteError(self.path, f'recording stopped: {exc.strerror or exc}'),
                       chunk)

    def _fail(self, error: BagWriteError, chunk: Optional[ChunkFile]) -> None:
        # Free the disk of the unfinished file; what was flushed stays listed and readable.
        for pending in (chunk, self._chunk):
            if pending is not None:
                self._dropped += pending.message_count
                pending.abort()
        self._chunk = None
        self.failed = error
        raise error from None

    def _metadata(self) -> Dict[str, Any]:
        return build_metadata(list(self._topics.values()), self._files, self._custom)

    # -- lifetime -------------------------------------------------------------

    @property
    def stats(self) -> RecorderStats:
        """Message and file counters."""
        with self._lock:
            return RecorderStats(flushed=sum(f.message_count for f in self._files),
                                 pending=self._chunk.message_count if self._chunk else 0,
                                 dropped=self._dropped, files=len(self._files))

    def close(self) -> None:
        """Flush and stop; idempotent.  Does not raise if the recorder had failed already."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            if self.failed is None:
                chunk, self._chunk = self._chunk, None
                if chunk is not None:
                    self._guard(lambda: self._finish(chunk), chunk)

    def __enter__(self) -> 'BagRecorder':
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
