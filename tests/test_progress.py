"""Progress bars: redrawn on a terminal, plain short lines in a log (issue 25)."""

import io
import time

from heartcv.progress import is_terminal, progress_bar


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_lines_in_a_log():
    log = io.StringIO()
    with progress_bar(total=40, desc="convert x.h5", unit="img", file=log, interval=0.01,
                      dynamic_ncols=True) as bar:
        for _ in range(4):
            time.sleep(0.02)
            bar.update(10)
    text = log.getvalue()
    lines = text.splitlines()
    assert "\r" not in text and "\x1b" not in text
    assert 2 <= len(lines) and all(len(line) <= 100 for line in lines)
    assert lines[-1].startswith("convert x.h5: 100%") and "40/40" in lines[-1]  # kept at the end
    quick = io.StringIO()  # done within the interval: no line at all
    for _ in progress_bar(range(3), desc="check", file=quick, interval=60):
        pass
    assert quick.getvalue() == ""


def test_terminal_and_disabled():
    term = _Terminal()
    assert is_terminal(term) and not is_terminal(io.StringIO()) and not is_terminal(object())
    for _ in progress_bar(range(3), desc="check", file=term):
        pass
    assert "\r" in term.getvalue()  # tqdm's own bar, redrawn in place
    quiet = io.StringIO()
    for _ in progress_bar(range(3), desc="check", file=quiet, disable=True):
        pass
    assert quiet.getvalue() == ""
