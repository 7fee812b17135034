"""The thomas2025 loader: counts, units, header detection and clear errors."""

import json
import logging
import os
from pathlib import Path
import re
import subprocess
import sys

import numpy as np
import pytest

from rep_coach.cli import main
from rep_coach.core.evaluation import NEAR_FAILURE_RPE
from rep_coach.core.thomas2025 import (DatasetError, load_dataset, load_set, read_rep_indexes,
                                       read_trigno_csv, rpe_to_rir)

HEADER = ['Application:, Trigno Discover (1.6.5)', 'Date/Time:, 29/01/2025 10:22:21',
          'Collection Length (seconds):, 1.0', 'wrist (81457), , , , , , bicep (81139)',
          'sensor mode: 609, , , , , , sensor mode: 40',
          'ACC X (G), ACC Y (G), ACC Z (G), GYRO X (deg/s), GYRO Y (deg/s), GYRO Z (deg/s), '
          'EMG 1 (mV)',
          '370.3704 Hz, 370.3704 Hz, 370.3704 Hz, 370.3704 Hz, 370.3704 Hz, 370.3704 Hz, '
          '2148.1481 Hz']


def _write_layout(root: Path, rows: int = 400) -> None:
    (root / 'Raw Data').mkdir(parents=True)
    lines = list(HEADER)
    for i in range(rows):
        lines.append(f'1.0, 0.0, 0.0, 0.0, {57.29578 * np.sin(i / 50):.6f}, 0.0, 0.01')
    lines += [', , , , , , 0.02'] * 10  # EMG-only tail
    (root / 'Raw Data' / 'X001_5_1.csv').write_text('\n'.join(lines) + '\n')
    (root / 'rep_indexes_corrected.txt').write_text(
        'X001_5_1, [10, 150, 300], [80, 220], 2, 2\nX001_5_2, [1, 2], [1], 1, 1\n')
    (root / 'rpes.csv').write_text('X001_5_1\n2\n6\n9\n')


def _rename_set(root: Path, name: str, label_files: tuple = ('rep_indexes_corrected.txt',)
                ) -> None:
    """Give _write_layout's set X001_5_1 the name ``name``: its raw file and labels."""
    raw = root / 'Raw Data'
    (raw / 'X001_5_1.csv').rename(raw / f'{name}.csv')
    for label_file in label_files:
        path = root / label_file
        path.write_text(path.read_text().replace('X001_5_1', name))


def test_rpe_mapping_is_the_rir_scale() -> None:
    assert [rpe_to_rir(r) for r in (10, 9, 8, 7, 5)] == [0, 1, 2, 3, 3]
    # Near failure (RPE >= NEAR_FAILURE_RPE) is exactly RIR <= 2 on this scale.
    for rpe in (5, 6, 7, 7.5, 8, 8.5, 9, 10):
        assert (rpe >= NEAR_FAILURE_RPE) == (rpe_to_rir(rpe) <= 2)


def test_a_directory_in_the_layout_loads_with_si_units(tmp_path: Path) -> None:
    _write_layout(tmp_path)
    sets = load_dataset(tmp_path)
    assert [s.name for s in sets] == ['X001_5_1']  # X001_5_2 has no raw file: skipped
    rec = sets[0]
    assert rec.subject == 'X001' and rec.meta == {'load': 5.0, 'set': 1}
    assert len(rec.imu) == 400
    assert rec.rate_hz == pytest.approx(370.3704)
    assert rec.imu.accel[0, 0] == pytest.approx(9.80665)
    assert np.max(np.abs(rec.imu.gyro[:, 1])) == pytest.approx(1.0, abs=1e-3)  # rad/s
    reps = rec.sets[0].reps
    assert [r.rir for r in reps] == [3, 1]
    assert reps[0].start == pytest.approx(10 / 370.3704)
    assert reps[1].peak == pytest.approx(220 / 370.3704)


