"""Atomic file writes: a temporary file in the same folder, renamed into place on success.

An interrupted or failed write never leaves a partial file under the final name, and the
temporary file (``.<stem>.<random>.tmp<suffix>``) is removed. A write that fails (read-only
folder, disk full, a folder where the file should go) raises :class:`OutputPathError`, one
line naming the final path. :func:`check_output_dir` and :func:`check_output_file` make the
same checks before any work is done; :func:`sweep_orphans` removes heartcv's own temporary
files of a path left by an earlier, killed run. No keras or TensorFlow here, so every part
of heartcv (data layer included) can use it.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import errno as _errno
import tempfile
import time
from pathlib import Path

OVERWRITE_HINT = "pass --overwrite (overwrite=True in Python)"


#: one wording for the storage failures, whoever reports them (:class:`OutputPathError`, the
#: CLI's :func:`os_error_line`)
STORAGE_PROBLEMS = {_errno.ENOSPC: "no space left on device writing {}",
                    _errno.EDQUOT: "disk quota exceeded writing {}",
                    _errno.EROFS: "read-only file system: cannot write {}"}
_PATH_PROBLEMS = {_errno.EACCES: "permission denied: {}",
                  _errno.EPERM: "permission denied: {}",
                  _errno.ENOTDIR: "not a folder: a part of {} is a file",
                  _errno.EEXIST: "{} exists and is not a folder",
                  _errno.EISDIR: "{} is a folder, expected a file"}


class OutputPathError(OSError, ValueError):
    """An output path heartcv cannot write: one line naming it and the problem.

    An ``OSError`` (``errno`` and ``filename`` kept) and a ``ValueError``, so callers that
    report bad input in one line (the CLI, ``heartcv prep``) report it too. A full disk, an
    exceeded quota or a read-only file system read as :data:`STORAGE_PROBLEMS` words them.
    """

    def __init__(self, path, problem, errno=None, detail=None):
        template = STORAGE_PROBLEMS.get(errno)
        text = template.format(path) if template else f"Cannot write {path}: {problem}"
        super().__init__(errno, f"{text} ({detail})" if detail else text)
        self.filename = str(path)
        self.problem = problem
        self.detail = detail

    def __str__(self):
        return self.strerror

    def __reduce__(self):
        return type(self), (self.filename, self.problem, self.errno, self.detail)


def _problem(err: OSError) -> str:
    return err.strerror or str(err) or type(err).__name__


def final_name(path) -> str:
    """The file a temporary ``.name.XXXXXXXX.tmp.ext`` (:func:`atomic_path`) was written for."""
    head, tail = os.path.split(str(path))
    m = re.fullmatch(r"\.(.+)\.[A-Za-z0-9_]{8}\.tmp(.*)", tail)
    return os.path.join(head, m.group(1) + m.group(2)) if m else str(path)


def os_error_line(err: OSError) -> str:
    """One line naming the path (the final name, not a temporary one) and the problem."""
    if isinstance(err, OutputPathError):
        return str(err)
    path = getattr(err, "filename", None)
    if path is None:
        text = str(err).strip()
        return text.splitlines()[0] if text else type(err).__name__
    path = final_name(path)
    problem = STORAGE_PROBLEMS.get(err.errno) or _PATH_PROBLEMS.get(err.errno)
    if problem is None:
        return f"{err.strerror or type(err).__name__}: {path}"
    return problem.format(path)


def _nearest_existing(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


#: head room kept free beyond a write's predicted size: HDF5 writes its chunk cache and
#: metadata at flush and close, after the data
SPACE_MARGIN = 1 << 20

#: how HDF5 words a storage failure of the C library (a RuntimeError or OSError whose text
#: carries the C errno), per errno
_STORAGE_TEXT = {_errno.ENOSPC: ("errno = 28,", "no space left on device"),
                 _errno.EDQUOT: ("errno = 122,", "disk quota exceeded"),
                 _errno.EROFS: ("errno = 30,", "read-only file system")}


def format_bytes(n) -> str:
    """``n`` bytes as a short size in powers of 1000: ``"812 kB"``, ``"3.4 MB"``, ``"1.2 GB"``."""
    n = float(max(n, 0))
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit in ("bytes", "kB") else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover


def free_bytes(path) -> int | None:
    """Bytes this user may still write on the file system holding ``path`` (or its nearest
    existing folder); None where the platform cannot tell."""
    try:
        st = os.statvfs(_nearest_existing(Path(path)))
    except (OSError, AttributeError):  # AttributeError: no statvfs (Windows)
        return None
    return st.f_bavail * st.f_frsize


def space_detail(needed, free=None, *, bound="about") -> str:
    """``"needs about 3.4 MB, 1.0 MB free"`` (the words :class:`OutputPathError` appends);
    ``bound="up to"`` for an upper bound (uncompressed data that may compress)."""
    text = f"needs {bound} {format_bytes(needed)}"
    return text if free is None else f"{text}, {format_bytes(free)} free"


def check_free_space(path, needed, *, margin=SPACE_MARGIN) -> None:
    """Refuse a write of about ``needed`` bytes to ``path`` before it starts when the file
    system holding it has less than ``needed + margin`` bytes free.

    Raises:
        OutputPathError: ``errno.ENOSPC``, one line naming ``path``, the space needed and
            the space free (``no space left on device writing x.h5 (needs about 3.4 MB,
            1.0 MB free)``).
    """
    free = free_bytes(path)
    if free is not None and free < needed + margin:
        raise OutputPathError(path, "not enough free space", _errno.ENOSPC,
                              detail=space_detail(needed, free))


def storage_errno(err) -> int | None:
    """``ENOSPC``, ``EDQUOT`` or ``EROFS`` when ``err`` is a storage failure, else None.

    HDF5 reports a failed write as a ``RuntimeError`` (or an ``OSError`` without the
    ``errno``) whose text carries the C library's errno; both are recognised.
    """
    code = getattr(err, "errno", None)
    if code in STORAGE_PROBLEMS:
        return code
    if not isinstance(err, (OSError, RuntimeError)):
        return None
    text = str(err).lower()
    for code, words in _STORAGE_TEXT.items():
        if any(w in text for w in words):
            return code
    return None


def discard_hdf5(path, h5file=None) -> None:
    """Give up an HDF5 file whose write failed (disk full) without crashing.

    After a failed write HDF5 still holds dirty cache and metadata; closing the file (or
    Python freeing a dataset of it, at exit at the latest) flushes them, fails again and
    can end in a segmentation fault in the C library. So the file is first truncated to
    0 bytes (which frees its space: the closing flush then finds room), then ``h5file``
    and any other handle HDF5 still holds on ``path`` (one a library such as Keras left
    open) are closed, and the file is deleted. Nothing of the half-written file is read
    again. Never raises.
    """
    path = Path(path)
    try:
        os.truncate(path, 0)
    except OSError:
        pass
    import h5py

    def close(handle):
        try:
            if handle.id.valid:
                handle.close()
        except Exception:  # noqa: BLE001 - the file is given up either way
            pass

    if h5file is not None:
        close(h5file)
    try:
        target = os.path.realpath(path)
        for fid in h5py.h5f.get_obj_ids(types=h5py.h5f.OBJ_FILE):
            name = fid.name.decode() if isinstance(fid.name, bytes) else str(fid.name)
            if os.path.realpath(name) == target:
                close(h5py.File(fid))
    except Exception:  # noqa: BLE001
        pass
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


def check_output_dir(folder) -> Path:
    """Check that ``folder`` is, or can be created as, a folder this process can write.

    Nothing is created. A missing folder passes when its nearest existing parent is a
    writable folder (the writers create it).

    Raises:
        OutputPathError: ``folder`` (or a parent) is a file, or the folder that would hold
            it is not writable.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputPathError(folder, "it is a file, not a folder", _errno.ENOTDIR)
    base = _nearest_existing(folder)
    if not base.is_dir():
        raise OutputPathError(folder, f"{base} is a file, not a folder", _errno.ENOTDIR)
    if not os.access(base, os.W_OK | os.X_OK):
        where = "" if base == Path(os.path.abspath(folder)) else f" ({base})"
        raise OutputPathError(folder, f"the folder is not writable{where}", _errno.EACCES)
    return folder


