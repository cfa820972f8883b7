"""The K-NN model's overlay in `noisylab plot`: the general form from level-0 runs, or not."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from results_fixtures import L, make_results_folder

from noisylab import analytic
from noisylab.cli import main
from noisylab.errors import NoisylabError
from noisylab.plots import curves
from noisylab.plots.load import clean_runs, load_results, read_npz, realized_matrices
from noisylab.plots.overlay import CleanRuns, model_kind, overlay_curves
from noisylab.plots.render import render_results


def _pooled(results, run_ids):
    arrays = [read_npz(results, rid, "predictions") for rid in run_ids]
    return (np.concatenate([a["probs"] for a in arrays]),
            np.concatenate([a["y_true"] for a in arrays]))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_results_folder(tmp_path_factory.mktemp("overlay") / "r",
                               noise=("random", "symmetric"), levels=(0.0, 0.3, 0.6, 0.9))


def test_general_overlay_equals_expected_accuracy_on_the_level0_softmax(folder):
    results = load_results(folder)
    clean = clean_runs(results, "digits")
    runs = clean[("random", "seed-cnn")]
    # two repeats at level 0, each with its predictions.npz: both are pooled
    assert runs.run_ids == ("digits-random-0.000-r0-seed-cnn", "digits-random-0.000-r1-seed-cnn")
    probs, labels = _pooled(results, runs.run_ids)
    overlay, notes = curves.analytic_curves(results.summary, num_classes=L, k_values=[3],
                                            clean=clean)
    part = results.summary[results.summary["noise"] == "random"].sort_values("level")
    fit = analytic.fit_k(part["level"].to_numpy(), part["test_accuracy_mean"].to_numpy(),
                         kind="random", num_classes=L, clean_probs=probs, true_labels=labels)
    got = overlay[overlay["noise"] == "random"]
    assert set(got.loc[got["best"], "k"]) == {fit.k}
    assert set(got["form"]) == {"general"}
    for k in (fit.k, 3):
        curve = got[got["k"] == k].sort_values("level")
        assert len(curve) == 21                               # the general form's grid
        want = analytic.expected_accuracy("random", curve["level"].to_numpy(), k, L,
                                          clean_probs=probs, true_labels=labels)
        np.testing.assert_allclose(curve["accuracy"], want, rtol=1e-12, atol=1e-15)
    note = next(n for n in notes if n.startswith("best-fit K for random"))
    assert f"= {fit.k} (RMSE {fit.rmse:.3f})" in note
    assert "general form (eq. 2)" in note and "2 level-0 runs" in note
    assert "Q averaged over their 80 test samples" in note
    assert "digits-random-0.000-r0-seed-cnn, digits-random-0.000-r1-seed-cnn" in note


def test_general_and_learnable_best_k_differ_when_the_net_is_not_perfect(folder):
    results = load_results(folder)
    general, _ = curves.analytic_curves(results.summary, num_classes=L,
                                        clean=clean_runs(results, "digits"))
    learnable, notes = curves.analytic_curves(results.summary, num_classes=L, form="learnable",
                                              clean=clean_runs(results, "digits"))
    assert set(learnable["form"]) == {"learnable"}
    assert all("perfectly learnable form (eq. 7-9): as asked (--analytic learnable)" in n
               for n in notes)
    a = general[general["best"] & (general["noise"] == "random")]
    b = learnable[learnable["best"] & (learnable["noise"] == "random")]
    # the synthetic softmaxes are not all right: the general curve starts below 1
    assert a.sort_values("level")["accuracy"].iloc[0] < 0.99
    assert b.sort_values("level")["accuracy"].iloc[0] == 1.0


def test_folder_without_a_level0_run_falls_back_with_a_note(tmp_path):
    folder = make_results_folder(tmp_path / "r", noise=("random",), levels=(0.2, 0.5, 0.8))
    result = render_results(folder, out=tmp_path / "plots", k_values=[])
    note = next(n for n in result.notes if "best-fit K" in n)
    assert ("K-NN model in the perfectly learnable form (eq. 7-9): no level-0 run of "
            "seed-cnn with predictions.npz to take C(s) from.") in note
    results = load_results(folder)
    assert clean_runs(results, "digits") == {}
    overlay, _ = curves.analytic_curves(results.summary, num_classes=L, clean={})
    best = overlay[overlay["best"]].sort_values("level")
    np.testing.assert_allclose(best["accuracy"], analytic.expected_accuracy(
        "random", best["level"].to_numpy(), int(best["k"].iloc[0]), L), rtol=1e-12)


def test_level0_of_another_kind_serves_when_a_kind_has_none(tmp_path):
    folder = make_results_folder(tmp_path / "r", noise=("random", "symmetric"),
                                 levels=(0.0, 0.4, 0.8), repeats=1)
    results = load_results(folder)
    runs = results.runs
    keep = ~((runs["noise"] == "symmetric") & (runs["level"] == 0.0))
    runs[keep].to_csv(folder / "runs.csv", index=False)
    (folder / "summary.csv").unlink()
    clean = clean_runs(load_results(folder), "digits")
    assert clean[("symmetric", "seed-cnn")].run_ids == ("digits-random-0.000-r0-seed-cnn",)


def test_the_figure_says_which_form_and_from_which_run(folder, tmp_path):
    from noisylab.plots.load import load_results as load

    results = load(folder)
    overlay, notes = curves.analytic_curves(results.summary, num_classes=L,
                                            clean=clean_runs(results, "digits"))
    fig = curves.accuracy_vs_noise(results.summary, analytic=overlay, dataset="digits",
                                   notes=notes)
    from matplotlib.text import Text

    # notes are wrapped (also at hyphens): compare without white space
    texts = "".join("".join(t.get_text().split()) for t in fig.findobj(Text))
    assert "generalform(eq.2)" in texts and "digits-random-0.000-r0-seed-cnn" in texts
    labels = [ln.get_label() for ax in fig.axes for ln in ax.lines
              if str(ln.get_gid()).startswith("analytic:")]
    assert labels and all(label.startswith("K-NN model (general), ") for label in labels)
    rendered = render_results(folder, out=tmp_path / "p", k_values=[])
    assert any("general form (eq. 2)" in n for n in rendered.notes)


def test_realized_matrix_kinds_use_each_levels_noise_npz(tmp_path):
    folder = make_results_folder(tmp_path / "r", noise=("confusion",), levels=(0.0, 0.3, 0.6),
                                 repeats=1)
    results = load_results(folder)
    matrices = realized_matrices(results, "digits")[("confusion", "seed-cnn")]
    assert sorted(matrices) == [0.0, 0.3, 0.6]
    clean = clean_runs(results, "digits")
    probs, labels = _pooled(results, clean[("confusion", "seed-cnn")].run_ids)
    overlay, notes = curves.analytic_curves(results.summary, num_classes=L, k_values=[5],
                                            clean=clean, matrices={("confusion", "seed-cnn"):
                                                                   matrices})
    assert "with the realized noise matrix of each level" in notes[0]
    curve = overlay[overlay["k"] == 5].sort_values("level")
    assert list(curve["level"]) == [0.0, 0.3, 0.6]            # measured levels only
    for level, value in zip(curve["level"], curve["accuracy"], strict=True):
        want = analytic.expected_accuracy("confusion", 1.0, 5, L, matrix=matrices[level],
                                          clean_probs=probs, true_labels=labels)
        assert value == pytest.approx(want, rel=1e-12)
    missing, notes = curves.analytic_curves(results.summary, num_classes=L, clean=clean)
    assert missing.empty and "no noise.npz (realized matrix) at γ = 0, 0.3, 0.6" in notes[0]


def test_model_kinds():
    assert model_kind("random") == model_kind("concentrated") == "nominal"
    assert model_kind("flip") == "nominal"
    assert model_kind("flip", {"flip": {"mapping": "0:1"}}) == "realized"
    assert model_kind("confusion") == model_kind("asymmetric") == "realized"
    assert model_kind("file") is None
    with pytest.raises(NoisylabError, match="analytic form must be one of auto, learnable"):
        overlay_curves(load_results_stub(), num_classes=L, form="general")


def load_results_stub():
    import pandas as pd

    return pd.DataFrame(columns=["noise", "model", "level", "test_accuracy_mean"])


def test_clean_runs_pool_their_samples():
    runs = CleanRuns(("a", "b"), (np.eye(3)[:2], np.eye(3)[1:]), (np.array([0, 1]),
                                                                  np.array([1, 2])))
    probs, labels = runs.pooled()
    assert probs.shape == (4, 3) and list(labels) == [0, 1, 1, 2]
    assert runs.describe() == ("the clean softmaxes of the 2 level-0 runs a, b (Q averaged "
                               "over their 4 test samples)")


def test_cli_analytic_choice(tmp_path):
    folder = make_results_folder(tmp_path / "r", noise=("random",), levels=(0.0, 0.5),
                                 repeats=1)
    result = CliRunner().invoke(main, ["plot", str(folder), "--analytic", "learnable"])
    assert result.exit_code == 0, result.output
    assert "perfectly learnable form (eq. 7-9): as asked (--analytic learnable)" in result.output
    result = CliRunner().invoke(main, ["plot", str(folder)])
    assert result.exit_code == 0, result.output
    assert "general form (eq. 2) from the clean softmax of run digits-random-0.000-r0-seed-cnn" \
        in result.output
    result = CliRunner().invoke(main, ["plot", str(folder), "--analytic", "both"])
    assert result.exit_code == 2 and "'both' is not one of 'auto', 'learnable'" in result.output
    result = CliRunner().invoke(main, ["plot", str(folder), "--no-analytic"])
    assert result.exit_code == 0 and "best-fit K" not in result.output


def test_the_overlay_takes_c_of_s_from_the_method_it_is_fitted_to(tmp_path):
    """With several methods, C(s) comes from the level-0 runs of the fitted method (``ce``) only,
    not from every method's clean run pooled."""
    folder = make_results_folder(tmp_path / "r", noise=("random",), levels=(0.0, 0.5),
                                 repeats=1, methods=("ce", "gce", "sce"))
    results = load_results(folder)
    every = clean_runs(results, "digits")[("random", "seed-cnn")]
    assert len(every.run_ids) == 3
    only = clean_runs(results, "digits", "ce")[("random", "seed-cnn")]
    assert only.run_ids == ("digits-random-0.000-r0-seed-cnn",)
    rendered = render_results(folder)
    assert any("run digits-random-0.000-r0-seed-cnn (" in n for n in rendered.notes), \
        rendered.notes
