"""Cardio-XAttentionNet experiment pieces on real NIH data: boxes in the bundle frame, scoring."""

import numpy as np
import pytest

import heartcv
from heartcv.data.convert import convert_index
from heartcv.data.datasets import cxr14
from heartcv.data.sources import bundle_arrays
from heartcv.papers.cardio_xattentionnet.experiment import BASELINES, MODELS, bundle_boxes, localization
from tests.conftest import SHARED_DATA


def test_model_table_order():
    assert len(MODELS) == 8 and set(BASELINES) | set(BASELINES.values()) == set(MODELS)
    assert all(m in heartcv.list_models() for m in MODELS)


@pytest.fixture(scope="module")
def nih_bundle(tmp_path_factory):
    nih = SHARED_DATA / "nih_cxr14"
    if not nih.exists():
        pytest.skip(f"real data not available: {nih} is absent (it lives in ../shared/data)")
    out = tmp_path_factory.mktemp("nih") / "cardio64.h5"
    index = cxr14.assign_split(cxr14.cardiomegaly_index(nih, seed=0), seed=0)
    convert_index(index, out, size=64, progress=False, workers=1)
    return out


def test_nih_boxes_follow_the_bundle_frame(nih_bundle):
    splits, full, names, task = bundle_arrays(nih_bundle)
    assert names == ["No Finding", "Cardiomegaly"] and task == "binary"
    boxes = bundle_boxes(nih_bundle, full.image_id)
    boxed = {i: b for i, b in zip(full.image_id, boxes) if b}
    # the two Cardiomegaly boxes among the 95 shared images, scaled from 1024 to 64 px
    assert set(boxed) == {"00013125_000.png", "00001369_000.png"}
    x, y, w, h = boxed["00001369_000.png"][0]
    np.testing.assert_allclose([x, y, w, h], np.array([337.0, 276.3, 553.7, 386.8]) / 16, atol=0.1)


def test_localization_against_boxes_runs_on_real_images(nih_bundle, tmp_path):
    splits, full, names, task = bundle_arrays(nih_bundle)
    boxes = bundle_boxes(nih_bundle, full.image_id)
    model = heartcv.build_model("small_cnn", input_shape=(64, 64, 3))
    scores = localization({"small_cnn": model}, full, tmp_path, boxes=boxes)
    s = scores["small_cnn"]
    assert s["method"] == "Grad-CAM" and s["n_images"] == 2
    assert 0.0 <= s["pointing_game"]["mean"] <= 1.0 and s["iou_iobb"]["by_threshold"]
    assert (tmp_path / "figures" / "attention_overlays.png").is_file()
