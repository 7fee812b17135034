"""Tests of rep_coach.bagio: recording, reading, permissions, errors, crash recovery."""

from __future__ import annotations

import errno
import os
from pathlib import Path
import stat
from typing import Any, Iterator, List
import warnings

from bag_helpers import record_and_kill
import numpy as np
import pytest
from rep_coach.bagio import (BagError, BagExistsError, BagReadError, BagRecorder,
                             BagRecoveryWarning, BagWriteError, load_metadata, QosSpec,
                             read_bag, repair_bag)
from rep_coach.bagio.errors import repair_command
from rep_coach.bagio.mcapwriter import MAGIC as MCAP_MAGIC
from rep_coach.bagio.types import default_typestore
from rosbags.highlevel import AnyReader
from ruamel.yaml import YAML

IMU = 'sensor_msgs/msg/Imu'
STRING = 'std_msgs/msg/String'
TOPICS = {'/imu/data_raw': (IMU, 'sensor_data'), '/reps': (STRING, 'events')}


def imu_msg(i: int) -> Any:
    """Return a rosbags Imu message whose values encode ``i``."""
    t = default_typestore().types
    return t[IMU](t['std_msgs/msg/Header'](t['builtin_interfaces/msg/Time'](i, 0), 'wrist'),
                  t['geometry_msgs/msg/Quaternion'](0.0, 0.0, 0.0, 1.0),
                  np.array([-1.0] + [0.0] * 8),
                  t['geometry_msgs/msg/Vector3'](0.1 * i, 0.0, 0.0), np.zeros(9),
                  t['geometry_msgs/msg/Vector3'](0.0, 0.0, 9.81), np.zeros(9))


def string_cdr(text: str) -> bytes:
    """Return CDR bytes of a std_msgs/String."""
    store = default_typestore()
    return bytes(store.serialize_cdr(store.types[STRING](text), STRING))


class FakeClock:
    """A recorder clock the test moves by hand (no sleeping, no timing in assertions)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def record_sample(path: Path, **kwargs: Any) -> BagRecorder:
    """Record 10 IMU messages, rotate to a second file, 3 rep strings and a late topic; close."""
    clock = FakeClock()
    rec = BagRecorder(path, TOPICS, flush_interval_s=3600, max_file_duration_s=60,
                      clock=clock, **kwargs)
    for i in range(10):
        rec.write('/imu/data_raw', 1_000_000_000 + i * 10_000_000, imu_msg(i))
    clock.now = 60.0
    rec.flush()          # the file is 60 s old: finalised, the next message begins another
    for i in range(3):
        rec.write('/reps', 1_050_000_000 + i, string_cdr(f'rep {i}'))
    rec.write('/feedback', 1_200_000_000, string_cdr('stop'), msgtype=STRING, qos='events')
    rec.close()
    return rec


def _mcap_readers(bag: Path) -> Iterator[Any]:
    """Yield the ``mcap`` library's CRC-checking reader of each listed file, in order."""
    mcap_reader = pytest.importorskip('mcap.reader')
    for name in load_metadata(bag).relative_file_paths:
        with open(bag / name, 'rb') as stream:
            yield mcap_reader.make_reader(stream, validate_crcs=True)


def mcap_summaries(bag: Path) -> List[Any]:
    """Return the summary of each listed file as the ``mcap`` library reads it."""
    return [reader.get_summary() for reader in _mcap_readers(bag)]


def mcap_messages(bag: Path) -> List[bytes]:
    """Every message's data through the ``mcap`` library's indexed reader, file by file."""
    return [message.data for reader in _mcap_readers(bag)
            for _, _, message in reader.iter_messages()]


def anyreader_messages(path: Path) -> List[Any]:
    """All messages of a bag through rosbags' AnyReader, as (topic, ts, message)."""
    with AnyReader([path]) as reader:
        return [(c.topic, ts, reader.deserialize(raw, c.msgtype))
                for c, ts, raw in reader.messages()]


