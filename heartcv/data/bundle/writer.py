"""Writing bundles: :class:`BundleWriter` streams batches, :func:`write_bundle` writes arrays.

Writing is atomic: data go to ``<path>.tmp-<pid>`` in the same folder, the finished file is
re-opened and validated, then ``os.replace``-d onto ``path``; on any error the temporary
file is removed and nothing appears under ``path``. A failed write (read-only folder, disk
full, ``path`` a folder) raises :class:`heartcv.files.OutputPathError` naming ``path``;
:func:`write_bundle` checks ``path`` before it writes anything and removes temporary files
of ``path`` left by an earlier, killed run (:func:`heartcv.files.sweep_orphans`).

A full disk is an error, not a crash: the writer checks the free space before each piece of
at most 8 MB (uncompressed) it writes, and when the disk fills anyway (HDF5's ``OSError`` or
``RuntimeError`` with errno 28) the half-written file is truncated, closed and deleted
(:func:`heartcv.files.discard_hdf5`) before HDF5 can flush into the full disk again, and
never read again. Either way the error names ``path``, about how much space the bundle needs
and how much is free; an existing bundle under ``path`` is left as it was.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import importlib.metadata
import json
import os
import sys
from pathlib import Path

import h5py
import numpy as np

from heartcv.data.bundle.batch import (
    check_batch,
    check_first_batch,
    check_same_layout,
    layout_of,
    layout_of_file,
)
from heartcv.data.bundle.checks import (
    as_str_array,
    box_image_index,
    check_attrs,
    check_box_table,
    check_choice,
    check_class_names,
    check_columns,
    check_image_array,
    check_mask_names,
)
from heartcv.data.bundle.reader import open_bundle, read_str
from heartcv.data.bundle.schema import (
    ATTR_CLASS_NAMES,
    ATTR_CREATED,
    ATTR_HEARTCV_VERSION,
    ATTR_IMAGE_SIZE,
    ATTR_MASK_NAMES,
    ATTR_SCHEMA_VERSION,
    ATTR_SOURCE,
    ATTR_TASK,
    BOXES,
    COMPRESSIONS,
    FOLD,
    GZIP_LEVEL,
    ID_COLUMNS,
    IMAGE_ID,
    IMAGES,
    LABELS,
    MASKS,
    META,
    ROW_CHUNK,
    ROW_DATASETS,
    SCHEMA_VERSION,
    STR_DTYPE,
    TASKS,
)
from heartcv.files import (
    SPACE_MARGIN,
    OutputPathError,
    check_output_file,
    discard_hdf5,
    free_bytes,
    space_detail,
    storage_errno,
    sweep_orphans,
)

__all__ = ["BundleWriter", "WRITE_PIECE", "write_bundle"]

#: uncompressed bytes a writer hands HDF5 between two free-space checks
WRITE_PIECE = 8 << 20


def _heartcv_version():
    try:
        return importlib.metadata.version("heartcv")
    except importlib.metadata.PackageNotFoundError:
        return str(getattr(sys.modules.get("heartcv"), "__version__", "unknown"))


class BundleWriter:
    """Streams samples into a bundle; the file appears under ``path`` only when complete.

    Datasets are created from the first :meth:`append` (which fixes the image size, the label
    width, mask layout and the set of meta columns); later batches must match. On leaving the
    ``with`` block normally the file is finalised (attributes written, validated, renamed);
    on an exception the temporary file is deleted, or kept for a later resume when
    ``keep_partial=True``.

    Args:
        path: final file name.
        task: one of ``TASKS``.
        class_names: one name per label column.
        source: free text naming the dataset and its origin.
        n: expected number of samples; when given, :meth:`close` fails unless exactly ``n``
            were appended. ``None`` (default): any number (datasets grow per batch).
        mask_names: names of the mask structures (required when masks have 4 dims).
        compression: ``"gzip"`` (level 1), ``"lzf"`` or ``None``.
        attrs: extra scalar file attributes.
        temp_path: where to write before the rename (default ``<path>.tmp-<pid>``).
        resume: re-open an existing ``temp_path`` and continue appending after its rows.
        keep_partial: keep ``temp_path`` on error (for resumable conversions).

    Example:
        >>> with BundleWriter("x.h5", task="binary", class_names=["Cardiomegaly"],
        ...                   source="demo") as w:
        ...     w.append(images, labels=y, patient_id=pids, image_id=ids, split=split)
    """

    def __init__(
        self,
        path,
        *,
        task,
        class_names=(),
        source="",
        n=None,
        mask_names=None,
        compression="gzip",
        attrs=None,
        temp_path=None,
        resume=False,
        keep_partial=False,
    ):
        check_choice("task", task, TASKS)
        check_choice("compression", compression, COMPRESSIONS)
        if n is not None and (not isinstance(n, (int, np.integer)) or n < 1):
            raise ValueError(f"Expected `n` to be a positive int or None. Received: n={n!r}")
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise FileNotFoundError(
                f"Folder for the bundle does not exist: {self.path.parent}. Received: "
                f"path={str(path)!r}"
            )
        self.task = task
        self.class_names = check_class_names(class_names, task)
        self.mask_names = check_mask_names(mask_names)
        self.source = str(source)
        self.n = None if n is None else int(n)
        self.compression = compression
        self.attrs = check_attrs(attrs)
        self.keep_partial = bool(keep_partial)
        self.temp_path = (
            Path(temp_path)
            if temp_path is not None
            else self.path.with_name(f"{self.path.name}.tmp-{os.getpid()}")
        )
        self._boxes = None
        self._image_ids = set()
        self._closed = False
        self._layout = None  # set of per-sample dataset names, fixed by the first append
        self._row_bytes = None  # uncompressed bytes per sample, from the first append
        if resume and self.temp_path.exists():
            self._file = h5py.File(self.temp_path, "r+")
            self._load_layout()
        else:
            try:
                self.temp_path.unlink(missing_ok=True)
                self._file = h5py.File(self.temp_path, "w")
            except OSError as e:
                raise _write_error(self.path, e) from e
        self._rows_ok = self.n_written  # samples known to be written whole
        with self._guarded():
            self._file.attrs[ATTR_SCHEMA_VERSION] = SCHEMA_VERSION
            self._file.attrs[ATTR_TASK] = self.task
            self._file.attrs[ATTR_CLASS_NAMES] = json.dumps(self.class_names)
            self._file.attrs[ATTR_SOURCE] = self.source

    # -- a full disk ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _guarded(self, rows_pending=0):
        """Run HDF5 writes; a storage failure (disk full, quota, read-only) gives the file up
        (:meth:`_give_up`) and raises :class:`OutputPathError` naming ``path``."""
        try:
            yield
        except Exception as err:
            code = storage_errno(err)
            if code is None or self._closed:
                raise
            failure = self._give_up(code, rows_pending)
            raise failure from None

    def _give_up(self, code, rows_pending=0) -> OutputPathError:
        """Discard the temporary file (truncated first, so HDF5's closing flush cannot crash
        in the full disk) and return the error to raise: ``path``, about how much space the
        bundle needs (the bytes per sample written so far, compressed, times the samples
        expected) and how much is free once the temporary file is gone."""
        rows = self._rows_ok
        try:
            size = self.temp_path.stat().st_size
        except OSError:
            size = 0
        per_row = size / rows if rows and size else (self._row_bytes or 0)
        total = self.n if self.n is not None else rows + rows_pending
        self._closed = True
        discard_hdf5(self.temp_path, self._file)
        detail = None
        if code != errno.EROFS and per_row and total:
            bound = "about" if rows or self.compression is None else "up to"
            detail = space_detail(per_row * total + SPACE_MARGIN, free_bytes(self.path),
                                  bound=bound)
        return OutputPathError(self.path, "no space left", code, detail=detail)

    def _check_space(self, piece_bytes, rows_pending):
        """Refuse the next piece before HDF5 sees it when the disk cannot take it whole."""
        free = free_bytes(self.temp_path)
        if free is not None and free < piece_bytes + SPACE_MARGIN:
            raise self._give_up(errno.ENOSPC, rows_pending) from None

    # -- layout ------------------------------------------------------------------------------

    def _load_layout(self):
        f = self._file
        if IMAGES not in f:
            return
        self._layout = layout_of_file(f)
        self.truncate(min(len(ds) for ds in self._row_datasets()))

    def _row_datasets(self):
        f = self._file
        out = [f[n] for n in ROW_DATASETS if n in f]
        if META in f:
            out += [f[META][k] for k in f[META]]
        return out

    @property
    def n_written(self):
        """Number of samples appended so far (including those from a resumed file)."""
        return 0 if IMAGES not in self._file else len(self._file[IMAGES])

    def read_column(self, name):
        """Read back a written per-sample dataset (e.g. ``"meta/src_width"``) as an array."""
        if name not in self._file:
            raise KeyError(f"No dataset {name!r} in {self.temp_path}. Received: name={name!r}")
        ds = self._file[name]
        return read_str(ds) if h5py.check_string_dtype(ds.dtype) else ds[()]

    def truncate(self, n_rows):
        """Drop samples beyond ``n_rows`` (used when resuming after an interruption)."""
        if n_rows > self.n_written:
            raise ValueError(
                f"Cannot truncate {self.temp_path} to {n_rows} rows: it holds {self.n_written}. "
                f"Received: n_rows={n_rows}"
            )
        for ds in self._row_datasets():
            ds.resize(n_rows, axis=0)
        self._rows_ok = n_rows
        if IMAGE_ID in self._file:
            self._image_ids = set(read_str(self._file[IMAGE_ID]).tolist())

    def _create(self, batch):
        f = self._file
        images, labels, masks, fold, meta = (batch.images, batch.labels, batch.masks,
                                             batch.fold, batch.meta)
        comp = {"compression": self.compression}
        if self.compression == "gzip":
            comp["compression_opts"] = GZIP_LEVEL
        _, h, w, c = images.shape
        f.create_dataset(
            IMAGES, shape=(0, h, w, c), maxshape=(None, h, w, c), dtype=np.uint8,
            chunks=(1, h, w, c), **comp,
        )
        for name in ID_COLUMNS:
            f.create_dataset(name, shape=(0,), maxshape=(None,), dtype=STR_DTYPE,
                             chunks=(ROW_CHUNK,))
        if labels is not None:
            k = labels.shape[1]
            f.create_dataset(
                LABELS, shape=(0, k), maxshape=(None, k), dtype=np.float32,
                chunks=(ROW_CHUNK, k),
            )
        if masks is not None:
            mshape = masks.shape[1:]
            ds = f.create_dataset(
                MASKS, shape=(0, *mshape), maxshape=(None, *mshape), dtype=np.uint8,
                chunks=(1, *mshape), **comp,
            )
            if self.mask_names is not None:
                ds.attrs[ATTR_MASK_NAMES] = json.dumps(self.mask_names)
        if fold is not None:
            f.create_dataset(
                FOLD, shape=(0,), maxshape=(None,), dtype=np.int8, chunks=(ROW_CHUNK,)
            )
        if meta:
            g = f.create_group(META)
            for key, arr in meta.items():
                dtype = STR_DTYPE if arr.dtype == object else arr.dtype
                g.create_dataset(
                    key, shape=(0,), maxshape=(None,), dtype=dtype, chunks=(ROW_CHUNK,)
                )
        self._layout = layout_of(batch)

    # -- appending ---------------------------------------------------------------------------

    def append(self, images, *, patient_id, labels=None, masks=None, image_id=None, split=None,
               fold=None, meta=None):
        """Append a batch of samples.

        Args:
            images: (n, H, W, C) uint8 (or (n, H, W), taken as C = 1).
            patient_id: n non-empty strings.
            labels: (n, K) 0/1/NaN, K = len(class_names).
            masks: (n, H, W) or (n, H, W, M) of 0/1 (uint8 or bool).
            image_id: n unique strings (default: the running sample number).
            split: n of ``"train"``, ``"val"``, ``"test"``, ``""`` (default all ``""``).
            fold: n ints (-1 = unassigned).
            meta: mapping name -> n values (numeric or str).

        Returns:
            The number of samples written so far.
        """
        if self._closed:
            raise ValueError(f"BundleWriter for {self.path} is closed.")
        start = self.n_written
        batch = check_batch(images, patient_id=patient_id, labels=labels, masks=masks,
                            image_id=image_id, split=split, fold=fold, meta=meta, start=start,
                            task=self.task, class_names=self.class_names, seen=self._image_ids)
        if self._layout is None:
            check_first_batch(batch, self.task, self.mask_names)
            self._create(batch)
        else:
            check_same_layout(batch, self._layout, self._file)
        self._write_rows(batch, start)
        self._image_ids.update(batch.image_id.tolist())
        return start + len(batch.images)

    def _write_rows(self, batch, start):
        """Write ``batch`` after row ``start``, in pieces of at most :data:`WRITE_PIECE` bytes
        (uncompressed) that fit the free space."""
        n = len(batch.images)
        writes = batch.writes(self._file)
        self._row_bytes = max(sum(np.asarray(d).nbytes for _, d in writes) / n, 1.0)
        if self.compression is None and self.n is not None:  # the whole size is known
            self._check_space((self.n - start) * self._row_bytes, self.n - start)
        s = 0
        while s < n:
            free = free_bytes(self.temp_path)
            room = WRITE_PIECE if free is None else min(WRITE_PIECE, free - SPACE_MARGIN)
            if room < self._row_bytes:  # not even one more sample
                raise self._give_up(errno.ENOSPC, n - s) from None
            e = min(s + max(1, int(room // self._row_bytes)), n)
            with self._guarded(n - s):
                for ds, data in writes:
                    ds.resize(start + e, axis=0)
                    ds[start + s:start + e] = data[s:e]
            self._rows_ok = start + e
            s = e

    def set_boxes(self, boxes):
        """Attach a box table (written at :meth:`close`).

        Args:
            boxes: DataFrame (or mapping of columns) with ``label``, ``x``, ``y``, ``w``, ``h``
                in the bundle's pixel coordinates and either ``image_index`` (row in the
                bundle) or ``image_id``.
        """
        df = check_box_table(boxes)
        self._boxes = df

    def _write_boxes(self):
        df = self._boxes
        idx = box_image_index(df, lambda: read_str(self._file[IMAGE_ID]), self.n_written)
        if BOXES in self._file:
            del self._file[BOXES]
        g = self._file.create_group(BOXES)
        g.create_dataset("image_index", data=idx)
        g.create_dataset("label", data=as_str_array(df["label"], "boxes.label"), dtype=STR_DTYPE)
        for c in "xywh":
            g.create_dataset(c, data=df[c].to_numpy(np.float32))

    # -- finishing ---------------------------------------------------------------------------

    def flush(self):
        """Flush written data to disk (so a later ``resume`` finds it)."""
        with self._guarded():
            self._file.flush()

    def close(self):
        """Finalise: write attributes, validate, and rename onto ``path``. Returns ``path``."""
        if self._closed:
            return self.path
        try:
            n = self.n_written
            if n == 0:
                raise ValueError(
                    f"No samples were appended to {self.path}; a bundle needs at least one."
                )
            if self.n is not None and n != self.n:
                raise ValueError(
                    f"Expected {self.n} samples in {self.path}. Received: {n} appended"
                )
            with self._guarded():
                if self._boxes is not None:
                    self._write_boxes()
                a = self._file.attrs
                a[ATTR_HEARTCV_VERSION] = _heartcv_version()
                a[ATTR_CREATED] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
                a[ATTR_IMAGE_SIZE] = np.asarray(self._file[IMAGES].shape[1:3], dtype=np.int64)
                for key, value in self.attrs.items():
                    a[key] = value
                self._file.flush()  # a failure here is recoverable; one in close() is not
                self._file.close()
            with open_bundle(self.temp_path):  # never publish a file our reader rejects
                pass
            os.replace(self.temp_path, self.path)
        except BaseException:
            self.abort()
            raise
        self._closed = True
        return self.path

    def abort(self):
        """Close and delete the temporary file (kept when ``keep_partial``).

        A file to delete is truncated before it is closed, and one to keep is flushed first
        and given up when the flush fails (a full disk): closing a file HDF5 cannot flush
        can crash the process.
        """
        self._closed = True
        if not self._file.id.valid:
            if not self.keep_partial:
                self.temp_path.unlink(missing_ok=True)
            return
        if not self.keep_partial:
            discard_hdf5(self.temp_path, self._file)
            return
        try:
            self._file.flush()
        except Exception:  # noqa: BLE001 - HDF5 raises OSError or RuntimeError
            discard_hdf5(self.temp_path, self._file)
            return
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.abort()
            return False
        self.close()
        return False


def write_bundle(
    path,
    images,
    *,
    labels=None,
    masks=None,
    patient_id,
    image_id=None,
    split=None,
    fold=None,
    class_names=(),
    task,
    source,
    boxes=None,
    meta=None,
    mask_names=None,
    attrs=None,
    compression="gzip",
    batch_size=256,
) -> Path:
    """Write arrays as a bundle (atomically; see :mod:`heartcv.data.bundle.schema`).

    ``images`` (and ``masks``) may be any array-like with ``shape``, ``dtype`` and slicing
    (NumPy arrays, memmaps, h5py datasets); they are written ``batch_size`` samples at a time.

    Args:
        path: output ``.h5`` path.
        images: (N, H, W, C) or (N, H, W) uint8.
        labels: (N, K) 0/1/NaN, K = len(class_names).
        masks: (N, H, W) or (N, H, W, M) 0/1.
        patient_id: N non-empty strings.
        image_id: N unique strings (default ``"0"``, ``"1"``...).
        split: N of ``"train"``/``"val"``/``"test"``/``""``.
        fold: N ints, -1 = unassigned.
        class_names: label column names.
        task: one of ``TASKS``.
        source: dataset name / origin.
        boxes: box table, see :meth:`BundleWriter.set_boxes`.
        meta: mapping name -> N values.
        mask_names: names of the M mask structures.
        attrs: extra scalar file attributes.
        compression: ``"gzip"``, ``"lzf"`` or ``None``.
        batch_size: samples per write.

    Returns:
        The final path.
    """
    shape = check_image_array(images)
    # validate everything cheap before a file is created
    cols = check_columns(shape, patient_id=patient_id, image_id=image_id, split=split,
                         task=task, class_names=class_names, labels=labels, masks=masks,
                         fold=fold, meta=meta)
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError("Expected `batch_size` to be a positive int. Received: "
                         f"batch_size={batch_size!r}")

    path = check_output_file(path)
    sweep_orphans(path)
    try:
        _write_batches(path, images, masks, shape[0], cols["pid"], cols["lab"], cols["iid"],
                       cols["spl"], cols["fld"], cols["met"], cols["names"], task, source,
                       mask_names, compression, attrs, boxes, batch_size)
    except FileNotFoundError:  # the bundle's folder does not exist (BundleWriter says so)
        raise
    except OSError as e:
        raise _write_error(path, e) from e
    return Path(path)


def _write_error(path, err):
    """An ``OSError`` of a bundle write as :class:`OutputPathError` naming ``path``."""
    if isinstance(err, OutputPathError):
        return err
    problem = err.strerror or " ".join(str(err).split()) or type(err).__name__
    return OutputPathError(path, problem, err.errno)


def _write_batches(path, images, masks, n, pid, lab, iid, spl, fld, met, names, task, source,
                   mask_names, compression, attrs, boxes, batch_size):
    with BundleWriter(
        path, task=task, class_names=names, source=source, n=n, mask_names=mask_names,
        compression=compression, attrs=attrs,
    ) as w:
        for s in range(0, n, batch_size):
            e = min(s + batch_size, n)
            w.append(
                np.asarray(images[s:e]),
                patient_id=pid[s:e],
                labels=None if lab is None else lab[s:e],
                masks=None if masks is None else np.asarray(masks[s:e]),
                image_id=None if iid is None else iid[s:e],
                split=None if spl is None else spl[s:e],
                fold=None if fld is None else fld[s:e],
                meta={k: v[s:e] for k, v in met.items()},
            )
        if boxes is not None:
            w.set_boxes(boxes)
