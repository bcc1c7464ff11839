"""heartcv.results: the flat results.json every run.py writes."""

import json
import math

import pytest

from heartcv.results import flatten, read_results, write_results


def test_write_and_read_round_trip(tmp_path, capsys):
    path = write_results(tmp_path, {"cxa_densenet121/auroc": 0.91, "mean/auroc": 0.8, "n/images": 40})
    assert capsys.readouterr().out.strip() == f"results: {path}"
    assert json.loads(path.read_text()) == {"cxa_densenet121/auroc": 0.91, "mean/auroc": 0.8,
                                            "n/images": 40}
    assert read_results(tmp_path) == read_results(path)


@pytest.mark.parametrize("bad", [{"a/b": math.nan}, {"a/b": True}, {"a/b": "0.9"},
                                 {"a//b": 1.0}, {" a/b": 1.0}, {}, {"a/b": None}])
def test_bad_results_are_refused_before_writing(tmp_path, bad):
    with pytest.raises(ValueError):
        write_results(tmp_path, bad)
    assert not (tmp_path / "results.json").exists()


def test_flatten_skips_non_numbers_and_nests_with_slashes():
    nested = {"ds2": {"S": {"sensitivity": 0.8, "note": "x"}, "V": {"ppv": math.nan}}, "acc": 0.9}
    assert flatten(nested) == {"ds2/S/sensitivity": 0.8, "acc": 0.9}
    with pytest.raises(ValueError):
        flatten(nested, skip_non_numbers=False)


def test_unreadable_results_file_names_it(tmp_path):
    (tmp_path / "results.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="results.json"):
        read_results(tmp_path)
