"""Congenital heart disease (CHD) chest X-rays with heart polygon traces.

The CHD paper ("deep learning to detect and classify heart disease using X-ray", VGG16 and
VGG16-U-Net with a heart mask) collected 3,026 frontal and lateral chest radiographs of
normal controls and three congenital heart diseases -- ventricular septal defect (VSD),
atrial septal defect (ASD) and tetralogy of Fallot (TOF) -- from three sources (hospitals and
public datasets; its tables name normal controls from "az" and from "indiana", the latter
the Indiana University / OpenI chest X-ray collection). It labels each picture "by the name
of the picture plus the name of the disease", and for thousands of images stores the heart
contour as a polygon in a ``.txt`` file beside the image ("traces"), turned into masks
("traces to masks") to train a U-Net. The data set itself was not published, so this module
fixes a file-name convention that carries everything the paper says the names carry.

File-name convention (case-insensitive; :data:`FILENAME_PATTERN`)::

    <disease>_<source>_<patient>_<view>[_<n>].<ext>

    disease  normal | VSD | ASD | TOF
    source   the hospital or data set: letters then letters/digits (az, indiana, hosp2)
    patient  the patient's id within that source: letters, digits and '-'
    view     frontal | lateral
    n        optional image number, when a patient has several images of one view
    ext      .png .jpg .jpeg .bmp .tif .tiff

e.g. ``VSD_az_P00123_frontal.png``, ``normal_indiana_CXR1042_lateral.png``,
``TOF_hosp2_0457_frontal_2.jpg``. The patient id of a row is ``<source>-<patient>`` (source
lower-cased), so frontal and lateral views of one patient always share a split. Files are
found recursively under the root; any folder layout works.

Traces: ``<image stem>.txt`` beside the image, one vertex ``x y`` per line (pixel column and
row of the original image, pixel centres at integers; a comma may separate the two numbers;
blank lines are ignored). Consecutive repeated vertices (including a closing vertex equal to
the first) are dropped. A trace must have at least 3 distinct vertices, a non-zero area, no
self-intersection and, when the image size is known, all vertices within
``[-0.5, W - 0.5] x [-0.5, H - 0.5]``.

Counts in the paper: 3,026 images after preprocessing (per-class counts not given).

Reference:
    "We build a deep learning model to detect and classify heart disease using X-ray": VGG16
    and VGG16-U-Net with a heart mask for normal / VSD / ASD / TOF (the project's
    ``chd-xray-vgg-unet`` paper, text kept as ``../shared/papers/chd-xray-vgg-unet.txt``;
    the stored text begins at the abstract, without title or authors).
"""

import logging
import re
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from heartcv.data.datasets import did_you_mean, finalize_index, require_dir, require_file
from heartcv.files import atomic_write_image, atomic_write_text
import argparse
from heartcv.data.datasets._prep import convert, dataset_parser, run
from heartcv.data.datasets import assign_split
from heartcv.registry import register_dataset

__all__ = [
    "DISEASES",
    "FILENAME_PATTERN",
    "IMAGE_EXTENSIONS",
    "SOURCE",
    "VIEWS",
    "chd_index",
    "parse_filename",
    "read_trace",
    "render_trace_masks",
    "segmentation_index",
    "trace_to_mask",
    "write_trace",
]

logger = logging.getLogger(__name__)

SOURCE = "Congenital heart disease chest X-rays (chd-xray-vgg-unet paper)"
DISEASES = ("normal", "VSD", "ASD", "TOF")
VIEWS = ("frontal", "lateral")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
FILENAME_PATTERN = re.compile(
    r"^(?P<disease>normal|vsd|asd|tof)_(?P<source>[a-z][a-z0-9]*)_(?P<patient>[a-z0-9][a-z0-9-]*)"
    r"_(?P<view>frontal|lateral)(?:_(?P<number>\d+))?$",
    re.IGNORECASE,
)
CONVENTION = "<disease>_<source>_<patient>_<view>[_<n>].<ext>"
_CANONICAL = {d.lower(): d for d in DISEASES}


