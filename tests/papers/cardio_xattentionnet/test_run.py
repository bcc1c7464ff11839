"""run_experiment end to end (slow, ~25 s CPU) on a tiny backbone: a subset of Table 5's rows, K seeds, 7×7+ maps.

Issue 14: ``run.py --models cxa_densenet121 densenet121_gap`` crashed after training because
expected.csv names the other six rows; with seeds, Table 5 is mean ± sd and DeLong per seed.
"""

import json

import keras
import numpy as np
import pytest

from heartcv.config import load_config
from heartcv.models import backbones
from heartcv.papers.cardio_xattentionnet.experiment import (
    load_experiment_data,
    results_numbers,
    run_experiment,
)
from heartcv.registry import unregister_model
from heartcv.report import write_comparison
from heartcv.results import read_results, write_results

EXPECTED = """table,row,metric,paper
Table 5,tiny_gap,auroc,0.85
Table 5,cxa_tiny,auroc,0.89
Table 5,resnet50_gap,auroc,0.86
"""


def _tiny(include_top=False, weights=None, input_tensor=None):
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu",
                            name="tiny_conv1")(input_tensor)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu",
                            name="tiny_out")(x)
    return keras.Model(keras.utils.get_source_inputs(input_tensor), x, name="tiny")


@pytest.fixture
def tiny():
    backbones.register_backbone("tiny", backbones.BackboneInfo(
        _tiny, "unit", "tiny_notop.h5", ("tiny_conv1", "tiny_out")))
    yield ("cxa_tiny", "tiny_gap")
    backbones.BACKBONES.pop("tiny", None)
    for name in ("cxa_tiny", "tiny_gap"):
        unregister_model(name)


@pytest.mark.slow
def test_subset_of_rows_with_two_seeds_and_maps_at_map_size(tiny, tmp_path):
    expected = tmp_path / "expected.csv"
    expected.write_text(EXPECTED)
    cfg = load_config(None, [
        "name=t", f"output_dir={tmp_path}", "data.source=synthetic", "data.n_patients=16",
        "data.images_per_patient=1", "data.image_size=32", "data.batch_size=8",
        "train.epochs=1", "train.optimizer=adam", "eval.bootstrap=50",
        "train.early_stopping_patience=null"])
    data = load_experiment_data(cfg, map_size=64)
    assert data.splits["test"].images.shape[1:3] == (64, 64)  # kept at the map size
    exp = run_experiment(cfg, tiny, data=data, out_dir=tmp_path / "t", expected_csv=expected,
                         seeds=2)
    out = tmp_path / "t"
    table = (out / "table5.md").read_text()
    assert "±" in table and "Paired DeLong" in table and "cxa_tiny vs tiny_gap" in table
    assert "not run here (not compared): resnet50_gap" in table
    assert exp["seeds"] == [0, 1] and len(exp["delong_per_seed"]) == 2
    for seed in (0, 1):
        assert (out / f"seed{seed}" / "table5.md").is_file()
        assert (tmp_path / "t" / f"seed{seed}" / "cxa_tiny" / "metrics.json").is_file()
    # each seed trained its own weights: the two seeds' test scores differ
    s0, s1 = (np.load(tmp_path / "t" / f"seed{s}" / "cxa_tiny" / "test_predictions.npz")["y_score"]
              for s in (0, 1))
    assert not np.allclose(s0, s1)
    loc = exp["localization"]["cxa_tiny"]
    assert loc["map_cells"] == [16, 16] and loc["input_size"] == [64, 64]  # stride 4 at 64 px
    assert loc["pointing_game"]["ties"] == "share"
    numbers = results_numbers(exp)
    for key in ("cxa_tiny/auroc", "cxa_tiny/auroc_sd", "tiny_gap/accuracy_sd",
                "delong/seed0/cxa_tiny/difference", "delong/seed1/cxa_tiny/difference", "delong/cxa_tiny/n_seeds",
                "localization/cxa_tiny/mass_over_chance", "localization/seed1/tiny_gap/map_cells",
                "localization/seed0/cxa_tiny/mass_inside_ci_low", "seeds/n"):
        assert key in numbers, key
    assert numbers["seeds/n"] == 2 and numbers["localization/seed1/tiny_gap/map_cells"] == 256
    aurocs = [json.loads((out / f"seed{s}" / "table5.json").read_text())["runs"]["cxa_tiny"]
              ["auroc"]["value"] for s in (0, 1)]
    assert numbers["cxa_tiny/auroc"] == pytest.approx(np.mean(aurocs))
    assert numbers["cxa_tiny/auroc_sd"] == pytest.approx(np.std(aurocs, ddof=1))
    assert read_results(write_results(out, numbers, announce=False)) == pytest.approx(numbers)
    assert "Mass − chance" in (out / "localization.md").read_text()
    # issue 26: the faithfulness checks per seed (AMM ablation at 32 and 64 px), mean ± sd
    faith = exp["localization"]["cxa_tiny"]["faithfulness"]
    assert faith["ablation"]["input_size"] == [64, 64]
    assert faith["ablation_at_train_size"]["input_size"] == [32, 32]
    assert exp["localization"]["tiny_gap"]["faithfulness"]["ablation"]["applicable"] is False
    for key in ("faithfulness/seed0/cxa_tiny/auroc_constant_map_train_size",
                "faithfulness/cxa_tiny/flip_gain", "faithfulness/cxa_tiny/flip_gain_sd",
                "faithfulness/seed1/tiny_gap/heart_correlation"):
        assert key in numbers, key
    text = (out / "localization.md").read_text()
    assert "Faithfulness of the maps" in text and "n/a (GAP pools uniformly)" in text


