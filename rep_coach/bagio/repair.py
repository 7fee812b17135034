"""repair_bag: make the bag of a recorder that died readable again."""

from __future__ import annotations

from dataclasses import dataclass, field
import os
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

from rosbags.interfaces import Qos
from rosbags.typesys.store import Typestore

from .errors import BagError, BagReadError, BagWriteError
from .mcapscan import ScanError
from .metadata import (bags_in, build_metadata, FileEntry, load_metadata, METADATA_NAME,
                       STORAGE_ID, TopicEntry, write_metadata)
from .reader import open_mcap
from .storagefile import (file_index, fsync_path, INPROGRESS_SUFFIX, remove_workdir,
                          storage_name, StorageFile)
from .types import default_typestore, ensure_type, msgdef_and_hash


@dataclass
class RepairReport:
    """What :func:`repair_bag` found and did."""

    path: Path
    files: List[str] = field(default_factory=list)         # storage files now listed
    recovered: List[str] = field(default_factory=list)     # rewritten from damaged files
    removed: List[str] = field(default_factory=list)       # nothing readable: deleted
    message_count: int = 0
    lost_bytes: int = 0
    warnings: List[str] = field(default_factory=list)
    #: metadata.yaml was missing, unusable or did not list the files as they are.
    relisted: bool = False

    @property
    def changed(self) -> bool:
        """Return True when the bag needed repair (False: it was fine already)."""
        return bool(self.recovered or self.removed or self.relisted)

    def summary(self) -> str:
        """One line for logs and the CLI."""
        text = (f'{self.path}: {len(self.files)} files, {self.message_count} messages; '
                f'{len(self.recovered)} files recovered, {len(self.removed)} removed')
        if self.lost_bytes:
            text += f', {self.lost_bytes} bytes lost'
        if not self.changed:
            text += '; nothing needed repair'
        return text

    def to_dict(self) -> Dict[str, object]:
        """Return a JSON-ready dict of the report."""
        return {'path': str(self.path), 'changed': self.changed, 'files': list(self.files),
                'recovered': list(self.recovered), 'removed': list(self.removed),
                'message_count': self.message_count, 'lost_bytes': self.lost_bytes,
                'metadata_rebuilt': self.relisted, 'warnings': list(self.warnings)}


_REPAIR_SUFFIX = '.repair'


def _candidates(bag: Path) -> List[Tuple[int, Path, Optional[Path]]]:
    """(index, mcap file, work dir or None) of every storage file, in recording order.

    Work directories are left by rep_coach versions that wrote one rosbags file per
    flush; files being rewritten by a repair that died are removed.
    """
    found: List[Tuple[int, Path, Optional[Path]]] = []
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


def repair_bag(path: Union[str, Path], typestore: Optional[Typestore] = None) -> RepairReport:
    """Recover every readable message of a bag and rebuild its metadata.yaml.

    Complete files are kept (and listed if they were not).  A file without its
    summary (the one being written when the recorder died: every chunk flushed
    before is in it) or a truncated one is salvaged record by record and
    rewritten atomically as a complete, indexed file, or deleted when nothing in
    it is readable.  Topic QoS comes from the files' channel metadata,
    else from the old metadata.yaml when it is readable.  Safe to run twice.

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

    topics: Dict[str, TopicEntry] = {}
    files: List[FileEntry] = []
    candidates = _candidates(bag)
    used = {i for i, _, workdir in candidates if workdir is None}
    next_free = max([i for i, _, _ in candidates], default=-1) + 1
    for index, fpath, workdir in candidates:
        try:
            content = open_mcap(fpath)
        except (ScanError, OSError) as exc:
            what = 'unfinished chunk, nothing recoverable' if workdir else f'unreadable ({exc})'
            report.warnings.append(f'{fpath.name}: {what}; deleted')
            report.removed.append(fpath.name)
            _remove(fpath, workdir)
            continue
        messages = list(content.messages)
        if content.errors:
            content.complete = False
            report.warnings.extend(content.errors)
        for topic, qos in content.qos.items():
            _merge_topic(topics, old_topics, topic, qos)
        if not messages:
            report.removed.append(fpath.name)
            _remove(fpath, workdir)
            report.lost_bytes += content.lost_bytes
            continue
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
            dst = bag / storage_name(bag, index)
            os.replace(fpath, dst)
            remove_workdir(workdir)  # type: ignore[arg-type]
            entry = _stats(dst.name, messages)
        else:
            # A damaged listed file is replaced atomically by its recovered content.
            name = fpath.name if workdir is None else storage_name(bag, index)
            entry = _rewrite(bag, name, messages, topics, content.msgdefs, store)
            if workdir is not None:
                remove_workdir(workdir)
            report.recovered.append(entry.path)
            report.lost_bytes += content.lost_bytes
            what = 'truncated' if content.lost_bytes else 'not finalised'
            report.warnings.append(f'{fpath.name}: {what}; recovered {len(messages)} '
                                   f'messages into {entry.path}, lost {content.lost_bytes} '
                                   'bytes')
        for _, topic, _, _ in messages:
            topics[topic].message_count += 1
        files.append(entry)

    files.sort(key=lambda f: (file_index(f.path) or 0, f.path))
    for topic in topics.values():
        if not topic.type_hash and ensure_type(store, topic.msgtype):
            topic.type_hash = msgdef_and_hash(store, topic.msgtype)[1]
    # Topics declared but never written are still part of the session.
    for name, entry in old_topics.items():
        if name not in topics:
            topics[name] = TopicEntry(name, entry.msgtype, entry.qos, entry.type_hash)
    write_metadata(bag, build_metadata(list(topics.values()), files, custom))
    report.relisted = [(f.path, f.message_count) for f in files] != old_files
    report.files = [f.path for f in files]
    report.message_count = sum(f.message_count for f in files)
    return report


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


def _stats(name: str, messages: List[Tuple[int, str, str, bytes]]) -> FileEntry:
    stamps = [m[0] for m in messages]
    return FileEntry(name, min(stamps), max(stamps), len(messages))


def _remove(fpath: Path, workdir: Optional[Path]) -> None:
    if workdir is not None:
        remove_workdir(workdir)
    else:
        fpath.unlink(missing_ok=True)


def _rewrite(bag: Path, name: str, messages: List[Tuple[int, str, str, bytes]],
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
        except BaseException:
            storage.writer.abort()
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, bag / name)
        fsync_path(bag)
    except OSError as exc:
        raise BagWriteError(bag, f'cannot write recovered file {name}: {exc.strerror or exc}') \
            from None
    return _stats(name, messages)
