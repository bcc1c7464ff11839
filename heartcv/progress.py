"""Progress bars that suit where they are written.

On a terminal, a tqdm bar redrawn in place. In a log file or a pipe (``heartcv prep ... >
log 2>&1``, a batch job), tqdm's carriage returns would pile every redraw into one line of
thousands of characters; there the same bar prints a plain line every ``interval`` seconds
(nothing for work done sooner) and one at the end (unless ``leave=False``), no carriage
returns, no ANSI codes.
"""

from __future__ import annotations

import sys

LOG_INTERVAL = 30.0  # seconds between progress lines in a log


def is_terminal(stream) -> bool:
    """Whether ``stream`` is an open terminal."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class _Lines:
    """A file for tqdm that turns each redraw (``\\r`` + status) into one line of ``stream``."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text):
        line = text.replace("\r", "").rstrip()
        if line:
            self.stream.write(line + "\n")

    def flush(self):
        self.stream.flush()


def progress_bar(iterable=None, *, disable=False, file=None, interval=LOG_INTERVAL, **kwargs):
    """``tqdm(iterable, **kwargs)`` on a terminal; elsewhere a line every ``interval`` seconds
    from the first ``interval`` on, and the last state when it closes (unless ``leave=False``).

    Args:
        iterable: what to iterate over (or None, with ``total=`` and ``update()``).
        disable: no output at all (a ``--no-progress`` flag).
        file: the stream (stderr by default, as tqdm's).
        interval: seconds between lines when ``file`` is not a terminal.
        **kwargs: tqdm's (``total``, ``desc``, ``unit``, ``initial``, ``leave``, ...).

    Returns:
        A ``tqdm`` object (iterate over it, or ``update``/``close`` it; a context manager).
    """
    stream = sys.stderr if file is None else file
    if disable or is_terminal(stream):
        from tqdm.auto import tqdm

        return tqdm(iterable, disable=disable, file=stream, **kwargs)
    from tqdm import tqdm  # the plain one: a notebook's widget would ignore ``file``

    kwargs.pop("dynamic_ncols", None)
    kwargs.update(file=_Lines(stream), mininterval=interval, maxinterval=max(interval, 10.0),
                  delay=interval, ascii=True, ncols=80)
    return tqdm(iterable, **kwargs)


__all__ = ["LOG_INTERVAL", "is_terminal", "progress_bar"]
