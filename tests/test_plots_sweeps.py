"""`noisylab plot DIR` on a folder of sweeps: finding them, the index page, bad input, skipping."""

from __future__ import annotations

import os
import re
import time

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from results_fixtures import make_results_folder

from noisylab.cli import main
from noisylab.errors import NoisylabError
from noisylab.plots import compare
from noisylab.plots.load import find_results_folders
from noisylab.plots.sweeps import render_sweeps


def tiny(path, **kw):
    """A small synthetic sweep without per-run files (3 summary figures, drawn in ~1 s)."""
    options = dict(noise=("random",), levels=(0.0, 0.5), repeats=2, run_files=False)
    options.update(kw)
    return make_results_folder(path, **options)


def plot(*args):
    return CliRunner().invoke(main, ["plot", *map(str, args), "--no-analytic"])


def one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


# -- finding results folders -----------------------------------------------------------------

def test_find_results_folders_at_any_depth_but_not_inside_one(tmp_path):
    tiny(tmp_path / "a")
    tiny(tmp_path / "deep" / "er" / "b")
    (tmp_path / "a" / "nested").mkdir()                 # inside a results folder: not searched
    (tmp_path / "a" / "nested" / "config.yaml").write_text("name: x\n")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "runs.csv").write_text("run_id\n")
    (tmp_path / "link").symlink_to(tmp_path / "a")      # links are not followed
    (tmp_path / "plain").mkdir()
    assert find_results_folders(tmp_path) == [tmp_path / "a", tmp_path / "deep" / "er" / "b"]
    assert find_results_folders(tmp_path / "plain") == []


# -- bad input: one line, exit status 2 ------------------------------------------------------

def test_a_file_an_empty_folder_and_only_other_folders_are_refused(tmp_path):
    a_file = tmp_path / "runs.txt"
    a_file.write_text("x")
    line = one_error_line(plot(a_file))
    assert line == f"Error: results folder must be an existing directory, got {str(a_file)!r}"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert one_error_line(plot(empty)) == (
        f"Error: {empty} is not a results folder and holds none: no runs.csv or config.yaml in "
        "it or in any folder below it")
    others = tmp_path / "others"
    (others / "a" / "b").mkdir(parents=True)
    (others / "c").mkdir()
    (others / "c" / "notes.txt").write_text("not a sweep")
    (others / "c" / "summary.csv").write_text("dataset\n")   # not enough to be one
    assert "others is not a results folder and holds none" in one_error_line(plot(others))
    assert not (others / "index.html").exists() and not (empty / "index.html").exists()


def test_out_is_refused_for_a_folder_of_sweeps(tmp_path):
    tiny(tmp_path / "r" / "a")
    line = one_error_line(plot(tmp_path / "r", "--out", tmp_path / "figs"))
    assert "--out needs one results folder" in line
    assert not (tmp_path / "figs").exists()


# -- good and broken sweeps together ---------------------------------------------------------

def test_one_good_and_broken_sweeps_are_listed_not_fatal(tmp_path):
    root = tmp_path / "results"
    tiny(root / "good")
    header_only = root / "header-only"
    header_only.mkdir(parents=True)
    (header_only / "runs.csv").write_text("run_id,config_hash,dataset,noise,level,repeat,model\n")
    garbage = root / "garbage"
    garbage.mkdir()
    (garbage / "runs.csv").write_text("a,b\n1,2\n")
    starting = root / "starting"
    starting.mkdir()
    (starting / "config.yaml").write_text("name: starting\nlevels: [0.0, 0.5]\n")

    result = plot(root)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "plotted: good (4 of 4 runs)" in lines
    assert "broken: header-only (0 of ? runs): runs.csv holds no finished run" in lines
    assert any(re.fullmatch(r"broken: garbage \(0 of \? runs\): .*runs\.csv lacks required "
                            r"columns.*", line) for line in lines), lines
    assert "empty: starting (0 of 2 runs): no run has finished yet" in lines
    page = (root / "index.html").read_text()
    assert page.count("<tr>") == 1 + 4
    assert 'class="status-broken">broken: runs.csv holds no finished run</td>' in page
    assert page.count('href="') == 1 and 'href="good/plots/report.html"' in page
    assert page.count("data:image/png;base64,") == 1      # digits, from the good sweep only
    assert not (header_only / "plots").exists()


def test_plots_newer_than_runs_are_left_alone_unless_forced(tmp_path):
    root = tmp_path / "results"
    tiny(root / "a")
    tiny(root / "b", noise=("flip",))
    assert plot(root).exit_code == 0
    report = {n: root / n / "plots" / "report.html" for n in "ab"}
    stamp = {n: p.stat().st_mtime_ns for n, p in report.items()}
    time.sleep(0.01)
    future = time.time() + 5                      # b's sweep finished another run
    os.utime(root / "b" / "runs.csv", (future, future))
    result = plot(root)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:2] == [
        "up to date: a (4 of 4 runs); its plots are newer than its runs.csv (--force redraws)",
        "plotted: b (4 of 4 runs)"]
    assert report["a"].stat().st_mtime_ns == stamp["a"]
    assert report["b"].stat().st_mtime_ns > stamp["b"]
    forced = plot(root, "--force")
    assert [line.split(":")[0] for line in forced.stdout.splitlines()[:2]] == ["plotted"] * 2
    assert report["a"].stat().st_mtime_ns > stamp["a"]