def test_roundtrip_anyreader_counts_content_qos(tmp_path: Path) -> None:
    bag = tmp_path / 'session'
    rec = record_sample(bag)
    assert rec.stats.flushed == 14 and rec.stats.files == 2
    msgs = anyreader_messages(bag)
    assert len(msgs) == 14
    imu = [m for t, _, m in msgs if t == '/imu/data_raw']
    assert [m.header.stamp.sec for m in imu] == list(range(10))
    assert imu[3].angular_velocity.x == pytest.approx(0.3)
    assert [m.data for t, _, m in msgs if t == '/reps'] == ['rep 0', 'rep 1', 'rep 2']
    with AnyReader([bag]) as reader:
        by_topic = {c.topic: c for c in reader.connections}
        assert by_topic['/imu/data_raw'].msgcount == 10
        assert by_topic['/feedback'].msgcount == 1
        qos = by_topic['/imu/data_raw'].ext.offered_qos_profiles
        assert QosSpec.from_rosbags(qos[0]) == QosSpec('best_effort', 'volatile',
                                                       'keep_last', 5)
        reps_qos = by_topic['/reps'].ext.offered_qos_profiles[0]
        assert QosSpec.from_rosbags(reps_qos).depth == 100
    # Our own reader agrees, merged in timestamp order across files (AnyReader reads a
    # split bag file after file).
    ours = list(read_bag(bag))
    assert sorted((m.topic, m.timestamp_ns) for m in ours) == \
        sorted((t, ts) for t, ts, _ in msgs)
    stamps = [m.timestamp_ns for m in ours]
    assert stamps == sorted(stamps)
    topic, msgtype, ts, message = ours[-1]
    assert (topic, msgtype, ts, message.data) == ('/feedback', STRING, 1_200_000_000, 'stop')
    assert [m.message.data for m in read_bag(bag, topics=['/reps'])] == \
        ['rep 0', 'rep 1', 'rep 2']
    # A third reader, with the MCAP summaries (indexes, statistics) and chunk CRCs checked.
    assert [s.statistics.message_count for s in mcap_summaries(bag)] == [10, 4]
    assert len(mcap_messages(bag)) == 14


def test_serialize_function_and_rejects_unserialisable(tmp_path: Path) -> None:
    calls = []

    def serialize(obj: Any) -> bytes:
        calls.append(obj)
        return string_cdr(obj['text'])

    rec = BagRecorder(tmp_path / 'b', {'/feedback': (STRING, 'events')}, serialize=serialize)
    rec.write('/feedback', 5, {'text': 'two left'})
    with pytest.raises(TypeError, match="topic '/x'"):
        BagRecorder(tmp_path / 'c', {'/x': (STRING, None)}).write('/x', 1, object())
    with pytest.raises(BagError, match='not declared'):
        rec.write('/nope', 7, b'\x00\x01\x00\x00')
    rec.close()
    assert calls and [m.message.data for m in read_bag(tmp_path / 'b')] == ['two left']


def test_metadata_is_version_8_humble_readable(tmp_path: Path) -> None:
    bag = tmp_path / 'session'
    record_sample(bag, custom_data={'namespace': 'station1'})
    info = YAML(typ='safe').load((bag / 'metadata.yaml').read_text())[
        'rosbag2_bagfile_information']
    assert info['version'] == 8
    assert info['storage_identifier'] == 'mcap'
    assert info['relative_file_paths'] == ['session_0.mcap', 'session_1.mcap']
    assert [f['path'] for f in info['files']] == info['relative_file_paths']
    assert [f['message_count'] for f in info['files']] == [10, 4]
    assert info['message_count'] == 14
    assert info['starting_time']['nanoseconds_since_epoch'] == 1_000_000_000
    assert info['duration']['nanoseconds'] == 200_000_000
    assert info['compression_format'] == '' and info['compression_mode'] == ''
    assert info['custom_data'] == {'namespace': 'station1'}
    assert isinstance(info['ros_distro'], str)
    topics = {t['topic_metadata']['name']: t for t in info['topics_with_message_count']}
    assert set(topics) == {'/imu/data_raw', '/reps', '/feedback'}
    meta = topics['/imu/data_raw']['topic_metadata']
    assert meta['type'] == IMU and meta['serialization_format'] == 'cdr'
    assert meta['type_description_hash'].startswith('RIHS01_')
    # Humble decodes offered_qos_profiles with as<std::string>(): it must be a string
    # holding a YAML list with rmw's integer enums (version 9 writes a list: Humble fails).
    assert isinstance(meta['offered_qos_profiles'], str)
    (profile,) = YAML(typ='safe').load(meta['offered_qos_profiles'])
    assert profile['reliability'] == 2 and profile['durability'] == 2  # best effort, volatile
    assert profile['history'] == 1 and profile['depth'] == 5             # keep last 5
    assert set(profile) == {'history', 'depth', 'reliability', 'durability', 'deadline',
                            'lifespan', 'liveliness', 'liveliness_lease_duration',
                            'avoid_ros_namespace_conventions'}
    loaded = load_metadata(bag)
    assert loaded.version == 8 and loaded.custom_data == {'namespace': 'station1'}


