"""Models saved before the issue-11 layout move still load and give the same outputs.

The files in ``tests/fixtures/premove/`` were written by the commit named in their
``manifest.json``, before any module moved; only ``import heartcv`` is needed to load them.
"""

import json
import pathlib

import numpy as np
import pytest

FIXTURES = pathlib.Path(__file__).parent / "fixtures" / "premove"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text())


@pytest.mark.parametrize("name", sorted(MANIFEST["models"]))
def test_premove_h5_loads_with_same_outputs(name):
    import keras

    import heartcv  # noqa: F401  (registration only)

    model = keras.models.load_model(FIXTURES / MANIFEST["models"][name]["file"], compile=False)
    data = np.load(FIXTURES / f"{name}.npz")
    got = np.asarray(model.predict(data["x"], verbose=0))
    np.testing.assert_allclose(got, data["y"], rtol=1e-4, atol=1e-5)
    assert sorted({type(layer).__name__ for layer in model.layers}) == \
        MANIFEST["models"][name]["layers"]
