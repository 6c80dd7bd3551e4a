"""Progress of long work: tqdm's bar on a terminal, a quiet log anywhere else.

On a terminal ``Progress`` is a tqdm bar, and tqdm's switches apply (``TQDM_DISABLE=1`` silences
it, ``TQDM_MININTERVAL`` sets how often it redraws). When the stream is not a terminal (a log
file, CI) a stage writes one line when it starts (at its first item), then at most a line every
``LOG_INTERVAL_S`` (10 s) with its ETA, and one when it ends; a stage shorter than 10 s writes its
first line alone.
Both modes format their lines with tqdm's ``format_meter``.

What tqdm does not do is kept here: a time budget (training bounded by minutes) counts towards
the fraction done, which is the larger of ``done / total`` and ``elapsed / budget``, so the bar
and its ETA follow whichever ends first. Library code never takes a ``Progress``: it takes a
``ProgressFn``, a plain ``progress(done, total)`` function, which ``Progress.callback()`` gives.

>>> import io
>>> log = io.StringIO()
>>> with Progress(4, "frames", unit="frame", stream=log) as bar:
...     for _ in range(4):
...         bar.update()
>>> log.getvalue()
'frames: started (0/4 frame)\\n'
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from typing import TextIO

from tqdm import tqdm

ProgressFn = Callable[[int, int], None]
"""``progress(done, total)``: ``done`` items of ``total`` finished; ``total <= 0`` if unknown."""

LOG_INTERVAL_S = 10.0
"""Outside a terminal, a stage writes at most one line this often (and one when it ends)."""

_LOG_FORMAT = (
    "{desc}{percentage:3.0f}% {n_fmt}/{total_fmt} {unit} [{elapsed}<{remaining}, {rate_fmt}{postfix}]"
)
_LOG_FORMAT_NO_TOTAL = "{desc}{n_fmt} {unit} [{elapsed}, {rate_fmt}{postfix}]"


def format_duration(seconds: float | None) -> str:
    """``75.2`` -> ``"01:15"``, ``3725`` -> ``"1:02:05"``; ``"--:--"`` for unknown or infinite."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "--:--"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def budget_total(done: float, total: float | None, elapsed: float, budget_s: float | None) -> float | None:
    """The total that makes ``done / total`` the fraction done when a time budget may end first:
    ``total`` while the count is ahead of the clock, else the count reached when the budget runs
    out at the rate so far (so a rate-based ETA is the budget's time left)."""
    if not budget_s or done <= 0 or elapsed <= 0:
        return total
    by_time = min(elapsed / budget_s, 1.0)
    if total and done / total >= by_time:
        return total
    return max(done, round(done / by_time))


