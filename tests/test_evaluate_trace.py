"""``heartcv evaluate`` of a segmenter predicts every pass with one traced function (issue 21)."""

import numpy as np

import heartcv
import heartcv.io


def test_evaluate_pads_the_last_batch_so_the_model_is_traced_once(tmp_path, monkeypatch):
    from heartcv.data.bundle import write_bundle
    from heartcv.scoring import evaluate_saved_model

    rng = np.random.default_rng(0)
    n = 18  # 16 + a partial batch of 2
    images = (rng.random((n, 32, 32, 1)) * 255).astype(np.uint8)
    masks = (rng.random((n, 32, 32)) > 0.5).astype(np.uint8)
    bundle = write_bundle(tmp_path / "seg.h5", images, masks=masks,
                          patient_id=[f"p{i}" for i in range(n)], split=["test"] * n,
                          task="segmentation", source="test")
    model = heartcv.save_model(heartcv.build_model("unet", input_shape=(32, 32, 1), base_filters=4,
                                                   depth=2, num_classes=1), tmp_path / "unet.h5")
    loaded, real = [], heartcv.io.load_model
    monkeypatch.setattr(heartcv.io, "load_model", lambda *a, **k: loaded.append(real(*a, **k))
                        or loaded[-1])
    evaluate_saved_model(model, bundle, out_dir=tmp_path / "ev")
    assert loaded[0].predict_function.experimental_get_tracing_count() == 1
