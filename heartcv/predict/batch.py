"""Many images with one model load (``heartcv predict PATH... --model FILE``):
``predictions.csv`` and ``skipped.csv``."""

from __future__ import annotations

import csv
import io
import math
import numbers
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

import heartcv.io
from heartcv.callbacks import overlay_heatmap
from heartcv.data.images import check_min_size, read_image
from heartcv.files import (atomic_write_image, atomic_write_text, check_output_dir,
                           check_output_file)
from heartcv.predict.card import (check_alpha, check_ctr_threshold, check_image_size,
                                  check_model_channels, check_view, dicom_view, prepare_image,
                                  read_card, resolve_input_size)
from heartcv.predict.image import grey_model_input, heatmap_for
from heartcv.predict.inputs import bundle_items, overlay_name, read_ahead, skip_reason
from heartcv.predict.masks import has_ctr_structures, segmentation_result, structure_names
from heartcv.qc import tta_ctr_interval, tta_inputs
from heartcv.tasks import CLASSIFICATION_TASKS, get_task


PREDICTIONS_CSV = "predictions.csv"
SKIPPED_CSV = "skipped.csv"
DEFAULT_BATCH_SIZE = 16
DEFAULT_THRESHOLD = 0.5


def _card_threshold(card, names):
    """The card's decision threshold(s) as one float per output, or ``None``.

    Accepted: ``threshold`` (or ``decision_threshold``) as a number, a list with one number
    per output, or a mapping from class name to number. (Cards written by
    :func:`heartcv.cards.write_card` store none today; the defaults then apply.)
    """
    for key in ("threshold", "decision_threshold"):
        t = card.get(key)
        if isinstance(t, numbers.Real) and not isinstance(t, bool) and math.isfinite(t):
            return [float(t)] * len(names)
        if isinstance(t, list) and len(t) == len(names) \
                and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in t):
            return [float(v) for v in t]
        if isinstance(t, dict) and all(n in t for n in names):
            return [float(t[n]) for n in names]
    return None


def _classifier_task(model, card, k):
    """``binary``, ``multiclass`` or ``multilabel`` for a classifier with ``k`` outputs."""
    task = card.get("task")
    if task in CLASSIFICATION_TASKS:
        return "binary" if k == 1 else task
    if k == 1:
        return "binary"
    activation = getattr(getattr(model.layers[-1], "activation", None), "__name__", "")
    return "multiclass" if activation == "softmax" else "multilabel"


def _class_names(card, k):
    names = card.get("class_names") or [f"class_{i}" for i in range(k)]
    if k == 1 and len(names) == 2:
        return list(names[1:]), names[0]
    names = list(names) if len(names) == k else [f"class_{i}" for i in range(k)]
    return names, None


class _Decision:
    """How a classifier's probabilities become a call: its task's rule
    (:mod:`heartcv.tasks`) with the card's threshold, else 0.5, or the argmax."""

    def __init__(self, model, card, k):
        self.names, self.negative = _class_names(card, k)
        self.task = get_task(_classifier_task(model, card, k))
        self.thresholds = None
        if not self.task.thresholded:
            self.source = "argmax"
        else:
            self.thresholds = _card_threshold(card, self.names)
            self.source = "card" if self.thresholds is not None else "default"
            if self.thresholds is None:
                self.thresholds = [DEFAULT_THRESHOLD] * len(self.names)

    def describe(self) -> str:
        return self.task.describe(self.thresholds, self.source)

    def columns(self):
        return [*self.names, "predicted", "threshold"]

    def row(self, probs):
        probs = [float(p) for p in np.ravel(probs)]
        call, threshold = self.task.call(probs, self.names, self.thresholds, self.negative)
        return [*(repr(p) for p in probs), call, threshold]


def _segmentation_columns(names):
    return ["ctr", "ctr_low", "ctr_high", "cardiomegaly", "cardiomegaly_threshold", "qc",
            "qc_reasons", "view", "call_note", "ctr_flags", *(f"{n}_area_px" for n in names),
            *(f"{n}_area_fraction" for n in names), "measured_at"]


def _num(value):
    return "" if value is None else repr(float(value))


def _segmentation_row(fields):
    ctr = fields["ctr"]
    if ctr is None:
        head = ["", "", "", "", "", "", "", "", "",
                "not measured (needs heart, left_lung and right_lung)"]
    else:
        head = [_num(ctr["value"]), _num(ctr["low"]), _num(ctr["high"]),
                "" if ctr["cardiomegaly"] is None else str(bool(ctr["cardiomegaly"])),
                _num(ctr["cardiomegaly_threshold"]), ctr["qc"], ";".join(ctr["qc_reasons"]),
                ctr["view"] or "", ctr["call_note"], ";".join(ctr["flags"])]
    s = fields["structures"]
    return [*head, *(str(s[n]["area_px"]) for n in s),
            *(repr(float(s[n]["area_fraction"])) for n in s),
            "x".join(map(str, fields["measure_size"]))]


