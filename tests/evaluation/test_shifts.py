"""The evaluation acquisition-shift suite: each shift does what its name says, seeds, shapes,
dtypes, names with suggestions, and evaluate_under_shifts."""

import cv2
import numpy as np
import pytest

from heartcv.data.synthetic import generate_chest_xrays
from heartcv.evaluation.shifts import SHIFTS, apply_shift, evaluate_under_shifts, list_shifts

ORDER = ["none", "dim45", "gamma0.5", "gamma2.0", "contrast0.5", "blur2", "noise12", "jpeg30",
         "lowres", "dark_gamma2", "dark_noise"]


@pytest.fixture(scope="module")
def films():
    """Four synthetic chest films, uint8 (4, 128, 128)."""
    data = generate_chest_xrays(n_patients=2, images_per_patient=2, size=128, seed=1)
    return data["images"][..., 0]


def mid_grey(n=3, size=64):
    """Flat mid-grey with a gentle ramp: no clipping for the noise and contrast checks."""
    ramp = np.linspace(100, 156, size, dtype=np.float32)[None, :]
    return np.repeat(np.rint(np.repeat(ramp, size, axis=0))[None], n, axis=0).astype(np.uint8)


def test_fixed_order_and_read_only():
    assert list_shifts() == ORDER
    assert list(SHIFTS) == ORDER
    assert all(SHIFTS[name].name == name and SHIFTS[name].description for name in ORDER)
    with pytest.raises(TypeError):
        SHIFTS["mine"] = SHIFTS["none"]


@pytest.mark.parametrize("name", ORDER)
@pytest.mark.parametrize("channels", [None, 1, 3])
def test_shape_dtype_kept_and_input_untouched(films, name, channels):
    x = films if channels is None else np.repeat(films[..., None], channels, axis=-1)
    before = x.copy()
    out = apply_shift(name, x, seed=0)
    assert out.shape == x.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(x, before)
    if name == "none":
        np.testing.assert_array_equal(out, x)
        assert out is not x
    else:
        assert np.abs(out.astype(float) - x).mean() > 0.5, name
    if channels == 3 and name != "jpeg30":  # grey stays grey (JPEG's colour coding aside)
        np.testing.assert_array_equal(out[..., 0], out[..., 2])


def test_dim45(films):
    out = apply_shift("dim45", films)
    np.testing.assert_allclose(out.max(axis=(1, 2)), 0.45 * films.max(axis=(1, 2)), atol=0.5)
    np.testing.assert_array_equal(out, np.rint(films * 0.45).astype(np.uint8))


def test_gamma(films):
    x = films.astype(np.float64)
    np.testing.assert_array_equal(apply_shift("gamma2.0", films),
                                  np.rint(255 * (x / 255) ** 2).astype(np.uint8))
    bright = apply_shift("gamma0.5", films)
    assert (bright >= films).all() and bright.mean() > films.mean() + 20
    assert apply_shift("gamma2.0", films).mean() < films.mean() - 20


def test_contrast_halved_about_the_mean():
    x = mid_grey()
    out = apply_shift("contrast0.5", x).astype(np.float64)
    np.testing.assert_allclose(out.mean(axis=(1, 2)), x.mean(axis=(1, 2)), atol=0.6)
    np.testing.assert_allclose(out.std(axis=(1, 2)), 0.5 * x.std(axis=(1, 2)), rtol=0.03)


