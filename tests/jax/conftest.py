"""The JAX subset: run by ``make test-jax`` (``KERAS_BACKEND=jax`` in ``.venv-jax``, which has
no TensorFlow); under any other backend these tests are skipped."""

import pytest


def pytest_collection_modifyitems(config, items):
    import keras

    if keras.backend.backend() == "jax":
        return
    skip = pytest.mark.skip(reason=f"JAX subset: run by `make test-jax` (KERAS_BACKEND=jax in "
                                   f".venv-jax); this run's backend is "
                                   f"{keras.backend.backend()!r}")
    for item in items:
        if "tests/jax/" in item.nodeid.replace("\\", "/"):
            item.add_marker(skip)