def _hint(value, choices):
    close = did_you_mean(value, choices)
    return close.replace(" Did you mean", "; did you mean") if close else ""


def _why_not(stem):
    """A short reason why ``stem`` does not match :data:`FILENAME_PATTERN`."""
    parts = stem.split("_")
    if len(parts) not in (4, 5):
        return f"expected 4 or 5 '_'-separated parts, found {len(parts)}"
    disease, source, patient, view = parts[:4]
    if disease.lower() not in _CANONICAL:
        return f"unknown disease {disease!r}{_hint(disease, DISEASES)}"
    if not re.fullmatch(r"[a-z][a-z0-9]*", source, re.IGNORECASE):
        return f"source {source!r} must be letters then letters/digits"
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", patient, re.IGNORECASE):
        return f"patient {patient!r} must be letters, digits and '-'"
    if view.lower() not in VIEWS:
        return f"unknown view {view!r}{_hint(view.lower(), VIEWS)}"
    if len(parts) == 5 and not parts[4].isdigit():
        return f"image number {parts[4]!r} must be digits"
    return "does not match the pattern"


def parse_filename(name):
    """Parse a CHD image file name (with or without folder and extension).

    Returns:
        dict with ``disease`` (canonical spelling of :data:`DISEASES`), ``source`` (lower
        case), ``patient``, ``view`` (lower case), ``number`` (int or None), ``patient_id``.

    Raises:
        ValueError: naming the file, the convention and what is wrong with it.
    """
    stem = Path(str(name)).name
    if Path(stem).suffix.lower() in IMAGE_EXTENSIONS:
        stem = Path(stem).stem
    m = FILENAME_PATTERN.match(stem)
    if not m:
        raise ValueError(f"CHD file name does not follow {CONVENTION} ({_why_not(stem)}). "
                         f"Received: name={str(name)!r}")
    source = m["source"].lower()
    return {"disease": _CANONICAL[m["disease"].lower()], "source": source,
            "patient": m["patient"], "view": m["view"].lower(),
            "number": None if m["number"] is None else int(m["number"]),
            "patient_id": f"{source}-{m['patient']}"}


def _as_choice(values, allowed, name):
    if values is None:
        return None
    values = [values] if isinstance(values, str) else list(values)
    lookup = {a.lower(): a for a in allowed}
    out = []
    for v in values:
        if str(v).lower() not in lookup:
            hint = did_you_mean(v, lookup.values(), ignore_case=True)
            raise ValueError(f"Unknown value in `{name}`; expected some of {list(allowed)}."
                             f"{hint} Received: {name}={values!r}")
        out.append(lookup[str(v).lower()])
    return out


