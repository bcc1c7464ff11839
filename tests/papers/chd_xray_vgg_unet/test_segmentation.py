"""U-Net and VGG16-U-Net builders; 320×320 bundles with masks feeding both kinds of task."""

import numpy as np
import pytest

import heartcv
from heartcv.io import load_model, save_model
from heartcv.models.backbones import BACKBONES
from heartcv.papers.chd_xray_vgg_unet.segmentation import unet_skip_names
from heartcv.registry import build_model, get_spec

TINY = {
    "unet": dict(input_shape=(64, 64, 1), base_filters=4, depth=4),
    "vgg16_unet": dict(input_shape=(64, 64, 1), width=0.0625, batchnorm=True),
}


def _images(n=2, size=64, channels=1, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (n, size, size, channels)).astype("float32")


@pytest.mark.parametrize("name", sorted(TINY))
def test_registered_as_segmentation(name):
    assert name in heartcv.list_models(task="segmentation")
    assert get_spec(name).paper == "chd_xray_vgg_unet"


@pytest.mark.parametrize("name", sorted(TINY))
def test_output_shape_range_and_last_layer(name):
    model = build_model(name, **TINY[name])
    y = np.asarray(model(_images()))
    assert y.shape == (2, 64, 64, 1)
    assert np.all((y >= 0) & (y <= 1))
    assert model.layers[-1].name == "predictions"


def test_unet_skips_by_name_and_paper_widths():
    model = build_model("unet", **TINY["unet"])
    shapes = [tuple(model.get_layer(n).output.shape[1:]) for n in unet_skip_names(4)]
    assert shapes == [(64, 64, 4), (32, 32, 8), (16, 16, 16), (8, 8, 32)]
    assert tuple(model.get_layer("enc5_conv2_relu").output.shape[1:]) == (4, 4, 64)
    # the paper's layout at base_filters=64: 64 … 1024 filters
    full = build_model("unet", input_shape=(32, 32, 1), depth=4)
    assert full.get_layer("enc5_conv2_conv").filters == 1024
    assert full.get_layer("dec1_conv2_conv").filters == 64


@pytest.mark.parametrize("kwargs,first", [
    (dict(width=0.0625, batchnorm=True), 4),   # scaled, from scratch
    (dict(), 64),                               # keras.applications VGG16
])
def test_vgg16_unet_skips_are_the_backbone_feature_layers(kwargs, first):
    model = build_model("vgg16_unet", input_shape=(64, 64, 1), **kwargs)
    names = BACKBONES["vgg16"].feature_layers
    sides = [tuple(model.get_layer(n).output.shape[1:3]) for n in names]
    assert sides == [(64, 64), (32, 32), (16, 16), (8, 8), (4, 4)]
    assert model.get_layer("block1_conv2").output.shape[-1] == first
    assert model.get_layer("block5_conv3").output.shape[-1] == first * 8
    if not kwargs:  # grey input repeated to RGB by a standard layer, not a Lambda
        assert type(model.get_layer("grey_to_rgb")).__name__ == "Concatenate"


@pytest.mark.parametrize("kwargs", [dict(width=0.0625, batchnorm=True), dict()])
def test_vgg16_unet_freeze_backbone_freezes_only_the_encoder(kwargs):
    model = build_model("vgg16_unet", input_shape=(32, 32, 3), freeze_backbone=True, **kwargs)
    assert not model.get_layer("block3_conv3").trainable
    assert model.get_layer("decoder1_conv1_conv").trainable
    assert model.get_layer("predictions").trainable


@pytest.mark.parametrize("name,sides", [("unet", (32, 48)), ("vgg16_unet", (32, 64))])
def test_fully_convolutional_input(name, sides):
    model = build_model(name, **{**TINY[name], "input_shape": (None, None, 1)})
    for side in sides:
        assert model(_images(1, side)).shape == (1, side, side, 1)


ILL_CASES = [
    ("unet", dict(input_shape=(60, 60, 1)), ValueError, "divisible by 16"),
    ("unet", dict(input_shape=(64, 64)), ValueError, "input_shape"),
    ("unet", dict(input_shape=(64, 64, 2)), ValueError, "1 or 3 input channels"),
    ("unet", dict(base_filters=0), ValueError, "base_filters"),
    ("unet", dict(depth=0), ValueError, "depth"),
    ("unet", dict(depth=7), ValueError, "depth"),
    ("unet", dict(dropout=1.0), ValueError, "dropout"),
    ("unet", dict(num_classes=0), ValueError, "num_classes"),
    ("unet", dict(classifier_activation="relu"), ValueError, "classifier_activation"),
    ("vgg16_unet", dict(input_shape=(48, 48, 3)), ValueError, "divisible by 32"),
    ("vgg16_unet", dict(width=0.0), ValueError, "width"),
    ("vgg16_unet", dict(width=1.5), ValueError, "width"),
    ("vgg16_unet", dict(batchnorm="yes"), TypeError, "batchnorm"),
    ("vgg16_unet", dict(decoder_filters=(8, 8, 8)), ValueError, "decoder_filters"),
    ("vgg16_unet", dict(width=0.5, backbone_weights="imagenet"), ValueError, "Pretrained VGG16"),
    ("vgg16_unet", dict(batchnorm=True, backbone_weights="imagenet"), ValueError, "from scratch"),
    ("vgg16_unet", dict(backbone_weights="/nonexistent/vgg16.h5"), FileNotFoundError, "not found"),
    ("vgg16_unet", dict(preprocessing="imagenet"), ValueError, "preprocessing"),
    ("unet", dict(normalization="clahe2"), ValueError,
     r"Expected `normalization` in .*Did you mean 'clahe'\? Received: normalization='clahe2'"),
    ("vgg16_unet", dict(normalization="minmax"), ValueError, "Received: normalization='minmax'"),
]


