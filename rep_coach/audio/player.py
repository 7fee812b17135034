"""
Non-blocking cue playback: one worker thread, at most one pending cue.

``play(cue)`` returns at once.  The worker plays one cue at a time; while it is
busy, a newer cue replaces the pending one (a stale count is useless once the
next rep happened) unless the pending cue has a higher priority -- so a waiting
"stop" is never dropped for a count.  A cue of priority ``interrupt_priority``
or more also cuts a lower-priority cue that is already playing.

Sinks that only record (``wav:DIR``, plain ``null``) are not real time, so for
them the player keeps every cue in order instead (``lossless``).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
import threading
import time
from typing import Callable, Deque, Dict, Iterable, List, Optional, Tuple

from rep_coach.audio.log import LoggerLike, warner
from rep_coach.audio.sinks import make_sink, PlayContext, Sink
from rep_coach.audio.tones import Clip, DEFAULT_RATE, fallback_clip, tone
from rep_coach.audio.tts import EspeakTTS
from rep_coach.core.coaching import AUDIO_TONE, Cue, PRIORITY


@dataclass
class PlayerStats:
    """Counters since start-up."""

    received: int = 0
    played: int = 0
    superseded: int = 0
    dropped_on_close: int = 0
    errors: int = 0


class AudioCuePlayer:
    """
    Plays :class:`~rep_coach.core.coaching.Cue` objects through a sink.

    ``tts`` may be None (tones only).  ``tone_hz`` is the pitch of rep tones and
    of the fallback beeps used when speech is unavailable.  ``on_played`` is
    called from the worker with each finished :class:`PlayContext` (played or
    dropped), e.g. for diagnostics.
    """

    def __init__(self, sink: Sink, tts: Optional[EspeakTTS] = None, tone_hz: float = 880.0,
                 tone_s: float = 0.08, volume: float = 0.5, logger: LoggerLike = None,
                 lossless: Optional[bool] = None,
                 interrupt_priority: Optional[int] = PRIORITY['stop'],
                 on_played: Optional[Callable[[PlayContext], None]] = None,
                 history: int = 1000) -> None:
        self.sink = sink
        self.tts = tts
        self.rate = DEFAULT_RATE
        self.tone_hz = float(tone_hz)
        self.tone_s = float(tone_s)
        self.volume = float(volume)
        # Validate the tone parameters now, not at the first rep.
        tone(self.tone_hz, self.tone_s, self.volume, self.rate)
        self.lossless = (not sink.realtime) if lossless is None else bool(lossless)
        self.interrupt_priority = interrupt_priority
        self.on_played = on_played
        self._warn = warner(logger)
        self._cond = threading.Condition()
        self._pending: Deque[PlayContext] = deque()
        self._playing: Optional[PlayContext] = None
        self._closed = False
        self._number = 0
        self._clips: Dict[Tuple[str, str], Clip] = {}
        self.stats = PlayerStats()
        self.history: Deque[PlayContext] = deque(maxlen=history)
        self._worker = threading.Thread(target=self._run, name='rep_coach-audio', daemon=True)
        self._worker.start()

    # -------------------------------------------------------------- public API

    def prerender(self, phrases: Iterable[str], background: bool = True) -> None:
        """Render speech for ``phrases`` (and the tones) ahead of the first cue."""
        for kind in ('rep', 'rir', 'stop', 'summary'):
            self._fallback(kind)
        self._tone()
        if self.tts is not None:
            self.tts.prerender(phrases, background=background)

    def play(self, cue: Cue) -> None:
        """Queue ``cue`` for playback and return immediately."""
        ctx = PlayContext(number=0, cue=cue, enqueued_mono=time.monotonic(),
                          enqueued_wall=time.time())
        dropped: List[PlayContext] = []
        with self._cond:
            if self._closed:
                return
            self._number += 1
            ctx.number = self._number
            self.stats.received += 1
            if self.lossless:
                self._pending.append(ctx)
            elif self._pending and self._pending[-1].cue.priority > cue.priority:
                # The waiting cue matters more (a stop): keep it, drop this one.
                ctx.dropped = 'superseded'
                dropped.append(ctx)
            else:
                while self._pending:
                    old = self._pending.popleft()
                    old.dropped = 'superseded'
                    dropped.append(old)
                self._pending.append(ctx)
            playing = self._playing
            cut = (not self.lossless and playing is not None
                   and self.interrupt_priority is not None
                   and cue.priority >= self.interrupt_priority
                   and playing.cue.priority < cue.priority)
            self.stats.superseded += len(dropped)
            if cut:
                # Under the lock: the worker cannot start the next cue meanwhile, so
                # this never cuts the cue it is meant to make room for.
                self.sink.interrupt()
            self._cond.notify()
        for old in dropped:
            self._finish(old)

    def wait_idle(self, timeout: Optional[float] = None) -> bool:
        """Block until nothing is pending or playing; True if that happened in time."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._pending or self._playing is not None:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left if left is not None else 0.1)
        return True

    def close(self, drain: bool = True, timeout: float = 5.0) -> None:
        """Stop the worker; with ``drain``, let queued cues play first (up to ``timeout``)."""
        if drain:
            self.wait_idle(timeout)
        with self._cond:
            if self._closed:
                return
            self._closed = True
            left = list(self._pending)
            self._pending.clear()
            self._cond.notify_all()
        self.sink.interrupt()
        for ctx in left:
            ctx.dropped = 'closed'
            self.stats.dropped_on_close += 1
            self._finish(ctx)
        self._worker.join(timeout=2.0)
        self.sink.close()

    def __enter__(self) -> 'AudioCuePlayer':
        """Use as a context manager; closes (draining) on exit."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close."""
        self.close()

    def clip_for(self, cue: Cue) -> Clip:
        """Return the audio for ``cue``: tone, cached speech, or fallback beeps."""
        if cue.audio == AUDIO_TONE:
            return self._tone()
        if self.tts is not None:
            clip = self.tts.render(cue.text)
            if clip is not None:
                return clip
        return self._fallback(cue.kind)

    # ---------------------------------------------------------------- internals

    def _tone(self) -> Clip:
        key = ('tone', '')
        clip = self._clips.get(key)
        if clip is None:
            clip = self._clips[key] = tone(self.tone_hz, self.tone_s, self.volume, self.rate)
        return clip

    def _fallback(self, kind: str) -> Clip:
        key = ('fallback', kind)
        clip = self._clips.get(key)
        if clip is None:
            clip = self._clips[key] = fallback_clip(kind, self.tone_hz, self.volume,
                                                    self.rate, self.tone_s)
        return clip

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                ctx = self._pending.popleft()
                self._playing = ctx
            try:
                clip = self.clip_for(ctx.cue)
                self.sink.play(clip, ctx)
                if ctx.error:
                    self.stats.errors += 1
            except Exception as exc:  # noqa: B902 (a sink bug must not kill the audio thread)
                ctx.error = f'{type(exc).__name__}: {exc}'
                self.stats.errors += 1
                self._warn(f'audio sink {self.sink.describe()} failed: {ctx.error}')
            ctx.end_mono = time.monotonic()
            if ctx.start_mono is not None:
                self.stats.played += 1
            self._finish(ctx)
            with self._cond:
                self._playing = None
                self._cond.notify_all()

    def _finish(self, ctx: PlayContext) -> None:
        self.history.append(ctx)
        if ctx.dropped:
            try:
                self.sink.on_dropped(ctx)
            except Exception as exc:  # noqa: BLE001 - bookkeeping only
                self._warn(f'audio sink {self.sink.describe()}: on_dropped failed: {exc}')
        if self.on_played is not None:
            try:
                self.on_played(ctx)
            except Exception as exc:  # noqa: BLE001 - caller's callback
                self._warn(f'audio on_played callback failed: {exc}')


def build_player(sink: str = 'auto', voice: str = 'en', rate: int = 175,
                 volume: float = 1.0, tone_hz: float = 880.0, logger: LoggerLike = None,
                 phrases: Optional[Iterable[str]] = None, speech: bool = True
                 ) -> AudioCuePlayer:
    """
    Build sink + TTS + player from parameter values and start pre-rendering.

    The one call a node or the demo needs; problems (no device, no espeak-ng)
    are reported through ``logger`` and never raise, except a malformed ``sink``
    spec (ValueError naming the parameter).
    """
    out = make_sink(sink, logger)
    tts = EspeakTTS(voice=voice, rate=rate, volume=volume, logger=logger) if speech else None
    player = AudioCuePlayer(out, tts, tone_hz=tone_hz, logger=logger)
    player.prerender(list(phrases or []), background=True)
    return player
