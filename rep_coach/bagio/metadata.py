"""
rosbag2 ``metadata.yaml``: build, write atomically, load with clear errors.

We write version 8 (see the package docstring of ``rep_coach.bagio`` and
docs/bags.md for why not 9).  The layout is exactly what ``rosbags`` 0.11.9's
own v8 writer produces, except ``custom_data`` is ``{}`` rather than ``null``
when empty: rosbag2 >= Iron decodes that key as a map for versions >= 6 and a
YAML null is not one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from io import StringIO
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from rosbags.interfaces import Qos
from rosbags.rosbag2.errors import ReaderError
from rosbags.rosbag2.metadata import dump_qos_v8, parse_qos
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from .errors import BagReadError, BagWriteError, repair_command

#: rosbag2 metadata version written; Humble reads it, version 9 it cannot.
BAG_VERSION = 8
STORAGE_ID = 'mcap'
METADATA_NAME = 'metadata.yaml'
#: Message definitions and hashes come from rosbags' Humble type store.
ROS_DISTRO = 'humble'


@dataclass
class TopicEntry:
    """One topic of a bag."""

    name: str
    msgtype: str
    qos: List[Qos] = field(default_factory=list)
    type_hash: str = ''
    message_count: int = 0
    serialization_format: str = 'cdr'


@dataclass
class FileEntry:
    """One storage file of a bag; ``end_ns`` is the last message's timestamp."""

    path: str
    start_ns: int
    end_ns: int
    message_count: int


@dataclass
class BagMetadata:
    """The parts of metadata.yaml rep_coach uses."""

    version: int
    storage_identifier: str
    topics: List[TopicEntry]
    files: List[FileEntry]
    relative_file_paths: List[str]
    custom_data: Dict[str, str] = field(default_factory=dict)
    ros_distro: str = ''


def build_metadata(topics: List[TopicEntry], files: List[FileEntry],
                   custom_data: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    """Return the metadata.yaml document for a version-8 MCAP bag."""
    counted = [f for f in files if f.message_count]
    start = min((f.start_ns for f in counted), default=0)
    end = max((f.end_ns for f in counted), default=0)
    info = {
        'version': BAG_VERSION,
        'storage_identifier': STORAGE_ID,
        'relative_file_paths': [f.path for f in files],
        'duration': {'nanoseconds': max(0, end - start)},
        'starting_time': {'nanoseconds_since_epoch': start},
        'message_count': sum(f.message_count for f in files),
        'topics_with_message_count': [
            {'topic_metadata': {
                'name': t.name,
                'type': t.msgtype,
                'serialization_format': t.serialization_format,
                # v8 (Humble style): a YAML document *inside a string*, integer enums.
                'offered_qos_profiles': dump_qos_v8(t.qos),
                'type_description_hash': t.type_hash},
             'message_count': t.message_count}
            for t in topics],
        'compression_format': '',
        'compression_mode': '',
        'files': [
            {'path': f.path,
             'starting_time': {'nanoseconds_since_epoch': f.start_ns},
             'duration': {'nanoseconds': max(0, f.end_ns - f.start_ns)},
             'message_count': f.message_count}
            for f in files],
        'custom_data': dict(custom_data or {}),
        'ros_distro': ROS_DISTRO,
    }
    return {'rosbag2_bagfile_information': info}


def dump_yaml(doc: Dict[str, Any]) -> str:
    """Serialise like rosbags does (block style, safe dumper), without line folding."""
    yaml = YAML(typ='safe')
    yaml.default_flow_style = False
    yaml.width = 4096  # no folded lines: easier on humans, grep and yaml-cpp alike
    out = StringIO()
    yaml.dump(doc, out)
    return out.getvalue()


def write_private_file(path: Path, data: bytes, fsync: bool = True) -> None:
    """
    Atomically replace ``path`` with ``data``, mode 0600 whatever the umask.

    Written to a temporary sibling, flushed, then renamed over ``path``: a
    reader (or a SIGKILL) sees either the old or the new file, never half of it.
    """
    tmp = path.with_name(f'.{path.name}.tmp')
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)  # O_CREAT's mode is filtered by the umask
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise BagWriteError(path.parent, f'cannot write {path.name}: {exc.strerror or exc}') \
            from None


def write_metadata(bag: Path, doc: Dict[str, Any], fsync: bool = True) -> None:
    """Atomically (re)write ``bag/metadata.yaml``."""
    write_private_file(bag / METADATA_NAME, dump_yaml(doc).encode('utf8'), fsync=fsync)


def _unusable(bag: Path, problem: str) -> BagReadError:
    """Return the error for a garbled metadata.yaml, which a repair rebuilds from the files."""
    return BagReadError(bag, problem,
                        advice=f'{repair_command(bag)} rebuilds it from the storage files')


