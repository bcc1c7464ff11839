"""One process per run folder: an atomic lock file beside it, with the holder's PID and host.

``heartcv train`` takes ``.<name>.lock`` beside the run folder ``<output_dir>/<name>`` before
it writes anything there, and removes it when it ends, however it ends. A second ``train`` of
the same folder ends at once with one line naming the process that holds it::

    heartcv: error: runs/demo is in use by another heartcv train (pid 4242 on host gpu1,
    since 2026-12-07T19:03:11+00:00); wait for it to end, or remove runs/.demo.lock if that
    process is gone

The lock file is created whole (written under a temporary name, then hard-linked to the lock
name, which fails if the name exists), so no reader sees half of one. A lock left by a
process that was killed is stale and is taken over: on the same host when its PID is gone or
now belongs to a process that started later (PID reuse, told by the start time in
``/proc/<pid>/stat``). A lock of another host (a shared file system) is never taken over: the
line asks to remove it by hand. Beside the folder, not inside it, so ``--overwrite``, which
renames the folder aside, keeps it. No keras or TensorFlow here.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

#: a lock file that cannot be read (a writer killed while writing it, where hard links are
#: not available) is stale once it is this many seconds old
UNREADABLE_STALE_S = 60.0


class RunFolderInUseError(ValueError):
    """Another process holds the run folder: one line naming it (exit 2 at the CLI)."""


def lock_path(folder) -> Path:
    """The lock file of ``folder``: ``.<name>.lock`` beside it."""
    folder = Path(folder)
    return folder.with_name(f".{folder.name}.lock")


def _process_start(pid: int):
    """The start time of process ``pid`` in clock ticks since boot (Linux), else None."""
    try:
        stat = Path(f"/proc/{int(pid)}/stat").read_text()
    except (OSError, ValueError):
        return None
    try:  # the command name (field 2) may hold spaces; fields after it are plain
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (IndexError, ValueError):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return isinstance(pid, int) and pid > 0
    return True


class RunLock:
    """The lock of one run folder; ``with RunLock(folder):`` or :meth:`acquire` / :meth:`release`.

    Args:
        folder: the run folder (it need not exist; its parent is created).
        what: the program named in the error line.

    Raises:
        RunFolderInUseError: from :meth:`acquire`, when a live process holds the folder.
    """

    def __init__(self, folder, *, what="heartcv train"):
        self.folder = Path(folder)
        self.path = lock_path(self.folder)
        self.what = what
        self.held = False
        self._mine = None

    # -- taking it ---------------------------------------------------------------------------

    def acquire(self) -> "RunLock":
        if self.held:
            return self
        mine = {"pid": os.getpid(), "host": socket.gethostname(),
                "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "process_start": _process_start(os.getpid()),
                "command": " ".join(sys.argv)[:300]}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(5):
            if self._create(mine):
                self.held, self._mine = True, mine
                return self
            holder = self._read()
            if holder is None:  # released meanwhile
                continue
            if not self._stale(holder):
                raise RunFolderInUseError(self._in_use_line(holder))
            self._take_over(holder)
        raise RunFolderInUseError(self._in_use_line(self._read() or {}))

    def _create(self, info: dict) -> bool:
        """Create the lock file with ``info`` in one step; False when it exists."""
        text = json.dumps(info) + "\n"
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f"{self.path.name}.",
                                   suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            try:
                os.link(tmp, self.path)
                return True
            except FileExistsError:
                return False
            except OSError:  # a file system without hard links: exclusive create instead
                pass
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                return False
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            return True
        finally:
            Path(tmp).unlink(missing_ok=True)

    def _read(self) -> dict | None:
        """The holder's record; None when there is no lock file; ``{"unreadable": age}``
        when it cannot be parsed."""
        try:
            text = self.path.read_text(encoding="utf-8")
            age = time.time() - self.path.stat().st_mtime
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError):
            return {"unreadable": 0.0}
        try:
            info = json.loads(text)
        except ValueError:
            info = None
        if not isinstance(info, dict) or not isinstance(info.get("pid"), int):
            return {"unreadable": age}
        return info

    def _stale(self, holder: dict) -> bool:
        if "unreadable" in holder:
            return holder["unreadable"] > UNREADABLE_STALE_S
        if holder.get("host") != socket.gethostname():
            return False  # another machine's process: heartcv cannot tell
        pid = holder["pid"]
        if not _pid_alive(pid):
            return True
        then, now = holder.get("process_start"), _process_start(pid)
        return then is not None and now is not None and then != now  # the PID was reused

    def _take_over(self, holder: dict) -> None:
        """Remove a stale lock, unless another process replaced it meanwhile (one remover at a
        time: an exclusive ``.break`` file)."""
        breaker = self.path.with_name(self.path.name + ".break")
        try:
            os.close(os.open(breaker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        except FileExistsError:
            try:
                if time.time() - breaker.stat().st_mtime > 30:  # its remover was killed
                    breaker.unlink(missing_ok=True)
            except OSError:
                pass
            time.sleep(0.1)
            return
        try:
            if self._read() == holder:
                self.path.unlink(missing_ok=True)
        finally:
            breaker.unlink(missing_ok=True)

    def _in_use_line(self, holder: dict) -> str:
        if "unreadable" in holder or not holder:
            who = "another process (its lock file is being written or is unreadable)"
        else:
            host = holder.get("host", "?")
            where = f"on host {host}" if host == socket.gethostname() else \
                f"on host {host}, not this one ({socket.gethostname()})"
            who = (f"another {self.what} (pid {holder['pid']} {where}, since "
                   f"{holder.get('started', '?')})")
        return (f"{self.folder} is in use by {who}; wait for it to end, or remove "
                f"{self.path} if that process is gone")

    # -- giving it back ------------------------------------------------------------------------

    def release(self) -> None:
        """Remove the lock file if this object holds it (and it is still ours)."""
        if not self.held:
            return
        self.held = False
        try:
            if self._read() == self._mine:
                self.path.unlink(missing_ok=True)
        except OSError:
            pass

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False
