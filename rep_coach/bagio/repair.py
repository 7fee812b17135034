"""repair_bag: make the bag of a recorder that died readable again."""

from __future__ import annotations

from dataclasses import dataclass, field
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple, Union

from rosbags.interfaces import Qos
from rosbags.typesys.store import Typestore

from .errors import BagError, BagReadError, BagWriteError
from .mcapscan import ScanError
from .metadata import (bags_in, build_metadata, dump_yaml, FileEntry, load_metadata,
                       METADATA_NAME, STORAGE_ID, TopicEntry, write_private_file)
from .reader import FileMessages, open_mcap, scan_file
from .storagefile import (file_index, file_prefix, fsync_path, INPROGRESS_SUFFIX, name_pattern,
                          remove_workdir, storage_name, StorageFile)
from .types import default_typestore, ensure_type, msgdef_and_hash


#: One salvaged message: (timestamp ns, topic, msgtype, CDR bytes).
Message = Tuple[int, str, str, bytes]
#: One storage file found in the bag: (index, mcap file, old-style work directory or None).
Candidate = Tuple[int, Path, Optional[Path]]


@dataclass
class RepairReport:
    """What :func:`repair_bag` found and did."""

    path: Path
    files: List[str] = field(default_factory=list)         # storage files now listed
    recovered: List[str] = field(default_factory=list)     # rewritten from damaged files
    removed: List[str] = field(default_factory=list)       # provably empty: deleted
    #: Non-empty files of which nothing could be read: left untouched, not listed.
    unreadable: List[str] = field(default_factory=list)
    #: Listed files none of whose listed messages is left: not on disk, or empty.
    missing: List[str] = field(default_factory=list)
    #: Files of another recording (another name prefix): left untouched, not listed.
    foreign: List[str] = field(default_factory=list)
    message_count: int = 0
    #: Messages the old metadata.yaml listed (None: there was no usable one).
    listed_count: Optional[int] = None
    #: Of those, how many were not recovered (counted file by file).
    lost_messages: int = 0
    lost_bytes: int = 0
    warnings: List[str] = field(default_factory=list)
    #: metadata.yaml was missing, unusable or did not list the files as they are.
    relisted: bool = False
    #: Name of the copy of the old metadata.yaml this repair kept before rewriting it.
    backup: str = ''

    @property
    def changed(self) -> bool:
        """Return True when the bag needed repair (False: it was fine already)."""
        return bool(self.recovered or self.removed or self.relisted)

    @property
    def repaired(self) -> bool:
        """Return False when part of the bag is not recovered: an unreadable file, no file left."""
        return not self.unreadable and bool(self.files or not self.missing)

    def summary(self) -> str:
        """One line for logs and the CLI."""
        text = (f'{self.path}: {len(self.files)} files, {self.message_count} messages; '
                f'{len(self.recovered)} files recovered, {len(self.removed)} removed')
        for names, what in ((self.unreadable, 'unreadable (left untouched)'),
                            (self.missing, 'missing'),
                            (self.foreign, 'of another recording (left untouched)')):
            if names:
                text += f', {len(names)} {what}'
        if self.lost_messages:
            text += f', lost {self.lost_messages} of {self.listed_count} messages listed'
        if self.lost_bytes:
            text += f', {self.lost_bytes} bytes lost'
        if self.backup:
            text += f'; the old {METADATA_NAME} kept as {self.backup}'
        if not self.repaired:
            text += '; NOT repaired'
        elif not self.changed:
            text += '; nothing needed repair'
        return text

    def to_dict(self) -> Dict[str, object]:
        """Return a JSON-ready dict of the report."""
        return {'path': str(self.path), 'changed': self.changed, 'repaired': self.repaired,
                'files': list(self.files), 'recovered': list(self.recovered),
                'removed': list(self.removed), 'unreadable': list(self.unreadable),
                'missing': list(self.missing), 'foreign': list(self.foreign),
                'message_count': self.message_count, 'listed_messages': self.listed_count,
                'lost_messages': self.lost_messages, 'lost_bytes': self.lost_bytes,
                'metadata_rebuilt': self.relisted, 'metadata_backup': self.backup or None,
                'warnings': list(self.warnings)}


