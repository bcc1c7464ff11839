"""Robust image reading and resizing (pure NumPy/OpenCV).

``read_image`` reads PNG, JPEG, BMP and TIFF with OpenCV (``IMREAD_UNCHANGED``, from bytes,
so non-ASCII paths work) and DICOM with pydicom (a dependency of heartcv),
and always returns ``uint8``:

* grey (H, W) when ``grey=True`` (default), otherwise RGB (H, W, 3) -- RGB order, not
  OpenCV's BGR; grey sources are repeated over three channels.
* Alpha (RGBA, grey+alpha) is **composited on black**: colour x alpha / alpha_max. For the
  usual fully opaque alpha (e.g. the RGBA PNGs of NIH ChestX-ray14) this equals dropping it.
* Colour to grey uses OpenCV's ITU-R BT.601 weights (``cv2.COLOR_BGR2GRAY``).
* Anything deeper than 8 bits (16-bit PNG/TIFF, float TIFF, DICOM) is scaled **min-max**
  to 0..255 per image (``(x - min) / (max - min) * 255``, rounded; a constant image gives
  zeros). This uses the full 8-bit range for 12-bit data stored in 16-bit containers.
  Non-finite pixels (NaN, inf) of a float image become 0; an image with no finite pixel
  at all is refused.
* DICOM: the modality LUT (rescale slope/intercept) and the VOI LUT / window are applied
  with pydicom, then min-max scaled; MONOCHROME1 images (white = low values) are inverted
  so that bone is bright as in MONOCHROME2.

Refused, like multi-frame DICOM: multi-page TIFF (a stack, not one radiograph; the message
gives the page count), images with no finite pixel, and fully transparent images (alpha 0
everywhere). :func:`check_min_size` refuses images smaller than :data:`MIN_SIDE` pixels a
side (``heartcv predict``/``explain`` and ``heartcv prep`` use it).

Decoded-size guard: before anything is decoded, the width, height and channels are read
from the file's header (PNG IHDR, JPEG SOF, BMP, TIFF first directory, DICOM Rows/Columns;
:func:`image_header`), and an image of more than :func:`max_pixels` pixels (default
:data:`MAX_PIXELS`, 20 million: 4472 × 4472, above a 43 × 43 cm film at 0.1 mm (18.5 M),
where a one-image ``heartcv predict`` peaks at about 2 GB, its overlay drawn at full size) is refused with one line naming the file, its
size and the limit. A 20,000 × 20,000 PNG of 0.4 MB would otherwise decode to gigabytes.
``heartcv predict`` / ``explain --max-pixels N`` (:func:`set_max_pixels`) or the environment
variable ``HEARTCV_MAX_PIXELS`` change the limit (0: none).

Failures raise :class:`ImageReadError` (a ``ValueError``) naming the file and the problem
(empty, corrupt, unsupported type, unreadable), or ``FileNotFoundError`` for missing files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from heartcv.data.image_headers import image_header, tiff_pages
from heartcv.files import format_bytes

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "ImageReadError",
    "ImageInfo",
    "load_image",
    "read_image",
    "check_min_size",
    "MIN_SIDE",
    "MAX_PIXELS",
    "image_header",
    "max_pixels",
    "set_max_pixels",
    "read_mask",
    "binarize_mask",
    "resize_image",
    "resize_mask",
]

RASTER_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
DICOM_EXTENSIONS = (".dcm", ".dicom")
SUPPORTED_EXTENSIONS = RASTER_EXTENSIONS + DICOM_EXTENSIONS
DICOM_HINT = "pip install pydicom (a heartcv dependency: reinstall heartcv)"
#: Smallest image side (pixels) :func:`check_min_size` accepts.
MIN_SIDE = 8
#: Most pixels (width × height) an image may have to be decoded, unless changed
#: (:func:`set_max_pixels`, ``HEARTCV_MAX_PIXELS``); 0 or None: no limit.
MAX_PIXELS = 20_000_000  # a single predict peaks at ~2 GB there (overlay at full size); films are <= ~15 M
_max_pixels_set = None  # what set_max_pixels() chose (the CLI's --max-pixels)


def set_max_pixels(n) -> None:
    """Set the decoded-size limit for this process (``None``: back to the default)."""
    global _max_pixels_set
    if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0):
        raise ValueError(f"Expected `max_pixels` as an int >= 0 (0: no limit) or None. "
                         f"Received: max_pixels={n!r}")
    _max_pixels_set = None if n is None else int(n)


def max_pixels() -> int:
    """The decoded-size limit in pixels (0: none): :func:`set_max_pixels`'s value, else
    ``HEARTCV_MAX_PIXELS``, else :data:`MAX_PIXELS`."""
    if _max_pixels_set is not None:
        return _max_pixels_set
    env = os.environ.get("HEARTCV_MAX_PIXELS", "").strip().replace("_", "")
    if env:
        try:
            value = int(float(env))
        except ValueError:
            raise ValueError(f"Expected HEARTCV_MAX_PIXELS as a number of pixels (0: no "
                             f"limit). Received: HEARTCV_MAX_PIXELS={env!r}") from None
        return max(value, 0)
    return MAX_PIXELS


class ImageReadError(ValueError):
    """An image file exists but cannot be read; ``reason`` says why, ``path`` which file."""

    def __init__(self, path, reason):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"Cannot read image {self.path}: {reason}")


@dataclass(frozen=True)
class ImageInfo:
    """What :func:`load_image` found in the file and did to it.

    Attributes:
        height, width: size of the stored image (before any resizing).
        channels: stored channels (1 grey, 2 grey+alpha, 3 colour, 4 colour+alpha).
        dtype: stored pixel type (e.g. ``"uint8"``, ``"uint16"``).
        conversions: what was done, e.g. ``("RGBA→grey", "16-bit→8-bit")``; empty for a
            plain 8-bit image read in its own mode.
    """

    height: int
    width: int
    channels: int
    dtype: str
    conversions: tuple = ()


def _is_dicom(path):
    if path.suffix.lower() in DICOM_EXTENSIONS:
        return True
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def _to_uint8(img, conversions):
    if img.dtype == np.uint8:
        return img
    if img.dtype == bool:
        conversions.append("bool→8-bit")
        return img.astype(np.uint8) * 255
    if np.issubdtype(img.dtype, np.unsignedinteger):
        conversions.append(f"{img.dtype.itemsize * 8}-bit→8-bit")
    else:
        conversions.append(f"{img.dtype}→8-bit")
    x = img.astype(np.float64)
    finite = np.isfinite(x)
    if not finite.all():
        x = np.where(finite, x, np.nan)
        if not finite.any():
            raise ValueError(f"no finite pixel values (all {x.size} are NaN or infinite)")
    lo, hi = np.nanmin(x), np.nanmax(x)
    if not np.isfinite(lo) or hi <= lo:
        return np.zeros(img.shape, dtype=np.uint8)
    out = np.rint((x - lo) * (255.0 / (hi - lo)))
    return np.nan_to_num(out, nan=0.0).astype(np.uint8)


def _alpha_max(dtype):
    return float(np.iinfo(dtype).max) if np.issubdtype(dtype, np.integer) else 1.0


def _finish(img, grey, conversions, colour_order="BGR"):
    """Alpha, colour/grey conversion and depth reduction of a decoded array."""
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if img.ndim == 3 and img.shape[2] in (2, 4):
        img = _composite_alpha(img, grey, conversions)
    elif img.ndim == 3 and img.shape[2] == 3 and grey:
        conversions.append("RGB→grey")
    elif img.ndim == 3 and img.shape[2] != 3:
        raise ValueError(f"unsupported number of channels ({img.shape[2]})")
    if img.ndim == 3:
        img = _convert_colour(img, grey, colour_order)
    img = _to_uint8(img, conversions)
    if not grey and img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    return np.ascontiguousarray(img)


def _composite_alpha(img, grey, conversions):
    """An image with alpha (grey+alpha or RGBA) composited on black, alpha dropped."""
    colour, alpha = img[..., :-1], img[..., -1]
    amax = _alpha_max(img.dtype)
    name = "RGBA" if img.shape[2] == 4 else "grey+alpha"
    if not np.any(alpha > 0):
        raise ValueError(f"fully transparent ({name} with alpha 0 everywhere: nothing to see)")
    if alpha.min() < amax:
        blended = colour.astype(np.float64) * (alpha[..., None].astype(np.float64) / amax)
        if np.issubdtype(img.dtype, np.integer):
            blended = np.rint(blended)
        colour = blended.astype(img.dtype)
    out = colour[..., 0] if img.shape[2] == 2 else np.ascontiguousarray(colour)
    target = "grey" if grey or out.ndim == 2 else "RGB"
    conversions.append(f"{name}→{target}")
    return out


def _convert_colour(img, grey, colour_order):
    """A 3-channel image (``colour_order`` BGR or RGB) as grey, or as RGB."""
    if img.dtype not in (np.uint8, np.uint16, np.float32):
        img = img.astype(np.float32)
    code = (
        (cv2.COLOR_BGR2GRAY if colour_order == "BGR" else cv2.COLOR_RGB2GRAY)
        if grey
        else (cv2.COLOR_BGR2RGB if colour_order == "BGR" else None)
    )
    return img if code is None else cv2.cvtColor(img, code)


def _check_pixels(path, w, h, channels=1, sample_bytes=1):
    """Refuse an image of more than :func:`max_pixels` pixels before it is decoded."""
    limit = max_pixels()
    if limit and w * h > limit:
        decoded = w * h * channels * sample_bytes
        raise ImageReadError(
            path, f"too large to decode: {w}×{h} pixels ({w * h / 1e6:.0f} million, "
                  f"{format_bytes(decoded)} decoded) exceeds the limit of {limit / 1e6:g} million "
                  f"pixels (--max-pixels N or HEARTCV_MAX_PIXELS=N to change it)")


def _decode(path):
    try:
        buf = np.fromfile(path, dtype=np.uint8)
    except OSError as e:
        raise ImageReadError(path, f"unreadable ({e.strerror or e})") from None
    if buf.size == 0:
        raise ImageReadError(path, "empty file (0 bytes)")
    try:
        header = image_header(buf)
    except Exception:  # noqa: BLE001 - a damaged header: OpenCV's decoder says what is wrong
        header = None
    if header is not None:
        _check_pixels(path, *header)
    try:
        img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    except cv2.error as e:
        last = str(e).strip().splitlines()[-1]
        raise ImageReadError(path, f"OpenCV cannot decode it ({last})") from None
    if img is None or img.size == 0:
        raise ImageReadError(path, f"corrupt or truncated image data ({buf.size} bytes; OpenCV "
                                   "cannot decode it)")
    return img


def _read_raster(path, grey):
    img = _decode(path)
    if path.suffix.lower() in (".tif", ".tiff"):
        pages = tiff_pages(np.fromfile(path, dtype=np.uint8))
        if pages > 1:
            raise ImageReadError(path, f"multi-page TIFF ({pages} pages) is not supported; "
                                       "save the one radiograph as its own file")
    conversions = []
    info = (img.shape[0], img.shape[1], 1 if img.ndim == 2 else img.shape[2], str(img.dtype))
    try:
        out = _finish(img, grey, conversions)
    except ValueError as e:
        raise ImageReadError(path, str(e)) from None
    return out, ImageInfo(*info, tuple(conversions))


def _import_pydicom(path):
    try:
        import pydicom
    except ImportError:
        raise ImportError(f"Reading the DICOM file {path} needs pydicom, which is not installed: "
                          f"{DICOM_HINT}") from None
    return pydicom


def _dicom_luts(pydicom):
    try:
        from pydicom.pixels import apply_modality_lut, apply_voi_lut
    except ImportError:  # pydicom < 3
        from pydicom.pixel_data_handlers.util import apply_modality_lut, apply_voi_lut
    return apply_modality_lut, apply_voi_lut


def _read_dicom(path, grey):
    pydicom = _import_pydicom(path)
    apply_modality_lut, apply_voi_lut = _dicom_luts(pydicom)
    try:
        ds = pydicom.dcmread(str(path))
        rows, cols = int(getattr(ds, "Rows", 0) or 0), int(getattr(ds, "Columns", 0) or 0)
    except Exception as e:  # pydicom raises many types for broken files
        raise ImageReadError(path, f"DICOM cannot be decoded ({type(e).__name__}: {e})") from None
    _check_pixels(path, cols, rows, int(getattr(ds, "SamplesPerPixel", 1) or 1)
                  * int(getattr(ds, "NumberOfFrames", 1) or 1),
                  max(int(getattr(ds, "BitsAllocated", 8) or 8), 8) // 8)
    try:
        arr = ds.pixel_array
    except Exception as e:  # pydicom raises many types for broken files
        raise ImageReadError(path, f"DICOM cannot be decoded ({type(e).__name__}: {e})") from None
    photometric = str(getattr(ds, "PhotometricInterpretation", "MONOCHROME2")).upper()
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    if frames > 1:
        raise ImageReadError(path, f"multi-frame DICOM ({frames} frames) is not supported")
    conversions = ["DICOM"]
    info = (arr.shape[0], arr.shape[1], 1 if arr.ndim == 2 else arr.shape[2], str(arr.dtype))
    if photometric.startswith("MONOCHROME"):
        if arr.ndim != 2:
            raise ImageReadError(path, f"unexpected DICOM pixel array shape {arr.shape}")
        arr = apply_modality_lut(arr, ds)
        arr = apply_voi_lut(arr, ds)
        conversions.append("VOI LUT")
        try:
            img = _to_uint8(np.asarray(arr), conversions)
        except ValueError as e:
            raise ImageReadError(path, str(e)) from None
        if photometric == "MONOCHROME1":
            img = 255 - img
            conversions.append("MONOCHROME1 inverted")
        if not grey:
            img = np.repeat(img[..., None], 3, axis=2)
        return np.ascontiguousarray(img), ImageInfo(*info, tuple(conversions))
    if arr.ndim == 3 and arr.shape[2] == 3:  # pydicom converts YBR to RGB by default
        try:
            img = _finish(np.asarray(arr), grey, conversions, colour_order="RGB")
        except ValueError as e:
            raise ImageReadError(path, str(e)) from None
        return img, ImageInfo(*info, tuple(conversions))
    raise ImageReadError(path, f"unsupported DICOM PhotometricInterpretation {photometric!r}")


def load_image(path, *, grey=True):
    """Read an image as uint8 and report what was found and converted.

    Args:
        path: image file (PNG, JPEG, BMP, TIFF; DICOM with pydicom).
        grey: return (H, W) grey (default) or (H, W, 3) RGB.

    Returns:
        ``(image, ImageInfo)``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ImageReadError: empty, corrupt, unreadable or unsupported file.
        ImportError: a DICOM file and pydicom is not installed.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Image file not found: {path}")
    if path.is_dir():
        raise ImageReadError(path, "is a directory, not an image file")
    ext = path.suffix.lower()
    try:
        size = path.stat().st_size
    except OSError as e:
        raise ImageReadError(path, f"unreadable ({e.strerror or e})") from None
    if size == 0:
        raise ImageReadError(path, "empty file (0 bytes)")
    if _is_dicom(path):
        return _read_dicom(path, grey)
    if ext not in RASTER_EXTENSIONS:
        raise ImageReadError(
            path, f"unsupported file type {ext or '(no extension)'!r}; supported: "
                  f"{', '.join(SUPPORTED_EXTENSIONS)}"
        )
    return _read_raster(path, grey)