def chd_index(root, *, class_names=DISEASES, views=None, sources=None, strict=True,
              require_traces=False):
    """Index of the CHD images under ``root``.

    Args:
        root: folder searched recursively for images named by the convention (module doc).
        class_names: diseases to keep, in class-column order (e.g. ``("normal", "VSD")`` for
            the paper's two-class runs); rows of other diseases are left out.
        views: keep only these views (``"frontal"``/``"lateral"``); default both.
        sources: keep only these sources; default all.
        strict: raise on any image file whose name does not parse (default); with False such
            files are skipped, logged, and listed in ``df.attrs["unparsed"]``.
        require_traces: raise if a kept image has no ``.txt`` trace beside it.

    Returns:
        Index with ``image_id`` (file stem), ``path``, ``patient_id``, one class column per
        disease (one-hot), ``disease``, ``source``, ``view``, ``number``, ``trace_path``
        (NaN where absent); task "multiclass".

    Raises:
        ValueError: names that do not parse (count and up to 5 examples with the reason),
            duplicated stems, or unknown ``class_names``/``views``.
        FileNotFoundError: missing ``root``, no images, or missing traces when required.
    """
    root = require_dir(root, "root")
    classes = _as_choice(class_names, DISEASES, "class_names")
    if not classes:
        raise ValueError(f"Expected at least one class. Received: class_names={class_names!r}")
    keep_views = _as_choice(views, VIEWS, "views")
    if isinstance(sources, str):
        sources = [sources]
    keep_sources = None if sources is None else {str(s).lower() for s in sources}
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS
                   and p.is_file())
    if not files:
        raise FileNotFoundError(f"No images ({', '.join(IMAGE_EXTENSIONS)}) under {str(root)!r}. "
                                f"Received: root={str(root)!r}")
    rows, bad, seen = [], [], {}
    for f in files:
        try:
            info = parse_filename(f.name)
        except ValueError:
            bad.append((str(f), _why_not(f.stem)))
            continue
        if f.stem in seen:
            raise ValueError(f"Two images share the id {f.stem!r}: {seen[f.stem]!r} and {str(f)!r}")
        seen[f.stem] = str(f)
        trace = f.with_suffix(".txt")
        rows.append({"image_id": f.stem, "path": str(f), "patient_id": info["patient_id"],
                     "disease": info["disease"], "source": info["source"], "view": info["view"],
                     "number": info["number"],
                     "trace_path": str(trace) if trace.is_file() else np.nan})
    if bad:
        examples = "; ".join(f"{Path(p).name!r} ({why})" for p, why in bad[:5])
        msg = (f"{len(bad)} of {len(files)} image name(s) under {str(root)!r} do not follow "
               f"{CONVENTION}: {examples}")
        if strict:
            raise ValueError(msg)
        logger.warning("%s; skipped (strict=False).", msg)
    df = pd.DataFrame(rows, columns=["image_id", "path", "patient_id", "disease", "source",
                                     "view", "number", "trace_path"])
    df = df[df["disease"].isin(classes)]
    if keep_views is not None:
        df = df[df["view"].isin(keep_views)]
    if keep_sources is not None:
        df = df[df["source"].isin(keep_sources)]
    if df.empty:
        raise ValueError(f"No image under {str(root)!r} is left after filtering. Received: "
                         f"class_names={classes!r}, views={keep_views!r}, sources={sources!r}")
    if require_traces and df["trace_path"].isna().any():
        lacking = df.loc[df["trace_path"].isna(), "path"].tolist()
        raise FileNotFoundError(f"{len(lacking)} image(s) have no .txt trace beside them "
                                f"(require_traces=True), e.g. {lacking[:3]}")
    for c in classes:
        df[c] = (df["disease"] == c).astype(np.float32)
    df["number"] = pd.to_numeric(df["number"]).astype(np.float64)  # NaN: no image number
    df["trace_path"] = df["trace_path"].astype(object)
    columns = ["image_id", "path", "patient_id"] + classes
    columns += ["disease", "source", "view", "number", "trace_path"]
    return finalize_index(df[columns], class_names=classes, task="multiclass", source=SOURCE,
                          unparsed=bad)


# --------------------------------------------------------------------------- traces


def _orient(a, b, c):
    return (b[..., 0] - a[..., 0]) * (c[..., 1] - a[..., 1]) - \
           (b[..., 1] - a[..., 1]) * (c[..., 0] - a[..., 0])


def _on_segment(a, b, p):
    """p (collinear with a-b) lies within the bounding box of a-b."""
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    return ((lo[..., 0] <= p[..., 0]) & (p[..., 0] <= hi[..., 0])
            & (lo[..., 1] <= p[..., 1]) & (p[..., 1] <= hi[..., 1]))


