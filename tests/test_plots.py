"""Figures from a synthetic results folder (`results_fixtures.make_results_folder`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from results_fixtures import EXPECTED, L, assert_png, make_results_folder

from noisylab.errors import NoisylabError
from noisylab.plots import curves, outputs, style
from noisylab.plots.load import METRICS, load_results, pick_levels, summarize
from noisylab.plots.render import render_results


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    return make_results_folder(tmp_path_factory.mktemp("results") / "synthetic")


@pytest.fixture(scope="module")
def rendered(synthetic, tmp_path_factory):
    out = tmp_path_factory.mktemp("plots")
    return out, render_results(synthetic, out=out, fmt="png", analytic=True, k_values=[1, 25])


def _line(fig: Figure, gid: str):
    found = [ln for ax in fig.axes for ln in ax.lines if ln.get_gid() == gid]
    assert len(found) == 1, (gid, [ln.get_gid() for ax in fig.axes for ln in ax.lines])
    return found[0]


# ---------------------------------------------------------------------------------------------
# loading


def test_load_reads_summary_and_agrees_with_runs(synthetic):
    results = load_results(synthetic)
    assert len(results.runs) == 2 * 5 * 2
    assert results.notes == []
    assert list(results.summary["n_runs"]) == [2] * 10
    derived = summarize(results.runs)
    np.testing.assert_allclose(results.summary["test_accuracy_mean"],
                               derived["test_accuracy_mean"])
    one = results.runs[(results.runs["noise"] == "random") & (results.runs["level"] == 0.4)]
    row = derived[(derived["noise"] == "random") & (derived["level"] == 0.4)].iloc[0]
    assert row["test_accuracy_std"] == pytest.approx(one["test_accuracy"].std(ddof=1))


def test_summarize_schema_and_single_run_std_is_nan(synthetic):
    runs = load_results(synthetic).runs
    single = summarize(runs[runs["repeat"] == 0])
    assert list(single.columns[:6]) == ["dataset", "noise", "level", "method", "model", "n_runs"]
    assert [c for c in single.columns[6:]] == [f"{m}_{s}" for m in METRICS
                                               for s in ("mean", "std")]
    assert single["test_accuracy_std"].isna().all()
    assert list(single["noise"]) == sorted(single["noise"])


def test_not_a_results_folder(tmp_path):
    with pytest.raises(NoisylabError, match="not a results folder"):
        load_results(tmp_path)
    with pytest.raises(NoisylabError, match="existing directory"):
        load_results(tmp_path / "nope")


def test_runs_csv_without_key_columns_is_an_error(tmp_path):
    (tmp_path / "runs.csv").write_text("a,b\n1,2\n")
    with pytest.raises(NoisylabError, match="lacks required columns run_id"):
        load_results(tmp_path)


def test_pick_levels_spreads_and_keeps_ends():
    assert pick_levels([0.0, 0.1, 0.2]) == [0.0, 0.1, 0.2]
    picked = pick_levels([i / 10 for i in range(10)])
    assert picked[0] == 0.0 and picked[-1] == 0.9 and len(picked) == 4


# ---------------------------------------------------------------------------------------------
# figures, data read back from the Axes


def test_accuracy_vs_noise_lines_equal_summary_means(synthetic):
    summary = load_results(synthetic).summary
    fig = curves.accuracy_vs_noise(summary, dataset="digits")
    for noise in ("random", "symmetric"):
        part = summary[summary["noise"] == noise].sort_values("level")
        for metric in ("test_accuracy", "test_f1"):
            line = _line(fig, f"mean:{metric}:{noise}:seed-cnn")
            np.testing.assert_allclose(line.get_xdata(), part["level"])
            np.testing.assert_allclose(line.get_ydata(), part[f"{metric}_mean"])
            assert line.get_marker() not in (None, "None", "")
    bands = [c for ax in fig.axes for c in ax.collections
             if str(c.get_gid()).startswith("band:test_accuracy:random")]
    assert len(bands) == 1
    top = summary[(summary["noise"] == "random")].sort_values("level")
    ys = bands[0].get_paths()[0].vertices[:, 1]
    expected_top = (top["test_accuracy_mean"] + top["test_accuracy_std"]).max()
    assert ys.max() == pytest.approx(expected_top)
    assert "digits" in fig._suptitle.get_text() and "random" in fig._suptitle.get_text()
    assert fig.legends and not any(ax.get_legend() for ax in fig.axes), "legend off the axes"


def test_analytic_overlay_uses_fit_k(synthetic):
    from noisylab import analytic

    summary = load_results(synthetic).summary
    overlay, notes = curves.analytic_curves(summary, num_classes=L, k_values=[1, 25])
    assert len(notes) == 2 and all(n.startswith("best-fit K for") for n in notes), notes
    part = summary[summary["noise"] == "random"].sort_values("level")
    best = analytic.fit_k(part["level"].to_numpy(), part["test_accuracy_mean"].to_numpy(),
                          kind="random", num_classes=L).k
    got = overlay[(overlay["noise"] == "random") & overlay["best"]]
    assert set(got["k"]) == {best}
    fig = curves.accuracy_vs_noise(summary, analytic=overlay, dataset="digits")
    line = _line(fig, f"analytic:random:seed-cnn:{best}")
    assert line.get_linestyle() == "--"
    x = np.asarray(line.get_xdata())
    np.testing.assert_allclose(line.get_ydata(),
                               analytic.expected_accuracy("random", x, best, L), rtol=1e-9)
    assert f"best-fit K for random · seed-cnn = {best} (RMSE" in notes[0]
    for k in (1, 25):
        line = _line(fig, f"analytic:random:seed-cnn:{k}")
        assert line.get_linewidth() == (1.3 if k == best else 1.0)
        assert line.get_linestyle() not in ("-", "None")


def test_f1_and_memorization_read_back(synthetic):
    summary = load_results(synthetic).summary
    part = summary[summary["noise"] == "symmetric"].sort_values("level")
    fig = curves.f1_true_vs_noisy(summary, dataset="digits")
    np.testing.assert_allclose(_line(fig, "mean:test_f1_noisy:symmetric:seed-cnn").get_ydata(),
                               part["test_f1_noisy_mean"])
    assert _line(fig, "mean:test_f1_noisy:symmetric:seed-cnn").get_linestyle() == "--"
    fig = curves.memorization(summary, dataset="digits")
    np.testing.assert_allclose(_line(fig, "mean:train_acc_true:symmetric:seed-cnn").get_ydata(),
                               part["train_acc_true_mean"])
    auroc = _line(fig, "mean:detection_auroc:symmetric:seed-cnn")
    # level 0 has no corrupted labels, so no AUROC: the point is left out, not drawn as 0
    np.testing.assert_allclose(auroc.get_xdata(), part["level"][part["level"] > 0])


def test_training_curves_read_back(synthetic):
    history = pd.read_csv(synthetic / "runs" / "digits-random-0.400-r0-seed-cnn" / "history.csv")
    fig = curves.training_curves({0.4: history, 0.0: history}, best_epochs={0.4: 4.0},
                                 dataset="digits", model="seed-cnn", noise="random")
    np.testing.assert_allclose(_line(fig, "val_loss:0.4").get_ydata(), history["val_loss"])
    np.testing.assert_allclose(_line(fig, "accuracy:0.4").get_xdata(), history["epoch"])
    assert len(fig.axes) == 4


def test_softmax_histograms_bars_are_class_means():
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(4), size=30)
    y_true = rng.integers(0, 4, 30)
    fig = outputs.softmax_histograms({0.2: {"probs": probs, "y_true": y_true}}, class_index=2)
    bars = [r for r in fig.axes[0].patches if r.get_gid() == "mean_softmax:0.2"]
    assert len(bars) == 4  # one bar per class
    np.testing.assert_allclose([r.get_height() for r in bars], probs[y_true == 2].mean(axis=0))
    colors = {tuple(np.round(r.get_facecolor(), 3)) for r in fig.axes[0].patches[:4]}
    assert len(colors) == 2  # the true class stands out


def test_noise_matrix_shows_the_matrix():
    matrix = np.full((3, 3), 0.1) + np.eye(3) * 0.7
    fig = outputs.noise_matrix({"flip, γ = 0.3": matrix}, class_names=["a", "b", "c"])
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), matrix)
    assert len(fig.axes) == 2  # the heatmap and its colour bar


def test_prediction_grid_colours_by_correctness():
    images = np.zeros((5, 8, 8, 1), np.uint8)
    y_true = np.array([0, 1, 2, 3, 4])
    y_pred = np.array([0, 1, 0, 3, 0])
    fig = outputs.prediction_grid(images, y_true, y_true, y_pred, ncols=5)
    titles = [ax.title for ax in fig.axes if ax.title.get_text()]
    wrong = [t.get_text() for t in titles if t.get_gid().endswith("wrong")]
    assert len(wrong) == 2 and all("✗" in w for w in wrong)
    assert {t.get_color() for t in titles} == {style.CORRECT, style.WRONG}


def test_figures_do_not_touch_pyplot(synthetic, tmp_path):
    # In a fresh process, so that no other test has imported pyplot first.
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from noisylab.plots import curves\n"
        "from noisylab.plots.load import load_results\n"
        "from noisylab.plots.render import render_results\n"
        f"summary = load_results({str(synthetic)!r}).summary\n"
        "curves.accuracy_vs_noise(summary)\n"
        f"render_results({str(synthetic)!r}, out={str(tmp_path)!r}, analytic=False)\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)


# ---------------------------------------------------------------------------------------------
# rendering a whole folder


def test_render_writes_every_figure_as_valid_png(rendered):
    out, result = rendered
    names = {p.name for p in result.written}
    assert names == {f"{n}.png" for n in EXPECTED} | {"report.html"}
    for name in EXPECTED:
        assert_png(out / f"{name}.png")
    assert not list(out.glob(".*.tmp")), "temporary files left behind"


def test_readme_lists_every_figure_render_writes(rendered):
    # The README's table of figures (| `name` | shows |) names each family render writes.
    import re

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("| file | shows |"):].split("\n\n")[0]
    documented = {m.rstrip("_*") for m in re.findall(r"^\| `([a-z0-9_*]+)` \|", table, re.M)}
    _, result = rendered
    written = {re.sub(r"_(random|symmetric)$", "", p.stem) for p in result.written
               if p.suffix == ".png"}
    assert written == documented


def test_report_is_self_contained(rendered):
    out, _ = rendered
    text = (out / "report.html").read_text()
    assert text.count('src="data:image/png;base64,') == len(EXPECTED)
    assert "<table" in text and "test_accuracy" in text
    assert 'src="http' not in text and "<link" not in text


@pytest.mark.parametrize("fmt,magic,files", [("pdf", b"%PDF", True), ("svg", b"<?xml", False)])
def test_render_other_formats(tmp_path, fmt, magic, files):
    folder = make_results_folder(tmp_path / "r", noise=("flip",), levels=(0.0, 0.5), repeats=1,
                                 run_files=files)
    result = render_results(folder, fmt=fmt, analytic=False)
    figures = [p for p in result.written if p.suffix == f".{fmt}"]
    assert len(figures) == (7 if files else 3)
    for path in figures:
        assert path.parent == folder / "plots"
        assert path.read_bytes()[:5].startswith(magic) and path.stat().st_size > 2_000


def test_levels_with_runs_at_chance_are_ringed(synthetic):
    summary = load_results(synthetic).summary.copy()
    summary["at_chance_mean"] = 0.0
    flagged = (summary["noise"] == "random") & np.isclose(summary["level"], summary["level"].max())
    summary.loc[flagged, "at_chance_mean"] = 1.0
    fig = curves.accuracy_vs_noise(summary, dataset="digits")
    ring = _line(fig, "atchance:test_accuracy:random:seed-cnn")
    top = summary[flagged]
    np.testing.assert_allclose(ring.get_xdata(), top["level"])
    np.testing.assert_allclose(ring.get_ydata(), top["test_accuracy_mean"])
    assert ring.get_markeredgecolor() == style.AT_CHANCE_COLOR
    n = int(top["n_runs"].iloc[0])
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert f"at chance {n}/{n}" in texts
    # no ring for a series with no run at chance
    assert not [ln for ax in fig.axes for ln in ax.lines
                if ln.get_gid() == "atchance:test_accuracy:symmetric:seed-cnn"]
