"""The backbone table: adding one entry makes every backbone-taking builder build with it."""

import keras
import numpy as np
import pytest

import heartcv
from heartcv.models import backbones
from heartcv.registry import unregister_model

# Every registered builder that takes ``backbone=``, and the argument it needs to build small.
BACKBONE_MODELS = ("cxa_densenet121", "densenet121_gap", "cxr14_densenet121")


def _tiny_backbone(include_top=False, weights=None, input_tensor=None):
    """A two-convolution stand-in with the keras.applications signature."""
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu",
                            name="tiny_conv1")(input_tensor)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu",
                            name="tiny_out")(x)
    return keras.Model(keras.utils.get_source_inputs(input_tensor), x, name="tiny")


TINY = backbones.BackboneInfo(_tiny_backbone, "unit", "tiny_notop.h5",
                              ("tiny_conv1", "tiny_out"))


@pytest.fixture
def tiny_backbone():
    yield "tiny"
    backbones.BACKBONES.pop("tiny", None)
    for name in ("cxa_tiny", "tiny_gap"):
        unregister_model(name)


def test_one_table_entry_registers_and_builds_the_variants(tiny_backbone):
    assert "cxa_tiny" not in heartcv.list_models()
    backbones.register_backbone("tiny", TINY)
    assert {"cxa_tiny", "tiny_gap"} <= set(heartcv.list_models())
    assert heartcv.get_spec("cxa_tiny").paper == "cardio_xattentionnet"
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    for name in ("cxa_tiny", "tiny_gap"):
        model = heartcv.build_model(name, input_shape=(32, 32, 3))
        assert model.layers[-1].name == "predictions"
        assert model.get_layer("tiny_out") is not None  # wired flat, not nested
        assert np.asarray(model(x)).shape == (2, 1)


@pytest.mark.parametrize("name", BACKBONE_MODELS)
def test_every_backbone_taking_builder_builds_with_a_new_entry(tiny_backbone, name):
    backbones.register_backbone("tiny", TINY)
    model = heartcv.build_model(name, backbone="tiny", input_shape=(32, 32, 3),
                                backbone_weights=None)
    assert model.get_layer("tiny_out").output.shape[-1] == 8
    assert model.layers[-1].name == "predictions"


def test_register_backbone_rejects_a_clash(tiny_backbone):
    with pytest.raises(ValueError, match="already in the table"):
        backbones.register_backbone("densenet121", TINY)


@pytest.mark.slow
@pytest.mark.parametrize("backbone", sorted(backbones.BACKBONES))
@pytest.mark.parametrize("name", BACKBONE_MODELS)
def test_every_backbone_builds_every_backbone_model(name, backbone):
    info = backbones.BACKBONES[backbone]
    size = max(info.min_size, 64)
    model = heartcv.build_model(name, backbone=backbone, input_shape=(size, size, 3),
                                backbone_weights=None)
    assert model.get_layer(info.feature_layers[-1]) is not None