def _self_intersection(v):
    """Return (i, j) of the first pair of crossing edges of the closed polygon ``v``, or None.

    Edge i runs from v[i] to v[i+1] (the last edge closes the polygon). Non-adjacent edges
    may not touch at all; adjacent edges may only share their common vertex (an edge that
    folds back onto its neighbour counts as an intersection).
    """
    m = len(v)
    a, b = v, np.roll(v, -1, axis=0)
    i, j = np.triu_indices(m, k=1)
    adjacent = (j == i + 1) | ((i == 0) & (j == m - 1))
    pa, pb, pc, pd = a[i], b[i], a[j], b[j]
    d1, d2 = _orient(pc, pd, pa), _orient(pc, pd, pb)
    d3, d4 = _orient(pa, pb, pc), _orient(pa, pb, pd)
    cross = (d1 * d2 < 0) & (d3 * d4 < 0)
    touch = (((d1 == 0) & _on_segment(pc, pd, pa)) | ((d2 == 0) & _on_segment(pc, pd, pb))
             | ((d3 == 0) & _on_segment(pa, pb, pc)) | ((d4 == 0) & _on_segment(pa, pb, pd)))
    bad = ~adjacent & (cross | touch)
    # Adjacent edges: collinear and pointing back over each other.
    e1, e2 = pb - pa, pd - pc
    fold = adjacent & (e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0] == 0) & ((e1 * e2).sum(axis=1) < 0)
    hits = np.flatnonzero(bad | fold)
    return None if hits.size == 0 else (int(i[hits[0]]), int(j[hits[0]]))


def check_vertices(v, where, image_shape=None):
    """Validate an (M, 2) vertex array; ``where`` names the file or argument in errors."""
    if v.ndim != 2 or v.shape[1] != 2:
        raise ValueError(f"Expected vertices of shape (M, 2) in {where}. Received: shape={v.shape}")
    if not np.isfinite(v).all():
        raise ValueError(f"Trace {where} has a non-finite vertex. "
                         f"Received: vertices={v.tolist()[:5]}")
    keep = np.ones(len(v), bool)
    keep[1:] = np.any(v[1:] != v[:-1], axis=1)
    v = v[keep]
    if len(v) > 1 and np.all(v[-1] == v[0]):
        v = v[:-1]
    if len(v) < 3:
        raise ValueError(f"Trace {where} has fewer than 3 distinct vertices; a polygon needs 3. "
                         f"Received: vertices={v.tolist()}")
    d = v - v[0]
    if np.all(d[1, 0] * d[:, 1] - d[1, 1] * d[:, 0] == 0):
        raise ValueError(f"Trace {where} encloses no area (all vertices on one line).")
    x, y = v[:, 0], v[:, 1]
    hit = _self_intersection(v)
    if hit is not None:
        i, j = hit
        edge = lambda k: f"{v[k].tolist()}->{v[(k + 1) % len(v)].tolist()}"  # noqa: E731
        raise ValueError(f"Trace {where} is self-intersecting: edge {i} {edge(i)} meets edge "
                         f"{j} {edge(j)}")
    if image_shape is not None:
        h, w = int(image_shape[0]), int(image_shape[1])
        out = (x < -0.5) | (x > w - 0.5) | (y < -0.5) | (y > h - 0.5)
        if out.any():
            k = int(np.flatnonzero(out)[0])
            raise ValueError(f"Trace {where} has {int(out.sum())} vertex(es) outside the "
                             f"{w}x{h} (WxH) image, e.g. vertex {k} = {v[k].tolist()}")
    return v


