"""Image size from a file's header, without decoding it (PNG, JPEG, BMP, TIFF).

:func:`image_header` lets :mod:`heartcv.data.images` refuse an image too large to decode
before it is decoded; :func:`tiff_pages` counts the pages of a TIFF (a stack is refused).
"""

from __future__ import annotations

import struct

import numpy as np

__all__ = ["image_header", "tiff_pages"]


_TIFF_MAGIC = {b"II*\x00": ("<", False), b"MM\x00*": (">", False),
               b"II+\x00": ("<", True), b"MM\x00+": (">", True)}


def tiff_pages(buf, limit=4096) -> int:
    """Number of pages (image file directories) of TIFF bytes; 0 if not a TIFF."""
    head = bytes(buf[:4])
    if head not in _TIFF_MAGIC or len(buf) < 16:
        return 0
    order, big = _TIFF_MAGIC[head]
    data = memoryview(buf)
    count_fmt, count_size, entry, off_fmt = ("Q", 8, 20, "Q") if big else ("H", 2, 12, "I")
    off_size = struct.calcsize(off_fmt)
    offset = struct.unpack_from(order + off_fmt, data, 8 if big else 4)[0]
    pages, seen = 0, set()
    while offset and offset not in seen and pages < limit:
        seen.add(offset)
        if offset + count_size > len(buf):
            break
        n = struct.unpack_from(order + count_fmt, data, offset)[0]
        nxt = offset + count_size + n * entry
        pages += 1
        if nxt + off_size > len(buf):
            break
        offset = struct.unpack_from(order + off_fmt, data, nxt)[0]
    return pages


def _png_header(b):
    if len(b) < 26 or b[12:16] != b"IHDR":
        return None
    w, h = int.from_bytes(b[16:20], "big"), int.from_bytes(b[20:24], "big")
    depth, colour = b[24], b[25]
    channels = {0: 1, 2: 3, 3: 4, 4: 2, 6: 4}.get(colour, 4)  # palette: up to RGBA
    return w, h, channels, max(depth, 8) // 8


_SOF = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # start-of-frame markers


def _jpeg_header(b):
    i, n = 2, len(b)
    while i + 4 <= n:
        if b[i] != 0xFF:
            return None
        marker = b[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # no length
            i += 2
            continue
        length = int.from_bytes(b[i + 2:i + 4], "big")
        if marker in _SOF and i + 10 <= n:
            depth = b[i + 4]
            h, w = int.from_bytes(b[i + 5:i + 7], "big"), int.from_bytes(b[i + 7:i + 9], "big")
            return w, h, b[i + 9], max(depth, 8) // 8
        if marker == 0xDA or length < 2:  # scan data before any frame header
            return None
        i += 2 + length
    return None


def _bmp_header(b):
    if len(b) < 26:
        return None
    size = int.from_bytes(b[14:18], "little")
    if size == 12:
        w, h = int.from_bytes(b[18:20], "little"), int.from_bytes(b[20:22], "little")
        bpp = int.from_bytes(b[24:26], "little") if len(b) >= 26 else 24
    elif size >= 40 and len(b) >= 30:
        w = int.from_bytes(b[18:22], "little", signed=True)
        h = abs(int.from_bytes(b[22:26], "little", signed=True))
        bpp = int.from_bytes(b[28:30], "little")
    else:
        return None
    return abs(w), h, 4 if bpp == 32 else 3, 1


def _tiff_header(b):
    head = bytes(b[:4])
    if head not in _TIFF_MAGIC or len(b) < 16:
        return None
    order, big = _TIFF_MAGIC[head]
    count_fmt, count_size, entry, off_fmt = ("Q", 8, 20, "Q") if big else ("H", 2, 12, "I")
    offset = struct.unpack_from(order + off_fmt, b, 8 if big else 4)[0]
    if offset + count_size > len(b):
        return None
    n = struct.unpack_from(order + count_fmt, b, offset)[0]
    tags = {}
    value_at, field = (12, 8) if big else (8, 4)
    for k in range(n):
        at = offset + count_size + k * entry
        if at + entry > len(b):
            break
        tag, kind = struct.unpack_from(order + "HH", b, at)
        count = struct.unpack_from(order + ("Q" if big else "I"), b, at + 4)[0]
        fmt = {3: "H", 4: "I", 16: "Q"}.get(kind)
        if tag not in (256, 257, 258, 277) or not fmt or count < 1:
            continue
        where = at + value_at
        if count * struct.calcsize(fmt) > field:  # the values are elsewhere: read the first
            where = struct.unpack_from(order + off_fmt, b, where)[0]
            if where + struct.calcsize(fmt) > len(b):
                continue
        tags[tag] = struct.unpack_from(order + fmt, b, where)[0]
    if 256 not in tags or 257 not in tags:
        return None
    return tags[256], tags[257], tags.get(277, 1), max(tags.get(258, 8), 8) // 8


def image_header(data):
    """``(width, height, channels, bytes per sample)`` read from the header of PNG, JPEG, BMP
    or TIFF bytes, without decoding; None for another format or a header that cannot be
    read (then nothing is refused before decoding)."""
    b = bytes(data[:1 << 16]) if not isinstance(data, np.ndarray) else data
    head = bytes(b[:8])
    if head == b"\x89PNG\r\n\x1a\n":
        return _png_header(bytes(b[:32]))
    if head[:2] == b"\xff\xd8":
        return _jpeg_header(bytes(b[:1 << 20]) if isinstance(b, np.ndarray) else b)
    if head[:2] == b"BM":
        return _bmp_header(bytes(b[:32]))
    if head[:4] in _TIFF_MAGIC:
        return _tiff_header(b if isinstance(b, np.ndarray) else np.frombuffer(b, np.uint8))
    return None
