"""Image reading (formats, depths, alpha, failures) and resizing."""

import sys
import types

import cv2
import numpy as np
import pytest

from heartcv.data import images as im
from heartcv.data.images import (
    ImageReadError,
    binarize_mask,
    load_image,
    read_image,
    read_mask,
    resize_image,
    resize_mask,
)


def _write(path, array):
    assert cv2.imwrite(str(path), array)
    return path


@pytest.fixture
def bgr():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    img[..., 0] = 10  # blue channel constant, red varies: channel order is checkable
    return img


@pytest.mark.parametrize("ext", [".png", ".bmp", ".tif", ".tiff"])
def test_grey_lossless_formats(tmp_path, ext):
    grey = np.random.default_rng(1).integers(0, 256, (17, 23), dtype=np.uint8)
    out, info = load_image(_write(tmp_path / f"g{ext}", grey))
    np.testing.assert_array_equal(out, grey)
    assert info.conversions == () and (info.height, info.width, info.channels) == (17, 23, 1)


def test_jpeg(tmp_path):
    grey = np.full((16, 16), 100, np.uint8)
    out = read_image(_write(tmp_path / "g.JPG", grey))  # upper-case extension
    assert out.dtype == np.uint8 and out.shape == (16, 16) and abs(int(out.mean()) - 100) <= 2