def test_malformed_rows_and_indexes_name_file_and_line(tmp_path: Path) -> None:
    _write_layout(tmp_path)
    csv_path = tmp_path / 'Raw Data' / 'X001_5_1.csv'
    lines = csv_path.read_text().splitlines()
    lines[20] = '1.0, zero, 0.0, 0.0, 0.0, 0.0, 0.0'
    csv_path.write_text('\n'.join(lines))
    with pytest.raises(DatasetError, match=r'X001_5_1.csv:21: malformed IMU row'):
        read_trigno_csv(csv_path)
    (tmp_path / 'rep_indexes_corrected.txt').write_text('X001_5_1, [10, 5], [3], 1, 1\n')
    with pytest.raises(DatasetError, match=r'rep_indexes_corrected.txt:1: boundaries'):
        read_rep_indexes(tmp_path / 'rep_indexes_corrected.txt')
    with pytest.raises(DatasetError, match='no header row'):
        (tmp_path / 'bad.csv').write_text('a,b\n1,2\n')
        read_trigno_csv(tmp_path / 'bad.csv')
    with pytest.raises(DatasetError, match='not a thomas2025-layout directory'):
        load_dataset(tmp_path / 'Raw Data')


def test_a_file_cut_in_its_last_row_loses_only_that_row(tmp_path: Path, caplog) -> None:
    _write_layout(tmp_path)
    csv_path = tmp_path / 'Raw Data' / 'X001_5_1.csv'
    # Cut inside the 300th IMU row: the rest of the file is gone.
    lines = csv_path.read_text().splitlines()[:len(HEADER) + 300]
    lines[-1] = '1.0, 0.0, 0.'
    csv_path.write_text('\n'.join(lines))
    with caplog.at_level(logging.WARNING, logger='rep_coach.core.thomas2025'):
        block, _ = read_trigno_csv(csv_path)
    assert len(block) == 299
    assert f'X001_5_1.csv:{len(HEADER) + 300}: last row cut short (3 fields' in caplog.text


def test_a_value_that_is_not_finite_names_file_line_and_column(tmp_path: Path) -> None:
    # Before: nan and inf cells were read as samples (float() takes them), even in the last
    # row, and silently spoilt the replay of the rest of the set.
    _write_layout(tmp_path)
    csv_path = tmp_path / 'Raw Data' / 'X001_5_1.csv'
    lines = csv_path.read_text().splitlines()
    for row, cell, column in ((20, 'nan', 'ACC Y'), (len(HEADER) + 399, 'inf', 'GYRO Z')):
        bad = list(lines)
        bad[row] = ', '.join(cell if name == column else '0.0' for name in
                             ('ACC X', 'ACC Y', 'ACC Z', 'GYRO X', 'GYRO Y', 'GYRO Z', 'EMG'))
        csv_path.write_text('\n'.join(bad[:len(HEADER) + 400]))   # the bad row last, once
        expected = f"X001_5_1.csv:{row + 1}: malformed IMU row: {column} is '{cell}', not a"
        with pytest.raises(DatasetError, match=re.escape(expected + ' finite number')):
            read_trigno_csv(csv_path)


def test_a_value_no_imu_measures_names_file_line_and_column(tmp_path: Path) -> None:
    # Before: such a value was read as a sample; the nodes' sample gate drops it, and in a
    # file it is damage, like a NaN.  The limits are the gate's: 16 g, 40 rad/s.
    _write_layout(tmp_path)
    csv_path = tmp_path / 'Raw Data' / 'X001_5_1.csv'
    lines = csv_path.read_text().splitlines()
    lines[30] = '1.0, 0.0, 0.0, 0.0, 2500.0, 0.0, 0.01'   # GYRO Y, deg/s
    lines[40] = '1.0, 16.5, 0.0, 0.0, 0.0, 0.0, 0.01'      # ACC Y, g
    csv_path.write_text('\n'.join(lines) + '\n')
    expected = ('X001_5_1.csv:31: malformed IMU row: GYRO Y is 2500 deg/s, beyond what an '
                'IMU measures (|a| <= 16 g and |w| <= 2292 deg/s on every axis)')
    with pytest.raises(DatasetError, match=re.escape(expected)):
        read_trigno_csv(csv_path)
    lines[30] = '1.0, 0.0, 0.0, 0.0, 2000.0, 0.0, 0.01'   # a Trigno's full range: a value
    csv_path.write_text('\n'.join(lines) + '\n')
    with pytest.raises(DatasetError, match=re.escape('X001_5_1.csv:41: malformed IMU row: '
                                                     'ACC Y is 16.5 g, beyond')):
        read_trigno_csv(csv_path)


