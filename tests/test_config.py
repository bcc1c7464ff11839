import pytest
import yaml

from heartcv.config import (AugmentConfig, ConfigError, RunConfig, load_config, parse_override,
                            replace, save_config)


def test_defaults_and_overrides():
    cfg = load_config(None, ["train.epochs=3", "data.augment.brightness_range=[0.8, 1.2]",
                             "model.params={dropout: 0.3}", "eval.prevalence=0.05"])
    assert isinstance(cfg, RunConfig)
    assert cfg.train.epochs == 3
    assert cfg.data.augment.brightness_range == (0.8, 1.2)
    assert cfg.model.params == {"dropout": 0.3}
    assert cfg.eval.prevalence == 0.05
    assert cfg.run_dir.name == "run"


def test_yaml_then_override(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("name: x\ntrain:\n  epochs: 5\n  learning_rate: 1e-4\n")
    cfg = load_config(p, ["train.epochs=1"])
    assert cfg.name == "x" and cfg.train.epochs == 1 and cfg.train.learning_rate == 1e-4


@pytest.mark.parametrize("override, message", [
    ("train.epoch=3", r"Unknown config key `train.epoch`. Did you mean `train.epochs`\?"),
    ("trian.epochs=3", r"Unknown config key `trian`. Did you mean `train`\?"),
    ("train.epochs=three", r"`train.epochs` expects int. Received: train.epochs='three'"),
    ("train.epochs=2.5", r"`train.epochs` expects int"),
    ("data.augment.horizontal_flip=1", r"expects bool"),
    ("data.augment.brightness_range=[1]", r"brightness_range"),
    ("epochs", r"Expected an override as key=value"),
])
def test_bad_overrides(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="Config file not found"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("model:\n  nmae: small_cnn\n")
    with pytest.raises(ConfigError, match=r"unknown.yaml: Unknown config key `model.nmae`"):
        load_config(unknown)


def test_frozen_and_replace():
    cfg = load_config()
    with pytest.raises(Exception):
        cfg.train.epochs = 2  # frozen
    cfg2 = replace(cfg, **{"train.epochs": 2, "name": "y"})
    assert cfg2.train.epochs == 2 and cfg2.name == "y" and cfg.train.epochs == 10
    assert AugmentConfig().enabled is False


def test_save_round_trip(tmp_path):
    cfg = load_config(None, ["data.augment.brightness_range=[0.9, 1.1]", "name=z"])
    path = save_config(cfg, tmp_path / "run" / "config.yaml")
    assert yaml.safe_load(path.read_text())["data"]["augment"]["brightness_range"] == [0.9, 1.1]
    assert load_config(path) == cfg
    assert not list(path.parent.glob("*.tmp-*"))


def test_parse_override_values():
    assert parse_override("a.b=3") == ("a.b", 3)
    assert parse_override("a=null") == ("a", None)
    assert parse_override("a=runs/x") == ("a", "runs/x")
    assert parse_override("t=Table 4: per class") == ("t", "Table 4: per class")
    assert parse_override("p={a: 1}") == ("p", {"a": 1})


def test_base_file_chain(tmp_path):
    (tmp_path / "paper.yaml").write_text("train:\n  optimizer: sgd\n  epochs: 300\ndata:\n  image_size: 224\n")
    (tmp_path / "row.yaml").write_text("base: paper.yaml\nname: row\ntrain:\n  epochs: 5\n")
    cfg = load_config(tmp_path / "row.yaml", ["data.batch_size=8"])
    assert (cfg.name, cfg.train.optimizer, cfg.train.epochs, cfg.data.image_size, cfg.data.batch_size) == \
        ("row", "sgd", 5, 224, 8)
    (tmp_path / "a.yaml").write_text("base: b.yaml\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_config(tmp_path / "a.yaml")
    (tmp_path / "c.yaml").write_text("base: nowhere.yaml\n")
    with pytest.raises(FileNotFoundError, match="nowhere.yaml"):
        load_config(tmp_path / "c.yaml")


def test_every_shipped_config_passes_validation():
    from pathlib import Path

    from heartcv.config import validate

    validate(RunConfig())
    root = Path(__file__).resolve().parents[1] / "experiments"
    # configs/quick.yaml files are --quick recipes (heartcv.recipes), not configs:
    # tests/test_recipes.py resolves each over its configs
    files = sorted(p for p in root.rglob("*.yaml") if p.name != "quick.yaml")
    assert files
    for path in files:
        load_config(path)  # load_config validates; a bad value raises ConfigError naming it


@pytest.mark.parametrize("override, message", [
    ("train.epochs=-3", r"^Expected `train.epochs` >= 1. Received: train.epochs=-3$"),
    ("train.learning_rate=-1", r"Expected `train.learning_rate` > 0"),
    ("data.batch_size=0", r"Expected `data.batch_size` >= 1. Received: data.batch_size=0"),
    ("eval.prevalence=0", r"`eval.prevalence` null or in \(0, 1\)"),
])
def test_out_of_range_values(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])
