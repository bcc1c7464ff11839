"""The CPU recipes as YAML (issue 22): ``experiments/<key>/configs/quick.yaml`` and
``heartcv/recipes/demo.yaml`` resolve to exactly the settings the Python lists they replaced
gave. The lists below are those lists, as they were in run.py and heartcv/demo.py."""

from pathlib import Path

import pytest

from heartcv.config import ConfigError, config_to_dict, load_config
from heartcv.demo import demo_settings
from heartcv.recipes import DEMO, config_overrides, format_override, read_recipe
from tests.conftest import load_module

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"

BEFORE_DEMO = [
    "data.source=synthetic", "data.synthetic=cardiomegaly", "data.n_patients=250",
    "data.images_per_patient=2", "data.image_size=96", "data.batch_size=16",
    "data.augment.enabled=true", "data.augment.rotation_range=5",
    "data.augment.width_shift_range=0.05", "data.augment.height_shift_range=0.05",
    "data.augment.zoom_range=0.05", "data.augment.brightness_range=[0.9, 1.1]",
    "train.epochs=6", "train.optimizer=adam", "train.learning_rate=0.001",
    "train.early_stopping_patience=null", "train.reduce_lr_patience=2",
    "train.class_weight=balanced", "eval.bootstrap=1000",
]
BEFORE_DEMO_QUICK = ["data.n_patients=30", "data.image_size=64", "train.epochs=1",
                     "eval.bootstrap=100"]
BEFORE_CARDIO = ["data.image_size=96", "data.n_patients=250", "train.epochs=6",
                 "train.optimizer=adam", "train.learning_rate=0.001",
                 "train.reduce_lr_patience=2", "eval.bootstrap=1000"]
BEFORE_CHD = {
    "paper": ["data.image_size=64", "data.batch_size=16", "data.augment.horizontal_flip=false",
              "model.params.backbone_weights=none", "model.params.trainable_layers=13",
              "model.params.width=0.125", "model.params.batchnorm=true",
              "model.params.hidden_units=[64]", "train.learning_rate=0.001", "train.epochs=8",
              "train.early_stopping_patience=4", "eval.bootstrap=200"],
    "unet": ["model.params.base_filters=16", "train.epochs=15"],
    "vgg16_unet": ["model.params.backbone_weights=none",
                   "model.params.width=0.25", "model.params.batchnorm=true",
                   "train.learning_rate=0.001", "train.epochs=15"],
}
BEFORE_CXR14 = ["data.image_size=128", "data.n_patients=600", "data.images_per_patient=2",
                "data.batch_size=16", "train.epochs=8", "train.learning_rate=1e-3",
                "train.bn_momentum=0.9", "train.jit_compile=false",
                "model.params.backbone_weights=null", "eval.bootstrap=200",
                "train.tensorboard_images=false"]
BEFORE_ECG = ["train.epochs=5", "ecg_attention_vgg:model.params.filters=[16,32,64,128,128,128]"]
BEFORE_MITBIH = {"n_per_class": 200, "n_patients": 10, "epochs": 8, "batch_size": 16,
                 "min_val_support": 10}


def _run_module(key):
    return load_module(EXPERIMENTS / key / "run.py", f"{key}_run_recipe")


def _same(path, before, after):
    base = ["output_dir=runs"]
    assert config_to_dict(load_config(path, base + list(before))) == \
        config_to_dict(load_config(path, base + list(after)))


@pytest.mark.parametrize("quick", [False, True])
def test_demo_recipe_is_the_old_settings(quick):
    settings, map_size = demo_settings(quick)
    before = ["name=demo", *BEFORE_DEMO, *(BEFORE_DEMO_QUICK if quick else [])]
    _same(None, before, settings)
    assert map_size == (96 if quick else 224)


def test_cardio_quick_recipe_is_the_old_list():
    run = _run_module("cardio_xattentionnet")
    for config in ("paper.yaml", "localization_224.yaml"):
        _same(EXPERIMENTS / "cardio_xattentionnet" / "configs" / config, BEFORE_CARDIO, run.QUICK)


def test_chd_quick_recipe_is_the_old_dict():
    run = _run_module("chd_xray_vgg_unet")
    assert set(run.QUICK) == set(BEFORE_CHD)
    for name, before in BEFORE_CHD.items():
        _same(EXPERIMENTS / "chd_xray_vgg_unet" / "configs" / f"{name}.yaml", before,
              run.QUICK[name])


def test_cxr14_quick_recipe_is_the_old_list():
    run = _run_module("cxr14_transfer_learning")
    for row in run.ROWS:
        _same(EXPERIMENTS / "cxr14_transfer_learning" / "configs" / f"{row}.yaml",
              BEFORE_CXR14, run.QUICK)
    assert run.QUICK_BOXED == 48


def test_ecg_quick_recipe_is_the_old_list():
    run = _run_module("ecg_images_5class")
    assert [format_override(p) for p in run.QUICK] == BEFORE_ECG
    old_common, old_per_model = run.split_overrides(BEFORE_ECG)
    new_common, new_per_model = run.split_overrides(run.QUICK)
    assert set(old_per_model) == set(new_per_model) == {"ecg_attention_vgg"}
    for model in run.MODELS:
        _same(EXPERIMENTS / "ecg_images_5class" / "configs" / f"{model}.yaml",
              old_common + old_per_model.get(model, []), new_common + new_per_model.get(model, []))
    assert run.SYNTHETIC == {True: (300, 32), False: (2746, 64)}


def test_mitbih_quick_recipe_is_the_old_dict():
    assert _run_module("mitbih_ecg_beats").QUICK == BEFORE_MITBIH


def test_the_demo_recipe_ships_with_the_package():
    assert DEMO.parent.name == "recipes" and DEMO.is_file()
    setup = (Path(__file__).resolve().parents[1] / "setup.cfg").read_text()
    assert "heartcv.recipes = *.yaml" in setup


def test_config_overrides_flattens_in_order():
    tree = {"data": {"image_size": 96, "augment": {"brightness_range": [0.9, 1.1]}},
            "model": {"params": {}}, "name": "x"}
    assert config_overrides(tree) == [("data.image_size", 96),
                                      ("data.augment.brightness_range", [0.9, 1.1]),
                                      ("model.params", {}), ("name", "x")]


def test_a_recipe_that_is_not_a_mapping_is_refused(tmp_path):
    (tmp_path / "r.yaml").write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        read_recipe(tmp_path / "r.yaml")
    with pytest.raises(FileNotFoundError, match="Recipe file not found"):
        read_recipe(tmp_path / "missing.yaml")
