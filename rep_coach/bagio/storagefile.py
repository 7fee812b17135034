"""
One storage file of a bag (``<bag>_<i>.mcap``, rosbag2's naming) and its file names.

A :class:`StorageFile` is an :class:`~rep_coach.bagio.mcapwriter.McapFileWriter`
plus the topic -> channel map and the figures metadata.yaml lists for it.  It
is created in place under its final name: until it is closed it is an MCAP data
section without summary, readable by a scan after every flush (see
:mod:`rep_coach.bagio.mcapwriter`).

Bags written by earlier rep_coach versions may hold ``.<bag>_<i>.inprogress/``
work directories (one rosbags-written chunk each); ``rep-coach repair BAG``
(:func:`~rep_coach.bagio.repair_bag`) still salvages them, so their names are
recognised here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import os
from pathlib import Path
import re
import shutil
from typing import Dict, Iterable, List, Optional, Tuple

from rosbags.interfaces import Qos
from rosbags.rosbag2.metadata import dump_qos_v8

from .mcapwriter import McapFileWriter
from .metadata import FileEntry

INPROGRESS_SUFFIX = '.inprogress'
_INDEX_RE = re.compile(r'_(\d+)$')


def storage_name(bag: Path, index: int, prefix: str = '') -> str:
    """
    Return the name of storage file ``index`` (rosbag2 style ``<bag>_<i>.mcap``).

    ``prefix`` overrides the bag directory's name: a bag directory the user renamed
    keeps the names its files were recorded under.
    """
    return f'{prefix or bag.name}_{index}.mcap'


def _split_name(name: str) -> Tuple[str, Optional[int]]:
    """Split ``<bag>_<i>.mcap`` or ``.<bag>_<i>.inprogress`` into (``<bag>``, i or None)."""
    stem = name
    for suffix in ('.mcap', INPROGRESS_SUFFIX):
        if stem.endswith(suffix):
            stem = stem[:-len(suffix)]
    if name.endswith(INPROGRESS_SUFFIX):
        stem = stem[1:]  # work directories are hidden: a leading dot
    match = _INDEX_RE.search(stem)
    if match is None:
        return stem, None
    return stem[:match.start()], int(match.group(1))


def file_index(name: str) -> Optional[int]:
    """Storage file index from ``<bag>_<i>.mcap`` or ``.<bag>_<i>.inprogress``; None if absent."""
    return _split_name(name)[1]


def file_prefix(name: str) -> str:
    """
    Return the bag name a storage file was recorded under (``<bag>`` of ``<bag>_<i>.mcap``).

    A name without ``_<i>`` is its own prefix (its stem).
    """
    return _split_name(name)[0]


def name_pattern(prefixes: Iterable[str]) -> str:
    """Say how the files recorded under ``prefixes`` are named: ``session_<i>.mcap``."""
    return ', '.join(f'{prefix}_<i>.mcap' for prefix in sorted(prefixes))


def fsync_path(path: Path) -> None:
    """Flush a file or directory to the disk (best effort for directories)."""
    flags = os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    except OSError:
        if not path.is_dir():  # some filesystems cannot fsync directories
            raise
    finally:
        os.close(fd)


def remove_workdir(workdir: Path) -> None:
    """Remove an old-style work directory, ignoring what is already gone."""
    shutil.rmtree(workdir, ignore_errors=True)


@dataclass
class StorageFile:
    """An MCAP file being written, with its topics (channels) and types (schemas)."""

    path: Path
    writer: McapFileWriter
    opened: float = 0.0                                     # recorder clock at creation
    channels: Dict[str, int] = field(default_factory=dict)  # topic -> channel id
    schemas: Dict[str, int] = field(default_factory=dict)   # msgtype -> schema id

    @classmethod
    def create(cls, path: Path, *, fsync: bool = True, opened: float = 0.0) -> 'StorageFile':
        """Create ``path`` exclusively, mode 0600, with the MCAP magic and header."""
        return cls(path, McapFileWriter(path, fsync=fsync), opened)

    def declare(self, topic: str, msgtype: str, msgdef: str, qos: List[Qos]) -> None:
        """Add a topic (MCAP channel, and its type's schema the first time); no-op if known."""
        if topic in self.channels:
            return
        if msgtype not in self.schemas:
            self.schemas[msgtype] = self.writer.add_schema(msgtype, msgdef)
        # rosbag2_storage_mcap keeps each topic's offered QoS in the channel metadata,
        # in the same (v8: string) form as metadata.yaml.
        self.channels[topic] = self.writer.add_channel(
            topic, self.schemas[msgtype], {'offered_qos_profiles': dump_qos_v8(qos)})

    def write(self, topic: str, timestamp_ns: int, data: bytes) -> None:
        """Buffer one message of a declared topic."""
        self.writer.write(self.channels[topic], timestamp_ns, data)

    @property
    def message_count(self) -> int:
        """Messages written to this file, pending ones included."""
        return sum(c.message_count for c in self.writer.channels.values())

    def topic_counts(self) -> Dict[str, int]:
        """Messages per topic, pending ones included."""
        return {topic: self.writer.channels[cid].message_count
                for topic, cid in self.channels.items()}

    def entry(self) -> FileEntry:
        """Return the metadata.yaml entry of the messages appended so far (not those pending)."""
        writer = self.writer
        count = self.message_count - writer.pending_messages
        return FileEntry(self.path.name, writer.message_start if count else 0,
                         writer.message_end if count else 0, count)

    def close(self) -> FileEntry:
        """Write everything, the summary and footer; return the file's metadata entry."""
        self.writer.close()
        return self.entry()