def read_image(path, *, grey=True):
    """Read an image as uint8: grey (H, W) when ``grey`` (default) else RGB (H, W, 3).

    See the module docstring for alpha, colour, bit-depth and DICOM handling, and
    :func:`load_image` for the errors raised.

    Example:
        >>> img = read_image("00000001_000.png")          # (1024, 1024) uint8
    """
    return load_image(path, grey=grey)[0]


def check_min_size(image, path, min_side=MIN_SIDE):
    """Refuse an image smaller than ``min_side`` pixels a side (:class:`ImageReadError`
    naming ``path`` and the size); returns the image."""
    h, w = np.shape(image)[:2]
    if min(h, w) < min_side:
        raise ImageReadError(path, f"too small ({w}×{h} px, w×h; at least {min_side}×{min_side} "
                                   "needed)")
    return image


def binarize_mask(mask, threshold=None):
    """0/1 uint8 mask from a 0/1, 0/255 or soft-edged mask.

    Args:
        mask: array (any numeric dtype, bool).
        threshold: values ``>= threshold`` become 1. Default: 0.5 when the mask's maximum is
            at most 1, otherwise half of the dtype's range (128 for uint8, as for the soft
            0/255 SCR masks).
    """
    m = np.asarray(mask)
    if m.dtype == bool:
        return m.astype(np.uint8)
    if threshold is None:
        if m.size == 0 or m.max() <= 1:
            threshold = 0.5
        elif np.issubdtype(m.dtype, np.integer):
            threshold = (np.iinfo(m.dtype).max + 1) / 2
        else:
            threshold = float(m.max()) / 2
    return (m >= threshold).astype(np.uint8)