def check_output_file(path, *, overwrite=True, what="File") -> Path:
    """Check that ``path`` can be written: not a folder, new (or ``overwrite``), its folder
    writable (:func:`check_output_dir`).

    Raises:
        OutputPathError: ``path`` is a folder, or its folder cannot be written.
        FileExistsError: ``path`` exists and ``overwrite`` is false.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputPathError(path, "it is a directory", _errno.EISDIR)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{what} already exists: {path} ({OVERWRITE_HINT} to replace it)")
    check_output_dir(path.parent)
    return path


def temp_patterns(path) -> tuple[str, ...]:
    """Glob patterns (in ``path``'s folder) of heartcv's own temporary files for ``path``:
    :func:`atomic_path`'s ``.<stem>.*.tmp<suffix>`` and the bundle writer's
    ``<name>.tmp-<pid>``."""
    path = Path(path)
    return (f".{path.stem}.*.tmp{path.suffix}", f"{path.name}.tmp-*")


def _pid_alive(name: str) -> bool:
    tail = name.rsplit(".tmp-", 1)[-1]
    if not tail.isdigit() or int(tail) == os.getpid():
        return False
    try:
        os.kill(int(tail), 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def _remove_stale(candidates, older_than) -> list[Path]:
    """Remove the files among ``candidates`` last modified before ``older_than`` whose
    writer (a bundle writer's ``.tmp-<pid>``) is not still running."""
    removed = []
    for f in candidates:
        try:
            if not f.is_file() or f.stat().st_mtime >= older_than or _pid_alive(f.name):
                continue
            f.unlink()
        except OSError:
            continue
        removed.append(f)
    return removed


def sweep_orphans(paths, *, older_than=None) -> list[Path]:
    """Remove heartcv's own temporary files of ``paths`` left by earlier runs.

    Only names from :func:`temp_patterns` are touched, only files last modified before
    ``older_than`` (a ``time.time()``; default now), and never a bundle writer's
    ``.tmp-<pid>`` whose process is still running. Returns the files removed.
    """
    older_than = time.time() if older_than is None else older_than
    removed = []
    for path in [paths] if isinstance(paths, (str, os.PathLike)) else paths:
        path = Path(path)
        if path.parent.is_dir():
            removed += _remove_stale([f for pattern in temp_patterns(path)
                                      for f in path.parent.glob(pattern)], older_than)
    return removed


#: ``tempfile.mkstemp`` names of :func:`atomic_path` (and the backup writer):
#: ``.<stem>.<8 random characters>.tmp<suffixes>``.
_ATOMIC_TEMP = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp(\..+)?$")


def sweep_folder(folder, *, older_than=None) -> list[Path]:
    """Remove heartcv's own atomic-write temporaries directly in ``folder`` (whatever file
    they were for) left by earlier runs, as :func:`sweep_orphans` does for named outputs."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    older_than = time.time() if older_than is None else older_than
    return _remove_stale([f for f in folder.glob(".*.tmp*") if _ATOMIC_TEMP.match(f.name)],
                         older_than)


def _umask() -> int:
    """The process umask (read once: reading it means setting it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path, *, fsync=False, suffix=None):
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds.

    The temporary name ends with ``path``'s suffix (or ``suffix``, which ``path``'s name must
    end with: ``".weights.h5"``, which Keras's ``save_weights`` demands), so writers that choose
    the format from the extension (Keras, OpenCV, matplotlib) work. On any error the
    temporary file is removed.

    Raises:
        OutputPathError: the folder cannot be created or written, ``path`` is a folder, or
            an ``OSError`` about the temporary file (disk full, ...) inside the block.
    """
    path = Path(path)
    suffix = path.suffix if suffix is None else suffix
    if not path.name.endswith(suffix) or len(suffix) >= len(path.name):
        raise ValueError(f"Expected a suffix that {path.name!r} ends with. Received: {suffix!r}")
    if path.is_dir():
        raise OutputPathError(path, "it is a directory", _errno.EISDIR)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent,
                                   prefix=f".{path.name[:len(path.name) - len(suffix)]}.",
                                   suffix=f".tmp{suffix}")
        os.close(fd)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual mode
    except OutputPathError:
        raise
    except OSError as err:
        raise OutputPathError(path, _problem(err), err.errno) from err
    tmp = Path(tmp)
    try:
        try:
            yield tmp
        except OutputPathError:
            raise
        except OSError as err:  # about our file (or no file named): a failed write
            if err.filename is not None and str(err.filename) not in (str(tmp), str(path)):
                raise
            raise OutputPathError(path, _problem(err), err.errno) from err
        try:
            if fsync:
                with open(tmp, "rb") as fh:
                    os.fsync(fh.fileno())
            os.replace(tmp, path)
        except OSError as err:
            raise OutputPathError(path, _problem(err), err.errno) from err
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_text(path, text: str, *, fsync=False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    with atomic_path(path, fsync=fsync) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def atomic_write_json(path, obj) -> Path:
    """Write ``obj`` as indented JSON (floats for numpy scalars) atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=2, default=float))


def atomic_copy(src, dst) -> Path:
    """Copy ``src`` to ``dst`` atomically."""
    import shutil

    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)
    return Path(dst)


def write_image(tmp, image, path=None) -> Path:
    """Write an image with OpenCV to ``tmp`` (format from its suffix; BGR/grey as OpenCV
    expects); :class:`OutputPathError` naming ``path`` (default ``tmp``) when it fails."""
    import cv2

    if not cv2.imwrite(str(tmp), image):
        raise OutputPathError(path or tmp, "OpenCV could not write the image", _errno.EIO)
    return Path(tmp)


def atomic_write_image(path, image) -> Path:
    """Write an image with OpenCV (format from the suffix; BGR/grey as OpenCV expects)."""
    with atomic_path(path) as tmp:
        write_image(tmp, image, path)
    return Path(path)
