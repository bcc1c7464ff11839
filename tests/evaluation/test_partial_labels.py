"""Partial labels (issue 21, item 6): a heart + lungs model evaluated on a bundle with only
some of its structures, and training where a bundle lacks a structure (the loss and the
metrics leave the unlabelled channel out)."""

import json

import numpy as np
import pytest

from heartcv.data.bundle import write_bundle
from heartcv.evaluation.segmentation import segmentation_report, shift_table
from heartcv.losses import MISSING_MASK
from tests.evaluation.test_segmentation_report import STRUCTURES, _phantom_masks

SIZE = 32


def _bundle(path, names, n=8, seed=0):
    """A phantom segmentation bundle holding the masks ``names`` (of heart and both lungs)."""
    d, masks = _phantom_masks(n, SIZE, seed=seed)
    masks = masks[..., [STRUCTURES.index(s) for s in names]]
    split = np.array((["train"] * (n - 4) + ["val"] * 1 + ["test"] * 3)[:n])
    write_bundle(path, d["images"], masks=masks, patient_id=d["patient_id"],
                 image_id=d["image_id"], split=split, class_names=names, task="segmentation",
                 source=f"phantom, {' + '.join(names)}", mask_names=names)
    return path


@pytest.fixture(scope="module")
def heart_lungs_model(tmp_path_factory):
    """A tiny untrained 3-channel U-Net saved with a card naming heart and both lungs."""
    from heartcv.io import save_model
    from heartcv.registry import build_model

    folder = tmp_path_factory.mktemp("partial_model")
    model = build_model("unet", input_shape=(SIZE, SIZE, 1), num_classes=3, base_filters=4,
                        depth=2, dropout=0.0)
    path = save_model(model, folder / "tiny.h5")
    card = {"model": "unet", "task": "segmentation", "class_names": STRUCTURES,
            "input_size": SIZE, "channels": 1, "input_range": "[0, 255]"}
    (folder / "tiny.card.json").write_text(json.dumps(card))
    return path


def test_report_scores_the_labelled_structures_image_by_image():
    _, masks = _phantom_masks(4, SIZE)
    probs = masks.astype(np.float32)
    partial = masks.copy()
    partial[..., 0] = MISSING_MASK  # no heart anywhere
    partial[1, ..., 2] = MISSING_MASK  # image 1 has no right lung either
    rep = segmentation_report(partial, probs, STRUCTURES, n_boot=20)
    assert rep["structures"] == ["left_lung", "right_lung"]
    assert rep["unscored_structures"] == ["heart"] and "heart" not in rep["dice"]
    assert rep["dice"]["left_lung"]["n"] == 4 and rep["dice"]["right_lung"]["n"] == 3
    assert rep["per_structure_dice"]["right_lung"][1] is None
    assert rep["dice"]["mean"] == rep["dice"]["left_lung"]["mean"] == pytest.approx(1.0)
    assert rep["ctr"] == {"measured": False,
                          "reason": "no reference heart mask: the CTR needs heart and both lungs"}
    assert "ctr.mae" not in shift_table({"none": rep})[0]
    # the CTR on the images with all three references only
    partial = masks.copy()
    partial[1, ..., 0] = MISSING_MASK
    rep = segmentation_report(partial, probs, STRUCTURES, n_boot=20)
    assert rep["ctr"]["measured"] and rep["ctr"]["n"] == 3 and rep["ctr"]["mae"] == 0.0
    # every reference unlabelled: nothing to score
    with pytest.raises(ValueError, match="at least one of the structures"):
        segmentation_report(np.full_like(masks, MISSING_MASK), probs, STRUCTURES)


def test_evaluate_a_heart_lungs_model_on_a_lung_only_bundle(heart_lungs_model, tmp_path,
                                                            capsys):
    from heartcv.cli import main

    lungs = _bundle(tmp_path / "lungs.h5", ["left_lung", "right_lung"])
    out = tmp_path / "ext"
    assert main(["evaluate", str(heart_lungs_model), "--data", str(lungs), "--out", str(out),
                 "--shifts"]) == 0
    printed = capsys.readouterr().out
    assert "left_lung: Dice" in printed and "right_lung: Dice" in printed
    assert "heart: Dice" not in printed
    assert "not scored (no reference mask): heart" in printed
    assert "CTR: not measured (no reference heart mask" in printed
    m = json.loads((out / "metrics.json").read_text())
    assert m["structures"] == ["left_lung", "right_lung"]
    assert m["unscored_structures"] == ["heart"]
    assert m["ctr"]["measured"] is False and "heart" in m["ctr"]["reason"]
    assert set(m["dice"]) >= {"left_lung", "right_lung"} and "heart" not in m["dice"]
    assert m["dice"]["left_lung"]["n"] == 3  # the test split
    # the shift suite scores the same structures and measures no CTR either
    for rep in m["shifts"].values():
        assert rep["structures"] == ["left_lung", "right_lung"]
        assert rep["ctr"]["measured"] is False
    assert m["shifts"]["none"]["dice"]["left_lung"]["mean"] == \
        pytest.approx(m["dice"]["left_lung"]["mean"])
    assert not any(k.startswith("ctr.") for row in m["shift_table"] for k in row)