_REPAIR_SUFFIX = '.repair'
#: The metadata.yaml a repair found, kept beside the bag before the first rewrite: the
#: counts the recorder wrote are the only record of what a damaged bag held.  rosbag2's
#: own ``ros2 bag reindex`` overwrites it without a copy; readers open metadata.yaml only.
BACKUP_NAME = f'{METADATA_NAME}.orig'


def _candidates(bag: Path) -> List[Candidate]:
    """
    (index, mcap file, work dir or None) of every storage file, in recording order.

    Work directories are left by rep_coach versions that wrote one rosbags file per
    flush; files being rewritten by a repair that died are removed.
    """
    found: List[Candidate] = []
    for entry in bag.iterdir():
        if entry.is_file() and entry.suffix == '.mcap':
            found.append((file_index(entry.name) or 0, entry, None))
        elif entry.is_file() and entry.name.endswith(_REPAIR_SUFFIX):
            entry.unlink()
        elif entry.is_dir() and entry.name.endswith(INPROGRESS_SUFFIX):
            index = file_index(entry.name) or 0
            mcaps = sorted(entry.glob('*.mcap'))
            if mcaps:
                found.append((index, mcaps[0], entry))
            else:
                remove_workdir(entry)  # killed before the file existed: nothing in it
    return sorted(found, key=lambda item: (item[0], item[2] is not None, item[1].name))


def _entry_name(candidate: Candidate) -> str:
    """Return the name in the bag directory: the .mcap file's, or its work directory's."""
    _, fpath, workdir = candidate
    return (workdir or fpath).name


def _stored_name(candidate: Candidate) -> str:
    """Return the storage file name of a candidate (once out of its work directory)."""
    name = _entry_name(candidate)
    return f'{name[1:-len(INPROGRESS_SUFFIX)]}.mcap' if candidate[2] is not None else name


def _bag_prefixes(bag: Path, listed: List[str], candidates: List[Candidate]) -> Set[str]:
    """
    Return the names this bag's files were recorded under (``<name>_<i>.mcap``).

    Those of the files metadata.yaml lists: the directory may have been renamed
    since, so its own name proves nothing.  Without a list, the one name all files
    share; files of several names are refused, as guessing could merge recordings.
    """
    if listed:
        return {file_prefix(name) for name in listed}
    by_prefix: Dict[str, List[str]] = {}
    for candidate in candidates:
        name = _entry_name(candidate)
        by_prefix.setdefault(file_prefix(name), []).append(name)
    if len(by_prefix) <= 1:
        return set(by_prefix)
    found = '; '.join(f'{prefix!r}: {", ".join(sorted(names))}'
                      for prefix, names in sorted(by_prefix.items()))
    raise BagReadError(bag, f'files of {len(by_prefix)} recordings ({found}) and no '
                            f"{METADATA_NAME} listing this bag's; nothing changed",
                       advice='move the files of the other recordings out, then repair again')


def _own_candidates(bag: Path, listed: List[str], candidates: List[Candidate],
                    report: RepairReport) -> List[Candidate]:
    """Return the candidates that belong to the bag; report the others and leave them."""
    prefixes = _bag_prefixes(bag, listed, candidates)
    own = []
    for candidate in candidates:
        name = _entry_name(candidate)
        if file_prefix(name) in prefixes:
            own.append(candidate)
            continue
        report.foreign.append(name)
        report.warnings.append(f'{name}: not a file of this bag (its files are '
                               f'{name_pattern(prefixes)}); left untouched, not listed')
    return own


def _missing(listed: List[str], candidates: List[Candidate], report: RepairReport) -> None:
    """Report the files metadata.yaml lists that are on disk neither as such nor as work."""
    present = {_stored_name(c) for c in candidates}
    for name in listed:
        if name not in present:
            report.missing.append(name)
            report.warnings.append(f'{name}: listed in {METADATA_NAME} but missing; '
                                   'its messages are lost')