def read_trace(path, image_shape=None):
    """Read a heart polygon trace: one ``x y`` vertex per line.

    Args:
        path: the ``.txt`` file.
        image_shape: ``(H, W)`` (or ``(H, W, C)``) of its image; when given, vertices must lie
            on the image.

    Returns:
        float64 array (M, 2) of ``(x, y)`` = (column, row), consecutive repeats removed.

    Raises:
        FileNotFoundError: missing file.
        ValueError: naming the file, for an empty file, a non-numeric line or one without two
            numbers (with its line number), fewer than 3 vertices, zero area, a
            self-intersection (with the two edges), or a vertex outside the image.
    """
    path = require_file(path, "path")
    where = repr(str(path))
    vertices = []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"Trace file {where} is not text (byte {err.start} is not UTF-8); "
                         "expected one `x y` vertex per line") from None
    for n, line in enumerate(text.splitlines(), start=1):
        text = line.strip()
        if not text:
            continue
        parts = text.replace(",", " ").split()
        if len(parts) != 2:
            raise ValueError(f"Trace {where} line {n}: expected two numbers 'x y'. "
                             f"Received: line={line!r}")
        try:
            vertices.append((float(parts[0]), float(parts[1])))
        except ValueError:
            raise ValueError(f"Trace {where} line {n} is not numeric. "
                             f"Received: line={line!r}") from None
    if not vertices:
        raise ValueError(f"Trace {where} is empty (no vertices).")
    return check_vertices(np.asarray(vertices, dtype=np.float64), where, image_shape)


def write_trace(path, vertices):
    """Write ``vertices`` (M, 2) as a trace file, atomically (temp file + ``os.replace``).

    Values are written in the shortest form that reads back exactly.

    Raises:
        ValueError: if the vertices are not a valid polygon (see :func:`read_trace`).
    """
    path = Path(path)
    v = check_vertices(np.asarray(vertices, dtype=np.float64), "`vertices`")
    fmt = lambda a: np.format_float_positional(a, trim="-")  # noqa: E731
    text = "".join(f"{fmt(x)} {fmt(y)}\n" for x, y in v)
    return atomic_write_text(path, text)


