"""Datasets register themselves: a new dataset is one file in heartcv/data/datasets/."""

import textwrap

import pytest

from heartcv import registry
from heartcv.cli import main
from heartcv.data import datasets

TOY = textwrap.dedent('''
    """A toy dataset: one file is all a dataset needs."""
    import argparse

    from heartcv.registry import register_dataset

    def read_toy(root):
        return ["a", "b"]

    def build_parser(prog="heartcv prep toy"):
        p = argparse.ArgumentParser(prog=prog, description="the toy dataset")
        p.add_argument("--out", required=True)
        p.add_argument("--copies", type=int, default=2, help="how many rows")
        return p

    def main(argv=None, prog="heartcv prep toy"):
        args = build_parser(prog).parse_args(argv)
        with open(args.out, "w") as f:
            f.write("\\n".join(read_toy(None) * args.copies))
        return 0

    register_dataset("toy", main=main, build_parser=build_parser, reader=read_toy,
                     description="a toy dataset for the registry test", module=__name__)
''')


@pytest.fixture
def toy_dataset(tmp_path, monkeypatch):
    folder = tmp_path / "more_datasets"
    folder.mkdir()
    (folder / "toy.py").write_text(TOY)
    monkeypatch.setattr(datasets, "__path__", [*datasets.__path__, str(folder)])
    yield
    registry.unregister_dataset("toy")


def test_builtin_datasets_come_from_the_registry():
    assert {"chd", "contours", "cxr14", "ecg_khan", "jsrt", "mitbih", "synthetic"} <= \
        set(datasets.list_datasets())
    assert datasets.get_dataset("jsrt").reader is not None


def test_one_file_adds_a_dataset_to_prep_and_its_help(toy_dataset, tmp_path, capsys):
    assert "toy" in datasets.list_datasets()
    assert datasets.get_dataset("toy").reader(None) == ["a", "b"]
    assert main(["prep", "--help"]) == 0
    assert "a toy dataset for the registry test" in capsys.readouterr().out
    assert main(["prep", "toy", "--help"]) == 0
    assert "how many rows" in capsys.readouterr().out
    out = tmp_path / "toy.txt"
    assert main(["prep", "toy", "--out", str(out), "--copies", "3"]) == 0
    assert out.read_text().split() == ["a", "b"] * 3


def test_unknown_dataset_suggests_the_close_one(capsys):
    assert main(["prep", "jsrtt", "--out", "x.h5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Unknown dataset 'jsrtt'" in err[0] and "Did you mean 'jsrt'" in err[0]