def test_evaluate_scores_the_sets_it_can_read_and_lists_the_others(tmp_path: Path,
                                                                   capfd) -> None:
    _write_layout(tmp_path)
    raw = tmp_path / 'Raw Data'
    lines = (raw / 'X001_5_1.csv').read_text().splitlines()
    (raw / 'X001_5_2.csv').write_text('\n'.join(lines))
    (tmp_path / 'rep_indexes_corrected.txt').write_text(
        'X001_5_1, [10, 150, 300], [80, 220], 2, 2\nX001_5_2, [10, 150, 300], [80, 220], 2, 2\n')
    lines[20] = '1.0, zero, 0.0, 0.0, 0.0, 0.0, 0.0'
    (raw / 'X001_5_1.csv').write_text('\n'.join(lines))
    assert main(['evaluate', str(tmp_path), '--no-progress', '--json']) == 0
    out, err = capfd.readouterr()
    why = f"{raw / 'X001_5_1.csv'}:21: malformed IMU row: ACC Y is 'zero', not a number"
    assert json.loads(out)['skipped_sets'] == {'X001_5_1': why}
    assert json.loads(out)['n_sets'] == 1
    assert f'rep-coach evaluate: note: set X001_5_1 not scored: {why}' in err.splitlines()
    (raw / 'X001_5_2.csv').write_text('\n'.join(lines))
    assert main(['evaluate', str(tmp_path), '--no-progress']) == 2
    assert capfd.readouterr().err.splitlines() == [
        f'rep-coach evaluate: {tmp_path}: none of its 2 set(s) can be scored (first: {why})']
    with pytest.raises(DatasetError, match='malformed IMU row'):
        load_dataset(tmp_path)         # training's loader: stops on the set


def test_a_missing_set_file_is_named_not_the_index(tmp_path: Path) -> None:
    _write_layout(tmp_path)
    raw = tmp_path / 'Raw Data'
    # Named in the index, but its file is absent; and neither named nor present (a typo).
    for name, listed in (('X001_5_2', 'named in'), ('X001_5_9', 'not named either in')):
        with pytest.raises(DatasetError, match=re.escape(
                f'{raw / name}.csv: no such file (set {name!r}; {listed} '
                'rep_indexes_corrected.txt)')):
            load_set(tmp_path, name)
    # A file that exists but has no labels is the index's fault, and it is named.
    (raw / 'X001_5_3.csv').write_text((raw / 'X001_5_1.csv').read_text())
    with pytest.raises(DatasetError, match=re.escape(
            f"{tmp_path / 'rep_indexes_corrected.txt'}: no line for set 'X001_5_3'")):
        load_set(tmp_path, 'X001_5_3')


@pytest.mark.parametrize('index_line, rpes, words', [
    ('X001_5_1, [-5, 150, 300], [80, 220], 2, 2', None, 'negative sample index -5'),
    ('X001_5_1, [10, 150, 300], [80, 999], 2, 2', None, 'peak 999 of rep 2 lies outside'),
    ('X001_5_1, [10, 150, 300], [160, 220], 2, 2', None, 'peak 160 of rep 1 lies outside'),
    (None, 'X001_5_1\n2\nnan\n9\n', "RPE 'nan' of set X001_5_1"),
    (None, 'X001_5_1\n2\n6\n15\n', "RPE '15' of set X001_5_1"),
])
def test_bad_labels_are_a_dataset_error_naming_the_file(tmp_path: Path, index_line, rpes,
                                                        words) -> None:
    # Before: an IndexError, a ValueError deep in rpe_to_rir, or (negative index) a rep
    # whose start wrapped around past its end.
    _write_layout(tmp_path)
    if index_line:
        (tmp_path / 'rep_indexes_corrected.txt').write_text(index_line + '\n')
    if rpes:
        (tmp_path / 'rpes.csv').write_text(rpes)
    with pytest.raises(DatasetError, match=re.escape(words)) as info:
        load_dataset(tmp_path)
    assert ('rpes.csv' if rpes else 'rep_indexes_corrected.txt') in str(info.value)


