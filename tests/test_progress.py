import io

from neural_atlases.progress import Progress, format_duration


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


def test_log_mode_writes_a_line_every_ten_percent_and_at_the_end():
    out, clock = io.StringIO(), FakeClock()
    with Progress(100, "train", unit="step", stream=out, clock=clock) as bar:
        for _ in range(100):
            clock.now += 0.5
            bar.update(loss=0.0123456, psnr=31.2)
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert len(lines) == 10  # 10 %, ..., 90 %, then the final line from close()
    assert lines[0].startswith("train: 10/100 step  10%")
    assert "loss=0.01235" in lines[0] and "psnr=31.2" in lines[0]
    assert "2 step/s" in lines[0]
    assert lines[0].split()[4] == "00:05<00:45,"  # elapsed < ETA
    assert lines[-1].startswith("train: 100/100 step 100%")
    assert "00:50<00:00" in lines[-1]


def test_tty_mode_redraws_one_line_at_most_ten_times_a_second():
    out, clock = FakeTTY(), FakeClock()
    bar = Progress(1000, "frames", unit="frame", stream=out, clock=clock)
    assert bar.tty
    for _ in range(1000):
        clock.now += 0.001  # 1 s in all: about 10 redraws
        bar.update()
    bar.close()
    text = out.getvalue()
    assert text.endswith("\n") and text.count("\n") == 1
    draws = text.split("\r")[1:]
    assert 8 <= len(draws) <= 13
    assert draws[-1].startswith("frames: 1000/1000 frame 100% [####################]")
    bar.close()  # closing twice writes nothing more
    assert out.getvalue() == text


def test_time_budget_gives_fraction_and_eta():
    out, clock = io.StringIO(), FakeClock()
    bar = Progress(None, "train", unit="step", stream=out, time_budget_s=60.0, clock=clock)
    clock.now = 15.0
    bar.update(30)
    assert bar.fraction() == 0.25
    assert bar.eta() == 45.0
    assert "30 step  25%" in out.getvalue()  # the 20 % line
    assert "00:15<00:45" in bar.line()
    # with both a step count and a budget, whichever ends first wins
    both = Progress(1000, stream=io.StringIO(), time_budget_s=60.0, clock=clock)
    clock.now = 30.0
    both.set(900)
    assert both.fraction() == 0.9
    assert abs(both.eta() - 15.0 * 100 / 900) < 1e-9  # 15 s elapsed: steps end before the budget


def test_unknown_total_logs_by_time():
    out, clock = io.StringIO(), FakeClock()
    bar = Progress(None, "scan", stream=out, clock=clock, log_interval_s=10.0)
    for _ in range(25):
        clock.now += 1.0
        bar.update()
    bar.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 3  # at 10 s, 20 s, and the end
    assert lines[-1].startswith("scan: 25 it ")


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
    assert out.getvalue().endswith("\rx: 1/10 it  10% [##..................] 00:00<00:00, 0 it/s")
