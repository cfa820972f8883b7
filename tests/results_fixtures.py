"""A synthetic results folder that follows the sweep's schema exactly, for the plot tests.

Rows use the package's own column list (`noisylab.results.RUN_COLUMNS`) and run ids
(`noisylab.sweep.grid.make_run_id`), so a schema change reaches these tests too.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import yaml

from noisylab.results import RUN_COLUMNS, summarize
from noisylab.sweep.grid import make_run_id

L = 10
N_TEST = 40
N_TRAIN = 120


def _run_files(run_dir: Path, rng: np.random.Generator, level: float, acc: float) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    epochs = 6
    e = np.arange(1, epochs + 1)
    pd.DataFrame({
        "epoch": e,
        "loss": 2.3 * np.exp(-e / 3) + level,
        "accuracy": 1 - level - 0.5 * np.exp(-e),
        "val_loss": 2.3 * np.exp(-e / 4) + level / 2,
        "val_accuracy": acc - 0.4 * np.exp(-e),
        "learning_rate": np.full(epochs, 1e-3),
    }).to_csv(run_dir / "history.csv", index=False)
    y_true = rng.integers(0, L, N_TEST).astype(np.int64)
    flip = rng.random(N_TEST) < level
    y_noisy = np.where(flip, rng.integers(0, L, N_TEST), y_true).astype(np.int64)
    logits = rng.normal(size=(N_TEST, L))
    logits[np.arange(N_TEST), y_true] += 4 * (1 - level)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    images = rng.integers(0, 256, size=(N_TEST, 8, 8, 1), dtype=np.uint8)
    np.savez(run_dir / "predictions.npz", probs=probs.astype(np.float32), y_true=y_true,
             y_noisy=y_noisy, test_index=np.arange(N_TEST, dtype=np.int64), images=images,
             class_names=np.array([str(i) for i in range(L)]))
    y_train = rng.integers(0, L, N_TRAIN)
    corrupted = rng.random(N_TRAIN) < level
    noisy = np.where(corrupted, (y_train + 1) % L, y_train).astype(np.int64)
    counts = np.zeros((L, L))
    np.add.at(counts, (y_train, noisy), 1)
    transition = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    np.savez(run_dir / "noise.npz", transition=transition, corrupted=noisy != y_train,
             noisy_labels=noisy)


def make_results_folder(path: Path, *, noise=("random", "symmetric"),
                        levels=(0.0, 0.2, 0.4, 0.6, 0.8), repeats=2, models=("seed-cnn",),
                        datasets=("digits",), finished: int | None = None,
                        write_summary: bool = True, run_files: bool = True,
                        seed: int = 0, methods=("ce",)) -> Path:
    """A results folder like `noisylab sweep` writes, with plausible made-up numbers.

    ``finished`` keeps only the first so many runs (a sweep still running); ``write_summary``
    False leaves summary.csv out.
    """
    rng = np.random.default_rng(seed)
    path.mkdir(parents=True, exist_ok=True)
    config = {"name": path.name, "seed": seed, "datasets": list(datasets), "noise": list(noise),
              "levels": list(levels), "repeats": repeats, "models": list(models),
              "methods": list(methods), "val": "clean",
              "train": {"model": models[0], "epochs": 6, "patience": 2}, "noise_options": {},
              "subset": None}
    (path / "config.yaml").write_text(yaml.safe_dump(config))
    (path / "metadata.json").write_text(json.dumps({"noisylab": "0.1.0", "git_commit": "abc",
                                                    "python": "3.11", "device": "cpu"}))
    rows = []
    for dataset in datasets:
        for kind in noise:
            for model, method in ((m, t) for m in models for t in methods):
                for level in levels:
                    for repeat in range(repeats):
                        run_id = make_run_id(dataset, kind, level, repeat, model, method)
                        base = 0.97 * (1 - level ** 3) if kind == "random" else 0.95 - 0.5 * level
                        base += 0.02 * methods.index(method)
                        acc = float(np.clip(base + rng.normal(0, 0.02), 0, 1))
                        rows.append({
                            "run_id": run_id, "config_hash": "h", "dataset": dataset,
                            "noise": kind, "level": level, "repeat": repeat, "model": model,
                            "method": method, "method_options": "{}", "oracle": False,
                            "transition_error": np.nan,
                            "val_policy": "clean", "seed_split": 1, "seed_noise": 2,
                            "seed_model": 3, "n_train": N_TRAIN, "n_val": 20, "n_test": N_TEST,
                            "realized_noise_rate": level * 0.9, "test_accuracy": acc,
                            "test_f1": acc - 0.01, "test_f1_macro": acc - 0.02,
                            "test_f1_noisy": acc * (1 - level), "train_acc_noisy": 0.99 - level / 3,
                            "train_acc_true": 1 - level * 0.8,
                            "detection_auroc": np.nan if level == 0 else 0.9 - level / 4,
                            "detection_ap": np.nan if level == 0 else 0.8 - level / 4,
                            "best_epoch": 4, "epochs": 6, "train_seconds": 1.5,
                            "images_per_second": 1000.0,
                        })
                        if run_files:
                            _run_files(path / "runs" / run_id, rng, level, acc)
    runs = pd.DataFrame(rows, columns=list(RUN_COLUMNS))
    if finished is not None:
        runs = runs.iloc[:finished]
    runs.to_csv(path / "runs.csv", index=False)
    if write_summary:
        summarize(runs).to_csv(path / "summary.csv", index=False)
    return path


EXPECTED = ("accuracy_vs_noise", "f1_true_vs_noisy", "memorization", "noise_matrix",
            "training_curves_random", "training_curves_symmetric", "softmax_histograms_random",
            "softmax_histograms_symmetric", "prediction_grid_random", "prediction_grid_symmetric")


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    assert len(data) > 5_000, (path, len(data))
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 300 and image.shape[1] > 300, image.shape