# -- the index table and the comparison ------------------------------------------------------

def test_index_table_facts(tmp_path):
    root = tmp_path / "results"
    tiny(root / "a", noise=("random", "flip"), levels=(0.0, 0.4, 0.8), models=("seed-cnn",))
    tiny(root / "sub" / "m", datasets=("mnist",), levels=(0.0, 0.5), repeats=1)
    rendered = render_sweeps(root, analytic=False)
    a, m = rendered.entries
    assert (a.name, a.status, a.datasets, a.noise, a.models, a.done, a.total) == (
        "a", "plotted", ("digits",), ("random", "flip"), ("seed-cnn",), 12, 12)
    assert a.methods is None and a.report == "a/plots/report.html"
    summary = pd.read_csv(root / "a" / "summary.csv")
    best = summary.loc[summary["test_accuracy_mean"].idxmax()]
    worst = summary.loc[summary["test_accuracy_mean"].idxmin()]
    assert a.best == (f"{best['test_accuracy_mean']:.3f} ({best['noise']}, "
                      f"γ = {best['level']:g})")
    assert a.worst == (f"{worst['test_accuracy_mean']:.3f} ({worst['noise']}, "
                       f"γ = {worst['level']:g})")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", a.modified)
    assert m.name == "sub/m" and m.datasets == ("mnist",)
    assert sorted(rendered.figures) == ["digits", "mnist"]
    page = rendered.index.read_text()
    assert "<th>methods</th>" not in page          # every sweep is plain ce


def test_method_column_is_shown_and_missing_means_ce(tmp_path):
    root = tmp_path / "results"
    tiny(root / "old")
    new = tiny(root / "new")
    runs = pd.read_csv(new / "runs.csv")
    runs["method"] = "gce"
    runs.to_csv(new / "runs.csv", index=False)
    old = pd.read_csv(root / "old" / "runs.csv")     # a folder written before methods existed
    old.drop(columns=["method"]).to_csv(root / "old" / "runs.csv", index=False)
    rendered = render_sweeps(root, analytic=False)
    by_name = {e.name: e for e in rendered.entries}
    assert by_name["new"].methods == ("gce",) and by_name["old"].methods is None
    page = rendered.index.read_text()
    assert "<th>methods</th>" in page
    assert re.search(r'>old</a></td><td[^>]*>plotted</td><td>digits</td><td>random</td>'
                     r"<td>ce</td>", page), page[:3000]


def test_comparison_lines_per_sweep_noise_and_method():
    def summary(noise, method, acc):
        frame = pd.DataFrame({"dataset": "digits", "noise": noise, "level": [0.0, 0.5],
                              "model": "seed-cnn", "n_runs": 2, "test_accuracy_mean": acc,
                              "test_accuracy_std": [0.01, 0.02]})
        return frame if method is None else frame.assign(method=method)

    with_methods = pd.concat([summary("random", "ce", [0.9, 0.8]),
                              summary("random", "gce", [0.92, 0.85])])
    fig = compare.across_sweeps({"a": summary("flip", None, [0.9, 0.6]), "b": with_methods},
                                dataset="digits")
    ax = fig.axes[0]
    lines = {ln.get_gid(): ln for ln in ax.lines if ln.get_gid()}
    assert set(lines) == {"compare:test_accuracy:a:flip:ce:seed-cnn",
                          "compare:test_accuracy:b:random:ce:seed-cnn",
                          "compare:test_accuracy:b:random:gce:seed-cnn"}
    np.testing.assert_allclose(lines["compare:test_accuracy:b:random:gce:seed-cnn"].get_ydata(),
                               [0.92, 0.85])
    labels = sorted(ln.get_label() for ln in lines.values())
    assert labels == ["a · flip · ce", "b · random · ce", "b · random · gce"]
    bands = [c for c in ax.collections if (c.get_gid() or "").startswith("compare-band:")]
    assert len(bands) == 3
    # colour = sweep
    assert lines["compare:test_accuracy:b:random:ce:seed-cnn"].get_color() == \
        lines["compare:test_accuracy:b:random:gce:seed-cnn"].get_color() != \
        lines["compare:test_accuracy:a:flip:ce:seed-cnn"].get_color()


def test_bad_options_fail_before_anything_is_drawn(tmp_path):
    tiny(tmp_path / "a")
    with pytest.raises(NoisylabError, match="format must be one of png, pdf, svg"):
        render_sweeps(tmp_path, fmt="gif")
    with pytest.raises(NoisylabError, match="K must be an integer >= 1"):
        render_sweeps(tmp_path, k_values=[0])
    assert not (tmp_path / "a" / "plots").exists()