@pytest.mark.parametrize('umask', [0o000, 0o022])
def test_permissions_private_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        bag = tmp_path / 'new_parent' / 'session'
        record_sample(bag)
    finally:
        os.umask(old)
    assert stat.S_IMODE(bag.stat().st_mode) == 0o700
    assert stat.S_IMODE(bag.parent.stat().st_mode) == 0o700
    entries = list(bag.iterdir())
    assert entries and all(p.is_file() for p in entries)  # no work directories left
    for entry in entries:
        assert stat.S_IMODE(entry.stat().st_mode) == 0o600, entry


def test_existing_or_unwritable_directory_is_one_clear_error(tmp_path: Path) -> None:
    bag = tmp_path / 'session'
    bag.mkdir()
    with pytest.raises(BagExistsError, match=str(bag)):
        BagRecorder(bag, TOPICS)
    blocker = tmp_path / 'a_file'
    blocker.write_text('x')
    with pytest.raises(BagWriteError, match=str(blocker / 'bag')) as info:
        BagRecorder(blocker / 'bag', TOPICS)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    with pytest.raises(BagError, match='no/such'):
        BagRecorder(tmp_path / 'x', {'/t': ('no/such/Type', None)})
    assert not (tmp_path / 'x').exists()  # a bad topic leaves no bag behind


