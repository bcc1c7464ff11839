"""The experiment's faithfulness table and results keys (issue 26), one seed and several, on
the toy maps of tests/test_faithfulness.py (fast: no training)."""

import pytest

from heartcv.explain.faithfulness import faithfulness_checks
from heartcv.papers.cardio_xattentionnet.experiment import (
    faithfulness_markdown,
    faithfulness_results,
)
from tests.test_faithfulness import fixed_toy, heart_toy, toy_phantom


@pytest.fixture(scope="module")
def per_seed():
    x, y, masks = toy_phantom()
    out = []
    for seed in (0, 1):
        loc = {}
        for name, model, size in (("heart_toy", heart_toy(None), 16),
                                  ("fixed_toy", fixed_toy(), None)):
            res = faithfulness_checks(model, x, y, masks=masks[y > 0.5], n_boot=50, seed=seed,
                                      train_size=size)
            loc[name] = {"method": res["maps"]["method"], "faithfulness": res}
        out.append(loc)
    return out


def test_one_seed_table_and_numbers(per_seed):
    text = faithfulness_markdown(per_seed[:1])
    rows = {line.split(" | ")[0].strip("| "): line for line in text.splitlines()[2:4]}
    assert " @ 16 px | " in rows["heart_toy"] and " @ 32 px | " in rows["heart_toy"]
    assert "= map px" in rows["fixed_toy"]  # maps at the training size: one ablation
    assert "| flat |" in rows["heart_toy"] and "±" not in text
    nums = faithfulness_results(per_seed[:1], [0])
    assert nums["faithfulness/heart_toy/uses_map_train_size"] == 1.0
    assert nums["faithfulness/fixed_toy/auroc_drop"] == pytest.approx(0.0)
    assert nums["faithfulness/fixed_toy/position_prior"] == 1.0
    assert "faithfulness/heart_toy/blank_correlation" not in nums  # flat: no correlation
    assert "faithfulness/heart_toy/heart_correlation_ci_low" in nums


def test_several_seeds_mean_and_sd(per_seed):
    text = faithfulness_markdown(per_seed)
    assert text.count("±") > 10
    assert "Mean ± sd over 2 seeds" in text and "| flat |" in text
    nums = faithfulness_results(per_seed, [0, 1])
    assert nums["faithfulness/seed1/heart_toy/flip_gain"] > 0
    assert nums["faithfulness/heart_toy/flip_follow_sd"] == pytest.approx(0.0, abs=1e-9)
    assert "faithfulness/heart_toy/flip_gain_ci_low" not in nums  # per seed only
    assert "faithfulness/seed0/heart_toy/flip_gain_ci_low" in nums
