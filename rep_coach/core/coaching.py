"""
Coaching policy: turns rep events and near-failure verdicts into cues.

ROS-free and clock-free: every input carries ``now`` (seconds, any monotonic
timeline the caller chooses, typically the node clock or the IMU timeline), so
the same event sequence always yields the same cues, live or replayed.

The node calls :meth:`CoachingPolicy.on_rep`, :meth:`CoachingPolicy.on_near_failure`
from its subscriptions and :meth:`CoachingPolicy.tick` from a timer, then
publishes every returned :class:`Cue`'s ``text`` on ``feedback`` and hands the
cue to the audio player.

Semantics (see the issue and docs/ARCHITECTURE.md):

* A set starts with its first rep and ends after a rest of ``set_rest_s``, measured
  as the segmenters measure it (:func:`~rep_coach.core.types.opens_new_set`): from
  the end of its last rep (``RepEvent.end``) to the start of the next.  It also ends
  when the segmenter's ``set_index`` changes.  Its end yields a ``summary`` cue.
* The summary follows the rest, so ``tick`` cannot wait for the next rep's start:
  it ends the set once ``now`` is ``set_rest_s`` past the last rep's end, the
  earliest time at which a rep starting then would open a new set.  A rep already
  under way then (started within the rest, detected only at its end) still belongs
  to the set, for the segmenter and so for the coach: the set is reopened, the
  count goes on and the set is summarised again when it ends.
* Every rep yields a ``rep`` cue (spoken count, or a tone).
* Reps left before the target are ``rir - target_rir``.  With an ``rir``
  estimate, "two left" / "last one" are spoken when the near-failure
  probability is at least ``confidence``; "stop" when the target is reached
  and the hysteresis latch is engaged.  Without ``rir`` (probability only) the
  latch stands for "``near_failure_rir`` reps in reserve", decreasing by one
  per rep while the latch holds.
* Hysteresis: the latch engages at ``probability >= near_failure_on`` and
  releases only at ``probability <= near_failure_off``; warnings only ever go
  down the ladder (two left -> last one -> stop) and each is said at most once
  per set, so a probability hovering at a threshold never flip-flops cues.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Dict, List, Optional, Tuple
import unicodedata

from rep_coach.core.types import NearFailureState, opens_new_set, RepEvent, SET_REST_S

#: Cue kinds.
KIND_REP = 'rep'
KIND_RIR = 'rir'
KIND_STOP = 'stop'
KIND_SUMMARY = 'summary'
#: A form cue from the camera coach ("elbows up"), played through the same path.
KIND_FORM = 'form'
CUE_KINDS = (KIND_REP, KIND_RIR, KIND_STOP, KIND_SUMMARY, KIND_FORM)

#: Priorities: a pending cue is replaced only by one of equal or higher priority,
#: so a "stop" waiting to be played is never dropped for a count.
PRIORITY = {KIND_REP: 0, KIND_SUMMARY: 1, KIND_FORM: 1, KIND_RIR: 2, KIND_STOP: 3}

#: How a cue should sound.
AUDIO_SPEECH = 'speech'
AUDIO_TONE = 'tone'

STOP_TEXT = 'stop'
LAST_ONE_TEXT = 'last one'

_ONES = ('zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine',
         'ten', 'eleven', 'twelve', 'thirteen', 'fourteen', 'fifteen', 'sixteen',
         'seventeen', 'eighteen', 'nineteen')
_TENS = ('', '', 'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty',
         'ninety')


def number_to_words(n: int) -> str:
    """Spell a non-negative integer below one million in English ("twenty-one")."""
    n = int(n)
    if n < 0 or n >= 1_000_000:
        raise ValueError(f'number_to_words: {n} outside 0..999999')
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + ('' if ones == 0 else '-' + _ONES[ones])
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        head = _ONES[hundreds] + ' hundred'
        return head if rest == 0 else f'{head} and {number_to_words(rest)}'
    thousands, rest = divmod(n, 1000)
    head = number_to_words(thousands) + ' thousand'
    if rest == 0:
        return head
    return f'{head} and {number_to_words(rest)}' if rest < 100 else \
        f'{head} {number_to_words(rest)}'


def reps_left_text(left: int) -> str:
    """Return the warning for ``left`` reps still to do before the target."""
    if left <= 0:
        return STOP_TEXT
    if left == 1:
        return LAST_ONE_TEXT
    return f'{number_to_words(left)} left'


def summary_text(reps: int, rir: Optional[int], near_failure: bool = False) -> str:
    """
    Describe a finished set ("eight reps, stopped about one short of failure").

    ``rir`` is the reps in reserve after the set's last rep (3 means 3 or more),
    None when unknown; ``near_failure`` (used only when ``rir`` is None) says the
    near-failure latch was engaged at the last rep.  The reserve is the classifier's
    estimate (held out, off by 0.38 reps on average: docs/models.md), so 1 and 2 are said as
    "about": stated flat, the coach would sound sure of what it only estimates.
    """
    head = f'{number_to_words(reps)} rep' + ('' if reps == 1 else 's')
    if rir is None:
        return head + (', stopped near failure' if near_failure else '')
    if rir <= 0:
        return head + ', taken to failure'
    if rir >= 3:
        return head + ', stopped three or more short of failure'
    return f'{head}, stopped about {number_to_words(rir)} short of failure'


@dataclass
class CoachingConfig:
    """Parameters of the coaching policy (declared by the node from core params)."""

    #: Reps in reserve at which the lifter should stop (0 = to failure).
    target_rir: int = 1
    #: Rest (s) from the end of a set's last rep after which the set is over (as
    #: ``opens_new_set``: a rep starting this long or longer after it opens a new set).
    set_rest_s: float = SET_REST_S
    #: Per-rep cue: 'count' speaks the count, 'tone' plays a short tone.
    rep_cue: str = 'count'
    #: Minimum near-failure probability to speak "N left" from an rir estimate.
    confidence: float = 0.7
    #: Hysteresis latch on the near-failure probability: engage / release levels.
    near_failure_on: float = 0.6
    near_failure_off: float = 0.4
    #: Largest "N left" that is spoken ("two left"); further-off estimates are silent.
    warn_max_left: int = 2
    #: Reps in reserve the classifier's "near failure" stands for, used when it
    #: gives only a probability (no rir).
    near_failure_rir: int = 1
    #: How long a near-failure verdict that arrived before its rep waits for it
    #: (the two topics are not ordered) before being applied on its own.
    state_wait_s: float = 0.5

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> ValueError:
            return ValueError(f'CoachingConfig.{name} = {getattr(self, name)!r}: {why}')

        if int(self.target_rir) != self.target_rir or self.target_rir < 0:
            raise bad('target_rir', 'must be an integer >= 0')
        self.target_rir = int(self.target_rir)
        if not (math.isfinite(self.set_rest_s) and self.set_rest_s > 0):
            raise bad('set_rest_s', 'must be > 0 seconds')
        if self.rep_cue not in ('count', 'tone'):
            raise bad('rep_cue', "must be 'count' or 'tone'")
        for name in ('confidence', 'near_failure_on', 'near_failure_off'):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise bad(name, 'must be within [0, 1]')
        if self.near_failure_off > self.near_failure_on:
            raise bad('near_failure_off', 'must not exceed near_failure_on (hysteresis band)')
        if self.warn_max_left < 0:
            raise bad('warn_max_left', 'must be >= 0')
        if self.near_failure_rir < 0:
            raise bad('near_failure_rir', 'must be >= 0')
        if self.state_wait_s < 0:
            raise bad('state_wait_s', 'must be >= 0')


@dataclass
class Cue:
    """One piece of feedback: published as text, and played as audio."""

    text: str
    kind: str                 # one of CUE_KINDS
    priority: int
    stamp: float              # time of the event that caused it (rep/state stamp, or now)
    set_index: int            # the policy's 1-based set counter
    rep_index: int            # count within the set the cue refers to (0: none)
    audio: str = AUDIO_SPEECH  # AUDIO_SPEECH or AUDIO_TONE


#: Longest form cue spoken: the camera's cues are a few words ("elbows up"); a longer
#: text is cut at a word so one message cannot hold the speaker for minutes.
FORM_CUE_MAX_CHARS = 80


def form_cue(text: str, stamp: float, set_index: int) -> Optional[Cue]:
    """Return the cue to speak for a camera form cue, or None when it says nothing."""
    # Control and format characters (NUL, ESC sequences, bidi overrides) are no words:
    # a cue of NULs was spoken and published, and written raw into the node's log (which
    # grep then takes for a binary file; an ESC sequence rewrites the reader's terminal).
    text = ''.join(' ' if unicodedata.category(c) in ('Cc', 'Cf') else c for c in str(text))
    words = ' '.join(text.split())     # newlines, tabs and runs of spaces: one space
    if not words:
        return None
    if len(words) > FORM_CUE_MAX_CHARS:
        words = words[:FORM_CUE_MAX_CHARS + 1].rsplit(' ', 1)[0] or words[:FORM_CUE_MAX_CHARS]
    return Cue(text=words, kind=KIND_FORM, priority=PRIORITY[KIND_FORM], stamp=stamp,
               set_index=set_index, rep_index=0)


@dataclass
class SetSummary:
    """What happened in one finished set (the summary cue's facts)."""

    set_index: int
    reps: int
    start: float              # start of its first rep (RepEvent.start)
    end: float                # end of its last rep (RepEvent.end)
    rir: Optional[int]
    near_failure: bool
    stop_cued: bool
    missed_reps: int          # gaps in the segmenter's rep_index
    text: str


@dataclass
class _SetState:
    """Book-keeping of the set in progress."""

    index: int
    source_set: int            # the segmenter's set_index
    base: int                  # subtracted from rep_index to count within this set
    start: float               # start of its first rep
    last_rep_end: float = 0.0  # end of its last rep, where its rest starts
    last_rep_source: int = 0   # the segmenter's rep_index of the last rep
    count: int = 0
    missed: int = 0
    latch: bool = False
    latch_rep: int = 0         # the segmenter's rep_index at which the latch engaged
    lowest_left: Optional[int] = None  # smallest "reps left" already warned
    last_state: Optional[NearFailureState] = None
    summary_latch: bool = False


class CoachingPolicy:
    """Stateful coaching policy; feed it events, get cues back (never blocks)."""

    def __init__(self, config: Optional[CoachingConfig] = None) -> None:
        self.config = config or CoachingConfig()
        self._set: Optional[_SetState] = None
        # The set summarised last, reopened by a rep that turns out to belong to it.
        self._last_set: Optional[_SetState] = None
        self._sets_done = 0
        # Verdicts that arrived before their rep: (source set, rep) -> (state, arrival).
        self._early: Dict[Tuple[int, int], Tuple[NearFailureState, float]] = {}
        # (segmenter set_index, rep_index) of the last rep of the last finished set.
        self._ended: Optional[Tuple[int, int]] = None
        self._last_source_set: Optional[int] = None
        self.summaries: List[SetSummary] = []

    # ------------------------------------------------------------------ inputs

    def on_rep(self, rep: RepEvent, now: float) -> List[Cue]:
        """Handle a rep from the segmenter; return the cues it causes."""
        # The rep's own start says whether the rest reached set_rest_s, whenever it
        # arrives; the timer's guess (``tick``) is for the time no rep is known.
        cues = self._expire_verdicts(now)
        cur = self._set
        last = self._last_set
        if cur is None and last is not None and rep.rep_index > last.last_rep_source \
                and self._continues(last, rep):
            cur = self._set = self._reopen(last)
        if cur is not None and rep.set_index == cur.source_set \
                and rep.rep_index <= cur.last_rep_source:
            # A duplicate or a reordered older rep: the count already covers it.
            return cues
        # A different set_index (next set, or a lower one after the segmenter
        # restarted) or a rest of set_rest_s ends the set in progress.
        if cur is not None and not self._continues(cur, rep):
            cues += self._end_set(now)
            cur = None
        if cur is None:
            self._sets_done += 1
            # A new segmenter set counts from its own rep_index (a missed first rep
            # still says "two"); a set we split by rest counts from one.
            same_source = self._last_source_set == rep.set_index
            base = rep.rep_index - 1 if same_source else 0
            cur = self._set = _SetState(index=self._sets_done, source_set=rep.set_index,
                                        base=base, start=rep.start, last_rep_source=base)
        count = rep.rep_index - cur.base
        cur.missed += max(0, rep.rep_index - cur.last_rep_source - 1)
        cur.count = count
        cur.last_rep_source = rep.rep_index
        # Not after ``now``: an end off the data timeline would hold the set open.
        cur.last_rep_end = min(rep.end, now)
        self._last_source_set = rep.set_index
        if self.config.rep_cue == 'tone':
            cues.append(self._cue(number_to_words(count), KIND_REP, rep.stamp, count,
                                  AUDIO_TONE))
        else:
            cues.append(self._cue(number_to_words(count), KIND_REP, rep.stamp, count))
        early = self._early.pop((rep.set_index, rep.rep_index), None)
        if early is not None:
            cues += self._apply_state(early[0])
        return cues

    def on_near_failure(self, state: NearFailureState, now: float) -> List[Cue]:
        """Handle the classifier's verdict after a rep; return the cues it causes."""
        cues = self._expire(now)
        cur = self._set
        key = (state.set_index, state.rep_index)
        if cur is not None and state.set_index == cur.source_set \
                and cur.base < state.rep_index <= cur.last_rep_source:
            return cues + self._apply_state(state)
        if cur is not None and key <= (cur.source_set, cur.base):
            return cues  # a late verdict for a set already summarised
        if cur is None and self._ended is not None and key <= self._ended:
            return cues
        # Its rep has not arrived yet (the topics are not ordered): hold it briefly so
        # the count is said before the warning.
        self._early[key] = (state, now)
        return cues

    def tick(self, now: float) -> List[Cue]:
        """Advance time: end a rested set, apply verdicts whose rep never came."""
        return self._expire(now)

    def flush(self, now: float) -> List[Cue]:
        """End the set in progress now (shutdown, end of a replay); return its summary."""
        cues = self._expire(now)
        if self._set is not None:
            cues += self._end_set(now)
        return cues

    # ----------------------------------------------------------------- queries

    @property
    def set_index(self) -> int:
        """Index of the set in progress (or of the last one), 0 before any rep."""
        return self._sets_done

    @property
    def in_set(self) -> bool:
        """Whether a set is in progress."""
        return self._set is not None

    def fixed_phrases(self, max_count: int = 30) -> List[str]:
        """Return the phrases worth pre-rendering: counts and warnings."""
        phrases = [number_to_words(n) for n in range(1, max_count + 1)]
        phrases += [reps_left_text(n) for n in range(self.config.warn_max_left, -1, -1)]
        return phrases

    # ---------------------------------------------------------------- internals

    def _cue(self, text: str, kind: str, stamp: float, rep_index: int,
             audio: str = AUDIO_SPEECH) -> Cue:
        set_index = self._set.index if self._set is not None else self._sets_done
        return Cue(text=text, kind=kind, priority=PRIORITY[kind], stamp=float(stamp),
                   set_index=set_index, rep_index=int(rep_index), audio=audio)

    def _continues(self, prior: _SetState, rep: RepEvent) -> bool:
        """Tell whether ``rep`` belongs to the set ``prior``, as the segmenter decides."""
        return (rep.set_index == prior.source_set
                and not opens_new_set(prior.last_rep_end, rep.start, self.config.set_rest_s))

    def _reopen(self, cur: _SetState) -> _SetState:
        """Resume ``cur``, summarised last: a rep under way when its rest ran out is in it."""
        self._last_set = None
        # Its summary told the set as it stood; the one to come when it ends tells all of it.
        self.summaries = [s for s in self.summaries if s.set_index != cur.index]
        return cur

    def _expire(self, now: float) -> List[Cue]:
        cues = self._expire_verdicts(now)
        cur = self._set
        # A rep starting now would open a new set: the rest has reached set_rest_s.
        if cur is not None and opens_new_set(cur.last_rep_end, now, self.config.set_rest_s):
            cues += self._end_set(now)
        return cues

    def _expire_verdicts(self, now: float) -> List[Cue]:
        cues: List[Cue] = []
        wait = self.config.state_wait_s
        for key, (state, arrived) in list(self._early.items()):
            if now - arrived < wait:
                continue
            del self._early[key]
            cur = self._set
            if cur is not None and state.set_index == cur.source_set \
                    and state.rep_index > cur.base:
                # Its rep was lost: the verdict still says how close failure is.
                cues += self._apply_state(state)
        return cues

    def _probability(self, state: NearFailureState) -> float:
        p = state.probability
        if p is None or not math.isfinite(p):
            # No probability: trust the classifier's own decision fully.
            return 1.0 if state.near_failure else 0.0
        return float(p)

    def _apply_state(self, state: NearFailureState) -> List[Cue]:
        cur = self._set
        assert cur is not None
        cfg = self.config
        p = self._probability(state)
        if not cur.latch and p >= cfg.near_failure_on:
            cur.latch = True
            cur.latch_rep = state.rep_index
        elif cur.latch and p <= cfg.near_failure_off:
            cur.latch = False
        if cur.last_state is None or state.rep_index >= cur.last_state.rep_index:
            cur.last_state = state
            cur.summary_latch = cur.latch
        count = state.rep_index - cur.base
        if state.rir is not None:
            left = int(state.rir) - cfg.target_rir
            if left <= 0:
                speak = cur.latch or p >= cfg.confidence
            else:
                speak = p >= cfg.confidence and left <= cfg.warn_max_left
        else:
            if not cur.latch:
                return []
            # The rep at which the latch engaged stands for near_failure_rir in
            # reserve; every rep since, with the latch still on, is one fewer.
            reps_since = max(0, state.rep_index - cur.latch_rep)
            left = cfg.near_failure_rir - reps_since - cfg.target_rir
            speak = left <= cfg.warn_max_left
        if not speak:
            return []
        left = max(left, 0)
        if cur.lowest_left is not None and left >= cur.lowest_left:
            return []  # never repeat, never go back up the ladder
        cur.lowest_left = left
        kind = KIND_STOP if left == 0 else KIND_RIR
        return [self._cue(reps_left_text(left), kind, state.stamp, count)]

    def _end_set(self, now: float) -> List[Cue]:
        cur = self._set
        assert cur is not None
        self._set = None
        self._last_set = cur
        rir: Optional[int] = None
        last = cur.last_state
        # Only the verdict for the set's final rep describes how the set ended.
        near = False
        if last is not None and last.rep_index == cur.last_rep_source:
            rir = last.rir
            near = cur.summary_latch
        text = summary_text(cur.count, rir, near)
        self.summaries.append(SetSummary(
            set_index=cur.index, reps=cur.count, start=cur.start, end=cur.last_rep_end,
            rir=rir, near_failure=near, stop_cued=cur.lowest_left == 0,
            missed_reps=cur.missed, text=text))
        self._ended = (cur.source_set, cur.last_rep_source)
        self._early = {k: v for k, v in self._early.items() if k > self._ended}
        return [Cue(text=text, kind=KIND_SUMMARY, priority=PRIORITY[KIND_SUMMARY],
                    stamp=float(now), set_index=cur.index, rep_index=cur.count)]
