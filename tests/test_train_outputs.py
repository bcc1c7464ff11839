"""What a run leaves for its reader (issue 25): a log of short lines when stdout is redirected,
a model card without the training machine's folders, a history figure naming the model."""

import io
import json
import subprocess
import sys

import pytest
import yaml

from heartcv.cards import portable_path, write_card
from heartcv.config import ConfigError, load_config, save_config
from heartcv.data.sources import DataSplits
from heartcv.history import plot_history
from heartcv.train import fit_verbosity
from tests.test_train import TINY, _toy_data

TINY_AUTO = [s for s in TINY if not s.startswith("train.verbose")]  # the default is under test


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_fit_verbosity_follows_the_terminal():
    assert load_config(None).train.verbose == "auto"
    assert fit_verbosity("auto", _Terminal()) == 1  # progress bar
    assert fit_verbosity("auto", io.StringIO()) == 2  # a file or a pipe: one line per epoch
    assert [fit_verbosity(v, io.StringIO()) for v in (0, 1, 2)] == [0, 1, 2]  # set explicitly
    with pytest.raises(ConfigError, match="train.verbose"):
        load_config(None, ["train.verbose=3"])


def test_redirected_train_log_has_one_short_line_per_epoch(tmp_path):
    """``heartcv train ... > log``: no redrawn progress bar, no line over 300 characters."""
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(f"name: tiny\noutput_dir: {tmp_path / 'runs'}\n")
    argv = [sys.executable, "-m", "heartcv", "train", str(cfg), "--set", "train.epochs=2",
            "--set", "train.tensorboard_images=false"]
    for s in TINY_AUTO:
        argv += ["--set", s]
    log = tmp_path / "log"
    with open(log, "w") as out:
        proc = subprocess.run(argv, stdout=out, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                              timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = log.read_text()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 300, max(lines, key=len)[:500]
    assert "\r" not in text and "\x1b" not in text and "\b" not in text
    assert [line for line in lines if line.startswith("Epoch ")] == ["Epoch 1/2", "Epoch 2/2"]
    assert sum(" - val_loss: " in line for line in lines) == 2  # the epoch's one line
    assert "report.md" in text


def test_portable_path(tmp_path):
    base = tmp_path / "work"
    assert portable_path(str(base / "data" / "b.h5"), base) == "data/b.h5"
    assert portable_path(str(tmp_path / "elsewhere" / "b.h5"), base) == "b.h5"
    assert portable_path("data/b.h5", base) == "data/b.h5"  # relative: as given
    assert portable_path("synthetic", base) == "synthetic"
    assert portable_path(3, base) == 3


@pytest.mark.parametrize("where, source", [("work", "data/b.h5"), ("other", "b.h5")])
def test_card_keeps_no_absolute_path(tmp_path, monkeypatch, where, source):
    """The card's paths are relative to the folder training ran in, else bare file names;
    its config still loads as a run config (``heartcv train`` rebuilds the model from it)."""
    from heartcv.predict import read_card

    bundle = tmp_path / "work" / "data" / "b.h5"
    (tmp_path / where).mkdir()
    monkeypatch.chdir(tmp_path / where)
    cfg = load_config(None, [f"output_dir={tmp_path / 'work' / 'runs'}", "name=x",
                             f"data.source={bundle}", "model.name=small_cnn"])
    toy = _toy_data("binary")
    data = DataSplits(toy.splits, toy.class_names, toy.task, str(bundle))
    path = write_card(tmp_path / "m.card.json", cfg, data, {"task": "binary", "accuracy": 0.5})
    text = path.read_text()
    assert str(tmp_path) not in text
    card = json.loads(text)
    assert card["data_source"] == source and card["config"]["data"]["source"] == source
    assert card["config"]["output_dir"] == "runs"
    assert read_card(tmp_path / "m.h5")["class_names"] == ["positive"]  # predict still reads it
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(card["config"]))
    again = load_config(tmp_path / "c.yaml")
    assert again.data.source == source and again.run_dir.as_posix() == "runs/x"


def test_history_figure_names_the_model(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    run = tmp_path / "run"
    run.mkdir()
    save_config(load_config(None, ["name=demo/cxa", "model.name=cxa_densenet121"]),
                run / "config.yaml")
    (run / "history.csv").write_text("epoch,loss,val_loss\n0,0.7,0.69\n1,0.6,0.65\n")
    titles = []
    real = Figure.savefig

    def keep(self, *args, **kwargs):
        titles.append(self.axes[0].get_title())
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", keep)
    assert plot_history(run / "history.csv", run / "figures" / "history.png").is_file()
    assert plot_history(run / "history.csv", tmp_path / "h.png", title="my model").is_file()
    (run / "config.yaml").unlink()
    assert plot_history(run / "history.csv", tmp_path / "h3.png").is_file()  # no config: untitled
    assert titles == ["cxa_densenet121 (demo/cxa)", "my model", ""]
