"""SIGTERM during training stops it the way Ctrl-C does (a checkpoint is saved first)."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from neural_atlases.pipeline.train import sigterm_as_interrupt


def test_sigterm_becomes_a_keyboard_interrupt_inside_the_block_only():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        with sigterm_as_interrupt():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler interrupts this
    assert signal.getsignal(signal.SIGTERM) == before


def test_off_the_main_thread_nothing_changes():
    seen = []

    def run() -> None:
        with sigterm_as_interrupt():
            seen.append(signal.getsignal(signal.SIGTERM))

    before = signal.getsignal(signal.SIGTERM)
    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert seen == [before]