def bags_in(directory: Union[str, Path]) -> List[Path]:
    """
    Return the bags directly inside ``directory``, by name.

    A bag is a subdirectory holding metadata.yaml or an .mcap file (a bag whose
    recorder died before listing it has only the latter).
    """
    return sorted(e for e in Path(directory).iterdir()
                  if e.is_dir() and ((e / METADATA_NAME).is_file() or any(e.glob('*.mcap'))))


def _without_metadata(bag: Path) -> BagReadError:
    """
    Say what a directory without metadata.yaml is: a cut recording, bags, or neither.

    Only a directory with storage files is a bag a repair can complete; pointing at a
    directory of bags, an empty one or a dataset with that advice sent users to a
    repair that then refused.
    """
    from .storagefile import INPROGRESS_SUFFIX   # it imports this module
    if any(bag.glob('*.mcap')) or any(bag.glob(f'.*{INPROGRESS_SUFFIX}')):
        return BagReadError(bag, f'{METADATA_NAME} is missing (did the recorder die?)',
                            advice=f'run: {repair_command(bag)}')
    inside = bags_in(bag)
    if inside:
        names = ', '.join(p.name for p in inside[:3]) + (', ...' if len(inside) > 3 else '')
        return BagReadError(bag, f'not a bag but a directory of {len(inside)} bag(s) '
                                 f'({names}): name one')
    return BagReadError(bag, f'not a bag: no {METADATA_NAME} and no .mcap file')


def load_metadata(bag: Union[str, Path]) -> BagMetadata:
    """Load and validate ``bag/metadata.yaml``; raise BagReadError naming what is wrong."""
    bag = Path(bag)
    if not bag.exists():
        raise BagReadError(bag, 'bag does not exist')
    if not bag.is_dir():
        raise BagReadError(bag, 'not a bag directory (rosbag2 bags are directories)')
    meta_path = bag / METADATA_NAME
    if not meta_path.exists():
        raise _without_metadata(bag)
    try:
        doc = YAML(typ='safe').load(meta_path.read_text('utf8'))
    except (OSError, UnicodeDecodeError) as exc:
        raise BagReadError(bag, f'cannot read {METADATA_NAME}: {exc}') from None
    except YAMLError as exc:
        where = getattr(exc, 'problem_mark', None)
        line = f' at line {where.line + 1}' if where is not None else ''
        raise _unusable(bag, f'{METADATA_NAME} is not valid YAML{line}') from None
    info = doc.get('rosbag2_bagfile_information') if isinstance(doc, dict) else None
    if not isinstance(info, dict):
        raise _unusable(bag, f'{METADATA_NAME} has no rosbag2_bagfile_information mapping')
    key = 'rosbag2_bagfile_information'
    try:
        key = 'version'
        version = int(info['version'])
        if version > 9:
            raise BagReadError(bag, f'{METADATA_NAME}: rosbag2 version {version} is newer '
                                    'than this reader knows (<= 9)')
        key = 'storage_identifier'
        storage = str(info['storage_identifier'])
        key = 'relative_file_paths'
        rel = [Path(str(p)).name for p in info['relative_file_paths'] or []]
        key = 'files'
        files = [FileEntry(path=Path(str(f['path'])).name,
                           start_ns=int(f['starting_time']['nanoseconds_since_epoch']),
                           end_ns=int(f['starting_time']['nanoseconds_since_epoch'])
                           + int(f['duration']['nanoseconds']),
                           message_count=int(f['message_count']))
                 for f in info.get('files') or []]
        key = 'topics_with_message_count'
        topics = []
        for item in info['topics_with_message_count'] or []:
            tmeta = item['topic_metadata']
            topics.append(TopicEntry(
                name=str(tmeta['name']), msgtype=str(tmeta['type']),
                qos=parse_qos(tmeta.get('offered_qos_profiles') or []),
                type_hash=str(tmeta.get('type_description_hash') or ''),
                message_count=int(item['message_count']),
                serialization_format=str(tmeta.get('serialization_format', 'cdr'))))
        key = 'custom_data'
        custom = {str(k): str(v) for k, v in dict(info.get('custom_data') or {}).items()}
    except BagReadError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, ReaderError) as exc:
        raise _unusable(bag, f'{METADATA_NAME}: field {key!r} is missing or malformed '
                             f'({exc!r})') from None
    if not files:
        # Versions < 5 have no per-file entries; the reader needs only the names.
        files = [FileEntry(p, 0, 0, 0) for p in rel]
    return BagMetadata(version=version, storage_identifier=storage, topics=topics,
                       files=files, relative_file_paths=rel, custom_data=custom,
                       ros_distro=str(info.get('ros_distro') or ''))
