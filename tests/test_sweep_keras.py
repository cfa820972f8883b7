"""Real Keras sweeps on digits (slow): determinism, accuracy vs noise, model features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from noisylab.config import TrainOptions, default_config, resolve
from noisylab.results import TIMING_COLUMNS
from noisylab.sweep import plan_sweep, run_sweep

pytestmark = pytest.mark.slow


def test_deterministic_runs_repeat_exactly(tmp_path):
    cfg = resolve(default_config(), name="det", levels="0,0.5", subset=200, epochs=2,
                  patience=1, deterministic=True)
    a = pd.read_csv(run_sweep(plan_sweep(cfg, tmp_path / "a")).runs_csv)
    b = pd.read_csv(run_sweep(plan_sweep(cfg, tmp_path / "b")).runs_csv)
    pd.testing.assert_frame_equal(a.drop(columns=list(TIMING_COLUMNS)),
                                  b.drop(columns=list(TIMING_COLUMNS)))
    pa = np.load(tmp_path / "a" / "runs" / a["run_id"][1] / "predictions.npz")["probs"]
    pb = np.load(tmp_path / "b" / "runs" / a["run_id"][1] / "predictions.npz")["probs"]
    np.testing.assert_array_equal(pa, pb)


def test_digits_accuracy_falls_with_random_noise(tmp_path):
    # The default sweep's protocol at three of its levels (1 repeat, 180 test images).
    cfg = resolve(default_config(), levels="0,0.5,0.9")
    runs = pd.read_csv(run_sweep(plan_sweep(cfg, tmp_path / "d")).runs_csv).set_index("level")
    acc = runs["test_accuracy"]
    assert acc[0.0] >= 0.95
    # One repeat on 180 images: allow ~3 standard errors between neighbours, but demand a
    # clear overall fall from 0 to 0.9 (measured: 0.97 -> 0.56).
    assert acc[0.9] < acc[0.0] - 0.15
    assert acc[0.5] < acc[0.0] + 0.03 and acc[0.9] < acc[0.5] + 0.03
    assert runs.loc[0.9, "train_acc_true"] < runs.loc[0.0, "train_acc_true"]
    assert runs.loc[0.5, "test_f1_noisy"] < runs.loc[0.5, "test_f1"]


def test_concentrated_noise_from_model_features(tmp_path):
    cfg = resolve(default_config(), name="conc", noise="concentrated", levels="0.3",
                  subset=300, epochs=2, patience=1,
                  noise_options={"concentrated": {"features": "model"}})
    assert cfg.train == TrainOptions(model="seed-cnn", epochs=2, patience=1)
    result = run_sweep(plan_sweep(cfg, tmp_path / "c"))
    feats = np.load(tmp_path / "c" / "cache" / "features-digits-seed-cnn-s0-train.npy")
    assert feats.shape[0] == 1437 and feats.ndim == 2 and np.isfinite(feats).all()
    runs = pd.read_csv(result.runs_csv)
    assert runs["realized_noise_rate"].item() == pytest.approx(0.3, abs=0.05)