def test_an_absent_rpe_file_is_a_warning_naming_it(tmp_path: Path, caplog) -> None:
    # Before: the reps silently had no RPE and every near-failure metric was "-".
    _write_layout(tmp_path)
    (tmp_path / 'rpes.csv').unlink()
    with caplog.at_level(logging.WARNING, logger='rep_coach.core.thomas2025'):
        sets = load_dataset(tmp_path)
    assert [r.rpe for r in sets[0].sets[0].reps] == [None, None]   # still labelled reps
    assert f'{tmp_path / "rpes.csv"}: no such file' in caplog.text
    assert 'near failure is not scored' in caplog.text


def test_an_rpe_file_that_cannot_be_read_is_an_error_as_a_malformed_one(tmp_path: Path) -> None:
    # Before: a directory named rpes.csv was taken for an absent file, silently.
    _write_layout(tmp_path)
    (tmp_path / 'rpes.csv').unlink()
    (tmp_path / 'rpes.csv').mkdir()
    with pytest.raises(DatasetError, match=re.escape(f'{tmp_path / "rpes.csv"}: cannot read')):
        load_dataset(tmp_path)


def test_evaluate_says_near_failure_is_not_scored_without_rpes(tmp_path: Path, caplog,
                                                               capfd) -> None:
    _write_layout(tmp_path)
    (tmp_path / 'rpes.csv').unlink()
    # The warning is logged (on stderr from the command line; caught by caplog here).
    with caplog.at_level(logging.WARNING):
        assert main(['evaluate', str(tmp_path), '--no-progress']) == 0
    assert 'rpes.csv: no such file; the reps carry no RPE' in caplog.text
    capfd.readouterr()
    (tmp_path / 'rpes.csv').mkdir()
    assert main(['evaluate', str(tmp_path), '--no-progress']) == 2
    err = capfd.readouterr().err.splitlines()
    assert err == [f'rep-coach evaluate: {tmp_path / "rpes.csv"}: cannot read '
                   '(Is a directory)']


def test_a_byte_order_mark_does_not_orphan_the_first_set(tmp_path: Path) -> None:
    # Before: the mark (Excel's "CSV UTF-8", Notepad) was glued to the first name, so
    # the first set of the index was skipped as having no raw file, and the first
    # column of rpes.csv lost its RPEs, both without a word.
    _write_layout(tmp_path)
    for name in ('rep_indexes_corrected.txt', 'rpes.csv'):
        path = tmp_path / name
        path.write_text('\ufeff' + path.read_text(), encoding='utf-8')
    sets = load_dataset(tmp_path)
    assert [s.name for s in sets] == ['X001_5_1']
    assert [r.rpe for r in sets[0].sets[0].reps] == [6.0, 9.0]
    # A set file re-saved without its preamble: the mark must not hide its header.
    raw = tmp_path / 'Raw Data' / 'X001_5_1.csv'
    lines = raw.read_text().splitlines()[len(HEADER) - 2:]
    raw.write_text('\ufeff' + '\r\n'.join(lines), encoding='utf-8')
    assert len(read_trigno_csv(raw)[0]) == 400


@pytest.mark.parametrize('name, line_no', [('rpes.csv', 3), ('rep_indexes_corrected.txt', 2)])
def test_a_label_file_not_in_utf8_is_named_with_its_line(tmp_path: Path, capfd, name: str,
                                                         line_no: int) -> None:
    # Before: "'utf-8' codec can't decode byte 0xe9 in position 12", naming no file.
    _write_layout(tmp_path)
    path = tmp_path / name
    lines = path.read_bytes().splitlines()
    lines[line_no - 1] += b' \xe9'       # Latin-1, as a Windows editor may save it
    path.write_bytes(b'\r\n'.join(lines))
    assert main(['evaluate', str(tmp_path), '--no-progress']) == 2
    assert capfd.readouterr().err.splitlines() == [
        f'rep-coach evaluate: {path}:{line_no}: not UTF-8 text (byte 0xe9); save it as UTF-8']


