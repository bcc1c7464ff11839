import pytest

import heartcv
from heartcv import registry


def test_list_models_pattern_and_task():
    names = heartcv.list_models()
    assert names == sorted(names) and "small_cnn" in names
    assert heartcv.list_models("*_gap") == [n for n in names if n.endswith("_gap")]
    assert "small_cnn" in heartcv.list_models(task="binary")
    assert heartcv.list_models("no_such_*") == []


def test_unknown_name_suggests():
    with pytest.raises(ValueError, match=r"Unknown model 'small_cn'.*Did you mean 'small_cnn'"):
        heartcv.build_model("small_cn")


def test_unknown_override_suggests():
    with pytest.raises(TypeError, match=r"no argument 'dropuot'.*Did you mean 'dropout'"):
        heartcv.build_model("small_cnn", dropuot=0.1)


def test_bad_task_for_list_and_register():
    with pytest.raises(ValueError, match="Expected `task`"):
        heartcv.list_models(task="regression")
    with pytest.raises(ValueError, match="Expected `task`"):
        registry.register_model("x", task="regression")


def test_register_variant_and_defaults(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    @registry.register_model("toy_a", task="binary", width=3)
    @registry.register_model("toy_b", task="multiclass", width=5)
    def toy(width=1, depth=2):
        """Toy builder."""
        return (width, depth)

    assert registry.build_model("toy_a") == (3, 2)
    assert registry.build_model("toy_b", depth=7) == (5, 7)
    spec = registry.get_spec("toy_b")
    assert spec.task == "multiclass" and spec.parameters() == {"width": 5, "depth": 2}
    assert spec.description == "Toy builder."
    with pytest.raises(ValueError, match="no argument 'height'"):
        registry.register_model("toy_c", task="binary", height=1)(toy)
    with pytest.raises(ValueError, match="already registered"):
        registry.register_model("toy_a", task="binary")(lambda: None)
