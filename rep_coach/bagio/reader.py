"""read_bag: iterate a rosbag2 directory, recovering what a crash left readable."""

from __future__ import annotations

from dataclasses import dataclass, field
import heapq
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, NamedTuple, Optional, Tuple
from typing import Union
import warnings

from rosbags.interfaces import ConnectionExtRosbag2, Qos
from rosbags.rosbag2.errors import ReaderError
from rosbags.rosbag2.metadata import parse_qos
from rosbags.rosbag2.storage_mcap import McapReader
from rosbags.typesys.store import Typestore

from .errors import BagReadError, BagRecoveryWarning, repair_command
from .mcapscan import scan_mcap, ScanError
from .metadata import BagMetadata, load_metadata
from .storagefile import file_index, file_prefix, INPROGRESS_SUFFIX, name_pattern
from .types import default_typestore, ensure_type


class BagMessage(NamedTuple):
    """One message; unpacks as ``(topic, msgtype, timestamp_ns, message)``."""

    topic: str
    msgtype: str
    timestamp_ns: int
    message: Any   # rosbags message object, or CDR bytes with raw=True


@dataclass
class FileMessages:
    """The readable content of one storage file."""

    name: str
    # (timestamp_ns, topic, msgtype, cdr) in timestamp order
    messages: Iterable[Tuple[int, str, str, bytes]]
    msgdefs: Dict[str, str]
    qos: Dict[str, List[Qos]]
    complete: bool
    lost_bytes: int = 0
    errors: List[str] = field(default_factory=list)   # problems met while iterating


def scan_file(path: Path) -> FileMessages:
    """
    Read one MCAP file record by record, as far as it is intact (``complete=False``).

    Damage the scan read past (a bad magic) is listed in ``errors``.  Raises
    ScanError (or OSError) when nothing at all can be read.
    """
    with path.open('rb') as stream:
        scanned = scan_mcap(stream)
    channels = scanned.channels
    schemas = scanned.schemas
    msgdefs = {schemas[c.schema_id].name: schemas[c.schema_id].data
               for c in channels.values() if c.schema_id in schemas}
    types = {cid: schemas[c.schema_id].name if c.schema_id in schemas else ''
             for cid, c in channels.items()}
    qos: Dict[str, List[Qos]] = {}
    for chan in channels.values():
        try:
            qos[chan.topic] = parse_qos(chan.metadata.get('offered_qos_profiles', ''))
        except ReaderError:
            qos[chan.topic] = []
    msgs = sorted(((ts, channels[cid].topic, types[cid], data)
                   for cid, ts, data in scanned.messages if cid in channels),
                  key=lambda m: m[0])
    return FileMessages(path.name, msgs, msgdefs, qos, complete=False,
                        lost_bytes=scanned.lost_bytes,
                        errors=[f'{path}: {problem}' for problem in scanned.problems])


def open_mcap(path: Path) -> FileMessages:
    """
    Read one MCAP file: indexed if intact, else by :func:`scan_file` (``complete=False``).

    Raises ScanError (or OSError) when nothing at all can be read.
    """
    reader = McapReader(path)
    try:
        reader.open()
    except Exception:  # noqa: B902 - ReaderError, but also asserts/struct errors on damage
        return scan_file(path)

    msgdefs = {c.msgtype: c.msgdef.data for c in reader.connections if c.msgdef.data}
    qos = {c.topic: list(c.ext.offered_qos_profiles) for c in reader.connections
           if isinstance(c.ext, ConnectionExtRosbag2)}
    content = FileMessages(path.name, [], msgdefs, qos, complete=True)

    def iterate() -> Iterator[Tuple[int, str, str, bytes]]:
        try:
            for conn, ts, data in reader.messages(reader.connections):
                yield ts, conn.topic, conn.msgtype, bytes(data)
        except Exception as exc:  # noqa: B902 - a damaged chunk behind an intact index
            content.errors.append(f'{path}: damaged data, the rest of the file is lost ({exc})')
        finally:
            reader.close()

    content.messages = iterate()
    return content


def unlisted_files(bag: Path, meta: BagMetadata) -> List[str]:
    """Storage files and chunk work directories that metadata.yaml does not list."""
    listed = set(meta.relative_file_paths)
    extra = [p.name for p in bag.iterdir()
             if (p.suffix == '.mcap' and p.name not in listed)
             or (p.is_dir() and p.name.endswith(INPROGRESS_SUFFIX))]
    return sorted(extra, key=lambda n: (file_index(n) is None, file_index(n) or 0, n))


