"""The bundle validator, rule by rule: one bad bundle per rule, its message and its exit code.

Each case edits a valid bundle so that exactly one rule of ``heartcv.data.bundle.validate``
fails first; the reader must raise ``BundleError`` with that rule's message, and the CLI
(``heartcv leakage``, which only reads the bundle) must print it on one line and exit 2.
"""

import json
import types

import h5py
import numpy as np
import pytest

from heartcv.cli import EXIT_BAD_INPUT, main
from heartcv.data.bundle import BundleError, open_bundle, write_bundle
from heartcv.data.bundle import validate as v

N = 12


def _bundle(path):
    rng = np.random.default_rng(0)
    return write_bundle(
        path, rng.integers(0, 256, (N, 16, 16, 1), dtype=np.uint8),
        labels=rng.integers(0, 2, (N, 2)).astype(np.float32),
        patient_id=[f"P{i // 2:03d}" for i in range(N)],
        image_id=[f"img{i:03d}.png" for i in range(N)],
        split=["train"] * 8 + ["val"] * 2 + ["test"] * 2,
        class_names=["c0", "c1"], task="multilabel", source="toy",
    )


def _replace(f, name, data):
    del f[name]
    f.create_dataset(name, data=data)


def _masks(f, **attrs):
    ds = f.create_dataset("masks", data=np.zeros((N, 16, 16, 2), np.uint8))
    for key, value in attrs.items():
        ds.attrs[key] = value


def _boxes(f, **columns):
    g = f.create_group("boxes")
    cols = {"image_index": np.arange(3), "label": np.array([b"a"] * 3, object),
            "x": np.zeros(3), "y": np.zeros(3), "w": np.ones(3), "h": np.ones(3)}
    cols.update(columns)
    for key, data in cols.items():
        if data is not None:
            g.create_dataset(key, data=data, dtype=h5py.string_dtype() if key == "label" else None)