def test_write_comparison_subset_only_when_asked(tmp_path):
    expected = tmp_path / "expected.csv"
    expected.write_text(EXPECTED)
    run = {"auroc": {"value": 0.9, "ci": [0.8, 1.0], "ci_level": 0.95}, "accuracy": 0.8,
           "weighted_avg": {"precision": 0.8, "recall": 0.8, "f1": 0.8, "specificity": 0.8}}
    runs = {"cxa_tiny": run, "tiny_gap": run}
    with pytest.raises(ValueError, match="Unknown run in expected.csv"):
        write_comparison(runs, tmp_path, name="t5", expected_csv=expected, table="Table 5")
    paths = write_comparison(runs, tmp_path, name="t5", expected_csv=expected, table="Table 5",
                             subset=True)
    text = paths["markdown"].read_text()
    assert "resnet50_gap" in text.split("not run here")[1] and "| 0.890 | 0.900 [0.800, 1.000] | +0.010 |" in text


def test_overlay_grid_titles_do_not_overlap(tmp_path, monkeypatch):
    """Fig. 7–9 grid: every panel's title stays within its column (issue 14: they overlapped)."""
    from heartcv.explain import figures, save_overlay_grid

    captured = {}
    real = figures.atomic_save_figure

    def keep(fig, path, **kwargs):
        captured["fig"] = fig
        return real(fig, path, **kwargs)

    monkeypatch.setattr(figures, "atomic_save_figure", keep)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (3, 64, 64, 1))
    maps = rng.uniform(0, 1, (3, 7, 7))
    long = "AMM densenet121 (AMM attention)"
    path = save_overlay_grid(x, {long: maps, "densenet121 GAP (Grad-CAM)": maps}, tmp_path / "g.png",
                             titles=[f"cardiomegaly (test) #{i} with a long row title" for i in range(3)],
                             panel_titles={long: ["p=0.93"] * 3},
                             title="Heart localization: cxa_densenet121, densenet121_gap")
    assert path.is_file()
    fig = captured["fig"]
    renderer = fig.canvas.get_renderer()
    grid = np.array(fig.axes[:15]).reshape(3, 5)  # then the one colour bar
    for r, row in enumerate(grid):
        boxes = [ax.title.get_window_extent(renderer) for ax in row]
        for left, right in zip(boxes, boxes[1:]):
            assert left.x1 <= right.x0 + 1, (left, right)
        if r:  # and above each title, the row above's panels end
            for ax, box in zip(grid[r - 1], boxes):
                assert ax.get_window_extent(renderer).y0 >= box.y1 - 1
    assert "p=0.93" in fig.axes[1].get_title()
    assert "cxa_densenet121" in fig.get_suptitle()
    # one colour map in the figure, shown by one colour bar (issue 25): the images are RGB,
    # the maps and the colour bar share it
    assert len(fig.axes) == 16 and fig.axes[15].get_label() == "<colorbar>"
    cmaps = {im.get_cmap().name for ax in fig.axes for im in ax.get_images()
             if im.get_array().ndim == 2}
    cmaps |= {c.cmap.name for ax in fig.axes for c in ax.collections if c.get_array() is not None}
    assert cmaps == {"jet"}, cmaps
    assert [c.cmap.name for c in fig.axes[15].collections if c.get_array() is not None] == ["jet"]
    with pytest.raises(ValueError, match="panel_titles"):
        save_overlay_grid(x, {"a": maps}, tmp_path / "h.png", panel_titles={"b": ["p"] * 3})