def test_a_count_field_at_odds_with_its_rpe_values_is_reported(tmp_path: Path,
                                                               caplog) -> None:
    # The README: trust the values (two shared sets carry one more), report any mismatch.
    # Before: the count row was never looked at, so nothing was said.
    _write_layout(tmp_path)
    (tmp_path / 'rpes.csv').write_text('X001_5_1\n1\n6\n9\n')
    with caplog.at_level(logging.WARNING, logger='rep_coach.core.thomas2025'):
        sets = load_dataset(tmp_path)
    assert [r.rpe for r in sets[0].sets[0].reps] == [6.0, 9.0]
    assert (f'{tmp_path / "rpes.csv"}: set X001_5_1: count field 1, but 2 RPE values; '
            'using the values') in caplog.text


@pytest.mark.parametrize('counts', ['3, 3', '2, 3', '2, two'])
def test_index_count_fields_at_odds_with_the_boundaries_are_reported(
        tmp_path: Path, caplog, counts: str) -> None:
    # Like rpes.csv's count row: the boundaries are used, the mismatch said.
    # Before: the N, N fields after the peaks were never looked at.
    _write_layout(tmp_path)
    index = tmp_path / 'rep_indexes_corrected.txt'
    index.write_text(index.read_text().replace('[80, 220], 2, 2', f'[80, 220], {counts}'))
    with caplog.at_level(logging.WARNING, logger='rep_coach.core.thomas2025'):
        sets = load_dataset(tmp_path)
    assert len(sets[0].sets[0].reps) == 2
    warning = (f'{index}:1: set X001_5_1: count field(s) {counts}, but 2 rep(s) between its '
               'boundaries; using the boundaries')
    assert warning in caplog.text


def test_an_index_count_mismatch_is_said_once_by_evaluate(tmp_path: Path, caplog) -> None:
    # evaluate reads the index three times (sets, subjects, the load): said once, per set.
    _write_layout(tmp_path)
    index = tmp_path / 'rep_indexes_corrected.txt'
    index.write_text(index.read_text().replace('[80, 220], 2, 2', '[80, 220], 3, 3'))
    with caplog.at_level(logging.WARNING, logger='rep_coach.core.thomas2025'):
        assert main(['evaluate', str(tmp_path), '--no-progress', '--subjects', 'X001']) == 0
    assert caplog.text.count('count field(s) 3, 3') == 1


def test_index_count_fields_that_agree_or_are_absent_say_nothing(tmp_path: Path,
                                                                 caplog) -> None:
    _write_layout(tmp_path)
    index = tmp_path / 'rep_indexes_corrected.txt'
    index.write_text(index.read_text() + 'X001_5_3, [1, 5, 9], [3, 7]\n')
    with caplog.at_level(logging.WARNING, logger='rep_coach.core.thomas2025'):
        load_dataset(tmp_path)
    assert 'count field' not in caplog.text


def test_a_set_that_rpes_csv_does_not_name_is_reported(tmp_path: Path, caplog) -> None:
    # Before: its reps silently had no RPE, so near failure left the set out unnoticed.
    _write_layout(tmp_path)
    (tmp_path / 'rpes.csv').write_text('X001-5-1\n2\n6\n9\n')
    with caplog.at_level(logging.WARNING, logger='rep_coach.core.thomas2025'):
        sets = load_dataset(tmp_path)
    assert [r.rpe for r in sets[0].sets[0].reps] == [None, None]
    assert ('X001_5_1: no RPE values in rpes.csv; its reps are scored for segmentation only'
            in caplog.text)


@pytest.mark.parametrize('subject', ['P-05', 'S_12', 'K12', 'ab1234'])
def test_a_subject_code_of_any_form_is_the_subject(tmp_path: Path, capfd, subject: str) -> None:
    # Before: only letters and digits were a subject; P-05's sets were scored under "?"
    # and --subjects P-05 said "DATA has no labelled sets".
    _write_layout(tmp_path)
    _rename_set(tmp_path, f'{subject}_7.5_1', ('rep_indexes_corrected.txt', 'rpes.csv'))
    rec, = load_dataset(tmp_path)
    assert rec.subject == subject and rec.meta == {'load': 7.5, 'set': 1}
    assert main(['evaluate', str(tmp_path), '--no-progress', '--json',
                 '--subjects', subject]) == 0
    assert list(json.loads(capfd.readouterr().out)['baseline']['per_subject']) == [subject]