def _rows_csv(header, rows) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def _checked_arguments(alpha, image_size, view, ctr_threshold, views, batch_size, jobs):
    """The arguments of :func:`predict_batch`, checked (a ValueError names the first bad one)."""
    alpha = check_alpha(alpha)
    image_size = check_image_size(image_size)
    view = check_view(view)
    ctr_threshold = check_ctr_threshold(ctr_threshold)
    views = {str(k): check_view(v) for k, v in (views or {}).items()}
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) \
            or batch_size < 1:
        raise ValueError(f"Expected `batch_size` as a positive int. Received: batch_size={batch_size!r}")
    jobs = min(8, os.cpu_count() or 1) if jobs is None else jobs
    if isinstance(jobs, bool) or not isinstance(jobs, numbers.Integral) or jobs < 1:
        raise ValueError(f"Expected `jobs` as a positive int. Received: jobs={jobs!r}")
    return alpha, image_size, view, ctr_threshold, views, jobs


class _BatchRun:
    """One :func:`predict_batch` call once its arguments are checked: the model loaded once,
    images grouped by input size and predicted ``batch_size`` at a time, segmentation rows
    finished by a pool of threads meanwhile."""

    def __init__(self, model_path, first_input, *, reader, image_size, batch_size, jobs,
                 out_dir, overlays, method, alpha, view, views, ctr_threshold, tta):
        self.card = card = read_card(model_path)
        self.model = model = heartcv.io.load_model(model_path)  # on the module: tests wrap it
        self.model_name = f"{Path(model_path).name} ({model.name})"
        check_model_channels(model.input_shape, first_input, self.model_name)
        # the size arguments are checked once, not image by image
        resolve_input_size(model.input_shape, card, (64, 64), image_size,
                           model_name=self.model_name)
        shape = model.output_shape[0] if isinstance(model.output_shape, list) \
            else model.output_shape
        self.segmentation = len(shape) == 4
        if self.segmentation and method not in ("auto", None):
            raise ValueError(f"{Path(model_path).name} is a segmentation model: it draws its "
                             f"masks, not a heatmap. Received: method={method!r}")
        self.names = structure_names(card, model.output_shape[-1]) if self.segmentation else None
        self.with_tta = bool(tta) and self.segmentation and has_ctr_structures(self.names)
        self.reader, self.image_size, self.batch_size, self.jobs = reader, image_size, batch_size, jobs
        self.out_dir, self.overlays, self.method, self.alpha = out_dir, overlays, method, alpha
        self.view, self.views, self.ctr_threshold = view, views, ctr_threshold
        self.decision = None
        self.rows, self.sizes, self.used, self.groups = {}, {}, set(), {}
        self.pending = deque()  # futures of segmentation rows, in submission order
        self.bar = self.post = None

    def load(self, item):
        """Read, check and bring one input to the model's size (in a reading thread)."""
        name, src = item
        image = self.reader(src[1]) if isinstance(src, tuple) else read_image(src, grey=True)
        image = check_min_size(image, name)
        size, _ = resolve_input_size(self.model.input_shape, self.card, image.shape[:2],
                                     self.image_size, model_name=self.model_name)
        return image, size, prepare_image(image, self.model.input_shape, size)

    def call_model(self, x):
        """One model call of exactly ``batch_size`` rows (padded), so one trace."""
        n = len(x)
        if n < self.batch_size:
            x = np.concatenate([x, np.repeat(x[-1:], self.batch_size - n, axis=0)])
        out = self.model.predict_on_batch(x)
        out = out[0] if isinstance(out, (list, tuple)) else out
        return np.asarray(out)[:n]

    def segmentation_row(self, idx, name, image, pred, x, view_preds, target):
        """``(idx, row)`` of one segmentation prediction (in a post-processing thread)."""
        interval = None if view_preds is None else \
            tta_ctr_interval(view_preds, self.names, 1)[0]
        fields, picture = segmentation_result(
            image, pred, self.names, draw=target is not None,
            model_image=grey_model_input(x), tta=interval,
            view=self.views.get(name) or self.view or dicom_view(name),
            ctr_threshold=self.ctr_threshold)
        row = _segmentation_row(fields)
        if target is not None:
            atomic_write_image(target, picture[..., ::-1])
            row = [*row, str(target)]
        return idx, [name, *row]

    def classifier_row(self, name, image, probs, x, target):
        """The row of one classifier prediction (its overlay written)."""
        if self.decision is None:
            self.decision = _Decision(self.model, self.card, int(np.prod(probs.shape)))
        row = self.decision.row(probs)
        if target is not None:
            _, heat = heatmap_for(self.model, x, self.method)
            atomic_write_image(target, overlay_heatmap(image, heat, alpha=self.alpha)[..., ::-1])
            row = [*row, str(target)]
        return [name, *row]

    def drain(self, limit):
        """Collect finished rows, oldest first, until at most ``limit`` are pending."""
        while len(self.pending) > limit:
            idx, row = self.pending.popleft().result()
            self.rows[idx] = row
            self.bar.update(1)

    def predict_group(self, group):
        """Predict one batch; segmentation rows are finished by the pool meanwhile."""
        batch_items, images, xs = zip(*group)
        x = np.concatenate(xs)
        n = len(x)
        view_out = None
        if self.with_tta:  # the views of every image, batch_size rows per model call
            view_x = tta_inputs(x)
            view_out = np.concatenate([self.call_model(view_x[k:k + self.batch_size])
                                       for k in range(0, len(view_x), self.batch_size)])
            out = view_out[:n]
        else:
            out = self.call_model(x)
        for j, (idx, name) in enumerate(batch_items):
            target = self.out_dir / overlay_name(name, self.used) if self.overlays else None
            if self.segmentation:
                self.pending.append(self.post.submit(
                    self.segmentation_row, idx, name, images[j], out[j], xs[j],
                    None if view_out is None else view_out[j::n], target))
                continue
            self.rows[idx] = self.classifier_row(name, images[j], out[j], xs[j], target)
            self.bar.update(1)
        self.drain(2 * self.batch_size)

    def predict_all(self, items, skipped, progress):
        """Every item read ahead, predicted in groups of one input size; unreadable ones
        appended to ``skipped``."""
        self.bar = tqdm(total=len(items), desc="predict", unit="img", disable=not progress,
                        dynamic_ncols=True)
        with self.bar, ThreadPoolExecutor(max_workers=self.jobs) as self.post:
            numbered = [(i, item) for i, item in enumerate(items)]
            for (i, item), loaded, err in read_ahead(
                    numbered, lambda it: self.load(it[1]), self.jobs,
                    window=max(2 * self.batch_size, 4 * self.jobs)):
                if err is not None:
                    skipped.append((item[0], skip_reason(err)))
                    self.bar.update(1)
                    continue
                image, size, x = loaded
                self.sizes[size] = self.sizes.get(size, 0) + 1
                group = self.groups.setdefault(size, [])
                group.append(((i, item[0]), image, x))
                if len(group) >= self.batch_size:
                    self.predict_group(self.groups.pop(size))
            for size in list(self.groups):
                self.predict_group(self.groups.pop(size))
            self.drain(0)

    def summary(self):
        """``(columns, decision, task)`` of ``predictions.csv`` and the result."""
        if self.segmentation:
            columns = _segmentation_columns(
                self.names or structure_names(self.card, self.model.output_shape[-1]))
            decision = ("segmentation: masks at probability > 0.5; cardiomegaly: CTR > "
                        f"{self.ctr_threshold or 0.5} (no call on QC fail"
                        + (", or on AP films" if self.ctr_threshold is None else "") + ")"
                        + ("; CTR interval from test-time augmentation" if self.with_tta else ""))
            return columns, decision, "segmentation"
        k = int(np.prod(self.model.output_shape[1:]))
        dec = self.decision or _Decision(self.model, self.card, k)
        return dec.columns(), dec.describe(), dec.task.name


