"""
Speech via the ``espeak-ng`` command, rendered once per phrase and cached.

Rendering a phrase takes tens of milliseconds (process start + synthesis), too
slow for a cue that must start within 50 ms of its event, so the fixed phrases
are pre-rendered in a background thread at start-up and everything rendered is
kept in memory (a phrase is ~20-40 kB of PCM).
"""

from __future__ import annotations

from collections import OrderedDict
import shutil
import subprocess
import threading
from typing import Iterable, List, Optional, Set

from rep_coach.audio.log import LoggerLike, warner
from rep_coach.audio.tones import Clip


class EspeakTTS:
    """
    Text-to-speech with ``espeak-ng --stdout`` and an in-memory phrase cache.

    ``voice`` is an espeak-ng voice name ('en', 'en-us', 'de', ...), ``rate`` is
    words per minute, ``volume`` is 0..2 (1.0 = espeak-ng's default amplitude).
    A missing engine is reported once through ``logger`` at construction and
    :meth:`render` then returns None (callers fall back to tones).
    """

    #: Phrases kept beyond the pre-rendered ones (most recently used first).
    MAX_UNPINNED = 8

    def __init__(self, voice: str = 'en', rate: int = 175, volume: float = 1.0,
                 command: str = 'espeak-ng', logger: LoggerLike = None,
                 timeout_s: float = 10.0, trim: bool = True) -> None:
        if not 80 <= int(rate) <= 500:
            raise ValueError(f'tts rate {rate} wpm outside 80..500')
        if not 0.0 <= float(volume) <= 2.0:
            raise ValueError(f'tts volume {volume} outside 0..2')
        self.voice = str(voice)
        self.rate = int(rate)
        self.volume = float(volume)
        self.command = command
        self.timeout_s = timeout_s
        self.trim = trim
        self._warn = warner(logger)
        # Pre-rendered cues (counts, "stop", ...) stay; other phrases (set summaries,
        # each one different) are kept only for the last few, so a session of many
        # sets does not grow by ~90 kB of audio per set.
        self._cache: 'OrderedDict[str, Clip]' = OrderedDict()
        self._pinned: Set[str] = set()
        self._lock = threading.Lock()
        #: Renders that failed; the first and every 100th are logged, not one hidden after.
        self.failures = 0
        self._prerender: Optional[threading.Thread] = None
        self.path = shutil.which(command)
        self.warning: Optional[str] = None
        if self.path is None:
            self.warning = (f'TTS engine {command!r} not found on PATH: cues will be tones '
                            f'(text is still published)')
            self._warn(self.warning)

    @property
    def available(self) -> bool:
        """Whether the engine exists (rendering may still fail for a bad voice)."""
        return self.path is not None

    def argv(self) -> List[str]:
        """Command line for one rendering; the text goes on stdin, never in argv."""
        amplitude = int(round(100 * self.volume))
        return [self.path or self.command, '--stdout', '-v', self.voice,
                '-s', str(self.rate), '-a', str(amplitude)]

    def cached(self, text: str) -> Optional[Clip]:
        """Return the clip for ``text`` if already rendered, without rendering."""
        with self._lock:
            return self._cache.get(text)

    def render(self, text: str) -> Optional[Clip]:
        """Return speech for ``text`` (cached), or None if the engine is unusable."""
        clip = self.cached(text)
        if clip is not None or not self.available or not text.strip():
            return clip     # nothing to say is no failure of the engine
        try:
            # Text on stdin: no shell, no quoting, and a phrase starting with '-'
            # cannot be taken for an option.
            proc = subprocess.run(self.argv(), input=text.encode('utf-8'),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  timeout=self.timeout_s, check=False)
            if proc.returncode != 0:
                raise RuntimeError(f'exit status {proc.returncode}: '
                                   f'{proc.stderr.decode(errors="replace").strip()}')
            clip = Clip.from_wav_bytes(proc.stdout)
        except (OSError, subprocess.SubprocessError, RuntimeError, ValueError) as exc:
            self.failures += 1
            if self.failures == 1 or self.failures % 100 == 0:
                self._warn(f'TTS {self.command!r} (voice {self.voice!r}) failed on '
                           f'{text!r}: {exc}; using tones instead'
                           + (f' ({self.failures} failures so far)' if self.failures > 1
                              else ''))
            return None
        if self.trim:
            trimmed = clip.trimmed()
            clip = trimmed if trimmed.samples.size else clip
        with self._lock:
            self._cache[text] = clip
            self._cache.move_to_end(text)
            unpinned = [k for k in self._cache if k not in self._pinned]
            for key in unpinned[:max(0, len(unpinned) - self.MAX_UNPINNED)]:
                del self._cache[key]
        return clip

    def prerender(self, phrases: Iterable[str], background: bool = True
                  ) -> Optional[threading.Thread]:
        """Render ``phrases`` into the cache, in a daemon thread unless told otherwise."""
        todo = [p for p in dict.fromkeys(phrases) if p]
        with self._lock:
            self._pinned.update(todo)
        if not self.available or not todo:
            return None

        def work() -> None:
            for phrase in todo:
                self.render(phrase)

        if not background:
            work()
            return None
        self._prerender = threading.Thread(target=work, name='rep_coach-tts-prerender',
                                           daemon=True)
        self._prerender.start()
        return self._prerender

    def wait_ready(self, timeout: Optional[float] = None) -> bool:
        """Wait for a background pre-render to finish; True when it has."""
        thread = self._prerender
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def __len__(self) -> int:
        with self._lock:
            return len(self._cache)
