"""Progress reporting without third-party packages.

``Progress`` draws a one-line bar on a terminal and writes a plain log line every ~10 % when the
stream is not a terminal (a log file, CI). Library code never takes a ``Progress``: it takes a
``ProgressFn``, a plain ``progress(done, total)`` function, which ``Progress.callback()`` provides.

>>> import io
>>> log = io.StringIO()
>>> with Progress(4, "frames", unit="frame", stream=log) as bar:
...     for _ in range(4):
...         bar.update()
>>> log.getvalue().splitlines()[-1].startswith("frames: 4/4 frame 100%")
True
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import TextIO

ProgressFn = Callable[[int, int], None]
"""``progress(done, total)``: ``done`` items of ``total`` finished; ``total <= 0`` if unknown."""


def format_duration(seconds: float | None) -> str:
    """``75.2`` -> ``"01:15"``, ``3725`` -> ``"1:02:05"``; ``"--:--"`` for unknown or infinite."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "--:--"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def _format_value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


class Progress:
    """A progress bar (terminal) or progress log (anything else) for a loop.

    Args:
        total: number of items, or ``None`` when unknown (then ``time_budget_s`` can give the ETA).
        description: what is being done, shown first on the line.
        unit: name of one item (``"it"``, ``"frame"``, ``"step"``).
        stream: where to write; ``None`` means ``sys.stderr`` at the time of writing.
        time_budget_s: a time limit in seconds (training bounded by minutes). The fraction done
            is the larger of ``done / total`` and ``elapsed / budget`` and the ETA the smaller of
            the two estimates, so a run bounded by both steps and minutes reports whichever ends
            first.
        tty: force terminal (``True``) or log (``False``) mode; ``None`` asks ``stream.isatty()``.
        min_interval_s: on a terminal, the bar is redrawn at most this often.
        log_every: outside a terminal, a line is written each time this fraction more is done
            (and at the end). With neither ``total`` nor a budget, a line every ``log_interval_s``.
        log_interval_s: see ``log_every``.
        clock: a monotonic clock in seconds (tests pass a fake one).

    ``update(n, **postfix)`` advances by ``n`` and shows ``postfix`` (``loss=0.01 psnr=31.2``) on
    the line; ``close()`` (or leaving the ``with`` block) writes the final state.
    """

    def __init__(
        self,
        total: int | None,
        description: str = "",
        unit: str = "it",
        stream: TextIO | None = None,
        *,
        time_budget_s: float | None = None,
        tty: bool | None = None,
        min_interval_s: float = 0.1,
        log_every: float = 0.1,
        log_interval_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total if total is None or total > 0 else None
        self.description = description
        self.unit = unit
        self._stream = stream
        self.time_budget_s = time_budget_s if time_budget_s and time_budget_s > 0 else None
        self.min_interval_s = min_interval_s
        self.log_every = log_every
        self.log_interval_s = log_interval_s
        self._clock = clock
        self.done = 0
        self.postfix: dict[str, object] = {}
        self._start = clock()
        self._last_draw = -math.inf
        self._last_width = 0
        self._logged_step = 0  # how many `log_every` steps have been logged
        self._last_log_time = self._start
        self._closed = False
        self.tty = self._detect_tty() if tty is None else tty

    # -- public ---------------------------------------------------------------------------------
    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stderr

    @property
    def elapsed(self) -> float:
        """Seconds since the bar was created."""
        return self._clock() - self._start

    def fraction(self) -> float | None:
        """Fraction done in [0, 1] (from the count and/or the time budget), or ``None``."""
        parts = []
        if self.total:
            parts.append(self.done / self.total)
        if self.time_budget_s:
            parts.append(self.elapsed / self.time_budget_s)
        return min(max(parts), 1.0) if parts else None

    def eta(self) -> float | None:
        """Estimated seconds left, or ``None`` if there is nothing to estimate from."""
        elapsed = self.elapsed
        estimates = []
        if self.total and self.done > 0:
            estimates.append(elapsed * max(self.total - self.done, 0) / self.done)
        if self.time_budget_s:
            estimates.append(max(self.time_budget_s - elapsed, 0.0))
        return min(estimates) if estimates else None

    def rate(self) -> float:
        """Items per second so far."""
        elapsed = self.elapsed
        return self.done / elapsed if elapsed > 0 else 0.0

    def update(self, n: int = 1, **postfix: object) -> None:
        """Advance by ``n`` items; keyword arguments replace the shown values of the same name."""
        self.done += n
        if postfix:
            self.postfix.update(postfix)
        self._maybe_emit()

    def set(self, done: int, total: int | None = None) -> None:
        """Set the absolute position (and the total, if given and positive)."""
        if total is not None and total > 0:
            self.total = total
        self.done = done
        self._maybe_emit()

    def callback(self) -> ProgressFn:
        """A ``progress(done, total)`` function for library code that reports absolute positions."""

        def progress(done: int, total: int) -> None:
            self.set(done, total if total > 0 else None)

        return progress

    def write(self, message: str) -> None:
        """Write a line of text without garbling the bar (the bar is redrawn below it)."""
        if self.tty and self._last_width:
            self.stream.write("\r" + " " * self._last_width + "\r")
            self._last_width = 0
        self.stream.write(message + "\n")
        if self.tty and not self._closed:
            self._draw(force=True)
        self.stream.flush()

    def close(self) -> None:
        """Write the final state (a finished bar, or a last log line) once."""
        if self._closed:
            return
        self._closed = True
        if self.tty:
            self._draw(force=True)
            self.stream.write("\n")
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- formatting -----------------------------------------------------------------------------
    def line(self, bar_width: int = 0) -> str:
        """The status text: ``desc: done/total unit pct [bar] elapsed<eta, rate, postfix``."""
        parts = []
        count = f"{self.done}/{self.total}" if self.total else f"{self.done}"
        parts.append(f"{count} {self.unit}")
        frac = self.fraction()
        if frac is not None:
            parts.append(f"{frac * 100:3.0f}%")
            if bar_width > 0:
                filled = int(frac * bar_width)
                parts.append("[" + "#" * filled + "." * (bar_width - filled) + "]")
        timing = format_duration(self.elapsed)
        eta = self.eta()
        if eta is not None:
            timing += "<" + format_duration(eta)
        rate = self.rate()
        if rate >= 1.0 or rate == 0.0:
            rate_text = f"{rate:.3g} {self.unit}/s"
        else:
            rate_text = f"{1.0 / rate:.3g} s/{self.unit}"
        text = " ".join(parts) + f" {timing}, {rate_text}"
        if self.postfix:
            text += ", " + " ".join(f"{k}={_format_value(v)}" for k, v in self.postfix.items())
        return f"{self.description}: {text}" if self.description else text

    # -- internals ------------------------------------------------------------------------------
    def _detect_tty(self) -> bool:
        isatty = getattr(self.stream, "isatty", None)
        try:
            return bool(isatty()) if isatty is not None else False
        except (ValueError, OSError):  # a closed or odd stream: treat as a log
            return False

    def _maybe_emit(self) -> None:
        if self._closed:
            return
        if self.tty:
            self._draw(force=False)
        else:
            self._log()

    def _draw(self, force: bool) -> None:
        now = self._clock()
        if not force and now - self._last_draw < self.min_interval_s:
            return
        self._last_draw = now
        text = self.line(bar_width=20)
        pad = max(self._last_width - len(text), 0)
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()
        self._last_width = len(text)

    def _log(self) -> None:
        frac = self.fraction()
        if frac is not None:
            step = int(frac / self.log_every + 1e-9) if self.log_every > 0 else 0
            if step <= self._logged_step or frac >= 1.0:  # the line at 100 % is close()'s
                return
            self._logged_step = step
        else:
            now = self._clock()
            if now - self._last_log_time < self.log_interval_s:
                return
            self._last_log_time = now
        self.stream.write(self.line() + "\n")
        self.stream.flush()