@pytest.mark.parametrize("name,kwargs,error,match", ILL_CASES)
def test_illegal_arguments(name, kwargs, error, match):
    with pytest.raises(error, match=match):
        build_model(name, **{"input_shape": (64, 64, 1), **kwargs})


@pytest.mark.parametrize("name", sorted(TINY))
@pytest.mark.parametrize("suffix", [".h5", ".keras"])
def test_save_load_round_trip(name, suffix, tmp_path):
    model = build_model(name, **TINY[name])
    x = _images(seed=1)
    path = save_model(model, tmp_path / f"{name}{suffix}")
    loaded = load_model(path)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-5)
    assert loaded.layers[-1].name == "predictions"


@pytest.mark.parametrize("name", sorted(TINY))
def test_a_few_steps_of_bce_dice_decrease_the_loss(name):
    import keras

    from heartcv.losses import BCEDiceLoss
    from heartcv.metrics import DiceCoefficient, MaskIoU

    keras.utils.set_random_seed(0)
    yy, xx = np.mgrid[:32, :32]
    masks = ((yy - 18) ** 2 + (xx - 15) ** 2 < 8 ** 2).astype("float32")[None, ..., None]
    masks = np.repeat(masks, 4, axis=0)
    noise = np.random.default_rng(0).normal(0, 10, masks.shape)
    images = (60 + 150 * masks + noise).astype("float32")
    model = build_model(name, **{**TINY[name], "input_shape": (32, 32, 1)})
    # eager: tracing the train step costs far more than four tiny steps
    model.compile(keras.optimizers.Adam(1e-2), BCEDiceLoss(),
                  metrics=[DiceCoefficient(), MaskIoU()], run_eagerly=True)
    first = model.train_on_batch(images, masks, return_dict=True)
    for _ in range(3):
        last = model.train_on_batch(images, masks, return_dict=True)
    assert np.isfinite(last["loss"]) and last["loss"] < first["loss"]
    assert {"dice", "iou"} <= set(last)


def _masked_bundle(path, task, size=320, n=6):
    """A synthetic 320×320 bundle with heart, left lung, right lung masks."""
    from heartcv.data.bundle import write_bundle

    rng = np.random.default_rng(0)
    masks = (rng.uniform(size=(n, size, size, 3)) > 0.5).astype(np.uint8)
    masks[..., 0] = 0
    masks[:, 100:220, 120:240, 0] = 1  # the heart: a box, unlike the random lung channels
    images = (rng.uniform(size=(n, size, size, 1)) * 255).astype(np.uint8)
    labels = (np.arange(n) % 2).astype(np.float32)[:, None] if task == "binary" else None
    return write_bundle(
        path, images, labels=labels, masks=masks, patient_id=[f"p{i}" for i in range(n)],
        split=["train", "train", "val", "val", "test", "test"],
        class_names=["nodule"] if task == "binary" else ["heart"], task=task,
        source="synthetic test", mask_names=["heart", "left_lung", "right_lung"])


def test_320_bundle_with_masks_feeds_segmentation(tmp_path):
    from heartcv.config import DataConfig
    from heartcv.data.sources import load_data

    path = _masked_bundle(tmp_path / "seg.h5", "segmentation")
    data = load_data(DataConfig(source=str(path), image_size=320, channels=1, batch_size=2))
    assert data.task == "segmentation" and data.num_outputs == 1
    train = data.splits["train"]
    assert train.targets.shape == (2, 320, 320)
    assert train.targets[:, 100:220, 120:240].all() and train.targets.sum() == 2 * 120 * 120
    x, y = next(iter(data.dataset("train", batch_size=2, image_size=320, channels=1)))
    assert x.shape == (2, 320, 320, 1) and y.shape == (2, 320, 320, 1)
    model = build_model("unet", input_shape=(320, 320, 1), base_filters=2, depth=5)
    assert model(x).shape == y.shape


def test_320_bundle_with_masks_feeds_classification(tmp_path):
    from heartcv.config import DataConfig
    from heartcv.data.sources import load_data

    path = _masked_bundle(tmp_path / "cls.h5", "binary")
    data = load_data(DataConfig(source=str(path), image_size=320, channels=3, batch_size=2))
    assert data.task == "binary"
    assert data.splits["test"].heart_masks.shape == (2, 320, 320)
    x, y = next(iter(data.dataset("test", batch_size=2, image_size=320, channels=3)))
    assert x.shape == (2, 320, 320, 3) and y.shape == (2, 1)


@pytest.mark.slow
def test_unet_learns_jsrt_heart(jsrt_dir, tmp_path):
    """Short real run: 48 JSRT images at 64 px, U-Net with BN + BCE/Dice; test Dice > 0.7."""
    from heartcv.config import load_config
    from heartcv.data.datasets.jsrt import main as prep
    from heartcv.train import train

    bundle = tmp_path / "jsrt_64.h5"
    assert prep(["--raw", str(jsrt_dir), "--out", str(bundle), "--size", "64",
                 "--workers", "1", "--no-progress"]) == 0
    cfg = load_config(None, [
        f"output_dir={tmp_path}", "name=jsrt", f"data.source={bundle}", "data.image_size=64",
        "data.channels=1", "data.batch_size=8", "model.name=unet",
        "model.params={base_filters: 8, dropout: 0.0}", "train.epochs=25",
        "train.loss=bce_dice", "train.verbose=0", "train.tensorboard_images=false",
        "eval.bootstrap=0"])
    result = train(cfg)
    assert result.metrics["dice"]["mean"] > 0.7