def trace_to_mask(vertices, shape):
    """Fill a polygon into a uint8 mask of ``shape`` (H, W): 1 inside, 0 outside.

    Uses :func:`cv2.fillPoly` with 4 bits of sub-pixel precision.

    Raises:
        ValueError: bad ``shape`` or vertices not of shape (M >= 3, 2).
    """
    if len(tuple(shape)) < 2 or int(shape[0]) <= 0 or int(shape[1]) <= 0:
        raise ValueError(f"Expected `shape` = (H, W) with positive sizes. Received: shape={shape}")
    v = np.asarray(vertices, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != 2 or len(v) < 3:
        raise ValueError(f"Expected `vertices` of shape (M >= 3, 2). Received: shape={v.shape}")
    mask = np.zeros((int(shape[0]), int(shape[1])), np.uint8)
    shift = 4
    pts = np.round(v * (1 << shift)).astype(np.int32).reshape(-1, 1, 2)
    cv2.fillPoly(mask, [pts], 1, lineType=cv2.LINE_8, shift=shift)
    return mask


def render_trace_masks(index, mask_dir, *, strict=True, overwrite=False):
    """Turn the traces of a :func:`chd_index` into mask PNGs and add a ``mask_path`` column.

    Each row with a ``trace_path`` gets ``mask_dir/<image_id>.png`` (0/255, the size of its
    image), written atomically; rows without a trace get NaN.

    Args:
        index: a CHD index.
        mask_dir: output folder (created).
        strict: raise on the first bad trace set (all problems listed); with False bad traces
            are logged and their rows get NaN.
        overwrite: rewrite masks that already exist.

    Returns:
        A copy of ``index`` with ``mask_path``; ``df.attrs["bad_traces"]`` lists problems.
    """
    mask_dir = Path(mask_dir)
    mask_dir.mkdir(parents=True, exist_ok=True)
    out, problems = [], []
    for image_id, path, trace in zip(index["image_id"], index["path"], index["trace_path"]):
        if not isinstance(trace, str):
            out.append(np.nan)
            continue
        target = mask_dir / f"{image_id}.png"
        if target.is_file() and not overwrite:
            out.append(str(target.resolve()))
            continue
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None:
            problems.append(f"cannot decode image {path!r}")
            out.append(np.nan)
            continue
        try:
            mask = trace_to_mask(read_trace(trace, image.shape[:2]), image.shape[:2])
        except ValueError as e:
            problems.append(str(e))
            out.append(np.nan)
            continue
        atomic_write_image(target, mask * 255)
        out.append(str(target.resolve()))
    if problems:
        msg = (f"{len(problems)} trace(s) could not be turned into masks: "
               + " | ".join(problems[:5]))
        if strict:
            raise ValueError(msg)
        logger.warning(msg)
    df = index.copy()
    df.attrs = dict(index.attrs, bad_traces=problems)
    df["mask_path"] = out
    return df


def segmentation_index(index, mask_dir, *, strict=True, overwrite=False):
    """The traced images of a CHD index, with rendered masks, as a segmentation index.

    Rows without a trace (or, with ``strict=False``, with a bad one) are left out; the class
    columns stay as image labels. Task "segmentation", one ``mask_path`` column (the heart).

    Raises:
        ValueError: if no row has a usable trace, or a trace is bad and ``strict`` is set.
    """
    df = render_trace_masks(index, mask_dir, strict=strict, overwrite=overwrite)
    kept = df[df["mask_path"].notna()]
    if kept.empty:
        raise ValueError(f"No image of the index has a usable heart trace (.txt beside the image); "
                         f"a segmentation index needs at least one. Received: {len(df)} rows")
    attrs = {k: v for k, v in df.attrs.items() if k not in ("class_names", "task", "source")}
    attrs["untraced"] = int(len(df) - len(kept))
    return finalize_index(kept, class_names=df.attrs["class_names"], task="segmentation",
                          source=df.attrs["source"], **attrs)


# ----------------------------------------------------------------------------- heartcv prep chd

PREP_DOC = '''Congenital heart disease chest X-rays -> heartcv HDF5 bundle (classification or heart masks).

    python data_prep/chd.py --raw CHD_DIR --out data/chd_320.h5 --classes normal VSD ASD
    python data_prep/chd.py --raw CHD_DIR --out data/chd_heart_320.h5 --masks CHD_DIR/masks

Images are named ``<disease>_<source>_<patient>_<view>[_<n>].<ext>`` with an optional heart
polygon ``.txt`` beside each (see ``heartcv.data.datasets.chd``). With ``--masks`` the
traced images only are written, with their traces rendered to masks in that folder (task
"segmentation", for the U-Net); otherwise all images with their disease labels. The split is
seeded and patient-wise (72/8/20, stratified on the disease): frontal and lateral views of a
patient stay together. Counts per class and split are printed at the end.
'''

PROG = "heartcv prep chd"


def build_parser(prog=PROG):
    p = dataset_parser(prog, PREP_DOC, raw_help="folder searched recursively for the images",
                       epilog="See data_prep/README.md for the file-name convention.")
    p.add_argument("--classes", nargs="+", default=list(DISEASES),
                   help=f"diseases to keep, in label order (default: {' '.join(DISEASES)})")
    p.add_argument("--views", nargs="+", default=None, choices=VIEWS,
                   help="views to keep (default: both)")
    p.add_argument("--sources", nargs="+", default=None, help="sources to keep (default: all)")
    p.add_argument("--masks", default=None,
                   help="render the traces into this folder and write a segmentation bundle")
    p.add_argument("--strict", action=argparse.BooleanOptionalAction, default=True,
                   help="fail on file names or traces that do not parse (default on)")
    return p


def main(argv=None, prog=PROG) -> int:
    args = build_parser(prog).parse_args(argv)

    def work():
        index = chd_index(args.raw, class_names=args.classes, views=args.views,
                              sources=args.sources, strict=args.strict)
        if args.masks is not None:
            index = segmentation_index(index, args.masks, strict=args.strict)
        if index.attrs.get("unparsed"):
            print(f"skipped {len(index.attrs['unparsed'])} file(s) whose names do not parse")
        convert(assign_split(index, seed=args.seed, stratify="disease"), args)

    return run(prog, args, work)


register_dataset("chd", main=main, build_parser=build_parser, reader=chd_index,
                 description="congenital heart disease X-rays (file-name convention) + heart traces", module=__name__)
