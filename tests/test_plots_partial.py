"""Partial or missing results never crash `noisylab plot`: it draws what exists, notes the rest."""

from __future__ import annotations

import numpy as np
import pytest
from results_fixtures import EXPECTED, assert_png, make_results_folder

from noisylab.plots import curves, style
from noisylab.plots.load import load_results
from noisylab.plots.render import render_results


def _note(notes, text):
    assert any(text in n for n in notes), notes


def test_sweep_still_running(tmp_path):
    folder = make_results_folder(tmp_path / "r", finished=7, write_summary=False)
    result = render_results(folder, analytic=False)
    _note(result.notes, "sweep incomplete: 7 of 20 runs finished")
    _note(result.notes, "summary.csv is missing")
    names = {p.stem for p in result.written}
    # only random noise has finished runs, but file names follow the grid of the config
    assert {"accuracy_vs_noise", "training_curves_random", "prediction_grid_random"} <= names
    assert "training_curves_symmetric" not in names
    for path in result.written:
        if path.suffix == ".png":
            assert_png(path)
    summary = load_results(folder).summary
    assert list(summary["n_runs"]) == [2, 2, 2, 1]
    assert "sweep incomplete" in (folder / "plots" / "report.html").read_text()


def test_stale_summary_is_rederived(tmp_path):
    folder = make_results_folder(tmp_path / "r")
    runs = (folder / "runs.csv").read_text().splitlines(keepends=True)
    (folder / "runs.csv").write_text("".join(runs[:-3]))  # summary.csv counts 3 more runs
    results = load_results(folder)
    _note(results.notes, "summary.csv does not match runs.csv")
    assert results.summary["n_runs"].sum() == len(runs) - 1 - 3


def test_single_repeat_has_no_band_and_a_note(tmp_path):
    folder = make_results_folder(tmp_path / "r", repeats=1, noise=("random",))
    results = load_results(folder)
    _note(results.notes, "digits · random · seed-cnn: a single repeat at every level")
    assert results.summary["test_accuracy_std"].isna().all()
    fig = curves.accuracy_vs_noise(results.summary, notes=results.notes)
    assert not [c for ax in fig.axes for c in ax.collections if str(c.get_gid()).startswith("band")]
    notes = [t.get_text() for sub in fig.subfigs for t in sub.texts if t.get_gid() == "note"]
    assert notes and "single repeat" in notes[0]
    line = [ln for ln in fig.axes[0].lines if ln.get_gid() == "mean:test_accuracy:random:seed-cnn"]
    np.testing.assert_allclose(line[0].get_ydata(), results.runs["test_accuracy"])


def test_one_level_with_one_repeat_among_several(tmp_path):
    folder = make_results_folder(tmp_path / "r", noise=("random",), finished=9)
    results = load_results(folder)
    _note(results.notes, "a single repeat at γ = 0.8")
    fig = curves.accuracy_vs_noise(results.summary)
    gid = "band:test_accuracy:random:seed-cnn"
    band = [c for c in fig.axes[0].collections if c.get_gid() == gid]
    # the band stops at the last level with two repeats
    assert band[0].get_paths()[0].vertices[:, 0].max() == pytest.approx(0.6)


def test_no_runs_yet(tmp_path):
    folder = make_results_folder(tmp_path / "r", finished=0, write_summary=False)
    assert (folder / "runs.csv").read_text().count("\n") == 1  # the header only
    result = render_results(folder)
    assert [p.name for p in result.written] == ["report.html"]
    _note(result.notes, "no finished runs yet")
    assert "No finished runs yet" in (folder / "plots" / "report.html").read_text()


def test_config_only(tmp_path):
    folder = make_results_folder(tmp_path / "r", finished=0, write_summary=False)
    (folder / "runs.csv").unlink()
    result = render_results(folder)
    _note(result.notes, "runs.csv is missing")


def test_runs_without_artifacts(tmp_path):
    folder = make_results_folder(tmp_path / "r", noise=("random",), run_files=False,
                                 levels=(0.0, 0.5))
    result = render_results(folder)
    names = {p.stem for p in result.written}
    assert names == {"accuracy_vs_noise", "f1_true_vs_noisy", "memorization", "report"}
    _note(result.notes, "no history.csv")
    _note(result.notes, "no predictions.npz")
    _note(result.notes, "analytic overlay skipped: the class count is unknown")


def test_missing_metric_column(tmp_path):
    import pandas as pd

    folder = make_results_folder(tmp_path / "r", noise=("random",), write_summary=False,
                                 levels=(0.0, 0.5), run_files=False)
    runs = pd.read_csv(folder / "runs.csv").drop(columns=["detection_auroc", "detection_ap"])
    runs.to_csv(folder / "runs.csv", index=False)
    result = render_results(folder, analytic=False)
    _note(result.notes, "no column detection_auroc")
    assert_png(folder / "plots" / "memorization.png")


@pytest.mark.parametrize("finished", [1, 3])
def test_tiny_partial_folders_render(tmp_path, finished):
    folder = make_results_folder(tmp_path / "r", noise=("flip",), levels=(0.0, 0.5),
                                 repeats=2, finished=finished, write_summary=False)
    result = render_results(folder)
    assert result.written[-1].name == "report.html"
    assert len(result.written) < len(EXPECTED) + 1


def test_one_note_for_single_repeats_across_many_series_and_a_legend_that_fits(tmp_path):
    """A sweep of many methods with one repeat each: one note (not one per series), and the
    accuracy figure grows to hold its legend instead of squeezing the axes."""
    import warnings

    methods = ("ce", "gce", "sce", "mae", "bootstrap-soft", "bootstrap-hard", "label-smoothing",
               "forward", "backward", "confidence-weighting", "elr", "nnaqc")
    folder = make_results_folder(tmp_path / "r", noise=("flip",), levels=(0.0, 0.4),
                                 repeats=1, methods=methods)
    results = load_results(folder)
    singles = [n for n in results.notes if "single repeat" in n]
    assert singles == ["a single repeat at every level of all 12 series, so no ±1 std bands."]
    fig = curves.accuracy_vs_noise(results.summary, dataset="digits")
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # constrained layout collapsing the axes warns
        style.figure_bytes(fig, "png")
    assert fig.get_figheight() > 4.0
    height = min(ax.get_position().height for ax in fig.axes)
    assert height > 0.2, height
