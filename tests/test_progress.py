import io

import pytest

from neural_atlases.progress import Progress, budget_total, format_duration


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_format_duration():
    assert format_duration(75.2) == "01:15"
    assert format_duration(3725) == "1:02:05"
    assert format_duration(float("inf")) == "--:--"


def test_log_mode_writes_a_line_every_ten_seconds_and_one_at_the_end():
    out, clock = io.StringIO(), FakeClock()
    with Progress(100, "train", unit="step", stream=out, clock=clock) as bar:
        for _ in range(100):
            clock.now += 0.5  # 50 s in all
            bar.update(loss=0.0123456, psnr=31.2)
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert len(lines) == 6  # the start, at 10.5, 20.5, 30.5, 40.5 s, and the end
    assert lines.pop(0) == "train: started (0/100 step)"
    assert lines[0].startswith("train:  21% 21/100 step [00:10<00:39,")
    assert "loss=0.01235" in lines[0] and "psnr=31.2" in lines[0]
    assert "2.00step/s" in lines[0]
    assert lines[-1].startswith("train: 100% 100/100 step [00:50<00:00,")


def test_a_short_stage_writes_one_line():
    out, clock = io.StringIO(), FakeClock()
    with Progress(70, "optical flow, gap 1", unit="frame", stream=out, clock=clock) as bar:
        for _ in range(70):
            clock.now += 0.125  # 8.75 s
            bar.update()
    assert out.getvalue() == "optical flow, gap 1: started (0/70 frame)\n"


def test_tty_mode_is_a_tqdm_bar_redrawn_in_place():
    out, clock = FakeTTY(), FakeClock()
    bar = Progress(1000, "frames", unit="frame", stream=out, clock=clock)
    assert bar.tty
    for _ in range(1000):
        clock.now += 0.001  # 1 s in all: about 10 redraws at tqdm's 0.1 s
        bar.update()
    bar.close()
    text = out.getvalue()
    assert text.endswith("\n") and text.count("\n") == 1
    draws = text.split("\r")[1:]
    assert 8 <= len(draws) <= 14
    assert draws[-1].startswith("frames: 100%|") and "1000/1000" in draws[-1]
    bar.close()  # closing twice writes nothing more
    assert out.getvalue() == text


def test_tqdm_disable_silences_both_modes(monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "1")
    for out in (io.StringIO(), FakeTTY()):
        with Progress(3, "x", stream=out) as bar:
            bar.update(3)
            bar.write("note")
        assert out.getvalue() == ""


def test_time_budget_gives_the_fraction_and_eta_when_it_ends_first():
    out, clock = io.StringIO(), FakeClock()
    bar = Progress(None, "train", unit="step", stream=out, time_budget_s=60.0, clock=clock)
    clock.now = 15.0
    bar.update(30)
    assert bar.line().startswith("train:  25% 30/120 step [00:15<00:45,")  # 120: the budget's steps
    # with both a step count and a budget, whichever ends first wins
    both = Progress(1000, stream=io.StringIO(), time_budget_s=60.0, clock=clock)
    clock.now = 45.0
    both.set(900)
    assert both.line().startswith(" 90% 900/1000 it [00:30<00:03,")  # steps end before the budget
    assert out.getvalue() == "train: started (0 step)\n"  # the first update's line


@pytest.mark.parametrize(
    "done,total,elapsed,budget,expected",
    [
        (10, 100, 5.0, None, 100),  # no budget: the count
        (50, 100, 10.0, 60.0, 100),  # the count is ahead of the clock
        (10, 100, 30.0, 60.0, 20),  # the clock is ahead: 20 steps by the budget's end
        (10, None, 15.0, 60.0, 40),
        (0, None, 15.0, 60.0, None),  # nothing done yet: nothing to project
        (10, None, 90.0, 60.0, 10),  # past the budget: done
    ],
)
def test_budget_total(done, total, elapsed, budget, expected):
    assert budget_total(done, total, elapsed, budget) == expected


def test_unknown_total_logs_by_time():
    out, clock = io.StringIO(), FakeClock()
    bar = Progress(None, "scan", stream=out, clock=clock)
    for _ in range(25):
        clock.now += 1.0
        bar.update()
    bar.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 4  # the start (after 1 s), at 11 s, 21 s, and the end
    assert lines[1].startswith("scan: 11 it [00:11,")
    assert lines[-1].startswith("scan: 25 it [00:25,")


def test_callback_sets_absolute_position_and_total():
    out, clock = io.StringIO(), FakeClock()
    bar = Progress(None, "read", stream=out, clock=clock)
    progress = bar.callback()
    progress(3, 10)
    assert (bar.done, bar.total) == (3, 10)
    progress(5, 0)  # unknown total keeps the known one
    assert (bar.done, bar.total) == (5, 10)


def test_write_keeps_the_bar_below_the_message():
    out, clock = FakeTTY(), FakeClock()
    bar = Progress(10, "x", stream=out, clock=clock)
    bar.update()
    bar.write("hello")
    assert "hello\n" in out.getvalue()
    assert out.getvalue().endswith("| 1/10 [00:00<?, ?it/s]")
    log = io.StringIO()
    Progress(10, "x", stream=log).write("hello")
    assert log.getvalue() == "hello\n"
