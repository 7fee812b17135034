"""``rep-coach repair`` on bags a killed recorder left behind, and on bad input."""

from __future__ import annotations

import json
from pathlib import Path
import re
from typing import Tuple
import warnings

from bag_helpers import record_and_kill
import numpy as np
import pytest
from rep_coach.bagio import BagRecorder, BagRecoveryWarning, load_metadata, read_bag
from rep_coach.bagio.types import default_typestore
from rep_coach.cli import main
from rosbags.highlevel import AnyReader

#: What the killed recorder had flushed (see bag_helpers).
FLUSHED = [f'm{i}' for i in range(40)]
STRING = 'std_msgs/msg/String'


def cut_bag(tmp_path: Path) -> Tuple[Path, int]:
    """
    Return a killed recorder's bag whose open file is also cut inside its last chunk.

    The second number is how many messages remain readable (the last chunk is lost).
    """
    bag = tmp_path / 'killed'
    record_and_kill(bag)
    open_file = bag / 'killed_1.mcap'
    data = open_file.read_bytes()
    # As if the power went during the last append: its chunk (m30-m39) is incomplete.
    open_file.write_bytes(data[:data.rindex(b'm35')])
    return bag, 30


def repair(capsys: pytest.CaptureFixture, *argv: str) -> Tuple[int, str, str]:
    """Run ``rep-coach repair ARGV``; return the exit status, stdout and stderr."""
    code = main(['repair', *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def anyreader_texts(bag: Path) -> list:
    """Return the String messages of ``bag`` through rosbags, which needs a complete bag."""
    with AnyReader([bag]) as reader:
        return [reader.deserialize(raw, c.msgtype).data for c, _, raw in reader.messages()]


def test_repair_recovers_a_cut_recording_and_says_what_was_lost(
        tmp_path: Path, capsys: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture) -> None:
    bag, readable = cut_bag(tmp_path)
    code, out, err = repair(capsys, str(bag))
    assert code == 0, err
    assert re.fullmatch(f'{re.escape(str(bag))}: 2 files, {readable} messages; 1 files '
                        r'recovered, 0 removed, \d+ bytes lost; the old metadata.yaml kept '
                        r'as metadata.yaml.orig\n', out), out
    assert any(r.levelname == 'WARNING' and 'killed_1.mcap: truncated; recovered 10 messages'
               in r.getMessage() for r in caplog.records), caplog.text
    # Complete now: rosbags reads it, and our reader finds nothing to warn about.
    assert anyreader_texts(bag) == FLUSHED[:readable]
    with warnings.catch_warnings():
        warnings.simplefilter('error', BagRecoveryWarning)
        assert len(list(read_bag(bag, raw=True))) == readable
    # A second run finds a healthy bag, says so and leaves it as it was.
    before = {p.name: p.read_bytes() for p in bag.iterdir()}
    code, out, err = repair(capsys, str(bag))
    assert code == 0 and out.strip().endswith('; nothing needed repair'), (out, err)
    assert {p.name: p.read_bytes() for p in bag.iterdir()} == before


def test_repair_json_report(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bag = tmp_path / 'killed'
    record_and_kill(bag)           # the open file is unfinished but whole: nothing lost
    code, out, err = repair(capsys, str(bag), '--json')
    assert code == 0, err
    report = json.loads(out)
    assert report == {'path': str(bag), 'changed': True, 'repaired': True,
                      'files': ['killed_0.mcap', 'killed_1.mcap'],
                      'recovered': ['killed_1.mcap'], 'removed': [], 'unreadable': [],
                      'missing': [], 'foreign': [], 'message_count': 40,
                      'listed_messages': 20, 'lost_messages': 0,   # the open file: listed 0
                      'lost_bytes': 0, 'metadata_rebuilt': True,
                      'metadata_backup': 'metadata.yaml.orig',
                      'warnings': report['warnings']}
    assert len(report['warnings']) == 1 and 'not finalised' in report['warnings'][0]
    assert anyreader_texts(bag) == FLUSHED
    code, out, _ = repair(capsys, str(bag), '--json')
    assert code == 0 and json.loads(out)['changed'] is False


def test_repair_names_the_culprit_of_bad_input(tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    missing = tmp_path / 'nope'
    code, out, err = repair(capsys, str(missing))
    assert (code, out) == (2, '') and f'{missing}: bag directory does not exist' in err
    # --json: the error as an object on stdout too, for a caller that parses it.
    code, out, err = repair(capsys, str(missing), '--json')
    assert code == 2 and json.loads(out) == {'error': f'{missing}: bag directory does not exist'}
    assert err.strip() == f'rep-coach repair: {missing}: bag directory does not exist'
    a_file = tmp_path / 'notes.txt'
    a_file.write_text('x')
    code, _, err = repair(capsys, str(a_file))
    assert code == 2 and f'{a_file}: not a bag directory' in err
    # The directory the bags are recorded in, not a bag: named, and left untouched.
    BagRecorder(tmp_path / 'bags' / 'session_1', {}).close()
    code, _, err = repair(capsys, str(tmp_path / 'bags'))
    assert code == 2 and 'holds the bags session_1: name one' in err, err
    assert sorted(p.name for p in (tmp_path / 'bags').iterdir()) == ['session_1']
    # Another storage than MCAP is refused, its metadata.yaml unchanged.
    sqlite = tmp_path / 'sqlite_bag'
    BagRecorder(sqlite, {}).close()
    meta = sqlite / 'metadata.yaml'
    meta.write_text(meta.read_text().replace('storage_identifier: mcap',
                                             'storage_identifier: sqlite3'))
    before = meta.read_bytes()
    code, _, err = repair(capsys, str(sqlite))
    assert code == 2 and "storage 'sqlite3', not MCAP" in err
    assert meta.read_bytes() == before


def test_read_errors_tell_the_user_the_repair_command(tmp_path: Path) -> None:
    bag = tmp_path / 'my bag'
    BagRecorder(bag, {}).close()
    (bag / 'metadata.yaml').write_text('rosbag2_bagfile_information: [')
    with pytest.raises(Exception, match=r"not valid YAML.*\(rep-coach repair '.*my bag' "):
        load_metadata(bag)
    (bag / 'metadata.yaml').unlink()
    (bag / 'my bag_0.mcap').write_bytes(b'')    # its recorder died: a storage file, no list
    with pytest.raises(Exception, match=r'metadata.yaml is missing .*run: rep-coach repair '):
        load_metadata(bag)
    killed = tmp_path / 'killed'
    record_and_kill(killed)
    with pytest.warns(BagRecoveryWarning,
                      match=f'not finalised.*rep-coach repair {killed} finalises it'):
        list(read_bag(killed, raw=True))


def test_help_says_what_is_recovered_and_what_is_not(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(['repair', '--help'])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert 'What it recovers:' in text and 'What it cannot recover:' in text
    assert 'exit status: 0' in text


def closed_bag(bag: Path, files: int = 1) -> Path:
    """Record a cleanly closed bag of ``files`` files, each 30 messages in 3 chunks."""
    store = default_typestore()
    rec = BagRecorder(bag, {'/reps': (STRING, 'events')}, flush_interval_s=3600,
                      max_file_duration_s=3600)
    for i in range(30 * files):
        rec.write('/reps', i, bytes(store.serialize_cdr(store.types[STRING](f'm{i}'), STRING)))
        if i % 10 == 9:
            if i % 30 == 29:
                rec.max_file_duration_s = 1e-9   # rotate at this flush: one file per 30
            rec.flush()
            rec.max_file_duration_s = 3600
    rec.close()
    return bag


def snapshot(bag: Path) -> dict:
    """Every file of ``bag`` by name, with its bytes."""
    return {p.name: p.read_bytes() for p in bag.iterdir()}


def test_repair_salvages_a_file_whose_magic_is_damaged(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bag = closed_bag(tmp_path / 'session')
    with open(bag / 'session_0.mcap', 'r+b') as stream:
        stream.write(b'XXXX')                      # half the MCAP magic
    code, out, err = repair(capsys, str(bag), '--json')
    assert code == 0, err
    report = json.loads(out)
    assert (report['recovered'], report['removed'], report['unreadable'],
            report['message_count'], report['lost_bytes']) == (['session_0.mcap'], [], [], 30, 0)
    assert len([w for w in report['warnings'] if 'bad MCAP magic' in w]) == 1, report['warnings']
    assert anyreader_texts(bag) == [f'm{i}' for i in range(30)]


def test_repair_keeps_a_file_of_which_nothing_is_readable(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bag = closed_bag(tmp_path / 'session', files=2)
    noise = bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8))
    (bag / 'session_0.mcap').write_bytes(noise)
    (bag / 'session_2.mcap').write_bytes(b'')      # created, nothing written: deleted
    code, out, err = repair(capsys, str(bag), '--json')
    assert code == 2, err
    report = json.loads(out)
    assert report['repaired'] is False and report['unreadable'] == ['session_0.mcap']
    assert report['removed'] == ['session_2.mcap'] and report['files'] == ['session_1.mcap']
    assert any(w.startswith('session_0.mcap: nothing readable') for w in report['warnings'])
    assert (bag / 'session_0.mcap').read_bytes() == noise
    assert anyreader_texts(bag) == [f'm{i}' for i in range(30, 60)]
    # No readable file left at all: every file and metadata.yaml stay as they were.
    (bag / 'session_1.mcap').write_bytes(noise)
    before = snapshot(bag)
    code, out, err = repair(capsys, str(bag))
    assert code == 2 and 'NOT repaired' in out, (out, err)
    assert snapshot(bag) == before


def test_repair_counts_the_bytes_lost_after_a_damaged_chunk(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    mcap_reader = pytest.importorskip('mcap.reader')
    bag = closed_bag(tmp_path / 'session')
    path = bag / 'session_0.mcap'
    data = bytearray(path.read_bytes())
    with open(path, 'rb') as stream:
        chunks = mcap_reader.make_reader(stream).get_summary().chunk_indexes
    second = chunks[1].chunk_start_offset
    data[data.index(b'm15')] ^= 0xFF                # the index is intact, the CRC is not
    path.write_bytes(bytes(data))
    code, out, err = repair(capsys, str(bag), '--json')
    assert code == 0, err
    report = json.loads(out)
    # From the damaged chunk to the end of the file: none of it is in the repaired file.
    assert report['lost_bytes'] == len(data) - second > 0
    assert report['message_count'] == 10 and report['recovered'] == ['session_0.mcap']
    assert any(f'lost {len(data) - second} bytes' in w for w in report['warnings'])
    assert anyreader_texts(bag) == [f'm{i}' for i in range(10)]


def test_repair_leaves_files_of_another_recording_alone(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    other = closed_bag(tmp_path / 'other')
    bag = closed_bag(tmp_path / 'mine')
    foreign = (other / 'other_0.mcap').read_bytes()
    (bag / 'other_0.mcap').write_bytes(foreign)
    before = (bag / 'metadata.yaml').read_bytes()
    code, out, err = repair(capsys, str(bag), '--json')
    assert code == 0, err
    report = json.loads(out)
    assert (report['files'], report['foreign'], report['message_count'],
            report['changed']) == (['mine_0.mcap'], ['other_0.mcap'], 30, False)
    assert any(w.startswith('other_0.mcap: not a file of this bag') for w in report['warnings'])
    assert (bag / 'metadata.yaml').read_bytes() == before
    assert (bag / 'other_0.mcap').read_bytes() == foreign
    # A renamed bag directory keeps its files' name: they are still its own.
    renamed = bag.rename(tmp_path / 'renamed')
    (renamed / 'other_0.mcap').unlink()
    (renamed / 'metadata.yaml').unlink()
    code, out, err = repair(capsys, str(renamed), '--json')
    assert code == 0 and json.loads(out)['files'] == ['mine_0.mcap'], err
    # Without metadata.yaml, files of two recordings: which are the bag's is not guessed.
    (renamed / 'metadata.yaml').unlink()
    (renamed / 'other_0.mcap').write_bytes(foreign)
    before = snapshot(renamed)
    code, out, err = repair(capsys, str(renamed))
    assert (code, out) == (2, ''), err
    assert "'mine': mine_0.mcap; 'other': other_0.mcap" in err, err
    assert snapshot(renamed) == before


def test_repair_reports_a_listed_file_that_is_missing(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bag = closed_bag(tmp_path / 'session', files=2)
    (bag / 'session_1.mcap').unlink()
    code, out, err = repair(capsys, str(bag), '--json')
    assert code == 0, err
    report = json.loads(out)
    assert report['missing'] == ['session_1.mcap'] and report['files'] == ['session_0.mcap']
    assert any(w.startswith('session_1.mcap: listed in metadata.yaml but missing')
               for w in report['warnings']), report['warnings']
    # Nothing readable left: metadata.yaml keeps the record of what the bag held.
    (bag / 'session_0.mcap').unlink()
    before = snapshot(bag)
    code, out, err = repair(capsys, str(bag), '--json')
    assert code == 2, err
    assert json.loads(out)['missing'] == ['session_0.mcap']
    assert snapshot(bag) == before


def header_only(data: bytes) -> bytes:
    """Return the start of an MCAP file up to the end of its header record (no record after)."""
    header_length = int.from_bytes(data[9:17], 'little')   # magic, opcode, then the length
    return data[:17 + header_length]


@pytest.mark.parametrize('cut', [lambda data: b'', lambda data: data[:5], header_only],
                         ids=['0 bytes', 'part of the magic', 'header only'])
def test_an_empty_file_metadata_lists_messages_in_is_lost_not_removed(
        tmp_path: Path, capsys: pytest.CaptureFixture, cut) -> None:
    bag = closed_bag(tmp_path / 'session')
    path = bag / 'session_0.mcap'
    path.write_bytes(cut(path.read_bytes()))
    before = snapshot(bag)
    code, out, err = repair(capsys, str(bag), '--json')
    assert code == 2, err
    report = json.loads(out)
    assert (report['repaired'], report['missing'], report['removed'], report['listed_messages'],
            report['lost_messages']) == (False, ['session_0.mcap'], [], 30, 30), report
    assert any(w.startswith('session_0.mcap: listed in metadata.yaml with 30 messages but empty')
               for w in report['warnings']), report['warnings']
    # Its messages are listed nowhere else: metadata.yaml, and the file, stay as they were.
    assert snapshot(bag) == before


def test_an_empty_file_among_readable_ones_is_reported_lost(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bag = closed_bag(tmp_path / 'session', files=2)
    original = (bag / 'metadata.yaml').read_bytes()
    (bag / 'session_1.mcap').write_bytes(b'')
    code, out, err = repair(capsys, str(bag))
    assert code == 0, err
    assert out.endswith(', 1 missing, lost 30 of 60 messages listed; the old metadata.yaml '
                        'kept as metadata.yaml.orig\n'), out
    # Listed no more, so deleted; the count of what it held is in the kept metadata.yaml.
    assert sorted(p.name for p in bag.iterdir()) == ['metadata.yaml', 'metadata.yaml.orig',
                                                     'session_0.mcap']
    assert (bag / 'metadata.yaml.orig').read_bytes() == original
    assert anyreader_texts(bag) == [f'm{i}' for i in range(30)]


def test_the_file_a_killed_recorder_had_just_begun_is_removed_when_empty(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bag = tmp_path / 'killed'
    record_and_kill(bag)
    # Cut during its first chunk: as the recorder lists a file it begins, with 0 messages.
    (bag / 'killed_1.mcap').write_bytes(b'')
    assert load_metadata(bag).files[1].message_count == 0
    code, out, err = repair(capsys, str(bag), '--json')
    assert code == 0, err
    report = json.loads(out)
    assert (report['removed'], report['missing'], report['files'], report['lost_messages']) == \
        (['killed_1.mcap'], [], ['killed_0.mcap'], 0), report
    assert anyreader_texts(bag) == FLUSHED[:20]


def test_repair_says_how_many_listed_messages_were_lost_and_keeps_the_old_metadata(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bag = closed_bag(tmp_path / 'session')
    original = (bag / 'metadata.yaml').read_bytes()
    path = bag / 'session_0.mcap'
    data = path.read_bytes()
    path.write_bytes(data[:data.index(b'm15')])     # the second chunk is cut: m10-m29 lost
    code, out, err = repair(capsys, str(bag))
    assert code == 0, err
    assert re.fullmatch(f'{re.escape(str(bag))}: 1 files, 10 messages; 1 files recovered, '
                        r'0 removed, lost 20 of 30 messages listed, \d+ bytes lost; the old '
                        r'metadata.yaml kept as metadata.yaml.orig\n', out), out
    assert (bag / 'metadata.yaml.orig').read_bytes() == original
    assert load_metadata(bag).files[0].message_count == 10
    # Every reader takes the repaired bag as it is: the kept copy is not a storage file.
    with warnings.catch_warnings():
        warnings.simplefilter('error', BagRecoveryWarning)
        assert len(list(read_bag(bag, raw=True))) == 10
    # A later repair that rewrites metadata.yaml again keeps the first copy.
    meta = bag / 'metadata.yaml'
    meta.write_text(meta.read_text().replace('message_count: 10', 'message_count: 11'))
    code, out, err = repair(capsys, str(bag), '--json')
    report = json.loads(out)
    assert code == 0 and report['changed'] and report['metadata_backup'] is None, (out, err)
    assert (report['listed_messages'], report['lost_messages']) == (11, 1)
    assert (bag / 'metadata.yaml.orig').read_bytes() == original
