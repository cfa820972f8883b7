"""`noisylab plot` through click: files written, notes printed, one-line errors with status 2."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from results_fixtures import assert_png, make_results_folder

from noisylab.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_plot_default_out_and_output(tmp_path):
    folder = make_results_folder(tmp_path / "r", finished=5, write_summary=False,
                                 levels=(0.0, 0.4, 0.8), noise=("random", "flip"))
    result = CliRunner().invoke(main, ["plot", str(folder), "--no-analytic"])
    assert result.exit_code == 0, result.output
    assert f"wrote {folder / 'plots' / 'accuracy_vs_noise.png'}" in result.output
    assert "note: sweep incomplete: 5 of 12 runs finished" in result.output
    assert_png(folder / "plots" / "memorization.png")
    assert (folder / "plots" / "report.html").is_file()


def test_plot_pdf_to_out(tmp_path):
    folder = make_results_folder(tmp_path / "r", noise=("random",), levels=(0.0, 0.5), repeats=1)
    out = tmp_path / "figs"
    result = CliRunner().invoke(main, ["plot", str(folder), "--format", "pdf", "--out", str(out),
                                       "--k", "1,5"])
    assert result.exit_code == 0, result.output
    pdfs = sorted(out.glob("*.pdf"))
    assert len(pdfs) == 7
    assert all(p.read_bytes()[:4] == b"%PDF" for p in pdfs)
    assert not (folder / "plots").exists()


def test_not_a_results_folder(tmp_path):
    result = CliRunner().invoke(main, ["plot", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"Error: {tmp_path} is not a results folder and holds none: no runs.csv or config.yaml "
        "in it or in any folder below it"]


def test_missing_folder_and_bad_k(tmp_path):
    result = CliRunner().invoke(main, ["plot", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "existing directory" in result.output
    folder = make_results_folder(tmp_path / "r", noise=("random",), levels=(0.0,), repeats=1)
    for bad in ("1,x", "0,5"):
        result = CliRunner().invoke(main, ["plot", str(folder), "--k", bad])
        assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, bad
        assert "--k" in result.output


def test_cli_import_stays_light():
    code = ("import sys, noisylab.cli; "
            "bad = [m for m in ('matplotlib', 'tensorflow', 'keras') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------------------------------
# a real results folder from the smoke sweep


@pytest.fixture(scope="session")
def smoke_results(tmp_path_factory) -> Path:
    config = ROOT / "configs" / "smoke.yaml"
    out = tmp_path_factory.mktemp("smoke") / "smoke"
    result = CliRunner().invoke(main, ["sweep", "--config", str(config), "--out", str(out)])
    if result.exit_code != 0:
        pytest.fail(f"smoke sweep failed:\n{result.output}\n{result.exception!r}")
    return out


@pytest.mark.slow
def test_real_smoke_folder_renders_every_figure(smoke_results, tmp_path):
    import numpy as np
    import pandas as pd

    from noisylab.plots import curves
    from noisylab.plots.load import load_results

    out = tmp_path / "plots"
    result = CliRunner().invoke(main, ["plot", str(smoke_results), "--out", str(out)])
    assert result.exit_code == 0, result.output
    stems = {p.stem for p in out.glob("*.png")}
    for figure in ("accuracy_vs_noise", "f1_true_vs_noisy", "memorization", "noise_matrix",
                   "training_curves", "softmax_histograms", "prediction_grid"):
        assert any(s.startswith(figure) for s in stems), (figure, stems)
    for path in out.glob("*.png"):
        assert_png(path)
    assert (out / "report.html").read_text().count("data:image/png;base64,") == len(stems)

    summary = pd.read_csv(smoke_results / "summary.csv")
    results = load_results(smoke_results)
    fig = curves.accuracy_vs_noise(results.summary)
    for (noise, model), part in summary.groupby(["noise", "model"]):
        part = part.sort_values("level")
        line = [ln for ax in fig.axes for ln in ax.lines
                if ln.get_gid() == f"mean:test_accuracy:{noise}:{model}"][0]
        np.testing.assert_allclose(line.get_ydata(), part["test_accuracy_mean"])
    shutil.rmtree(out)