def _format_value(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _disabled_by_environment() -> bool:
    return os.environ.get("TQDM_DISABLE", "").strip().lower() in ("1", "true", "yes", "on")


class _BudgetBar(tqdm):
    """tqdm whose total is ``budget_total``'s: the bar, percentage and ETA follow a time budget."""

    monitor_interval = 0  # no monitor thread: every bar is closed by its Progress

    def __init__(self, *args, time_budget_s: float | None = None, **kwargs) -> None:
        self.time_budget_s = time_budget_s
        super().__init__(*args, **kwargs)

    @property
    def format_dict(self):
        d = super().format_dict
        d["total"] = budget_total(d["n"], d["total"], d["elapsed"], self.time_budget_s)
        return d


class Progress:
    """A progress bar (terminal) or progress log (anything else) for a stage of work.

    Args:
        total: number of items, or ``None`` when unknown (then ``time_budget_s`` can give the ETA).
        description: what is being done, shown first on the line.
        unit: name of one item (``"it"``, ``"frame"``, ``"step"``).
        stream: where to write; ``None`` means ``sys.stderr``.
        time_budget_s: a time limit in seconds; see the module docstring.
        tty: force terminal (``True``) or log (``False``) mode; ``None`` asks ``stream.isatty()``.
        log_interval_s: outside a terminal, the least time between two lines.
        clock: a monotonic clock in seconds (tests pass a fake one).

    ``update(n, **postfix)`` advances by ``n`` and shows ``postfix`` (``loss=0.01 psnr=31.2``) on
    the line; ``close()`` (or leaving the ``with`` block) writes the final state once.
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
        log_interval_s: float = LOG_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total if total is None or total > 0 else None
        self.description = description
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.time_budget_s = time_budget_s if time_budget_s and time_budget_s > 0 else None
        self.log_interval_s = log_interval_s
        self._clock = clock
        self.done = 0
        self.postfix: dict[str, object] = {}
        self._start = self._last_log = clock()
        self._last_line = ""
        self._closed = False
        self.disabled = _disabled_by_environment()
        self.tty = _is_terminal(self.stream) if tty is None else tty
        self._bar: _BudgetBar | None = None
        self._started = False  # outside a terminal: whether the first line is out
        if self.tty and not self.disabled:
            self._bar = _BudgetBar(
                total=self.total,
                desc=description or None,
                unit=unit,
                file=self.stream,
                leave=True,
                smoothing=0.0,  # the average rate: a step's time varies with evaluations
                dynamic_ncols=True,
                time_budget_s=self.time_budget_s,
            )
            self._bar._time = clock  # tqdm's own clock attribute, so that tests can pass a fake
            self._bar.start_t = self._bar.last_print_t = self._start

    # -- public ---------------------------------------------------------------------------------
    @property
    def elapsed(self) -> float:
        """Seconds since the stage started."""
        return self._clock() - self._start

    def update(self, n: int = 1, **postfix: object) -> None:
        """Advance by ``n`` items; keyword arguments replace the shown values of the same name."""
        self.done += n
        if postfix:
            self.postfix.update(postfix)
            if self._bar is not None:
                self._bar.set_postfix_str(self._postfix_text(), refresh=False)
        self._advanced(n)

    def set(self, done: int, total: int | None = None) -> None:
        """Set the absolute position (and the total, if given and positive)."""
        if total is not None and total > 0:
            self.total = total
            if self._bar is not None:
                self._bar.total = total
        step, self.done = done - self.done, done
        self._advanced(step)

    def callback(self) -> ProgressFn:
        """A ``progress(done, total)`` function for library code that reports absolute positions."""

        def progress(done: int, total: int) -> None:
            self.set(done, total if total > 0 else None)

        return progress

    def write(self, message: str) -> None:
        """Write a line of text without garbling the bar (the bar is redrawn below it)."""
        if self.disabled:
            return
        if self._bar is not None:
            self._bar.write(message, file=self.stream)
        else:
            self.stream.write(message + "\n")
            self.stream.flush()

    def close(self) -> None:
        """Write the final state (a finished bar, or the stage's last log line) once."""
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self._bar.close()
        elif not self.disabled and (not self._started or self.elapsed >= self.log_interval_s):
            self._log_line()  # a short stage's one line is its first

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def line(self) -> str:
        """The state as one log line: ``desc: pct done/total unit [elapsed<eta, rate, postfix]``."""
        total = budget_total(self.done, self.total, self.elapsed, self.time_budget_s)
        return tqdm.format_meter(
            self.done,
            total,
            self.elapsed,
            prefix=f"{self.description}: " if self.description else "",
            unit=self.unit,
            postfix=self._postfix_text() or None,
            bar_format=_LOG_FORMAT if total else _LOG_FORMAT_NO_TOTAL,
        )

    # -- internals ------------------------------------------------------------------------------
    def _postfix_text(self) -> str:
        return " ".join(f"{k}={_format_value(v)}" for k, v in self.postfix.items())

    def _advanced(self, n: int) -> None:
        if self._closed or self.disabled:
            return
        if self._bar is not None:
            self._bar.update(n)
            return
        now = self._clock()
        if not self._started:  # at the first item, not at creation: a stage that begins work
            self._started, self._last_log = True, now
            total = f"/{self.total}" if self.total else ""
            name = self.description or "progress"
            self._write_line(f"{name}: started ({self.done - n}{total} {self.unit})")
        elif now - self._last_log >= self.log_interval_s:
            self._last_log = now
            self._log_line()

    def _log_line(self) -> None:
        line = self.line()
        if line != self._last_line:  # a stage that ended on a logged line does not repeat it
            self._write_line(line)

    def _write_line(self, line: str) -> None:
        self._last_line = line
        self.stream.write(line + "\n")
        self.stream.flush()


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if isatty is not None else False
    except (ValueError, OSError):  # a closed or odd stream: treat as a log
        return False
