"""BagRecorder: crash-safe rosbag2 (MCAP, version 8) writing for the session recorder."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
import os
from pathlib import Path
import threading
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

from rosbags.typesys.store import Typestore

from .errors import BagError, BagExistsError, BagWriteError
from .metadata import build_metadata, FileEntry, TopicEntry, write_metadata
from .qos import to_rosbags_qos
from .storagefile import fsync_path, storage_name, StorageFile
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


#: Defaults of the rotation limits (the session_recorder parameters of the same meaning).
MAX_FILE_DURATION_S = 900.0
MAX_FILE_SIZE = 256 * 2**20


class BagRecorder:
    """
    Write a rosbag2 directory (MCAP storage, metadata version 8) that survives SIGKILL.

    One MCAP file is open at a time.  Messages are buffered in its open chunk;
    every ``flush_interval_s`` the chunk is appended and the file's data synced,
    so a killed recorder loses at most the messages of the last interval.  The
    file is rotated (closed with its summary and footer, and a new one begun)
    when it reaches ``max_file_size`` bytes or ``max_file_duration_s`` seconds,
    as ``ros2 bag record --max-bag-size/--max-bag-duration`` split a bag.

    metadata.yaml is replaced atomically when a file is begun (listing it with
    no messages yet), at rotation and at close.  Until it is closed, the open
    file lacks its summary: :func:`~rep_coach.bagio.read_bag` reads it by a
    scan and ``rep-coach repair BAG`` (:func:`~rep_coach.bagio.repair_bag`)
    finalises it after a crash, after which ``ros2 bag``, rosbags and the
    ``mcap`` library read the bag.

    ``topics`` maps topic name to ``(ros type name, offered QoS)``; the QoS may be a
    preset name, :class:`~rep_coach.bagio.qos.QosSpec`, dict, rclpy ``QoSProfile``
    or list of them.  More topics can be added at any time (:meth:`add_topic`, or
    ``write(..., msgtype=...)``).

    Errors: creating the bag raises :class:`BagExistsError` / :class:`BagWriteError`.
    An I/O error while recording (disk full) raises one :class:`BagWriteError`;
    afterwards the recorder is *failed*: writes are counted as dropped and return
    False, nothing raises again, and the bag keeps everything flushed before.
    """

    def __init__(self, path: Union[str, Path], topics: Optional[TopicSpecs] = None,
                 flush_interval_s: float = 1.0, *, serialize: Optional[Serializer] = None,
                 typestore: Optional[Typestore] = None,
                 custom_data: Optional[Mapping[str, str]] = None, fsync: bool = True,
                 max_file_size: int = MAX_FILE_SIZE,
                 max_file_duration_s: float = MAX_FILE_DURATION_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = Path(path)
        for name, value in (('flush_interval_s', flush_interval_s),
                            ('max_file_size', max_file_size),
                            ('max_file_duration_s', max_file_duration_s)):
            if not value > 0:
                raise ValueError(f'{name}={value!r} must be > 0')
        self.flush_interval_s = float(flush_interval_s)
        self.max_file_size = int(max_file_size)
        self.max_file_duration_s = float(max_file_duration_s)
        self._serialize = serialize
        self._store = typestore or default_typestore()
        self._custom = {str(k): str(v) for k, v in (custom_data or {}).items()}
        self._fsync = fsync
        self._clock = clock
        self._lock = threading.RLock()
        self._topics: Dict[str, TopicEntry] = {}
        self._msgdefs: Dict[str, str] = {}
        self._files: List[FileEntry] = []          # closed files: one per rotation
        self._file: Optional[StorageFile] = None
        self._pending_since = 0.0                  # clock of the oldest unflushed message
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
        # message still leaves something every reader opens.
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
            if self._file is not None:
                self._declare(self._file, self._topics[name])

    @property
    def topics(self) -> Dict[str, str]:
        """Known topics and their types."""
        with self._lock:
            return {t.name: t.msgtype for t in self._topics.values()}

    # -- writing --------------------------------------------------------------

    def write(self, topic: str, timestamp_ns: int, data: Any, *,
              serialize: Optional[Serializer] = None, msgtype: Optional[str] = None,
              qos: Any = None) -> bool:
        """
        Record one message; return False if it was dropped (recorder failed/closed).

        ``data`` is CDR bytes (bytes, bytearray, memoryview) or a message object,
        serialised by ``serialize`` (or the constructor's, e.g.
        ``rclpy.serialization.serialize_message``); rosbags message objects need no
        serializer.  ``msgtype`` (and ``qos``) declare a topic seen for the first time.
        Flushes when the oldest pending message is ``flush_interval_s`` old.
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
            # CDR bytes as received (raw subscriptions) are buffered as they are: no copy.
            raw = data if type(data) is bytes else self._to_bytes(topic, data, serialize)
            now = self._clock()
            storage = self._file
            if storage is None:
                try:
                    storage = self._open_file(now)
                except (OSError, BagWriteError) as exc:
                    self._dropped += 1
                    self._fail(exc)
            if not storage.writer.pending:
                self._pending_since = now
            try:
                storage.write(topic, int(timestamp_ns), raw)
            except OSError as exc:   # a full chunk is appended at once, also between flushes
                self._fail(exc)
            if now - self._pending_since >= self.flush_interval_s:
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

    def _open_file(self, now: float) -> StorageFile:
        """Begin the next storage file and list it in metadata.yaml (with no messages yet)."""
        path = self.path / storage_name(self.path, self._next_index)
        self._next_index += 1
        storage = StorageFile.create(path, fsync=self._fsync, opened=now)
        self._file = storage
        # Every file declares every known topic, so each stands on its own.
        for entry in self._topics.values():
            self._declare(storage, entry)
        storage.writer.flush()  # header, schemas, channels: a valid file before it is listed
        if self._fsync:
            fsync_path(self.path)
        write_metadata(self.path, self._metadata(), fsync=self._fsync)
        return storage

    def _declare(self, storage: StorageFile, entry: TopicEntry) -> None:
        storage.declare(entry.name, entry.msgtype, self._msgdefs[entry.msgtype], entry.qos)

    def flush_if_due(self) -> bool:
        """
        Flush if the oldest pending message is ``flush_interval_s`` old; call from a timer.

        Needed because :meth:`write` only checks on arrival: when messages stop,
        the pending ones would otherwise wait for the next message or close.
        """
        with self._lock:
            if self._file is not None and self._file.writer.pending and \
                    self._clock() - self._pending_since >= self.flush_interval_s:
                self.flush()
                return True
            return False

    def flush(self) -> None:
        """
        Append and sync the pending messages; rotate the file if it is due.

        A no-op when nothing is pending (or the recorder failed).
        """
        with self._lock:
            storage = self._file
            if storage is None or self.failed is not None:
                return
            try:
                storage.writer.flush()
                if storage.writer.size >= self.max_file_size or \
                        self._clock() - storage.opened >= self.max_file_duration_s:
                    self._close_file(storage)
            except (OSError, BagWriteError) as exc:
                self._fail(exc)

    def _close_file(self, storage: StorageFile) -> None:
        """Finalise the open file (summary, footer) and list its figures in metadata.yaml."""
        storage.close()
        self._retire(storage)
        write_metadata(self.path, self._metadata(), fsync=self._fsync)

    def _retire(self, storage: StorageFile) -> None:
        """Count a file that takes no more messages among the bag's files."""
        self._file = None
        self._files.append(storage.entry())
        for topic, count in storage.topic_counts().items():
            self._topics[topic].message_count += count

    def _fail(self, exc: Union[OSError, BagWriteError]) -> None:
        """Stop recording after an I/O error, keeping what was flushed; raise one error."""
        error = exc if isinstance(exc, BagWriteError) else \
            BagWriteError(self.path, f'recording stopped: {exc.strerror or exc}')
        self.failed = error
        storage = self._file
        if storage is not None:
            # Free the disk of the failed append, then try to finalise what is on disk.
            # If even that does not fit, the file stays a scannable data section (listed
            # since it was begun) that read_bag reads and repair_bag finalises.
            try:
                self._dropped += storage.writer.discard_pending()
                storage.writer.close()
            except OSError:
                with suppress(OSError):
                    storage.writer.discard_pending()   # cut off a partial summary
                storage.writer.abort()
            self._retire(storage)
            with suppress(BagWriteError):
                write_metadata(self.path, self._metadata(), fsync=self._fsync)
        raise error from None

    def _metadata(self) -> Dict[str, Any]:
        files = self._files
        if self._file is not None:
            files = files + [FileEntry(self._file.path.name, 0, 0, 0)]
        return build_metadata(list(self._topics.values()), files, self._custom)

    # -- lifetime -------------------------------------------------------------

    @property
    def stats(self) -> RecorderStats:
        """Message and file counters."""
        with self._lock:
            flushed = sum(f.message_count for f in self._files)
            pending = 0
            if self._file is not None:
                flushed += self._file.entry().message_count
                pending = self._file.writer.pending_messages
            return RecorderStats(flushed=flushed, pending=pending, dropped=self._dropped,
                                 files=len(self._files) + (self._file is not None))

    def close(self) -> None:
        """Flush and finalise the open file; idempotent.  Does not raise if it had failed."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            if self.failed is None and self._file is not None:
                try:
                    self._close_file(self._file)
                except (OSError, BagWriteError) as exc:
                    self._fail(exc)

    def __enter__(self) -> 'BagRecorder':
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