def _read_file(fpath: Path) -> Tuple[FileMessages, List[Message]]:
    """
    Read a storage file, its messages listed; ScanError or OSError if nothing is readable.

    A chunk damaged behind an intact index stops rosbags without saying where: the
    file is then read again by a scan, which stops at the same chunk and counts the
    bytes from there to the end as lost.
    """
    content = open_mcap(fpath)
    messages = list(content.messages)
    if not (content.complete and content.errors):  # read by a scan already, or intact
        return content, messages
    scanned = scan_file(fpath)
    scanned.errors[:0] = content.errors
    scanned_messages = list(scanned.messages)
    if len(scanned_messages) < len(messages):  # never keep fewer than the index gave
        scanned_messages = messages
    return scanned, scanned_messages


def _keep_unreadable(report: RepairReport, bag: Path, fpath: Path, why: str) -> None:
    """Report a file of which nothing could be read; it stays as it is: nothing is lost."""
    name = str(fpath.relative_to(bag))   # in a work directory: named with it
    report.unreadable.append(name)
    report.warnings.append(f'{name}: nothing readable ({why}); left untouched and '
                           'not listed: the bag is not repaired')


def _no_message(report: RepairReport, bag: Path, candidate: Candidate, content: FileMessages,
                listed: int) -> bool:
    """
    Tell whether a file without a message is to be deleted: it provably holds none.

    ``listed`` is the number of messages metadata.yaml lists in it.  A file that does
    not parse is kept (unreadable); an empty one (no byte, part of the magic, or a
    header and no record) that metadata.yaml says held messages is reported as
    missing: they are lost, and metadata.yaml is the only record of them.
    """
    _, fpath, _ = candidate
    if content.lost_bytes or content.errors:
        # Bytes that do not parse may still be someone's data: never delete them.
        _keep_unreadable(report, bag, fpath,
                         f'no complete message in the {content.lost_bytes} bytes after its '
                         'header' if content.lost_bytes else '; '.join(content.errors))
        return False
    if listed:
        # The recorder lists a file it begins with 0 messages, so an empty file listed
        # with some was not cut during its first chunk: its messages were on disk once.
        name = _stored_name(candidate)
        report.missing.append(name)
        report.warnings.append(f'{name}: listed in {METADATA_NAME} with {listed} messages '
                               f'but empty ({fpath.stat().st_size} bytes, no message in '
                               'it); its messages are lost')
    # Either way there is nothing in it: it goes once metadata.yaml stops listing it.
    return True