@pytest.mark.parametrize("shifts", [False, True])
def test_evaluate_on_a_bundle_without_any_model_structure_is_one_line(
        heart_lungs_model, tmp_path, capsys, shifts):
    from heartcv.cli import main

    d, masks = _phantom_masks(4, SIZE)
    path = tmp_path / "clavicles.h5"
    write_bundle(path, d["images"], masks=masks[..., :1], patient_id=d["patient_id"],
                 image_id=d["image_id"], split=["test"] * 4, class_names=["left_clavicle"],
                 task="segmentation", source="phantom", mask_names=["left_clavicle"])
    capsys.readouterr()
    argv = ["evaluate", str(heart_lungs_model), "--data", str(path), "--out",
            str(tmp_path / "ext")] + (["--shifts"] if shifts else [])
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in captured.err
    assert str(path) in err[0] and "tiny.h5" in err[0]
    assert "['heart', 'left_lung', 'right_lung']" in err[0] and "['left_clavicle']" in err[0]


def test_pipeline_keeps_unlabelled_channels_through_resize_and_augmentation():
    from heartcv.data.batches import make_dataset

    d, masks = _phantom_masks(4, SIZE)
    masks = masks.astype(np.float32)
    masks[:, ..., 2] = MISSING_MASK
    masks[0, ..., 1] = MISSING_MASK
    augment = {"rotation_range": 20.0, "zoom_range": 0.2, "horizontal_flip": True}
    for training in (False, True):
        ds = make_dataset(d["images"], masks=masks, batch_size=4, image_size=24, channels=1,
                          training=training, augment=augment, seed=1)
        _, m = next(iter(ds))
        m = m.numpy()
        assert m.shape == (4, 24, 24, 3)
        assert np.all(m[..., 2] == MISSING_MASK) and np.all(m[0, ..., 1] == MISSING_MASK)
        assert set(np.unique(m[1:, ..., :2])) <= {0.0, 1.0} and m[1:, ..., 0].max() == 1.0


def _train_argv(source, runs, *extra):
    return ["train", "--set", f"data.source={source}", "--set", "model.name=unet",
            "--set", "model.params={base_filters: 4, depth: 2, dropout: 0.0}",
            "--set", "data.mask_structures=[heart, left_lung, right_lung]",
            "--set", f"data.image_size={SIZE}", "--set", "data.channels=1",
            "--set", "data.batch_size=4", "--set", "train.epochs=1",
            "--set", "train.loss=bce_dice", "--set", f"output_dir={runs}", "--set", "name=p",
            "--set", "train.tensorboard_images=false", "--set", "train.verbose=0", *extra]


def test_train_one_epoch_with_a_structure_the_bundle_lacks(tmp_path, capsys):
    from heartcv.cli import main

    source = _bundle(tmp_path / "no_right_lung.h5", ["heart", "left_lung"])
    runs = tmp_path / "runs"
    # a missing structure is an error unless asked for
    assert main(_train_argv(source, runs)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no mask structure 'right_lung'" in err[0]
    assert "data.allow_missing_structures=true" in err[0]
    assert main(_train_argv(source, runs, "--set", "data.allow_missing_structures=true",
                            "--set", "data.augment={enabled: true, rotation_range: 10}")) == 0
    run = runs / "p"
    history = (run / "history.csv").read_text().splitlines()
    header, row = history[0].split(","), history[1].split(",")
    assert np.isfinite(float(row[header.index("loss")]))
    assert 0.0 <= float(row[header.index("dice")]) <= 1.0
    card = json.loads((run / "model.card.json").read_text())
    assert card["class_names"] == STRUCTURES  # the model still has a right-lung channel
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["structures"] == ["heart", "left_lung"]
    assert metrics["unscored_structures"] == ["right_lung"]
    assert metrics["ctr"]["measured"] is False and "right_lung" in metrics["ctr"]["reason"]
    # heart rescaling needs the heart mask; a bundle without hearts is refused for it
    heartless = _bundle(tmp_path / "lungs.h5", ["left_lung", "right_lung"])
    assert main(_train_argv(heartless, tmp_path / "runs2", "--set",
                            "data.allow_missing_structures=true", "--set",
                            "data.augment={enabled: true, heart_scale_range: [0.9, 1.2]}")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "heart_scale_range" in err[0] and "'heart'" in err[0]