def test_a_set_name_without_subject_load_and_set_is_reported(tmp_path: Path, caplog) -> None:
    # Before: scored under subject "?" unsaid (and a load of "." was a bare float error).
    _write_layout(tmp_path)
    _rename_set(tmp_path, 'X001_._1')
    with caplog.at_level(logging.WARNING, logger='rep_coach.core.thomas2025'):
        rec, = load_dataset(tmp_path)
    assert rec.subject is None and rec.meta == {}
    assert 'X001_._1: not named SUBJECT_LOAD_SET (as A321_10_1)' in caplog.text


@pytest.mark.parametrize('index, says', [
    ('', 'it names no set'),
    ('X009_5_1, [1, 5], [3], 1, 1\n', 'it names 1 set(s), none with a file in Raw Data/')])
def test_a_dataset_without_labelled_sets_names_the_index_file(
        tmp_path: Path, capsys, index: str, says: str) -> None:
    # Before: "DIR: no labelled sets", naming neither the file nor what it lacks.
    _write_layout(tmp_path)
    path = tmp_path / 'rep_indexes_corrected.txt'
    path.write_text(index)
    assert main(['evaluate', str(tmp_path), '--no-progress']) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f'rep-coach evaluate: {path}: no labelled sets: {says}')


def test_an_index_file_that_is_a_directory_is_named(tmp_path: Path, capsys) -> None:
    # Before: "neither a thomas2025-layout directory (rep_indexes_corrected.txt), a rosbag2
    # bag (metadata.yaml) nor a directory of bags".
    (tmp_path / 'rep_indexes_corrected.txt').mkdir()
    assert main(['evaluate', str(tmp_path), '--no-progress']) == 2
    assert capsys.readouterr().err == (f'rep-coach evaluate: {tmp_path}/rep_indexes_corrected.'
                                       'txt: cannot read (Is a directory)\n')


def test_subjects_on_sets_without_a_subject_code_says_so(tmp_path: Path, capsys) -> None:
    # Before: "--subjects X001 matches none of them: DATA has no labelled sets".
    _write_layout(tmp_path)
    _rename_set(tmp_path, 'first-set')
    assert main(['evaluate', str(tmp_path), '--no-progress', '--subjects', 'X001']) == 2
    assert capsys.readouterr().err == (
        'rep-coach evaluate: --subjects X001 matches none of them: its 1 set(s) carry no '
        'subject code (not named SUBJECT_LOAD_SET as A321_10_1; first: first-set)\n')


def test_a_set_named_twice_is_an_error_naming_both_places(tmp_path: Path) -> None:
    # Before: the index's later line silently won, and rpes.csv interleaved both
    # columns' values into one set's RPEs.
    _write_layout(tmp_path)
    index = tmp_path / 'rep_indexes_corrected.txt'
    line = 'X001_5_1, [10, 150, 300], [80, 220], 2, 2\n'
    index.write_text(line + line)           # the same line again is harmless
    assert len(load_dataset(tmp_path)) == 1
    index.write_text(line + 'X001_5_3, [1, 2], [1], 1, 1\n' + line.replace('10,', '12,'))
    with pytest.raises(DatasetError, match=re.escape(
            f'{index}:3: set X001_5_1 again, with other indexes than on line 1')):
        load_dataset(tmp_path)
    index.write_text(line)
    (tmp_path / 'rpes.csv').write_text('X001_5_1,X001_5_2,X001_5_1\n2,1,2\n6,7,8\n9,,9\n')
    with pytest.raises(DatasetError, match=re.escape(
            f'{tmp_path / "rpes.csv"}:1: set X001_5_1 names columns 1 and 3')):
        load_dataset(tmp_path)