def repair_bag(path: Union[str, Path], typestore: Optional[Typestore] = None) -> RepairReport:
    """
    Recover every readable message of a bag and rebuild its metadata.yaml.

    Complete files are kept (and listed if they were not).  A file without its
    summary (the one being written when the recorder died: every chunk flushed
    before is in it), a truncated or damaged one is salvaged record by record
    and rewritten atomically as a complete, indexed file.  A file with nothing
    in it (empty, or no record after its header) is deleted; if metadata.yaml
    lists messages in it, they are reported lost (``missing``).  A non-empty file
    of which nothing is readable is left untouched and reported
    (``RepairReport.unreadable``), as are files of another recording
    (``foreign``: not named like the bag's).  Topic QoS comes from the files'
    channel metadata, else from the old metadata.yaml when it is readable.  When
    no readable file is left of a bag that had some, metadata.yaml (and every
    file) is left as it was.  Before metadata.yaml is first rewritten, the old one
    is kept as :data:`BACKUP_NAME`.  Safe to run twice.

    Only for a bag whose recorder is dead: it deletes the chunk a live recorder
    is writing.
    """
    bag = Path(path)
    if not bag.is_dir():
        raise BagReadError(bag, 'bag directory does not exist' if not bag.exists()
                           else 'not a bag directory (rosbag2 bags are directories)')
    store = typestore or default_typestore()
    report = RepairReport(bag)
    old_topics: Dict[str, TopicEntry] = {}
    old_files: Optional[List[Tuple[str, int]]] = None   # None: no usable metadata.yaml
    custom: Dict[str, str] = {}
    try:
        old = load_metadata(bag)
    except BagError as exc:
        _check_is_a_bag(bag)
        report.warnings.append(f'old metadata unusable, rebuilt from the files ({exc.message})')
    else:
        if old.storage_identifier != STORAGE_ID:
            # Its files are not ours to rewrite: listing none of them would lose the bag.
            raise BagReadError(bag, f'storage {old.storage_identifier!r}, not MCAP: repair '
                                    'recovers MCAP bags only (ros2 bag reindex rebuilds '
                                    'the metadata of other storages)')
        old_topics = {t.name: t for t in old.topics}
        old_files = [(f.path, f.message_count) for f in old.files]
        custom = old.custom_data

    listed = [name for name, _ in old_files or []]
    candidates = _own_candidates(bag, listed, _candidates(bag), report)
    _missing(listed, candidates, report)
    listed_counts = dict(old_files or [])
    recovered: Dict[str, int] = {}       # stored name -> messages read from it
    empty: List[Candidate] = []          # deleted once metadata.yaml no longer lists them
    topics: Dict[str, TopicEntry] = {}
    files: List[FileEntry] = []
    used = {i for i, _, workdir in candidates if workdir is None}
    next_free = max([i for i, _, _ in candidates], default=-1) + 1
    for candidate in candidates:
        index, fpath, workdir = candidate
        try:
            content, messages = _read_file(fpath)
        except (ScanError, OSError) as exc:
            _keep_unreadable(report, bag, fpath, str(exc))
            continue
        if content.errors:
            content.complete = False
            report.warnings.extend(content.errors)
        for topic, qos in content.qos.items():
            _merge_topic(topics, old_topics, topic, qos)
        if not messages:
            if _no_message(report, bag, candidate, content,
                           listed_counts.get(_stored_name(candidate), 0)):
                empty.append(candidate)
            continue
        recovered[_stored_name(candidate)] = len(messages)
        for _, topic, msgtype, _ in messages:
            if topic not in topics:
                _merge_topic(topics, old_topics, topic, [], msgtype)
            topics[topic].msgtype = topics[topic].msgtype or msgtype
        if workdir is not None and (index in used or not content.complete):
            # A fresh index: never collide with a listed file, and keep the damaged
            # work directory until its content is safely rewritten.
            index, next_free = next_free, next_free + 1
        used.add(index)
        if content.complete and workdir is None:
            entry = _stats(fpath.name, messages)
        elif content.complete:
            # Closed but not yet moved into place when an older recorder died.
            dst = bag / storage_name(bag, index, file_prefix(workdir.name))  # type: ignore
            os.replace(fpath, dst)
            remove_workdir(workdir)  # type: ignore[arg-type]
            entry = _stats(dst.name, messages)
        else:
            entry = _recover(bag, index, fpath, workdir, content, messages, topics, store,
                             report)
        for _, topic, _, _ in messages:
            topics[topic].message_count += 1
        files.append(entry)

    if old_files is not None:
        report.listed_count = sum(count for _, count in old_files)
        # File by file: a file recovered whole does not make up for another's loss.
        report.lost_messages = sum(max(0, count - recovered.get(name, 0))
                                   for name, count in old_files)
    if not files and (report.unreadable or report.missing):
        # Rewriting it would erase the record of what the bag held; so would deleting
        # the empty files it lists.
        report.warnings.append(f'no readable storage file left; {METADATA_NAME} left as it was')
        return report
    files.sort(key=lambda f: (file_index(f.path) or 0, f.path))
    for topic in topics.values():
        if not topic.type_hash and ensure_type(store, topic.msgtype):
            topic.type_hash = msgdef_and_hash(store, topic.msgtype)[1]
    # Topics declared but never written are still part of the session.
    for name, entry in old_topics.items():
        if name not in topics:
            topics[name] = TopicEntry(name, entry.msgtype, entry.qos, entry.type_hash)
    report.backup = _rewrite_metadata(bag, build_metadata(list(topics.values()), files, custom))
    for candidate in empty:
        _remove(candidate[1], candidate[2])
        report.removed.append(candidate[1].name)
    report.relisted = [(f.path, f.message_count) for f in files] != old_files
    report.files = [f.path for f in files]
    report.message_count = sum(f.message_count for f in files)
    return report


