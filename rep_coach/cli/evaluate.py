"""
``rep-coach evaluate DATA``: learned pipeline, baseline and recorded detections side by side.

``DATA`` is a thomas2025-layout directory, a rosbag2 bag recorded by the system
(``imu/data_raw`` plus ``labels/reps`` TrueRep JSON, under any namespace), or a
directory of such bags (e.g. the ``--record`` directory of a gym): then every
labelled bag is scored, pooled and per bag, and bags that cannot be scored are
listed and left out.  Every set is replayed causally through the same streaming
stages the nodes run; see :mod:`rep_coach.core.evaluation` for the metric
definitions.  A bag's subject is the station it was recorded at (its namespace,
from metadata.yaml or inferred from its topic names), else the bag's name.

Bags also get a third column, ``recorded``: what the nodes published while the
bag was recorded (its ``reps`` and ``near_failure`` messages in the IMU topic's
namespace: what the lifter was told), scored by the same code, metrics and
breakdowns as the replays.  Cue delay is ``stamp - true end`` with the stamp the
event carries (the IMU sample that decided it), as in a replay.  Bags of a directory
without recorded rep events are left out of it and listed (``without_detections``);
when none has any, ``recorded`` is ``{"error": ...}``, never a zero.  Near failure is
pooled over the bags that recorded verdicts; a rep event whose verdict is missing
counts as not near failure.

A bag cut short (its recorder killed) can hold the label of a rep whose end the IMU
stream outlived by less than the live decision needs: true reps ending less than
``CUT_MARGIN_S`` (1 s) before a bag's last IMU sample are left out of every column,
with the detections ending after that time, and said so (``reps_left_out`` in the
JSON, a note after the table).  Datasets are complete: nothing is left out of them.

Which stages produced the recorded detections is what the stage nodes published on
``stage_info`` (model kind, ONNX file and its SHA-256, or the baseline's configuration;
set_rest_s and threshold): the ``recorded`` entry lists it per bag (``stages``), the
learned and baseline entries what they replayed, and where a bag's stages differ from
the learned replay's the output names what differs.  Bags without ``stage_info`` (older
ones, ``ros2 bag record`` without it) say the stages were not recorded.  Both replays
run with the stage nodes' parameters: ``--threshold`` (near_failure_classifier's) and
``--set-rest-s`` (rep_segmenter's), by default the nodes' defaults.
A thomas2025 directory has no recorded detections and no such column.
Near failure is RPE >= 8 (RIR <= 2), an assumption of rep_coach.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, field
import json
import logging
import math
from pathlib import Path
import sys
from typing import Any, Callable, Dict, List, Optional, Tuple, TYPE_CHECKING, TypeVar

from rep_coach import topics
from rep_coach.bag_names import station_label
from rep_coach.cli.checks import classifier_threshold, fail, positive_int, set_rest
from rep_coach.core.evaluation import (ASSUMPTION, CUT_MARGIN_S, evaluate, leave_out_cut_reps,
                                       recorded_replay, Replay, score_replays)
from rep_coach.core.types import ImuRecording, NearFailureState, PayloadError, RepEvent
from rep_coach.core.validation import screen
from rep_coach.pipeline import DEFAULT_SET_REST_S, DEFAULT_THRESHOLD, stage_factories
from rep_coach.ros_names import join_name
from rep_coach.stage_info import Difference, StageInfo, STAGES

if TYPE_CHECKING:   # imported where used: a dataset run needs no bag code
    from rep_coach.core.sources import SessionBag

#: What the bag reading here says: plot reads bags through it too, so the name is the
#: bags', not one command's.
LOG = logging.getLogger('rep_coach.bags')

#: Exit status: scored.
EXIT_OK = 0
#: Exit status: nothing to score or a bad option (the message names the culprit).
EXIT_BAD_INPUT = 2

#: The stage nodes' parameters this command replays with, by their stage_info field.
REPLAY_FLAGS = {'threshold': '--threshold', 'set_rest_s': '--set-rest-s'}

EPILOG = """\
exit status: 0 scored (a directory of bags: at least one bag; the others are listed
on stderr and under skipped_bags; a dataset: at least one set, unreadable ones listed
on stderr and under skipped_sets); 2 nothing to score: DATA missing or neither a
dataset, a bag nor a directory of bags, a bag that cannot be read, is empty, has only
IMU messages (no labels/reps) or no IMU messages, no bag of a directory or set of a
dataset scorable, a --subjects code that names no subject of DATA, no set left after
--subjects/--limit, or --models that do not load (with --json, also {"error": MESSAGE}
on stdout)
"""


@dataclass
class Inputs:
    """The labelled recordings of ``DATA`` and what was left out."""

    recordings: List[ImuRecording]
    #: ``dataset``, ``bag`` or ``bags`` (a directory of bags).
    kind: str
    #: Bags of a directory, or sets of a dataset, that could not be read: name -> why.
    skipped: Dict[str, str] = field(default_factory=dict)


#: Key of a bag recording's ``meta`` that holds its :class:`Recorded` detections.
RECORDED = 'recorded'
#: Key of a bag recording's ``meta`` (and of the JSON) with the true reps left out of
#: the score because the bag ends too soon after them (see :func:`read_labelled_bag`).
LEFT_OUT = 'reps_left_out'
#: Why they are left out.
LEFT_OUT_WHY = (f'they end less than {CUT_MARGIN_S:g} s before the last IMU sample: the '
                'recording stopped before the system could decide on them (it decides '
                "about 0.4 s after a rep's end); their detections are left out too, in "
                'every column')
#: Key of the stage descriptions in each entry: what a replay ran, what a bag recorded.
STAGES_KEY = 'stages'
#: What :attr:`Recorded.messages` counts, summed over the bags in the JSON's ``messages``.
MESSAGE_COUNTS = ('reps', 'near_failure', 'bad_payloads', 'reps_without_verdict',
                  'verdicts_without_rep')


@dataclass
class RecordedStages:
    """The stage descriptions a bag recorded on ``stage_info``, or why not."""

    #: The distinct descriptions (a respawned node says it again), in pipeline order
    #: (segmenter first), each stage's in the bag's order.
    infos: List[StageInfo] = field(default_factory=list)
    #: Why a stage's description is missing (empty when every stage has one).
    reason: str = ''


#: Why a bag may lack ``stage_info``: said with every such bag.
NOT_RECORDED = ('the stages were not recorded (a bag from before the stage nodes published '
                'them, or ros2 bag record without that topic)')


@dataclass
class Recorded:
    """What the nodes published during a recorded session (what the lifter was told)."""

    #: The published rep events, each with its verdict; None when the bag holds no events.
    replay: Optional[Replay] = None
    #: Why there is no replay, or why its verdicts are not scored (empty when they are).
    reason: str = ''
    #: Messages read: ``reps``, ``near_failure``, ``bad_payloads`` (not decodable; left
    #: out), ``reps_without_verdict`` and ``verdicts_without_rep`` (unpaired).
    messages: Dict[str, int] = field(default_factory=dict)
    #: Which stages produced them, as the stage nodes described themselves.
    stages: RecordedStages = field(default_factory=RecordedStages)

    @property
    def has_verdicts(self) -> bool:
        """Tell whether any recorded event has its near-failure verdict."""
        return self.replay is not None and any(s is not None for s in self.replay.states)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``evaluate`` subcommand."""
    parser = subparsers.add_parser(
        'evaluate', help='score the learned pipeline and the baseline on labelled data',
        description=__doc__, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('data', metavar='DATA', type=Path,
                        help='thomas2025-layout directory, a rosbag2 bag or a directory of bags')
    parser.add_argument('--json', action='store_true', help='print one JSON object')
    parser.add_argument('--models', type=Path, default=None,
                        help='directory of the learned models (default: the package models)')
    parser.add_argument('--threshold', type=classifier_threshold, default=DEFAULT_THRESHOLD,
                        help="near_failure_classifier's parameter 'threshold': the "
                             'probability at or above which a rep is near failure, for the '
                             'learned and the baseline replay alike (default '
                             f"{DEFAULT_THRESHOLD:g}, the node's default; give the value a "
                             "session's node ran with, which its bag's stage_info says)")
    parser.add_argument('--set-rest-s', type=set_rest, default=DEFAULT_SET_REST_S,
                        help="rep_segmenter's parameter 'set_rest_s': a rest this long or "
                             'longer, from the end of a rep to the start of the next, opens '
                             'a new set, for both replays; 1 to 600 s, as the node takes '
                             f"(default {DEFAULT_SET_REST_S:g} s, the node's default)")
    parser.add_argument('--subjects', nargs='+', default=None,
                        help='only these subjects, in any case (thomas2025 codes such as '
                             'A321; for bags, stations or bag names as the output lists them); '
                             'one that DATA does not have is an error naming those it has')
    parser.add_argument('--limit', type=positive_int, default=None,
                        help='only the first N recordings (N >= 1)')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    parser.set_defaults(func=run)
    return parser


def is_bag(path: Path) -> bool:
    """Tell whether ``path`` is a rosbag2 bag (a directory with metadata.yaml)."""
    return (path / 'metadata.yaml').is_file()


def load_recordings(path: Path, subjects: Optional[List[str]] = None) -> Inputs:
    """
    Load labelled recordings from a thomas2025 directory, a bag or a directory of bags.

    Raises ``OSError`` or ``ValueError`` naming the culprit when there is nothing to
    score; in a directory of bags, bags that cannot be scored are only listed in
    :attr:`Inputs.skipped`, unless none can.
    """
    path = Path(path)
    # exists, not is_file: a directory of that name is the dataset's error to name.
    if (path / 'rep_indexes_corrected.txt').exists():
        from rep_coach.core.thomas2025 import (load_dataset, RAW_DIR, read_rep_indexes,
                                               REP_INDEX_FILE, set_names, subjects_of)
        names = set_names(path)
        if not names:
            # Name the file that lists the sets, and what it lacks.
            listed = len(read_rep_indexes(path / REP_INDEX_FILE))
            raise ValueError(f'{path / REP_INDEX_FILE}: no labelled sets: it names '
                             + (f'{listed} set(s), none with a file in {RAW_DIR}/' if listed
                                else 'no set'))
        # Sets not named SUBJECT_LOAD_SET have no subject code to pick them by.
        none_because = (f'them: its {len(names)} set(s) carry no subject code (not named '
                        f'SUBJECT_LOAD_SET as A321_10_1; first: {names[0]})')
        # Chosen before loading, which is slow.
        chosen = _chosen(subjects, subjects_of(names), none_because)
        inputs = Inputs([], 'dataset')
        inputs.recordings = load_dataset(path, chosen, unreadable=inputs.skipped)
        _some_scorable(path, inputs, 'set')
        return inputs
    if is_bag(path):
        recording = read_labelled_bag(path)
        return Inputs(_only(_chosen(subjects, [recording.subject]), [recording]), 'bag')
    if not path.exists():
        raise FileNotFoundError(f'{path}: no such file or directory')
    from rep_coach.bagio import bags_in
    bags = bags_in(path) if path.is_dir() else []
    if not bags and path.is_dir() and ((path / 'metadata.yaml').exists()
                                       or any(path.glob('*.mcap'))):
        # A bag whose metadata.yaml was lost with its recorder, or is not a file: the
        # bag reader says so and how to repair it (raises), where "neither" misled.
        return Inputs([read_labelled_bag(path)], 'bag')
    if not bags and path.suffix == '.mcap':
        raise ValueError(f'{path}: an MCAP file of a bag; name the bag, the directory '
                         f'{path.parent} that holds it with its metadata.yaml')
    if not bags:
        raise ValueError(f'{path}: neither a thomas2025-layout directory '
                         '(rep_indexes_corrected.txt), a rosbag2 bag (metadata.yaml) nor a '
                         'directory of bags')
    inputs = Inputs([], 'bags')
    for bag in bags:
        try:
            inputs.recordings.append(read_labelled_bag(bag))
        except (OSError, ValueError) as exc:
            inputs.skipped[bag.name] = str(exc)
    _some_scorable(path, inputs, 'bag')
    chosen = _chosen(subjects, sorted({r.subject for r in inputs.recordings}))
    inputs.recordings = _only(chosen, inputs.recordings)
    return inputs


def _some_scorable(path: Path, inputs: Inputs, unit: str) -> None:
    """Raise ``ValueError`` when every set or bag of ``path`` was left out as unreadable."""
    if inputs.skipped and not inputs.recordings:
        first = next(iter(inputs.skipped.values()))
        raise ValueError(f'{path}: none of its {len(inputs.skipped)} {unit}(s) can be scored '
                         f'(first: {first})')


def _chosen(subjects: Optional[List[str]], available: List[str],
            none_because: str = 'them: DATA has no labelled sets') -> Optional[List[str]]:
    """
    Return the subjects of ``available`` that ``subjects`` name (None: all; None).

    A code names the subject it equals, else those it equals ignoring case (``a321``
    is ``A321``).  Raises ``ValueError`` naming the codes that name none, and what
    there is (``none_because`` when ``available`` is empty): a mistyped code would
    leave its subject out unnoticed, or, alone, nothing to score.
    """
    if subjects is None:
        return None
    chosen: List[str] = []
    unmatched = []
    for code in subjects:
        named = [a for a in available if a == code] or \
            [a for a in available if a.casefold() == code.casefold()]
        chosen += [a for a in named if a not in chosen]
        if not named:
            unmatched.append(code)
    if unmatched:
        raise ValueError(f'--subjects {" ".join(unmatched)} matches none of '
                         f'{", ".join(available) or none_because}')
    return chosen


def _only(subjects: Optional[List[str]], recordings: List[ImuRecording]) -> List[ImuRecording]:
    """Keep the recordings of ``subjects`` (all when None)."""
    if subjects is None:
        return recordings
    return [r for r in recordings if r.subject in subjects]


def read_labelled_bag(path: Path) -> ImuRecording:
    """
    Read ``imu/data_raw`` and ``labels/reps`` of a bag into one labelled recording.

    Topics may carry a namespace (``/station3/imu/data_raw``); the one bag reader
    of the package, :func:`rep_coach.core.sources.read_session_bag`, does the work.  The
    subject is the bag's station (:func:`bag_subject`).  A bag cut short (a killed
    recorder) can hold the label of a rep the system had no time to decide on: true
    reps ending too soon before the last IMU sample are left out
    (:func:`rep_coach.core.evaluation.leave_out_cut_reps`), counted in
    ``meta[LEFT_OUT]``.  Raises ``ValueError`` (naming the bag) when it is unreadable
    or has no labels, or none left.
    """
    from rep_coach.core.sources import BAD_LABELS
    recording = read_bag_recording(Path(path))
    if not any(s.reps for s in recording.sets):
        bad = recording.meta[BAD_LABELS]
        why = (f'none of its {len(bad)} labels/reps messages decodes; first: {bad[0]}' if bad
               else f'its topics with messages: {", ".join(recording.meta["topics"])}')
        raise ValueError(f'{path}: no labels/reps (TrueRep JSON) messages to score against '
                         f'({why})')
    left_out = leave_out_cut_reps(recording)
    recording.meta[LEFT_OUT] = left_out
    if not recording.sets:
        raise ValueError(f'{path}: all {left_out} labelled rep(s) left out: {LEFT_OUT_WHY}')
    return recording


def read_bag_recording(path: Path) -> ImuRecording:
    """
    Read a bag's IMU, any labels and what the nodes published; the subject is its station.

    What the nodes published is ``meta[RECORDED]``, a :class:`Recorded`.  Damage the
    reader recovers from (an unfinished file) is logged as one warning, and so are IMU
    samples the nodes' sample gate drops (NaN, absurd values, repeated stamps), which
    every replay leaves out as the nodes did.  Raises ``ValueError`` naming the bag when
    it cannot be read or has no usable IMU messages.
    """
    from rep_coach.bagio import BagError, load_metadata
    from rep_coach.core.sources import read_session_bag
    # The reader's own channel for its reports (as the nodes take them), not a catch of
    # every Python warning raised meanwhile.
    session = read_session_bag(path, on_warning=lambda text: LOG.warning('%s', text))
    recording = session.recording
    imu = recording.imu
    # The replays feed the samples through the nodes' sample gate, which drops what it
    # dropped live; say so once here, not once per replay.
    gate = screen(imu)
    if not gate.accepted:
        raise ValueError(f"{path}: none of its {len(imu)} IMU samples passes the nodes' sample "
                         f'gate ({gate.summary()})')
    if gate.dropped:
        LOG.warning("%s: %s: the replays leave them out, as the nodes' sample gate does", path,
                    gate.summary())
    try:
        metadata = load_metadata(path)
    except BagError as exc:   # read_session_bag read it: only a race gets here
        raise ValueError(str(exc)) from None
    recording.subject = bag_subject(path, metadata)
    listed = [t.name for t in metadata.topics]
    recorded = recorded_detections(session, listed)
    recorded.stages = recorded_stages(session, listed)
    recording.meta[RECORDED] = recorded
    return recording


def recorded_detections(session: SessionBag, listed: List[str]) -> Recorded:
    """
    Decode what the nodes published in ``session`` into a replay.

    ``listed`` are the bag's topics (with or without messages), to tell a topic the
    bag did not record from one it recorded empty.  Times are the IMU's data time, as
    in a replay: a ``reps`` payload's ``stamp`` is the sample that decided it.
    """
    ns = session.namespace
    if ns is None:
        return Recorded(reason=f'its IMU topic {session.recording.meta.get("topic")} has no '
                               'rep_coach name, so no reps topic can be told to belong to it')
    events, bad_events = _decode(session.published.get(topics.REPS, []), RepEvent.from_json)
    states, bad_states = _decode(session.published.get(topics.NEAR_FAILURE, []),
                                 NearFailureState.from_json)
    reps_topic, verdicts_topic = join_name(ns, topics.REPS), join_name(ns, topics.NEAR_FAILURE)
    messages = dict.fromkeys(MESSAGE_COUNTS, 0)
    messages.update(reps=len(events) + len(bad_events),
                    near_failure=len(states) + len(bad_states),
                    bad_payloads=len(bad_events) + len(bad_states))
    if bad_events or bad_states:
        LOG.warning('%s: %d recorded payload(s) cannot be decoded and are left out (first: %s)',
                    session.recording.name, messages['bad_payloads'],
                    (bad_events or bad_states)[0])
    if not events:
        return Recorded(reason=_absent(reps_topic, 'rep events', listed, bad_events),
                        messages=messages)
    replay = recorded_replay(events, states)
    paired = sum(s is not None for s in replay.states)
    messages.update(reps_without_verdict=len(events) - paired,
                    verdicts_without_rep=len(states) - paired)
    if paired:
        return Recorded(replay, '', messages)
    reason = (f'none of its {len(states)} {verdicts_topic} verdicts is on a recorded rep event'
              if states else _absent(verdicts_topic, 'verdicts', listed, bad_states))
    return Recorded(replay, reason, messages)


def recorded_stages(session: SessionBag, listed: List[str]) -> RecordedStages:
    """Decode the stage descriptions of ``session`` (``stage_info`` in the IMU's namespace)."""
    ns = session.namespace
    if ns is None:
        return RecordedStages(reason=f'{NOT_RECORDED}: its IMU topic has no rep_coach name')
    topic = join_name(ns, topics.STAGE_INFO)
    decoded, bad = _decode(session.published.get(topics.STAGE_INFO, []), StageInfo.from_json)
    if bad:
        LOG.warning('%s: %d %s payload(s) cannot be decoded and are left out (first: %s)',
                    session.recording.name, len(bad), topic, bad[0])
    infos: List[StageInfo] = []
    for info in sorted(decoded, key=lambda i: STAGES.index(i.stage)):   # stable
        if info not in infos:
            infos.append(info)
    if not infos:
        return RecordedStages(
            reason=f'{NOT_RECORDED}: {_absent(topic, "stage descriptions", listed, bad)}')
    missing = [stage for stage in STAGES if all(i.stage != stage for i in infos)]
    return RecordedStages(infos, f'no {" or ".join(missing)} description on {topic}'
                          if missing else '')


def _absent(topic: str, what: str, listed: List[str], bad: List[str]) -> str:
    """Say why ``topic`` gave nothing: undecodable, recorded empty, or not recorded."""
    if bad:
        return f'none of its {len(bad)} {topic} messages decodes ({bad[0]})'
    if topic in listed:
        return f'{topic} recorded without messages: no {what} published while recording'
    return f'no {topic} topic ({what}) in the bag'


Decoded = TypeVar('Decoded')


def _decode(payloads: List[str],
            decode: Callable[[str], Decoded]) -> Tuple[List[Decoded], List[str]]:
    """Decode ``payloads``; return (decoded, messages of those that do not decode)."""
    decoded: List[Decoded] = []
    bad: List[str] = []
    for payload in payloads:
        try:
            decoded.append(decode(payload))
        except PayloadError as exc:
            bad.append(str(exc))
    return decoded, bad


def bag_subject(path: Path, metadata: Any) -> str:
    """
    Return whom a bag's sets belong to: its station (namespace), else the bag's name.

    The namespace is ``custom_data['namespace']``, else inferred from the topic names
    (:func:`rep_coach.topics.recorded_namespace`); ``/gym/station_2`` reads
    ``gym.station_2`` as in the bags' names.  A bag recorded at the root is named by
    its directory.
    """
    from rep_coach.topics import recorded_namespace
    recorded = recorded_namespace(metadata.custom_data, [t.name for t in metadata.topics])
    if recorded.source == 'topics':
        LOG.info('%s: namespace %s inferred from the topic names', path, recorded.name)
    return station_label(recorded.name) or Path(path).resolve().name


def _learned(models: Optional[Path], settings: Dict[str, float],
             recordings: List[ImuRecording], progress: bool, **breakdown: bool
             ) -> Dict[str, Any]:
    try:
        # The nodes' factories, so the stages (and their descriptions) are the nodes'.
        seg_f, clf_f = stage_factories('learned', '' if models is None else str(models),
                                       **settings)
    except Exception as exc:  # noqa: B902 (absent package, no models, bad model: report)
        return {'error': f'learned pipeline unavailable: {exc}'}
    result = evaluate(recordings, seg_f, clf_f, progress=progress, **breakdown)
    # Scores on subjects the models learned from are not held out: say so (from the
    # metadata of the model loaded, not a second read).
    meta = seg_f.info.model_file.metadata.get('rep_coach') or {}
    trained = set(meta.get('trained_on_subjects') or ())
    result['in_sample_subjects'] = sorted(trained & {r.subject for r in recordings})
    result[STAGES_KEY] = [seg_f.info, clf_f.info]
    return result


def _baseline(settings: Dict[str, float], recordings: List[ImuRecording], progress: bool,
              **breakdown: bool) -> Dict[str, Any]:
    seg_f, clf_f = stage_factories('baseline', **settings)
    result = evaluate(recordings, seg_f, clf_f, progress=progress, **breakdown)
    result[STAGES_KEY] = [seg_f.info, clf_f.info]
    return result


def _recorded(recordings: List[ImuRecording], kind: str,
              replayed: Dict[str, Optional[List[StageInfo]]], **breakdown: bool
              ) -> Dict[str, Any]:
    """
    Score the detections the bags recorded as the replays are scored, or say why not.

    Bags without recorded rep events are left out (listed under ``without_detections``
    for a directory); when none has any the entry is ``{'error': ...}``, not a zero.
    Near failure is pooled over the bags whose events have verdicts only: a bag that did
    not record ``near_failure`` would otherwise count every rep as a missed one.
    ``stages`` reports, for every bag, the stages it recorded against ``replayed`` (the
    stages of each replay, None where it did not run): see :func:`_stage_report`.
    """
    found: Dict[str, Recorded] = {r.name: r.meta[RECORDED] for r in recordings}
    missing = {name: rec.reason for name, rec in found.items() if rec.replay is None}
    scored = [(r, found[r.name].replay) for r in recordings if r.name not in missing]
    if not scored:
        entry: Dict[str, Any] = {'error': (
            f'no rep events recorded: {next(iter(missing.values()))}' if len(missing) == 1
            else f'none of the {len(missing)} bags holds recorded rep events')}
    else:
        entry = score_replays(scored, **breakdown)
        with_verdicts = [(r, replay) for r, replay in scored if found[r.name].has_verdicts]
        if len(with_verdicts) < len(scored):
            _near_failure_from(entry, score_replays(with_verdicts, **breakdown)
                               if with_verdicts else None)
        entry['messages'] = {key: sum(found[r.name].messages[key] for r, _ in scored)
                             for key in MESSAGE_COUNTS}
        unscored = {r.name: found[r.name].reason for r, _ in scored
                    if not found[r.name].has_verdicts}
        if unscored:
            entry['without_verdicts'] = unscored
    if kind == 'bags':
        entry['without_detections'] = missing
    entry[STAGES_KEY] = {r.name: _stage_report(found[r.name].stages, replayed)
                         for r in recordings}
    return entry


def _stage_report(stages: RecordedStages,
                  replayed: Dict[str, Optional[List[StageInfo]]]) -> Dict[str, Any]:
    """
    Compare a bag's recorded stages with each replay's.

    ``descriptions`` are the recorded ones; ``not_recorded`` says why one is missing;
    ``differences`` lists, per replay that ran, what the recorded stages run differently
    (:meth:`StageInfo.differences`); ``same_as`` names the replays running exactly the
    recorded stages (none when a stage was not recorded).
    """
    report: Dict[str, Any] = {'descriptions': stages.infos}
    if stages.reason:
        report['not_recorded'] = stages.reason
    if not stages.infos:
        return report
    report['differences'] = {}
    report['same_as'] = []
    for name, infos in replayed.items():
        if infos is None:
            continue
        ours = {info.stage: info for info in infos}
        found = [d for info in stages.infos for d in info.differences(ours[info.stage])]
        report['differences'][name] = found
        if not found and not stages.reason:
            report['same_as'].append(name)
    return report


def _near_failure_from(entry: Dict[str, Any], verdicts: Optional[Dict[str, Any]]) -> None:
    """Replace ``entry``'s near-failure scores, pooled and broken down, by ``verdicts``'."""
    none = {'error': 'no near_failure verdicts recorded'}
    entry['near_failure'] = verdicts['near_failure'] if verdicts else dict(none)
    for key in ('per_subject', 'per_recording', 'per_set'):
        for name, group in entry.get(key, {}).items():
            other = (verdicts or {}).get(key, {}).get(name)
            group['near_failure'] = other['near_failure'] if other else dict(none)


def run(args: argparse.Namespace) -> int:
    """Evaluate both pipelines (and a bag's recorded detections); print; return the exit code."""
    as_json = getattr(args, 'json', False)
    try:
        inputs = load_recordings(args.data, getattr(args, 'subjects', None))
    except (OSError, ValueError) as exc:
        return fail('evaluate', str(exc), as_json, EXIT_BAD_INPUT)
    unit = 'set' if inputs.kind == 'dataset' else 'bag'
    for name, reason in inputs.skipped.items():
        print(f'rep-coach evaluate: note: {unit} {name} not scored: {reason}', file=sys.stderr)
    recordings = inputs.recordings
    if getattr(args, 'limit', None):
        recordings = recordings[:args.limit]
    if not recordings:
        return fail('evaluate', f'{args.data}: no labelled sets', as_json, EXIT_BAD_INPUT)
    progress = not getattr(args, 'no_progress', False)
    models = getattr(args, 'models', None)
    # The stage nodes' parameters both replays run with.
    settings = {'threshold': getattr(args, 'threshold', DEFAULT_THRESHOLD),
                'set_rest_s': getattr(args, 'set_rest_s', DEFAULT_SET_REST_S)}
    # Bags: per set, and per bag when there are several (a dataset's sets are its recordings).
    breakdown = {'per_set': inputs.kind != 'dataset', 'per_recording': inputs.kind == 'bags'}
    learned = _learned(models, settings, recordings, progress, **breakdown)
    if models is not None and 'error' in learned:   # asked for these models: no fallback
        return fail('evaluate', f'--models {models}: {learned["error"]}', as_json,
                    EXIT_BAD_INPUT)
    baseline = _baseline(settings, recordings, progress, **breakdown)
    # Bags cut short: the reps they end too soon after are not scored (see read_labelled_bag).
    left_out = {r.name: r.meta[LEFT_OUT] for r in recordings if r.meta.get(LEFT_OUT)}
    # Only bags record what the nodes published: a dataset's output has no such entry.
    replayed = {name: result.get(STAGES_KEY) for name, result in
                (('learned', learned), ('baseline', baseline))}
    recorded = (_recorded(recordings, inputs.kind, replayed, **breakdown)
                if inputs.kind != 'dataset' else None)
    if args.json:
        out = {'learned': None if 'error' in learned else learned, 'baseline': baseline}
        if recorded is not None:
            out['recorded'] = recorded
        out.update(assumption=ASSUMPTION, n_sets=baseline['n_sets'])
        if 'error' in learned:
            out['learned_reason'] = learned['error']
        if inputs.kind == 'bags':
            out['bags'] = [r.name for r in recordings]
            out['skipped_bags'] = inputs.skipped
        if inputs.kind == 'dataset':
            out['skipped_sets'] = inputs.skipped
        if left_out:
            out[LEFT_OUT] = {name: {'reps': n, 'why': LEFT_OUT_WHY}
                             for name, n in left_out.items()}
        print(json.dumps(out, allow_nan=False, default=_jsonable))
        return EXIT_OK
    print(_table(learned, baseline, recorded, baseline['n_sets']))
    for name, n in left_out.items():
        print(f'note: bag {name}: {n} true rep(s) left out of every column: {LEFT_OUT_WHY}')
    return EXIT_OK


def _jsonable(value: Any) -> Any:
    """JSON form of the stage descriptions and their differences kept in the results."""
    if isinstance(value, StageInfo):
        return asdict(value)
    if isinstance(value, Difference):
        return {'stage': value.stage, 'field': value.field, 'recorded': value.value,
                'replayed': value.other}
    raise TypeError(f'{type(value).__name__} is not JSON serialisable')


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return '-'
    return f'{value:.3f}' if isinstance(value, float) else str(value)


def _table(learned: Dict[str, Any], baseline: Dict[str, Any],
           recorded: Optional[Dict[str, Any]], n_sets: int) -> str:
    columns = [('learned', learned), ('baseline', baseline)]
    if recorded is not None:
        columns.append(('recorded', recorded))
    lines = [f'{n_sets} sets; {ASSUMPTION}',
             f'{"metric":28s}' + ''.join(f' {title:>10s}' for title, _ in columns)]
    for group in ('segmentation', 'near_failure'):
        lines.append(f'[{group}]')
        for key in baseline[group]:
            if key == 'assumption':
                continue
            lines.append(f'  {key:26s}' + ''.join(f' {_fmt(_metric(result, group, key)):>10s}'
                                                  for _, result in columns))
    lines.append(f'  {"speed_x_realtime":26s}' + ''.join(
        f' {_fmt(result.get("speed_x_realtime")):>10s}' for _, result in columns))
    lines += _breakdown_lines(columns)
    for title, result in columns:
        if 'error' in result:
            lines.append(f'{title}: {result["error"]}')
    if (recorded or {}).get('without_verdicts'):
        lines.append('recorded: near failure left out for ' + '; '.join(
            f'{name} ({why})' for name, why in recorded['without_verdicts'].items()))
    if (recorded or {}).get('without_detections'):
        lines.append('recorded: only the bags that recorded rep events; left out ' + '; '.join(
            f'{name} ({why})' for name, why in recorded['without_detections'].items()))
    lines += _stage_lines((recorded or {}).get(STAGES_KEY) or {})
    if learned.get('in_sample_subjects'):
        lines.append(f'note: the learned models were trained on '
                     f'{", ".join(learned["in_sample_subjects"])}, so their scores here are not '
                     'held out (held-out scores: rep-coach train, docs/models.md)')
    return '\n'.join(lines)


def _stage_lines(reports: Dict[str, Dict[str, Any]]) -> List[str]:
    """
    Say which stages the bags recorded, and where they differ from the learned replay.

    One bag: what it recorded, then one line naming what differs (if anything).  Several:
    a line for each bag that differs or lacks a stage, and a count of the others.
    """
    lines: List[str] = []
    alike = 0
    one = len(reports) == 1
    for bag, report in reports.items():
        label = 'recorded stages' + ('' if one else f' of {bag}')
        infos, differs = report['descriptions'], report.get('differences', {}).get('learned')
        same = 'learned' in report.get('same_as', ())
        alike += same
        if one and infos:
            lines.append(f'{label}: ' + '; '.join(info.summary() for info in infos)
                         + (" (the learned replay's)" if same else ''))
        if 'not_recorded' in report:
            lines.append(f'{label}: {report["not_recorded"]}')
        also = " (they are the baseline replay's)" if 'baseline' in report.get('same_as', ()) \
            else ''
        if differs:
            # A node parameter that differs is one this command takes: say how to match it.
            flags = [f'{REPLAY_FLAGS[d.field]} {d.value:g}' for d in differs
                     if d.field in REPLAY_FLAGS]
            hint = f" (replay with {' '.join(flags)} for the session's)" if flags else ''
            lines.append(f'{label} differ from the learned replay: '
                         + '; '.join(d.text('replayed') for d in differs) + also + hint)
        elif infos and differs is None:
            lines.append(f'{label}: not compared, the learned replay did not run{also}')
    if alike and not one:
        lines.append(f"recorded stages: the learned replay's in {alike} of {len(reports)} bags")
    return lines


def _metric(result: Dict[str, Any], group: str, key: str) -> Any:
    """Return ``result[group][key]``; None where the column or the group is unavailable."""
    return None if 'error' in result else result.get(group, {}).get(key)


#: Breakdowns the table shows (when they have more than one entry): key, column title.
_BREAKDOWNS = (('per_subject', 'subject'), ('per_recording', 'bag'), ('per_set', 'set'))


def _breakdown_lines(columns: List[Tuple[str, Dict[str, Any]]]) -> List[str]:
    """
    Return one line per subject, bag and set: counts, event F1 and rep F1 of each column.

    The rows are the baseline's (every set is replayed); a column without a row has dashes.
    """
    baseline = dict(columns)['baseline']
    marks = [title[0].upper() for title, _ in columns]
    lines: List[str] = []
    for key, title in _BREAKDOWNS:
        groups = baseline.get(key) or {}
        if len(groups) < 2:
            continue
        width = max(len(title), *(len(name) for name in groups))
        legend = ', '.join(f'{mark} = {name}' for mark, (name, _) in zip(marks, columns))
        lines.append(f'[{key}] ({legend}; detected reps, event F1, rep F1)')
        lines.append(f'  {title:{width}s} {"sets":>4s} {"reps":>5s}'
                     + ''.join(f' {"det " + m:>6s}' for m in marks)
                     + ''.join(f' {"evF1 " + m:>7s}' for m in marks)
                     + ''.join(f' {"repF1 " + m:>8s}' for m in marks))
        for name, base in groups.items():
            rows = [(result.get(key) or {}).get(name, {}) for _, result in columns]
            lines.append(
                f'  {name:{width}s} {base["n_sets"]:>4d} '
                f'{base["segmentation"]["n_true_reps"]:>5d}'
                + ''.join(f' {_fmt(_metric(row, "segmentation", "n_detected_reps")):>6s}'
                          for row in rows)
                + ''.join(f' {_fmt(_metric(row, "segmentation", "event_f1")):>7s}'
                          for row in rows)
                + ''.join(f' {_fmt(_metric(row, "near_failure", "rep_f1")):>8s}'
                          for row in rows))
    return lines