# (rule, edit of a valid bundle, the rule's message)
CASES = [
    (v.schema_version_present, lambda f: f.attrs.__delitem__("schema_version"),
     "no `schema_version` attribute (not a heartcv bundle)"),
    (v.schema_version_supported, lambda f: f.attrs.__setitem__("schema_version", 99),
     "schema_version 99 is not supported (this heartcv reads version 1)"),
    (v.task_known, lambda f: f.attrs.__setitem__("task", "regression"),
     "attribute `task`='regression' is not one of ['binary', 'multiclass', 'multilabel', "
     "'segmentation']"),
    (v.class_names_json_list, lambda f: f.attrs.__setitem__("class_names", "c0, c1"),
     "attribute `class_names` is not a JSON list: 'c0, c1'"),
    (v.required_datasets_present, lambda f: f.__delitem__("image_id"),
     "required dataset `image_id` is missing"),
    (v.images_layout, lambda f: _replace(f, "images", np.zeros((N, 16, 16, 1), np.float32)),
     "`images` must be (N, H, W, C) uint8 with C in (1, 3, 13); found (12, 16, 16, 1) float32"),
    (v.images_not_empty, lambda f: f["images"].resize(0, axis=0), "`images` is empty"),
    (v.id_columns_are_strings, lambda f: _replace(f, "split", np.zeros(N, np.int64)),
     "`split` must be a 1-D string dataset; found (12,) int64"),
    (v.id_columns_are_strings, lambda f: f["patient_id"].resize(11, axis=0),
     "`patient_id` has 11 entries but `images` has 12"),
    (v.labels_layout, lambda f: _replace(f, "labels", np.zeros((N, 2), np.float64)),
     "`labels` must be (N, K) float32; found (12, 2) float64"),
    (v.labels_layout, lambda f: f["labels"].resize(10, axis=0),
     "`labels` has 10 entries but `images` has 12"),
    (v.labels_match_class_names, lambda f: f.attrs.__setitem__("class_names", json.dumps(["a"])),
     "`labels` has 2 columns but class_names lists 1"),
    (v.labels_present_for_task, lambda f: f.__delitem__("labels"),
     "task 'multilabel' needs a `labels` dataset, which is missing"),
    (v.masks_layout, lambda f: f.create_dataset("masks", data=np.zeros((N, 4, 4), np.uint8)),
     "`masks` must be (N, H, W[, M]) uint8 matching images (16, 16); found (12, 4, 4) uint8"),
    (v.masks_layout, lambda f: f.create_dataset("masks", data=np.zeros((3, 16, 16), np.uint8)),
     "`masks` has 3 entries but `images` has 12"),
    (v.mask_names_match_channels, lambda f: _masks(f, mask_names=json.dumps(["heart"])),
     "`masks` has 2 channels but mask_names lists 1"),
    (v.mask_names_match_channels, lambda f: _masks(f),
     "4-D `masks` need a `mask_names` attribute"),
    (v.masks_present_for_segmentation, lambda f: f.attrs.__setitem__("task", "segmentation"),
     "task 'segmentation' needs a `masks` dataset, which is missing"),
    (v.fold_layout, lambda f: f.create_dataset("fold", data=np.zeros(N)),
     "`fold` must be 1-D integers; found (12,) float64"),
    (v.fold_layout, lambda f: f.create_dataset("fold", data=np.zeros(N - 1, np.int8)),
     "`fold` has 11 entries but `images` has 12"),
    (v.meta_columns_layout, lambda f: f.create_dataset("meta/x", data=np.zeros((N, 2))),
     "`meta/x` must be a 1-D dataset"),
    (v.meta_columns_layout, lambda f: f.create_dataset("meta/x", data=np.zeros(3)),
     "`meta/x` has 3 entries but `images` has 12"),
    (v.boxes_columns_present, lambda f: _boxes(f, w=None, h=None),
     "`boxes` lacks columns ['w', 'h']"),
    (v.boxes_columns_same_length, lambda f: _boxes(f, x=np.zeros(2)),
     "`boxes` columns differ in length"),
    (v.boxes_index_in_range, lambda f: _boxes(f, image_index=np.array([0, 1, N])),
     "`boxes/image_index` out of range [0, 12)"),
    (v.split_names_known, lambda f: f["split"].__setitem__(0, "valid"),
     "`split` holds unknown names ['valid'] (allowed: ['train', 'val', 'test', ''])"),
    (v.patient_ids_not_empty, lambda f: f["patient_id"].__setitem__(2, ""),
     "`patient_id` is empty at index 2"),
    (v.image_ids_unique, lambda f: f["image_id"].__setitem__(1, "img000.png"),
     "`image_id` has duplicates, e.g. 'img000.png'"),
]
IDS = [f"{rule.__name__}-{i}" for i, (rule, _, _) in enumerate(CASES)]


def _first_failing_rule(path):
    """The first rule of RULES, then VALUE_RULES, that fails on ``path``, and its message."""
    with h5py.File(path, "r") as f:
        header = {}
        for rule in v.RULES:
            problem = rule(f, header)
            if problem is not None:
                return rule, problem
        loaded = types.SimpleNamespace(
            **{k: np.asarray(f[k].asstr()[()], dtype=str) for k in v.ID_COLUMNS})
    for rule in v.VALUE_RULES:
        problem = rule(loaded)
        if problem is not None:
            return rule, problem
    return None, None


@pytest.mark.parametrize("rule,edit,message", CASES, ids=IDS)
def test_rule_message_and_exit(tmp_path, capsys, rule, edit, message):
    path = _bundle(tmp_path / "b.h5")
    with h5py.File(path, "r+") as f:
        edit(f)
    assert _first_failing_rule(path) == (rule, message)
    with pytest.raises(BundleError) as info:
        open_bundle(path)
    assert info.value.problem == message
    assert str(info.value) == f"Invalid heartcv bundle {path}: {message}"
    capsys.readouterr()
    assert main(["leakage", str(path)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err == f"heartcv: error: Invalid heartcv bundle {path}: {message}\n"


def test_every_rule_has_a_case():
    assert {rule for rule, _, _ in CASES} == set(v.RULES) | set(v.VALUE_RULES)


def test_a_valid_bundle_passes_every_rule(tmp_path):
    path = _bundle(tmp_path / "b.h5")
    assert _first_failing_rule(path) == (None, None)
    with open_bundle(path) as b:
        assert len(b) == N