def read_bag(path: Union[str, Path], topics: Optional[Iterable[str]] = None, *,
             raw: bool = False, typestore: Optional[Typestore] = None,
             on_warning: Optional[Callable[[str], None]] = None) -> Iterator[BagMessage]:
    """
    Iterate the messages of a rosbag2 directory in timestamp order.

    Errors that make the bag unusable (missing directory, missing or garbled
    metadata.yaml, no readable file) raise :class:`BagReadError` naming the path
    *at call time*.  Damage that loses only part of the data (a truncated MCAP, a
    listed file that is missing, leftovers of a recorder that died) is reported
    as :class:`BagRecoveryWarning` (or to ``on_warning``) and reading goes on.

    ``topics`` filters by topic name; ``raw=True`` yields CDR bytes instead of
    deserialised rosbags message objects.
    """
    bag = Path(path)
    meta = load_metadata(bag)
    warn = on_warning or (lambda text: warnings.warn(text, BagRecoveryWarning, stacklevel=3))
    wanted = set(topics) if topics is not None else None
    store = typestore or default_typestore()

    if meta.storage_identifier != 'mcap':
        return _read_other(bag, wanted, raw)

    # Unlisted files named like the listed ones are this recording's (a repair lists
    # them); others are another recording's, which a repair leaves alone too.
    prefixes = {file_prefix(name) for name in meta.relative_file_paths}
    leftovers = unlisted_files(bag, meta)
    foreign = [name for name in leftovers if prefixes and file_prefix(name) not in prefixes]
    own = [name for name in leftovers if name not in foreign]
    if own:
        warn(f'{bag}: recording was not closed cleanly; ignoring unlisted {own} '
             f'({repair_command(bag)} recovers what is readable of them)')
    if foreign:
        warn(f'{bag}: ignoring {foreign}: not files of this recording (its files are '
             f'{name_pattern(prefixes)})')

    files: List[FileMessages] = []
    for name in meta.relative_file_paths:
        fpath = bag / name
        if not fpath.is_file():
            warn(f'{fpath}: listed in metadata.yaml but missing; its messages are lost')
            continue
        try:
            content = open_mcap(fpath)
        except (ScanError, OSError) as exc:
            warn(f'{fpath}: unreadable ({exc}); its messages are lost')
            continue
        if not content.complete:
            expected = next((f.message_count for f in meta.files if f.path == name), 0)
            got = len(content.messages)  # type: ignore[arg-type]
            lost = f'{expected - got} of {expected} messages, ' if expected > got else ''
            if content.lost_bytes or lost:
                warn(f'{fpath}: truncated; recovered {got} messages, lost {lost}'
                     f'{content.lost_bytes} bytes')
            else:
                # The file being recorded, or the one a killed recorder was writing.
                warn(f'{fpath}: not finalised (recording in progress or the recorder was '
                     f'killed); read {got} messages by a scan, nothing lost '
                     f'({repair_command(bag)} finalises it)')
        files.append(content)
    if meta.relative_file_paths and not files:
        raise BagReadError(bag, 'none of the storage files listed in metadata.yaml is readable')

    msgdefs: Dict[str, str] = {}
    for content in files:
        msgdefs.update(content.msgdefs)
    return _iterate(bag, files, wanted, raw, store, msgdefs, warn)


def _iterate(bag: Path, files: List[FileMessages], wanted: Optional[set], raw: bool,
             store: Typestore, msgdefs: Dict[str, str],
             warn: Callable[[str], None]) -> Iterator[BagMessage]:
    bad_types: set = set()
    streams = [iter(f.messages) for f in files]
    yield from _decode(bag, heapq.merge(*streams, key=lambda m: m[0]), wanted, raw, store,
                       msgdefs, warn, bad_types)
    for content in files:
        for error in content.errors:
            warn(error)


def _decode(bag: Path, merged: Iterator[Tuple[int, str, str, bytes]], wanted: Optional[set],
            raw: bool, store: Typestore, msgdefs: Dict[str, str], warn: Callable[[str], None],
            bad_types: set) -> Iterator[BagMessage]:
    for ts, topic, msgtype, data in merged:
        if wanted is not None and topic not in wanted:
            continue
        if raw:
            yield BagMessage(topic, msgtype, ts, data)
            continue
        if msgtype in bad_types:
            continue
        if not ensure_type(store, msgtype, msgdefs.get(msgtype, '')):
            bad_types.add(msgtype)
            warn(f'{bag}: topic {topic!r}: type {msgtype!r} is unknown and the bag has no '
                 'definition for it; skipping its messages')
            continue
        try:
            message = store.deserialize_cdr(data, msgtype)
        except Exception as exc:  # noqa: B902 - any decoding error means a garbled message
            warn(f'{bag}: topic {topic!r}: message at {ts} ns does not decode as {msgtype} '
                 f'({exc}); skipped')
            continue
        yield BagMessage(topic, msgtype, ts, message)


def _read_other(bag: Path, wanted: Optional[set], raw: bool) -> Iterator[BagMessage]:
    """Read a bag in another storage (sqlite3 from ``ros2 bag record``) through rosbags."""
    from rosbags.highlevel import AnyReader, AnyReaderError
    reader = AnyReader([bag], default_typestore=default_typestore())
    try:
        reader.open()
    except (AnyReaderError, ReaderError, OSError) as exc:
        raise BagReadError(bag, f'cannot open bag: {exc}') from None

    def iterate() -> Iterator[BagMessage]:
        try:
            conns = [c for c in reader.connections if wanted is None or c.topic in wanted]
            if not conns:  # rosbags reads *every* connection when given none
                return
            for conn, ts, data in reader.messages(connections=conns):
                msg = bytes(data) if raw else reader.deserialize(data, conn.msgtype)
                yield BagMessage(conn.topic, conn.msgtype, ts, msg)
        finally:
            reader.close()
    return iterate()