def read_mask(path, *, threshold=None):
    """Read a mask image as (H, W) uint8 0/1 (see :func:`binarize_mask`).

    A single-channel mask is thresholded in its stored depth (so a 16-bit mask is cut at half
    its range, and an all-foreground mask stays all 1); colour masks are made grey first.

    Raises:
        FileNotFoundError, ImageReadError: as :func:`load_image`.
    """
    path = Path(path)
    if path.is_file() and path.stat().st_size and not _is_dicom(path) \
            and path.suffix.lower() in RASTER_EXTENSIONS:
        raw = _decode(path)
        if raw.ndim == 3 and raw.shape[2] == 1:
            raw = raw[..., 0]
        if raw.ndim == 2:
            return binarize_mask(raw, threshold)
    return binarize_mask(read_image(path, grey=True), threshold)


def hw_pair(size):
    """``size`` (an int, or a (height, width) pair of int-likes) as ``(h, w)`` ints; None when
    it is neither (the caller says what it expected)."""
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        return int(size), int(size)
    try:
        h, w = (int(s) for s in size)
    except (TypeError, ValueError):
        return None
    return h, w


def _size_hw(size, name="size"):
    pair = hw_pair(size)
    if pair is None:
        raise ValueError(f"Expected `{name}` to be an int or (height, width). Received: "
                         f"{name}={size!r}")
    h, w = pair
    if h < 1 or w < 1:
        raise ValueError(f"Expected a positive `{name}`. Received: {name}={size!r}")
    return h, w