@pytest.mark.parametrize('rate_row', ['', '0 Hz, 0 Hz, 0 Hz, 0 Hz, 0 Hz, 0 Hz, 0 Hz'])
def test_a_set_file_without_its_rate_is_named_with_the_line(tmp_path: Path,
                                                            rate_row: str) -> None:
    # Before: 'no sample-rate row ("370.3704 Hz") below the header', naming no file
    # (evaluate listed the set, plot said nothing more); 0 Hz made every time infinite.
    _write_layout(tmp_path)
    raw = tmp_path / 'Raw Data' / 'X001_5_1.csv'
    lines = raw.read_text().splitlines()
    lines[len(HEADER) - 1] = rate_row
    raw.write_text('\n'.join(lines))
    with pytest.raises(DatasetError, match=re.escape(
            f'{raw}:{len(HEADER)}: no sample rate ("370.3704 Hz") below the header')):
        read_trigno_csv(raw)


def test_a_boundary_beyond_the_set_file_names_index_and_file(tmp_path: Path) -> None:
    # Before: "X001_5_1: boundary 300 beyond the 200 IMU rows of its file", naming neither.
    _write_layout(tmp_path, rows=200)
    with pytest.raises(DatasetError, match=re.escape(
            f"{tmp_path / 'rep_indexes_corrected.txt'}: X001_5_1: boundary 300 beyond the "
            f"200 IMU rows of {tmp_path / 'Raw Data' / 'X001_5_1.csv'}")):
        load_set(tmp_path, 'X001_5_1')


@pytest.mark.parametrize('options', [[], ['--json']])
def test_evaluate_output_cut_by_its_reader_is_no_traceback(tmp_path: Path,
                                                           options: list) -> None:
    # Before: `rep-coach evaluate DIR | head` ended in a BrokenPipeError traceback.
    _write_layout(tmp_path)
    read_end, write_end = os.pipe()
    os.close(read_end)                  # the reader is gone before anything is written
    try:
        proc = subprocess.run([sys.executable, '-m', 'rep_coach.cli', 'evaluate', str(tmp_path),
                               '--no-progress', *options], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert 'Traceback' not in proc.stderr and 'BrokenPipe' not in proc.stderr
    assert proc.returncode == 141       # as the shell reports a process SIGPIPE ended


def test_the_shared_dataset_matches_its_readme(thomas2025_dir: Path) -> None:
    sets = load_dataset(thomas2025_dir)
    reps = [r for s in sets for r in s.sets[0].reps]
    assert len(sets) == 44 and len(reps) == 507
    assert sum(r.rpe >= NEAR_FAILURE_RPE for r in reps) == 139
    assert {s.subject for s in sets} == {'A321', 'G998', 'T417', 'T456'}
    shifted = load_set(thomas2025_dir, 'T417_15_2')  # re-saved with a leading index column
    gravity = np.linalg.norm(shifted.imu.accel[:200], axis=1).mean()
    assert 9.0 < gravity < 10.6


def test_the_training_data_cache_is_never_what_stops_a_run(tmp_path: Path, caplog) -> None:
    # Once an unwritable cache ended `rep-coach train` after parsing, and a cut cache
    # file was a traceback from pickle.
    from rep_coach.training.data import load_thomas2025
    data = tmp_path / 'data'
    _write_layout(data)
    in_the_way = tmp_path / 'afile'
    in_the_way.write_text('x')
    with caplog.at_level(logging.WARNING, logger='rep_coach.training.data'):
        sessions = load_thomas2025(data, cache_dir=in_the_way / 'cache')
    assert [s.name for s in sessions] == ['X001_5_1']
    assert 'cannot write the data cache in' in caplog.text and 'REP_COACH_CACHE' in caplog.text
    cache = tmp_path / 'cache'
    first = load_thomas2025(data, cache_dir=cache)
    (written,) = cache.iterdir()
    written.write_bytes(written.read_bytes()[:100])   # cut, as by a full disk
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger='rep_coach.training.data'):
        again = load_thomas2025(data, cache_dir=cache)
    assert f'data cache {written} unreadable' in caplog.text
    assert [s.name for s in again] == [s.name for s in first]
    assert np.array_equal(again[0].x, first[0].x)
    assert [p.name for p in cache.iterdir()] == [written.name]   # replaced, no temporary left
    assert load_thomas2025(data, cache_dir=cache)[0].name == 'X001_5_1'