def predict_batch(inputs=(), model_path=None, *, out_dir=".", missing=(), data=None,
                  split="test", image_size=None, batch_size=DEFAULT_BATCH_SIZE, jobs=None,
                  overlays=False, method="auto", alpha=0.2, progress=True, view=None,
                  views=None, ctr_threshold=None, tta=True) -> dict:
    """Predict many images with one model load; write ``predictions.csv`` and ``skipped.csv``.

    Images are read in parallel (``jobs`` threads; :func:`heartcv.data.images.read_image`
    and :func:`~heartcv.data.images.check_min_size`, as :func:`predict_image` reads them),
    brought to the size :func:`resolve_input_size` gives (the card's ``input_size`` puts
    every image at one size) in the same threads, grouped by that size and predicted
    ``batch_size`` at a time; every model call has exactly ``batch_size`` rows (the last batch
    and the test-time-augmentation views are padded), so the model is traced once per input
    size. Segmentation results (masks, areas, CTR, QC, overlay) are made by a pool of
    ``jobs`` threads while the model predicts the next batch (OpenCV releases the GIL).

    ``predictions.csv`` (rows in input order): ``path`` (the file, or the bundle's image
    id), then for classifiers one column per class probability, ``predicted`` (the call:
    the card's ``threshold`` when it stores one, else ``p >= 0.5`` for binary and
    multilabel models, the argmax for multiclass ones) and ``threshold``; for segmentation
    models ``ctr``, ``ctr_low``/``ctr_high`` (the test-time-augmentation interval),
    ``cardiomegaly`` (empty: no call, see ``call_note``), ``cardiomegaly_threshold``, ``qc``
    (ok / review / fail), ``qc_reasons``, ``view``, ``call_note``, ``ctr_flags``, each
    structure's ``<name>_area_px`` (in the image's pixels) and ``<name>_area_fraction``, and
    ``measured_at``: the ``HxW`` at which the masks were measured (:func:`measure_size`: the
    image's own size, or its longer side 512 px; areas and widths are scaled from it); with
    ``overlays``, an ``overlay`` column. ``skipped.csv``: ``path, reason`` for every input
    that was not predicted (unreadable: corrupt, empty, too small, multi-page TIFF, a
    folder, ...; missing; a ``duplicate`` of an earlier input: :func:`collect_inputs`), so
    each input is in exactly one of the two files; a skipped image never stops the run. Both
    files are written atomically when all images are done; each overlay (``overlays``: the
    heatmap or mask overlay :func:`predict_image` draws, as ``<stem>.overlay.png``, ``-2``,
    ``-3`` … added when stems repeat) as it is made.

    Args:
        inputs: image files (:func:`collect_inputs`).
        model_path: the model (and its card beside it), loaded once.
        missing: ``(path, reason)`` pairs to list as skipped (from :func:`collect_inputs`).
        data, split: a bundle and its split (``"all"`` for every image) to predict as well;
            its image ids name the rows.
        jobs: reading threads (default: the CPU count, at most 8).
        method, alpha: the heatmap of the overlays (as :func:`predict_image`).
        progress: show a tqdm progress bar (stderr).
        view: ``"PA"``/``"AP"`` for every image; views: ``{path: view}`` per image (a CSV's
            ``view`` column, :func:`csv_views`); else each DICOM's ``ViewPosition``.
        ctr_threshold, tta: as :func:`predict_image`.

    Returns:
        dict with ``n_inputs``, ``n_predicted``, ``skipped`` (``(path, reason)`` list),
        ``task``, ``decision`` (how calls were made), ``image_sizes`` (count per model input
        size) and ``written`` (the files written).

    Raises:
        ValueError: a bad argument, an unreadable model card or bundle, a model the images
            cannot be given to, an output folder that cannot be written.
        FileNotFoundError: the model (or bundle) does not exist.
    """
    alpha, image_size, view, ctr_threshold, views, jobs = _checked_arguments(
        alpha, image_size, view, ctr_threshold, views, batch_size, jobs)
    out_dir = check_output_dir(out_dir)
    targets = {"predictions": out_dir / PREDICTIONS_CSV, "skipped": out_dir / SKIPPED_CSV}
    for target in targets.values():
        check_output_file(target)
    items = [(str(p), p) for p in inputs]
    bundle, reader = None, None
    if data is not None:
        bundle, in_bundle, reader = bundle_items(data, split)
        items += [(name, ("bundle", i)) for name, i in in_bundle]
    skipped = [(str(p), r) for p, r in missing]
    if not items:
        raise ValueError("No input images found" + (f" ({skipped[0][0]}: {skipped[0][1]})"
                                                    if skipped else ""))
    try:
        run = _BatchRun(model_path, items[0][0], reader=reader, image_size=image_size,
                        batch_size=batch_size, jobs=jobs, out_dir=out_dir, overlays=overlays,
                        method=method, alpha=alpha, view=view, views=views,
                        ctr_threshold=ctr_threshold, tta=tta)
        run.predict_all(items, skipped, progress)
    finally:
        if bundle is not None:
            bundle.close()
    columns, decision, task = run.summary()
    rows = run.rows
    header = ["path", *columns, *(["overlay"] if overlays else [])]
    atomic_write_text(targets["predictions"], _rows_csv(header, [rows[i] for i in sorted(rows)]))
    atomic_write_text(targets["skipped"], _rows_csv(["path", "reason"], skipped))
    return {"n_inputs": len(items) + len(missing), "n_predicted": len(rows), "skipped": skipped,
            "task": task, "decision": decision,
            "image_sizes": {"x".join(map(str, s)): n for s, n in run.sizes.items()},
            "written": [str(targets["predictions"]), str(targets["skipped"])]
            + ([f"{len(rows)} overlays in {out_dir}"] if overlays else [])}