def _recover(bag: Path, index: int, fpath: Path, workdir: Optional[Path],
             content: FileMessages, messages: List[Message], topics: Dict[str, TopicEntry],
             store: Typestore, report: RepairReport) -> FileEntry:
    """Rewrite a damaged or unfinished file's messages as a complete file; report it."""
    # A damaged listed file is replaced atomically by its recovered content.
    name = fpath.name if workdir is None else storage_name(bag, index,
                                                           file_prefix(workdir.name))
    entry = _rewrite(bag, name, messages, topics, content.msgdefs, store)
    if workdir is not None:
        remove_workdir(workdir)
    report.recovered.append(entry.path)
    report.lost_bytes += content.lost_bytes
    what = ('truncated' if content.lost_bytes else 'damaged' if content.errors
            else 'not finalised')
    report.warnings.append(f'{fpath.name}: {what}; recovered {len(messages)} messages into '
                           f'{entry.path}, lost {content.lost_bytes} bytes')
    return entry


def _rewrite_metadata(bag: Path, doc: Dict[str, Any]) -> str:
    """
    Write metadata.yaml, keeping the one found as :data:`BACKUP_NAME` first.

    Return the backup's name if this call made it.  Nothing is written when the
    content is unchanged (a healthy bag is left as it was); an existing backup is
    never replaced, so a second repair keeps what the recorder wrote.
    """
    path = bag / METADATA_NAME
    new = dump_yaml(doc).encode('utf8')
    try:
        old: Optional[bytes] = path.read_bytes()
    except FileNotFoundError:
        old = None
    if old == new:
        return ''
    made = ''
    if old is not None and not (bag / BACKUP_NAME).exists():
        write_private_file(bag / BACKUP_NAME, old)
        made = BACKUP_NAME
    write_private_file(path, new)
    return made


def _check_is_a_bag(bag: Path) -> None:
    """Refuse a directory that holds no bag (so no metadata.yaml is written into it)."""
    entries = list(bag.iterdir())
    if any(e.suffix == '.mcap' or e.name.endswith(INPROGRESS_SUFFIX) for e in entries):
        return
    bags = [b.name for b in bags_in(bag)]
    hint = f'; it holds the bags {", ".join(bags)}: name one' if bags else ''
    raise BagReadError(bag, f'not a bag: neither {METADATA_NAME} nor an .mcap file in it{hint}')


def _merge_topic(topics: Dict[str, TopicEntry], old: Dict[str, TopicEntry], name: str,
                 qos: List[Qos], msgtype: str = '') -> None:
    if name in topics:
        if qos and not topics[name].qos:
            topics[name].qos = qos
        return
    prior = old.get(name)
    topics[name] = TopicEntry(name, msgtype or (prior.msgtype if prior else ''),
                              qos or (prior.qos if prior else []),
                              prior.type_hash if prior else '')


def _stats(name: str, messages: List[Message]) -> FileEntry:
    stamps = [m[0] for m in messages]
    return FileEntry(name, min(stamps), max(stamps), len(messages))


def _remove(fpath: Path, workdir: Optional[Path]) -> None:
    if workdir is not None:
        remove_workdir(workdir)
    else:
        fpath.unlink(missing_ok=True)


def _rewrite(bag: Path, name: str, messages: List[Message],
             topics: Dict[str, TopicEntry], msgdefs: Dict[str, str],
             store: Typestore) -> FileEntry:
    """Write salvaged messages as the complete file ``name``, replacing it atomically."""
    tmp = bag / f'.{name}{_REPAIR_SUFFIX}'
    try:
        tmp.unlink(missing_ok=True)
        storage = StorageFile.create(tmp)
        try:
            for ts, topic, msgtype, data in messages:
                if topic not in storage.channels:
                    entry = topics[topic]
                    if ensure_type(store, msgtype, msgdefs.get(msgtype, '')):
                        msgdef, type_hash = msgdef_and_hash(store, msgtype)
                    else:  # keep the bytes even if we cannot decode them
                        msgdef, type_hash = msgdefs.get(msgtype, ''), entry.type_hash
                    entry.type_hash = entry.type_hash or type_hash
                    storage.declare(topic, msgtype, msgdef, entry.qos)
                storage.write(topic, ts, data)
            storage.close()
        except BaseException:  # noqa: B902 (cleans up, re-raises)
            storage.writer.abort()
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, bag / name)
        fsync_path(bag)
    except OSError as exc:
        raise BagWriteError(bag, f'cannot write recovered file {name}: {exc.strerror or exc}') \
            from None
    return _stats(name, messages)