def _interp(src_hw, dst_hw):
    return cv2.INTER_AREA if dst_hw[0] <= src_hw[0] and dst_hw[1] <= src_hw[1] else cv2.INTER_LINEAR


def resize_image(img, size, *, interpolation=None):
    """Resize to ``size`` (int for square, or (height, width)).

    Args:
        img: (H, W) or (H, W, C) array.
        size: output size; the aspect ratio is not kept.
        interpolation: an OpenCV flag; default ``INTER_AREA`` when shrinking (both sides not
            larger) and ``INTER_LINEAR`` otherwise.

    Returns:
        The resized array, same dtype and channel layout (a copy when the size is unchanged).
    """
    img = np.asarray(img)
    if img.ndim not in (2, 3) or 0 in img.shape:
        raise ValueError(f"Expected an (H, W) or (H, W, C) image. Received: img.shape={img.shape}")
    h, w = _size_hw(size)
    if img.shape[:2] == (h, w):
        return img.copy()
    flag = _interp(img.shape[:2], (h, w)) if interpolation is None else interpolation
    out = cv2.resize(img, (w, h), interpolation=flag)
    if img.ndim == 3 and out.ndim == 2:
        out = out[..., None]
    return out


def resize_mask(mask, size):
    """Resize a mask and keep it 0/1 uint8.

    The mask is binarised (:func:`binarize_mask`), resized as float (``INTER_AREA`` when
    shrinking, ``INTER_LINEAR`` when enlarging) and thresholded at 0.5, which gives smoother,
    less aliased outlines than nearest-neighbour. Accepts (H, W) or (H, W, M).
    """
    m = binarize_mask(mask)
    if m.ndim not in (2, 3) or 0 in m.shape:
        raise ValueError(f"Expected an (H, W) or (H, W, M) mask. Received: mask.shape={m.shape}")
    h, w = _size_hw(size)
    if m.shape[:2] == (h, w):
        return m.copy()
    out = cv2.resize(m.astype(np.float32), (w, h), interpolation=_interp(m.shape[:2], (h, w)))
    if m.ndim == 3 and out.ndim == 2:
        out = out[..., None]
    return (out >= 0.5).astype(np.uint8)