def test_blur_sigma_scales_with_the_image_side():
    rng = np.random.default_rng(0)
    for side in (128, 256):
        x = rng.integers(0, 256, (1, side, side), dtype=np.uint8)
        sigma = 2.0 * side / 512
        ref = cv2.GaussianBlur(x[0], (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101)
        np.testing.assert_array_equal(apply_shift("blur2", x)[0], ref)
    # the 512-px film gets sigma 2 exactly
    x = rng.integers(0, 256, (1, 512, 512), dtype=np.uint8)
    np.testing.assert_array_equal(apply_shift("blur2", x)[0], cv2.GaussianBlur(x[0], (0, 0), 2.0))


def test_noise_level_and_seeding():
    x = mid_grey(n=4)
    out = apply_shift("noise12", x, seed=0)
    resid = out.astype(np.float64) - x
    np.testing.assert_allclose(resid.std(axis=(1, 2)), 12.0, rtol=0.05)
    assert abs(resid.mean()) < 0.3
    np.testing.assert_array_equal(apply_shift("noise12", x, seed=0), out)  # same seed
    assert not np.array_equal(apply_shift("noise12", x, seed=1), out)  # another seed
    # Seeded per image index: image i's noise does not depend on the rest of the batch ...
    np.testing.assert_array_equal(apply_shift("noise12", x[:2], seed=0), out[:2])
    # ... and differs between images.
    assert not np.array_equal(resid[0], resid[1])


@pytest.mark.parametrize("name", ORDER)
def test_every_shift_is_reproducible(films, name):
    first = apply_shift(name, films, seed=3)
    np.testing.assert_array_equal(apply_shift(name, films, seed=3), first)


def test_jpeg30_is_opencv_quality_30(films):
    out = apply_shift("jpeg30", films)
    ok, buf = cv2.imencode(".jpg", films[1], [cv2.IMWRITE_JPEG_QUALITY, 30])
    np.testing.assert_array_equal(out[1], cv2.imdecode(buf, cv2.IMREAD_UNCHANGED))
    err = np.abs(out.astype(float) - films)
    assert 0.5 < err.mean() < 10  # lossy, but the same picture


def test_lowres_is_a_quarter_side_round_trip(films):
    out = apply_shift("lowres", films)
    small = cv2.resize(films[0], (32, 32), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(
        out[0], cv2.resize(small, (128, 128), interpolation=cv2.INTER_LINEAR))
    # Fine detail (a 1-px checkerboard) is gone entirely.
    checker = (np.indices((1, 64, 64)).sum(axis=0) % 2 * 255).astype(np.uint8)
    assert np.ptp(apply_shift("lowres", checker)) <= 1


ILL_CASES = [
    (dict(name="dim"), ValueError, r"Unknown shift 'dim'. Did you mean 'dim45'\?"),
    (dict(name="gamma2"), ValueError, r"Did you mean 'gamma2.0'\?"),
    (dict(name="fog"), ValueError, r"Expected one of \['none', 'dim45'"),
    (dict(images=np.zeros((4, 4), np.uint8)), ValueError, r"Received: images.shape=\(4, 4\)"),
    (dict(images=np.zeros((0, 8, 8), np.uint8)), ValueError, r"N >= 1"),
    (dict(images=np.zeros((1, 8, 8), np.float32)), TypeError, r"Received: images.dtype=float32"),
    (dict(images=[[[0]]]), TypeError, r"numpy array"),
    (dict(seed=-1), ValueError, r"Expected `seed` to be an int >= 0. Received: seed=-1"),
    (dict(seed=1.5), ValueError, r"Received: seed=1.5"),
]


@pytest.mark.parametrize("kwargs, error, match", ILL_CASES)
def test_bad_arguments(kwargs, error, match):
    args = {"name": "dim45", "images": np.zeros((1, 8, 8), np.uint8), "seed": 0, **kwargs}
    with pytest.raises(error, match=match):
        apply_shift(args["name"], args["images"], seed=args["seed"])


def test_evaluate_under_shifts(films):
    calls = []

    def score(x):
        calls.append(x.copy())
        return {"mean": float(x.mean()), "std": float(x.std())}

    results = evaluate_under_shifts(films, score, seed=0)
    assert list(results) == ORDER
    assert results["none"]["mean"] == pytest.approx(films.mean())
    assert results["dim45"]["mean"] == pytest.approx(0.45 * films.mean(), abs=0.5)
    np.testing.assert_array_equal(calls[ORDER.index("noise12")], apply_shift("noise12", films))
    some = evaluate_under_shifts(films, score, shifts=["lowres", "none"])
    assert list(some) == ["lowres", "none"]
    assert some["lowres"] == results["lowres"]


def test_evaluate_under_shifts_checks_its_arguments(films):
    def score(x):
        return {"m": 0.0}

    with pytest.raises(ValueError, match=r"Did you mean 'jpeg30'\?"):
        evaluate_under_shifts(films, score, shifts=["jpeg"])
    with pytest.raises(ValueError, match=r"repeated shifts \['none'\]"):
        evaluate_under_shifts(films, score, shifts=["none", "none"])
    with pytest.raises(TypeError, match=r"not a string"):
        evaluate_under_shifts(films, score, shifts="none")
    with pytest.raises(TypeError, match=r"`score_fn` to be callable"):
        evaluate_under_shifts(films, None)
    with pytest.raises(TypeError, match=r"return a dict of metrics. Received: float"):
        evaluate_under_shifts(films, lambda x: 0.5, shifts=["none"])


def test_dark_films_change_the_grey_level_shape(films):
    x = films.astype(np.float64)
    np.testing.assert_array_equal(
        apply_shift("dark_gamma2", films),
        np.rint(255 * (np.rint(x * 0.6) / 255) ** 2).astype(np.uint8))
    dark = apply_shift("dark_noise", films, seed=1)
    assert dark.mean() < 0.5 * films.mean() + 2
    assert not np.array_equal(dark, apply_shift("dim45", films))  # the noise is on top
