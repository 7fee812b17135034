"""One storage file of a split bag, written through ``rosbags.rosbag2.Writer``.

rosbags' Writer creates a *new directory* holding ``<dir>.mcap`` and a
``metadata.yaml``, and only makes the MCAP readable (summary, footer) on close.
Each chunk of a bag therefore gets its own hidden work directory inside the bag,
``.<bag>_<i>.inprogress/``; when the chunk is closed its complete MCAP file is
renamed to ``<bag>_<i>.mcap`` (rosbag2's own naming) and the work directory,
with rosbags' single-file metadata.yaml, is removed.  The bag's metadata.yaml is
rewritten by the caller afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import os
from pathlib import Path
import re
import shutil
from typing import Dict, List, Optional

from rosbags.interfaces import Connection, Qos
from rosbags.rosbag2 import StoragePlugin, Writer

from .metadata import BAG_VERSION, FileEntry

INPROGRESS_SUFFIX = '.inprogress'
_INDEX_RE = re.compile(r'_(\d+)$')


def chunk_name(bag: Path, index: int) -> str:
    """Return the final file name of chunk ``index`` (rosbag2 style ``<bag>_<i>.mcap``)."""
    return f'{bag.name}_{index}.mcap'


def workdir_for(bag: Path, index: int) -> Path:
    """Return the hidden work directory of chunk ``index``."""
    return bag / f'.{bag.name}_{index}{INPROGRESS_SUFFIX}'


def file_index(name: str) -> Optional[int]:
    """Chunk index from ``<bag>_<i>.mcap`` or ``.<bag>_<i>.inprogress``; None if absent."""
    stem = name
    for suffix in ('.mcap', INPROGRESS_SUFFIX):
        if stem.endswith(suffix):
            stem = stem[:-len(suffix)]
    match = _INDEX_RE.search(stem)
    return int(match.group(1)) if match else None


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
    """Remove a chunk's work directory, ignoring what is already gone."""
    shutil.rmtree(workdir, ignore_errors=True)


@dataclass
class ChunkFile:
    """An open chunk: a rosbags Writer plus the statistics metadata.yaml needs."""

    bag: Path
    index: int
    writer: Writer
    connections: Dict[str, Connection] = field(default_factory=dict)
    counts: Dict[str, int] = field(default_factory=dict)
    start_ns: int = 2**63 - 1
    end_ns: int = 0
    message_count: int = 0

    @classmethod
    def open(cls, bag: Path, index: int) -> 'ChunkFile':
        """Create the work directory and the MCAP file (0700 / 0600 regardless of umask)."""
        workdir = workdir_for(bag, index)
        remove_workdir(workdir)  # debris of an earlier failed attempt at this index
        writer = Writer(workdir, version=BAG_VERSION, storage_plugin=StoragePlugin.MCAP)
        writer.open()
        # rosbags creates them with 0755/0644 minus umask; the bag directory is
        # 0700 already, so nobody else could open them in between.
        os.chmod(workdir, 0o700)
        assert writer.storage is not None
        os.chmod(writer.storage.path, 0o600)
        return cls(bag=bag, index=index, writer=writer)

    def add_connection(self, topic: str, msgtype: str, msgdef: str, type_hash: str,
                       qos: List[Qos]) -> None:
        """Declare a topic in this file (MCAP channel + schema)."""
        self.connections[topic] = self.writer.add_connection(
            topic, msgtype, msgdef=msgdef, rihs01=type_hash, offered_qos_profiles=qos)
        self.counts.setdefault(topic, 0)

    def write(self, topic: str, timestamp_ns: int, data: bytes) -> None:
        """Append one message (kept in memory by rosbags until ~1 MiB or close)."""
        self.writer.write(self.connections[topic], timestamp_ns, data)
        self.counts[topic] += 1
        self.message_count += 1
        self.start_ns = min(self.start_ns, timestamp_ns)
        self.end_ns = max(self.end_ns, timestamp_ns)

    def finish(self, fsync: bool = True) -> FileEntry:
        """Close the MCAP (summary + footer), move it into the bag, drop the work dir."""
        self.writer.close()
        assert self.writer.storage is None
        workdir = workdir_for(self.bag, self.index)
        src = workdir / f'{workdir.name}.mcap'
        dst = self.bag / chunk_name(self.bag, self.index)
        if fsync:
            fsync_path(src)
        os.replace(src, dst)
        if fsync:
            fsync_path(self.bag)
        remove_workdir(workdir)
        return FileEntry(dst.name, self.start_ns if self.message_count else 0,
                         self.end_ns, self.message_count)

    def abort(self) -> None:
        """Drop the chunk and its work directory (after an I/O error)."""
        try:
            self.writer.abort()
        except Exception:  # noqa: B902 - cleanup after an error must not raise
            pass
        remove_workdir(workdir_for(self.bag, self.index))
