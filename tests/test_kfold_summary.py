"""What `heartcv train` prints after a k-fold run: the number of folds and images, and only
paths the run wrote (no top-level model.h5 or tensorboard/ exists in a k-fold run)."""

import importlib.util
import re
from pathlib import Path

import pytest

from heartcv.cli import main
from heartcv.summary import headline

QUIET = ["--set", "train.verbose=0", "--set", "eval.bootstrap=20",
         "--set", "model.params={filters: [4, 8]}", "--set", "data.image_size=32"]


@pytest.mark.slow  # two 1-epoch trainings: ~25 s on the shared 2-core box
def test_two_fold_cli_summary_prints_counts_and_existing_paths(tmp_path, capsys):
    assert main(["train", "--set", "data.n_patients=12", "--set", "train.folds=2",
                 "--set", "train.epochs=1", "--set", f"output_dir={tmp_path}",
                 "--set", "name=cv2", *QUIET]) == 0
    out = capsys.readouterr().out
    run = tmp_path / "cv2"
    head = next(line for line in out.splitlines() if line.startswith("test "))
    assert "{" not in head and "'mean'" not in head, head
    # 12 patients x 2 images, each tested once
    assert "(2 folds, n=24 test images in all)" in head and "AUROC" in head
    printed = dict(re.findall(r"^([a-z0-9 ]+):\s+(.+)$", out, flags=re.M))
    paths = {label: Path(p.removeprefix("tensorboard --logdir ")) for label, p in printed.items()}
    assert paths["run directory"] == run and paths["metrics"] == run / "metrics.json"
    assert paths["fold 1 model"] == run / "fold1" / "model.h5"
    assert paths["fold 2 model"] == run / "fold2" / "model.h5"
    assert "model" not in paths  # a k-fold run has no single model
    if importlib.util.find_spec("tensorflow") is not None:  # Keras' TensorBoard needs TF
        assert paths["tensorboard"] == run and any(run.glob("fold*/tensorboard"))
    for label, path in paths.items():
        assert path.exists(), f"{label}: {path} was printed but does not exist"


def test_headline_counts_single_and_aggregated_runs():
    assert headline({"task": "binary", "accuracy": 0.75, "n_samples": 8}).endswith("(n=8)")
    agg = {"task": "binary", "accuracy": {"mean": 0.5, "sd": 0.1},
           "n_samples": {"mean": 5.0, "sd": 1.0, "values": [4.0, 6.0], "n": 2},
           "aggregated": {"n_folds": 2, "ddof": 1}, "folds": 2}
    assert headline(agg) == "test accuracy 0.500 ± 0.100 (2 folds, n=10 test images in all)"
    agg["auroc"] = {"value": {"mean": 0.625, "sd": 0.05, "values": [0.6, 0.65], "n": 2}}
    assert headline(agg).startswith("test AUROC 0.625 ± 0.050, accuracy 0.500")