@pytest.mark.parametrize('finalise_fits', [True, False])
def test_disk_full_reports_once_and_keeps_flushed_data(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, finalise_fits: bool) -> None:
    bag = tmp_path / 'session'
    rec = BagRecorder(bag, TOPICS, flush_interval_s=3600)
    for i in range(5):
        rec.write('/imu/data_raw', i, imu_msg(i))
    rec.flush()
    flushed_size = (bag / 'session_0.mcap').stat().st_size
    from rep_coach.bagio import mcapwriter
    real_write_all = mcapwriter._write_all
    failures = []

    def full(fd: int, parts: Any) -> int:
        # The disk fills up in the middle of an append: half of it lands, then ENOSPC.
        if finalise_fits and failures:
            return real_write_all(fd, parts)
        data = b''.join(parts)
        os.write(fd, data[:len(data) // 2])
        failures.append(len(data))
        raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr(mcapwriter, '_write_all', full)
    for i in range(5, 8):
        assert rec.write('/imu/data_raw', i, imu_msg(i))
    with pytest.raises(BagWriteError, match='No space left') as info:
        rec.flush()
    assert str(bag) in str(info.value)
    # Afterwards: no more exceptions, messages counted as dropped.
    assert rec.write('/imu/data_raw', 9, imu_msg(9)) is False
    rec.flush()
    rec.close()
    monkeypatch.undo()
    assert rec.stats.dropped == 4 and rec.stats.flushed == 5
    expected = [imu_msg(i).header.stamp.sec for i in range(5)]
    if finalise_fits:
        # The half-written chunk was cut off again and the file finalised: a complete bag.
        assert [m.header.stamp.sec for _, _, m in anyreader_messages(bag)] == expected
        assert load_metadata(bag).files[0].message_count == 5
    else:
        # Not even the summary fitted: the file ends where the last flush ended, listed,
        # read by a scan with nothing lost, and finalised by repair once there is room.
        assert (bag / 'session_0.mcap').stat().st_size == flushed_size
        with pytest.warns(BagRecoveryWarning, match='not finalised.*nothing lost'):
            assert [m.message.header.stamp.sec for m in read_bag(bag)] == expected
        assert repair_bag(bag).message_count == 5
        assert [m.header.stamp.sec for _, _, m in anyreader_messages(bag)] == expected


def test_read_errors_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(BagReadError, match='does not exist'):
        read_bag(tmp_path / 'missing')
    bag = tmp_path / 'session'
    record_sample(bag)
    good = (bag / 'metadata.yaml').read_text()
    (bag / 'metadata.yaml').write_text('rosbag2_bagfile_information: [unclosed\n')
    with pytest.raises(BagReadError, match=f'{bag}.*not valid YAML'):
        read_bag(bag)
    (bag / 'metadata.yaml').write_text(good.replace('storage_identifier', 'storage_id'))
    with pytest.raises(BagReadError, match="'storage_identifier'"):
        read_bag(bag)
    (bag / 'metadata.yaml').write_text('just a string\n')
    with pytest.raises(BagReadError, match='rosbag2_bagfile_information'):
        read_bag(bag)
    (bag / 'metadata.yaml').unlink()
    with pytest.raises(BagReadError, match=f'{bag}.*metadata.yaml is missing'):
        read_bag(bag)


def test_a_directory_without_metadata_that_is_no_cut_bag_is_not_sent_to_repair(
        tmp_path: Path) -> None:
    # Only storage files make a cut recording that a repair completes.
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(BagReadError, match='not a bag: no metadata.yaml and no .mcap') as info:
        read_bag(empty)
    assert 'repair' not in str(info.value)
    BagRecorder(tmp_path / 'bag_a', {}).close()
    (empty / 'x.mcap').write_bytes(b'')     # a cut recording: a bag, as a repair sees it
    with pytest.raises(BagReadError, match=r'a directory of 2 bag\(s\) \(bag_a, empty\): name'):
        read_bag(tmp_path)
    with pytest.raises(BagReadError, match=r'metadata.yaml is missing .*run: rep-coach repair'):
        read_bag(empty)


def test_truncated_file_recovers_what_is_readable(tmp_path: Path) -> None:
    bag = tmp_path / 'session'
    rec = BagRecorder(bag, {'/image': ('sensor_msgs/msg/CompressedImage', 'reliable')},
                      flush_interval_s=3600)
    store = default_typestore()
    types = store.types
    for i in range(5):
        # ~600 kB each: the writer appends a chunk every ~1 MiB, giving several chunks.
        msg = types['sensor_msgs/msg/CompressedImage'](
            types['std_msgs/msg/Header'](types['builtin_interfaces/msg/Time'](i, 0), 'cam'),
            'jpeg', np.full(600_000, i, dtype=np.uint8))
        rec.write('/image', i, msg)
    rec.close()
    mcap = bag / 'session_0.mcap'
    data = mcap.read_bytes()
    mcap.write_bytes(data[:len(data) - 300_000])  # cut inside the last chunk
    with pytest.warns(BagRecoveryWarning, match='truncated; recovered 4 messages'):
        got = list(read_bag(bag))
    assert [m.timestamp_ns for m in got] == [0, 1, 2, 3]
    assert int(got[2].message.data[0]) == 2
    report = repair_bag(bag)
    assert report.recovered == ['session_0.mcap'] and report.message_count == 4
    assert [ts for _, ts, _ in anyreader_messages(bag)] == [0, 1, 2, 3]
    (bag / 'session_0.mcap').write_bytes(b'garbage')
    with pytest.raises(BagReadError, match='none of the storage files'):
        with pytest.warns(BagRecoveryWarning, match='unreadable'):
            read_bag(bag)


def test_repair_lists_a_file_begun_but_not_yet_listed(tmp_path: Path) -> None:
    bag = tmp_path / 'session'
    clock = FakeClock()
    rec = BagRecorder(bag, TOPICS, flush_interval_s=1, max_file_duration_s=10, clock=clock)
    rec.write('/reps', 1, string_cdr('a'))
    clock.now = 10.0
    rec.flush()                                    # rotation: session_0 finalised
    listed_one = (bag / 'metadata.yaml').read_bytes()
    rec.write('/reps', 2, string_cdr('b'))         # begins session_1
    rec.close()
    (bag / 'metadata.yaml').write_bytes(listed_one)  # as if killed before listing it
    with pytest.warns(BagRecoveryWarning, match='not closed cleanly'):
        assert len(list(read_bag(bag))) == 1
    (bag / 'other_0.mcap').write_bytes(b'')         # another recording's file: not ours
    with pytest.warns(BagRecoveryWarning) as caught:
        assert len(list(read_bag(bag))) == 1
    assert [str(w.message).split(': ', 1)[1] for w in caught] == [
        "recording was not closed cleanly; ignoring unlisted ['session_1.mcap'] "
        f'({repair_command(bag)} recovers what is readable of them)',
        "ignoring ['other_0.mcap']: not files of this recording (its files are "
        'session_<i>.mcap)']
    (bag / 'other_0.mcap').unlink()
    report = repair_bag(bag)
    assert report.files == ['session_0.mcap', 'session_1.mcap']
    assert [m.data for _, _, m in anyreader_messages(bag)] == ['a', 'b']
    assert repair_bag(bag).message_count == 2  # idempotent


def test_flush_appends_to_one_file_and_rotates_by_duration_and_size(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rep_coach.bagio import recorder as recorder_module
    rewrites = []
    real_write_metadata = recorder_module.write_metadata
    monkeypatch.setattr(recorder_module, 'write_metadata',
                        lambda *a, **k: rewrites.append(1) or real_write_metadata(*a, **k))
    bag = tmp_path / 'session'
    clock = FakeClock()
    rec = BagRecorder(bag, TOPICS, flush_interval_s=1.0, max_file_duration_s=30, clock=clock)
    written = 0

    def one_second(start: float) -> None:
        nonlocal written
        for k in range(10):                        # 10 Hz
            clock.now = start + k / 10
            rec.write('/imu/data_raw', written, imu_msg(written))
            written += 1

    for second in range(25):
        one_second(second)
        # Every flush makes what was written readable in the open file...
        assert rec.stats.flushed >= written - 10  # at most one interval (10 Hz) pending
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', BagRecoveryWarning)
            assert len(list(read_bag(bag, raw=True))) == rec.stats.flushed
    # ... without a file, or a metadata.yaml rewrite, per flush.
    assert sorted(p.name for p in bag.iterdir()) == ['metadata.yaml', 'session_0.mcap']
    assert len(rewrites) == 2                      # the empty bag, then session_0 begun
    assert not (bag / 'session_0.mcap').read_bytes().endswith(MCAP_MAGIC)  # no footer yet
    for second in range(25, 100):
        one_second(second)
    # A new file every 30 s, listed when begun and again when finalised.
    assert rec.stats.files == 4 and len(rewrites) == 2 + 2 * 3
    limit = (bag / 'session_0.mcap').stat().st_size // 2
    rec.max_file_size = limit
    for second in range(100, 160):
        one_second(second)
    rec.close()
    summaries = mcap_summaries(bag)
    assert all(s is not None for s in summaries) and len(summaries) >= 6
    assert sum(s.statistics.message_count for s in summaries) == written
    # Rotated by size at the first flush past the limit (a flush adds ~4 kB here; the
    # summary repeats the schemas).
    by_size = [(bag / f'session_{i}.mcap').stat().st_size for i in range(3, len(summaries) - 1)]
    assert by_size and all(limit <= size < limit + 16_384 for size in by_size), (limit, by_size)
    assert [m.timestamp_ns for m in read_bag(bag, raw=True)] == list(range(written))
    assert len(anyreader_messages(bag)) == written


def test_unfinished_file_damaged_in_the_middle_recovers_up_to_the_damage(
        tmp_path: Path) -> None:
    bag = tmp_path / 'session'
    rec = BagRecorder(bag, TOPICS, flush_interval_s=3600)
    for i in range(30):
        rec.write('/reps', i, string_cdr(f'message {i:02d}'))
        if i % 10 == 9:
            rec.flush()                            # three chunks of ten messages
    path = bag / 'session_0.mcap'
    data = bytearray(path.read_bytes())
    second_chunk = data.index(b'message 15')
    data[second_chunk] ^= 0xFF                     # e.g. a page lost in a power cut
    path.write_bytes(bytes(data))
    # The chunk CRC catches the damage: the first chunk is kept, the rest reported lost.
    with pytest.warns(BagRecoveryWarning, match='truncated; recovered 10 messages'):
        assert [m.timestamp_ns for m in read_bag(bag)] == list(range(10))
    report = repair_bag(bag)
    assert report.message_count == 10 and report.lost_bytes > 0
    assert len(anyreader_messages(bag)) == 10


def test_sigkill_loses_only_what_was_not_flushed(tmp_path: Path) -> None:
    bag = tmp_path / 'killed'
    assert record_and_kill(bag) == [['flushed', '40', '2'], ['pending', '20']]
    expected = [f'm{i}' for i in range(40)]
    # As the recorder left it: one finalised file and the open one, both listed, owner-only.
    names = load_metadata(bag).relative_file_paths
    assert names == ['killed_0.mcap', 'killed_1.mcap']
    assert (bag / names[0]).read_bytes().endswith(MCAP_MAGIC)
    assert not (bag / names[1]).read_bytes().endswith(MCAP_MAGIC)   # no summary, no footer
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in bag.iterdir())
    # Our reader reads every flushed message straight away (the open file by a scan).
    with pytest.warns(BagRecoveryWarning, match='killed_1.mcap: not finalised.*nothing lost'):
        assert [m.message.data for m in read_bag(bag)] == expected
    # Repair finalises the open file; then independent readers agree: rosbags...
    report = repair_bag(bag)
    assert report.message_count == 40 and report.recovered == ['killed_1.mcap']
    assert report.lost_bytes == 0
    assert [m.data for _, _, m in anyreader_messages(bag)] == expected
    # ... and the mcap package, through each file's summary (indexes, statistics).
    assert [s.statistics.message_count for s in mcap_summaries(bag)] == [20, 20]
    assert len(mcap_messages(bag)) == 40
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in bag.iterdir())
    # The recorder's metadata.yaml is kept beside the rewritten one, owner-only too.
    assert sorted(p.name for p in bag.iterdir()) == [*names, 'metadata.yaml',
                                                     'metadata.yaml.orig']