def test_rgb_to_grey_and_rgb_order(tmp_path, bgr):
    path = _write(tmp_path / "c.png", bgr)
    grey, info = load_image(path)
    np.testing.assert_array_equal(grey, cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    assert info.conversions == ("RGB→grey",)
    rgb = read_image(path, grey=False)
    np.testing.assert_array_equal(rgb, bgr[..., ::-1])
    assert (rgb[..., 2] == 10).all()


def test_grey_read_as_rgb_repeats_channels(tmp_path):
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    rgb = read_image(_write(tmp_path / "g.png", grey), grey=False)
    assert rgb.shape == (3, 4, 3) and all((rgb[..., c] == grey).all() for c in range(3))


def test_rgba_opaque_equals_rgb(tmp_path, bgr):
    bgra = np.dstack([bgr, np.full(bgr.shape[:2], 255, np.uint8)])
    out, info = load_image(_write(tmp_path / "a.png", bgra))
    np.testing.assert_array_equal(out, cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    assert info.channels == 4 and info.conversions == ("RGBA→grey",)


def test_rgba_composited_on_black(tmp_path):
    bgra = np.full((4, 4, 4), 200, np.uint8)
    bgra[:2, :, 3] = 0  # transparent top half
    bgra[2:, :, 3] = 255
    out = read_image(_write(tmp_path / "a.png", bgra))
    assert (out[:2] == 0).all() and (out[2:] == 200).all()
    rgb = read_image(tmp_path / "a.png", grey=False)
    assert rgb.shape == (4, 4, 3) and (rgb[:2] == 0).all()


def test_16_bit_min_max_scaled(tmp_path):
    img = np.array([[1000, 2000], [3000, 5000]], np.uint16)
    for ext in (".png", ".tif"):
        out, info = load_image(_write(tmp_path / f"d{ext}", img))
        assert out.dtype == np.uint8
        np.testing.assert_array_equal(out, [[0, 64], [128, 255]])
        assert info.dtype == "uint16" and info.conversions == ("16-bit→8-bit",)
    flat = read_image(_write(tmp_path / "flat.png", np.full((3, 3), 700, np.uint16)))
    assert (flat == 0).all()


def test_16_bit_rgba(tmp_path):
    img = np.zeros((5, 5, 4), np.uint16)
    img[..., :3] = np.arange(25, dtype=np.uint16).reshape(5, 5, 1) * 1000
    img[..., 3] = 65535
    out, info = load_image(_write(tmp_path / "d.png", img))
    assert out.dtype == np.uint8 and out.min() == 0 and out.max() == 255
    assert info.conversions == ("RGBA→grey", "16-bit→8-bit")


def test_float_tiff(tmp_path):
    img = np.linspace(-1, 1, 20, dtype=np.float32).reshape(4, 5)
    out, info = load_image(_write(tmp_path / "f.tif", img))
    assert out[0, 0] == 0 and out[-1, -1] == 255 and info.conversions == ("float32→8-bit",)


# -- failures ---------------------------------------------------------------------------------


def test_corrupt_bytes(tmp_path):
    path = tmp_path / "corrupt.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    with pytest.raises(ImageReadError, match=r"corrupt\.png: corrupt or truncated") as info:
        read_image(path)
    assert info.value.path == str(path) and isinstance(info.value, ValueError)


def test_truncated_png_and_jpeg(tmp_path):
    img = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    for ext in (".png", ".jpg"):
        data = _write(tmp_path / f"full{ext}", img).read_bytes()
        cut = tmp_path / f"cut{ext}"
        cut.write_bytes(data[: len(data) // 2])
        with pytest.raises(ImageReadError, match="corrupt or truncated"):
            read_image(cut)


def test_empty_missing_unsupported_directory(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageReadError, match=r"empty\.png: empty file \(0 bytes\)"):
        read_image(tmp_path / "empty.png")
    with pytest.raises(FileNotFoundError, match="nope.png"):
        read_image(tmp_path / "nope.png")
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(ImageReadError, match=r"unsupported file type '\.txt'"):
        read_image(tmp_path / "notes.txt")
    (tmp_path / "folder.png").mkdir()
    with pytest.raises(ImageReadError, match="is a directory"):
        read_image(tmp_path / "folder.png")


def test_dicom_without_pydicom_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pydicom", None)  # import pydicom -> ImportError
    path = tmp_path / "x.dcm"
    path.write_bytes(b"\0" * 128 + b"DICM" + b"\0" * 64)
    with pytest.raises(ImportError, match=r"x\.dcm needs pydicom.*pip install pydicom"):
        read_image(path)
    no_ext = tmp_path / "IM0001"  # DICOM found by its DICM preamble, not the extension
    no_ext.write_bytes(path.read_bytes())
    with pytest.raises(ImportError, match="pip install pydicom"):
        read_image(no_ext)


def _fake_pydicom(monkeypatch, pixels, photometric):
    """A stand-in pydicom exposing the calls images.py makes (real pydicom is not installed)."""
    calls = []
    ds = types.SimpleNamespace(pixel_array=pixels, PhotometricInterpretation=photometric)
    pkg = types.ModuleType("pydicom")
    pkg.dcmread = lambda path: ds
    pixels_mod = types.ModuleType("pydicom.pixels")

    def modality(arr, d):
        calls.append("modality")
        return arr.astype(np.float64) * 2 - 100  # rescale slope 2, intercept -100

    def voi(arr, d):
        calls.append("voi")
        return np.clip(arr, 0, 1000)  # a window

    pixels_mod.apply_modality_lut, pixels_mod.apply_voi_lut = modality, voi
    pkg.pixels = pixels_mod
    monkeypatch.setitem(sys.modules, "pydicom", pkg)
    monkeypatch.setitem(sys.modules, "pydicom.pixels", pixels_mod)
    return calls


@pytest.mark.parametrize("photometric", ["MONOCHROME1", "MONOCHROME2"])
def test_dicom_code_path_with_stand_in(tmp_path, monkeypatch, photometric):
    pixels = np.array([[50, 300], [550, 900]], np.uint16)  # -> 0, 500, 1000, 1000(clipped)
    calls = _fake_pydicom(monkeypatch, pixels, photometric)
    path = tmp_path / "x.dcm"
    path.write_bytes(b"stand-in")
    out, info = load_image(path)
    assert calls == ["modality", "voi"]
    expected = np.array([[0, 128], [255, 255]], np.uint8)
    if photometric == "MONOCHROME1":
        expected = 255 - expected
        assert "MONOCHROME1 inverted" in info.conversions
    np.testing.assert_array_equal(out, expected)


# -- resizing ---------------------------------------------------------------------------------


def test_resize_image_interpolation_and_shapes():
    img = np.random.default_rng(0).integers(0, 256, (40, 60), dtype=np.uint8)
    small = resize_image(img, 20)
    assert small.shape == (20, 20) and small.dtype == np.uint8
    np.testing.assert_array_equal(small, cv2.resize(img, (20, 20), interpolation=cv2.INTER_AREA))
    big = resize_image(img, (80, 100))  # (height, width)
    assert big.shape == (80, 100)
    np.testing.assert_array_equal(big, cv2.resize(img, (100, 80), interpolation=cv2.INTER_LINEAR))
    assert resize_image(img[..., None], 10).shape == (10, 10, 1)
    assert resize_image(np.dstack([img] * 3), (5, 7)).shape == (5, 7, 3)
    same = resize_image(img, (40, 60))
    assert same is not img and np.array_equal(same, img)
    near = resize_image(img, 20, interpolation=cv2.INTER_NEAREST)
    np.testing.assert_array_equal(near, cv2.resize(img, (20, 20), interpolation=cv2.INTER_NEAREST))


@pytest.mark.parametrize("size", [0, -3, "big", (10,), True])
def test_resize_rejects_bad_size(size):
    with pytest.raises(ValueError, match="size"):
        resize_image(np.zeros((4, 4), np.uint8), size)


def test_resize_mask_keeps_binary_and_area():
    yy, xx = np.mgrid[:200, :200]
    disk = ((yy - 100) ** 2 + (xx - 90) ** 2 < 60**2).astype(np.uint8) * 255  # 0/255
    for size in (50, 320):
        m = resize_mask(disk, size)
        assert m.dtype == np.uint8 and set(np.unique(m)) == {0, 1}
        assert abs(m.mean() - (disk > 0).mean()) < 0.01
    two = resize_mask(np.stack([disk, 255 - disk], axis=-1), (30, 40))
    assert two.shape == (30, 40, 2) and ((two[..., 0] + two[..., 1]) == 1).mean() > 0.95


def test_binarize_and_read_mask(tmp_path):
    soft = np.array([[0, 100, 127], [128, 200, 255]], np.uint8)
    np.testing.assert_array_equal(binarize_mask(soft), [[0, 0, 0], [1, 1, 1]])
    np.testing.assert_array_equal(binarize_mask(np.array([[0, 1]], np.uint8)), [[0, 1]])
    from_file = read_mask(_write(tmp_path / "m.png", soft))
    np.testing.assert_array_equal(from_file, [[0, 0, 0], [1, 1, 1]])
    full16 = np.full((3, 3), 65535, np.uint16)  # all foreground stays all 1 (no min-max)
    assert (read_mask(_write(tmp_path / "f.png", full16)) == 1).all()
    with pytest.raises(FileNotFoundError):
        read_mask(tmp_path / "missing.png")
    assert im.SUPPORTED_EXTENSIONS[0] == ".png"


def _write_dicom(path, pixels, photometric, window=None):
    """A real DICOM file written with pydicom (secondary capture, 16-bit unsigned)."""
    pytest.importorskip("pydicom")
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.RescaleSlope, ds.RescaleIntercept = 1, 0
    if window:
        ds.WindowCenter, ds.WindowWidth = window
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    ds.save_as(str(path), enforce_file_format=True)
    return path


@pytest.mark.parametrize("photometric", ["MONOCHROME2", "MONOCHROME1"])
def test_real_dicom_voi_window_and_monochrome1(tmp_path, photometric):
    ramp = np.tile(np.linspace(0, 4000, 64).astype(np.uint16), (32, 1))  # dark → bright
    path = _write_dicom(tmp_path / "ramp.dcm", ramp, photometric, window=(2000, 2000))
    out = read_image(path)
    assert out.shape == (32, 64) and out.dtype == np.uint8
    row = out[0].astype(int)
    # the VOI window [1000, 3000] saturates both ends of the ramp
    assert (row[:10] == row[0]).all() and (row[-10:] == row[-1]).all()
    if photometric == "MONOCHROME1":  # low values are white: inverted so bright = dense
        assert row[0] == 255 and row[-1] == 0
    else:
        assert row[0] == 0 and row[-1] == 255
    assert np.all(np.diff(row) <= 0) if photometric == "MONOCHROME1" else np.all(np.diff(row) >= 0)
