"""The per-image work of :func:`heartcv.data.convert.convert_index`, run in worker processes.

:func:`start_pool` starts the workers before any HDF5 file is opened; :func:`load_item` reads,
converts and resizes one index row (and its masks) and never raises for a bad file: it
returns the reason instead, to be logged.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import cv2
import numpy as np

from heartcv.data.images import (
    ImageReadError,
    check_min_size,
    load_image,
    read_mask,
    resize_image,
    resize_mask,
)

__all__ = ["NOTE_MASK_RES", "load_item", "start_pool"]

NOTE_MASK_RES = "mask resolution differs from image"


def _init_worker():
    cv2.setNumThreads(1)  # one process per core already


def _ping():
    return os.getpid()


def start_pool(workers, start_method):
    """Start the worker processes now (before any HDF5 file is opened).

    With ``fork``, OpenCV's thread count is set to 1 in this process only while forking:
    the children inherit it, and calling ``cv2.setNumThreads`` inside a forked child can
    hang on the parent's (absent) thread pool. The parent's setting is restored afterwards.
    """
    method = start_method or ("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
    ctx = multiprocessing.get_context(method)
    forked = ctx.get_start_method() == "fork"
    threads = cv2.getNumThreads()
    if forked:
        cv2.setNumThreads(1)
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=None if forked else _init_worker
    )
    try:
        pool.submit(_ping).result()  # fork/spawn every worker now
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        if forked:
            cv2.setNumThreads(threads)
    return pool


def _aspect_close(a_hw, b_hw, tol=0.01):
    return abs(a_hw[0] / a_hw[1] - b_hw[0] / b_hw[1]) <= tol * (a_hw[0] / a_hw[1])


def load_item(item):
    """Read, convert and resize one row. Never raises for a bad file (only for ImportError)."""
    pos, path, mask_items, size, channels, check = item

    def skip(reason):
        return (pos, None, None, (), reason, None)

    if not path:
        return skip("no image path in the index")
    try:
        img, info = load_image(path, grey=channels == 1)
        check_min_size(img, path)
        if check is not None:
            try:
                check(img, path)
            except ValueError as e:
                return skip(" ".join(str(e).split()))
        out = resize_image(img, size)
        if out.ndim == 2:
            out = out[..., None]
        notes = list(info.conversions)
        masks = None
        if mask_items:
            resized = []
            for name, mpath in mask_items:
                label = "mask" if name is None else f"mask {name!r}"
                if not mpath:
                    return skip(f"no {label} path in the index")
                try:
                    m = read_mask(mpath)
                except FileNotFoundError:
                    return skip(f"{label} not found: {mpath}")
                except ImageReadError as e:
                    return skip(f"{label} unreadable: {e.reason}")
                if m.shape != img.shape[:2]:
                    if not _aspect_close(m.shape, img.shape[:2]):
                        return skip(
                            f"{label} size {m.shape[1]}×{m.shape[0]} (w×h) does not match "
                            f"the image {img.shape[1]}×{img.shape[0]}"
                        )
                    notes.append(NOTE_MASK_RES)
                resized.append(resize_mask(m, size))
            masks = resized[0] if mask_items[0][0] is None else np.stack(resized, axis=-1)
        return (pos, out, masks, tuple(dict.fromkeys(notes)), None, (info.height, info.width))
    except FileNotFoundError:
        return skip("file not found")
    except ImageReadError as e:
        return skip(e.reason)
    except ImportError:
        raise
    except Exception as e:  # noqa: BLE001 - a bad file must be logged, not crash the run
        return skip(f"{type(e).__name__}: {' '.join(str(e).split())}")
