"""The mission's commands as a new user types them, through the real CLI (fake trainer):

    noisylab sweep
    noisylab sweep --noise flip --levels 0,0.5
    noisylab sweep --dataset mnist --noise random      (a tiny made-up data/mnist.h5)
    noisylab plot results/

Each sweep lands in its own folder named after what it runs, a rerun resumes it, and the plot
command draws every sweep and writes results/index.html comparing them.
"""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sweep_fakes import FAKE_MODELS, fake_train

from noisylab.cli import main
from noisylab.config import load_config
from noisylab.data.dataset import Dataset
from noisylab.data.hdf5 import save_dataset
from noisylab.sweep.naming import folder_name

SWEEPS = {
    "default": ([], 10),
    "digits-flip-levels0+0.5": (["--noise", "flip", "--levels", "0,0.5"], 2),
    "mnist-random": (["--dataset", "mnist", "--noise", "random"], 10),
}
VOID = {"meta", "img", "br", "hr", "link", "input", "source", "col", "area", "base", "wbr"}


@pytest.fixture
def fake_cli(monkeypatch, tmp_path):
    """The real CLI with the fake trainer, run in an empty folder holding data/mnist.h5."""
    import noisylab.sweep.plan as plan
    import noisylab.sweep.runner as runner

    monkeypatch.setattr(runner, "_default_trainer", lambda: fake_train)
    monkeypatch.setattr(plan, "_model_names", lambda: FAKE_MODELS)
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)

    def split(n):   # a class-dependent blob on noise, so accuracy falls with label noise
        y = np.arange(n) % 10
        x = rng.integers(0, 60, size=(n, 12, 12, 1)).astype(np.uint8)
        for c in range(10):
            x[y == c, c: c + 3, 2:10, 0] += 150
        return x, y.astype(np.int64)

    (x_train, y_train), (x_test, y_test) = split(400), split(200)
    save_dataset(Dataset(x_train, y_train, x_test, y_test, tuple(str(i) for i in range(10)),
                         "mnist", {"kind": "given"}), tmp_path / "data" / "mnist.h5")

    def run(*args):
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    return run


class _Checker(HTMLParser):
    """Fails on an end tag that closes nothing open, and records what the page refers to."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.srcs, self.hrefs, self.ids, self.tags = [], [], [], [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "img":
            self.srcs.append(attrs.get("src", ""))
            if not attrs.get("alt"):
                self.errors.append("img without alt")
        if tag == "a":
            self.hrefs.append(attrs.get("href", ""))
        for key in ("src", "href"):
            if tag not in ("img", "a") and key in attrs:
                self.srcs.append(attrs[key])     # stylesheets, scripts: must not exist
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def check_page(path: Path) -> _Checker:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    checker = _Checker()
    checker.feed(text)
    checker.close()
    assert not checker.errors and not checker.stack, (checker.errors, checker.stack)
    for tag in ("html", "head", "body", "title"):
        assert checker.tags.count(tag) == 1, tag
    assert len(set(checker.ids)) == len(checker.ids)
    # self-contained: every image is embedded, nothing else is loaded
    assert all(s.startswith("data:image/png;base64,") for s in checker.srcs), checker.srcs[:3]
    assert "http://" not in text and "https://" not in text
    return checker


def _rows(runs_csv: Path) -> int:
    return len(pd.read_csv(runs_csv))


@pytest.mark.slow   # ~20 s of CPU, most of it drawing 3 x 8 figures; no Keras
def test_three_sweeps_their_own_folders_resume_and_plot(fake_cli, tmp_path):
    results = tmp_path / "results"
    for name, (args, n) in SWEEPS.items():
        result = fake_cli("sweep", *args)
        assert result.exit_code == 0, result.output
        assert f"results folder: results/{name}\n" in result.stderr
        assert f"{n} runs done, 0 kept" in result.stdout
        assert f"runs: results/{name}/runs.csv" in result.stdout
        assert _rows(results / name / "runs.csv") == n
    assert sorted(p.name for p in results.iterdir()) == sorted(SWEEPS)
    # a folder's config.yaml names that folder again
    for name in SWEEPS:
        assert folder_name(load_config(results / name / "config.yaml")) == name
    assert set(pd.read_csv(results / "mnist-random" / "runs.csv")["dataset"]) == {"mnist"}

    before = {name: (results / name / "runs.csv").read_bytes() for name in SWEEPS}
    for name, (args, n) in SWEEPS.items():
        again = fake_cli("sweep", *args)
        assert again.exit_code == 0, again.output
        assert f"results folder: results/{name}\n" in again.stderr
        assert f"0 runs done, {n} kept" in again.stdout
        assert (results / name / "runs.csv").read_bytes() == before[name]
    assert sorted(p.name for p in results.iterdir()) == sorted(SWEEPS)

    # -- noisylab plot results/ ---------------------------------------------------------------
    result = fake_cli("plot", "results/")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    for name, (_, n) in SWEEPS.items():
        assert f"plotted: {name} ({n} of {n} runs)" in lines
        assert (results / name / "plots" / "report.html").is_file()
        assert (results / name / "plots" / "accuracy_vs_noise.png").is_file()
    assert lines[-1] == ("wrote results/index.html (3 sweeps, 2 comparison figures); "
                         "open it in a browser")
    page = check_page(results / "index.html")
    assert sorted(page.hrefs) == sorted(f"{n}/plots/report.html" for n in SWEEPS)
    for href in page.hrefs:
        assert (results / href).is_file()
        check_page(results / href)
    assert len(page.srcs) == 2          # one comparison figure per dataset: digits, mnist

    # again: every sweep's plots are newer than its runs.csv, so none is redrawn
    stamp = {n: (results / n / "plots" / "report.html").stat().st_mtime_ns for n in SWEEPS}
    again = fake_cli("plot", "results/")
    assert again.exit_code == 0, again.output
    assert sum("up to date: " in line for line in again.stdout.splitlines()) == 3
    assert stamp == {n: (results / n / "plots" / "report.html").stat().st_mtime_ns
                     for n in SWEEPS}

    # the plotted data are the sweeps' summary.csv means, and they are what the page embeds
    from noisylab.plots import style
    from noisylab.plots.sweeps import render_sweeps

    page_text = (results / "index.html").read_text()
    rendered = render_sweeps(results)
    assert (results / "index.html").read_text() == page_text    # the CLI wrote exactly this
    assert sorted(rendered.figures) == ["digits", "mnist"]
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', page_text)
    for fig, data in zip(rendered.figures.values(), embedded, strict=True):
        assert base64.b64decode(data) == style.figure_bytes(fig, "png")
    expected_lines = {"digits": {("default", "random"), ("digits-flip-levels0+0.5", "flip")},
                      "mnist": {("mnist-random", "random")}}
    for dataset, fig in rendered.figures.items():
        lines = {ln.get_gid(): ln for ax in fig.axes for ln in ax.lines
                 if (ln.get_gid() or "").startswith("compare:")}
        assert {tuple(g.split(":")[2:4]) for g in lines} == expected_lines[dataset]
        for sweep, noise in expected_lines[dataset]:
            summary = pd.read_csv(results / sweep / "summary.csv").sort_values("level")
            line = lines[f"compare:test_accuracy:{sweep}:{noise}:ce:seed-cnn"]
            np.testing.assert_array_equal(line.get_xdata(), summary["level"])
            np.testing.assert_allclose(line.get_ydata(), summary["test_accuracy_mean"],
                                       rtol=0, atol=1e-12)
    # with the fake trainer accuracy really falls with the noise (so the lines are not flat)
    default = pd.read_csv(results / "default" / "summary.csv")
    assert default["test_accuracy_mean"].iloc[0] > default["test_accuracy_mean"].iloc[-1] + 0.2


def test_a_name_taken_by_another_config_gets_the_hash_and_resumes(fake_cli, tmp_path):
    first = fake_cli("sweep", "--name", "study", "--levels", "0,0.5")
    assert first.exit_code == 0 and "results folder: results/study\n" in first.stderr
    second = fake_cli("sweep", "--name", "study", "--levels", "0,0.5", "--seed", "1")
    assert second.exit_code == 0, second.output
    match = re.search(r"results folder: (results/study-[0-9a-f]{6}) "
                      r"\(results/study holds another config\)", second.stderr)
    assert match, second.stderr
    folder = tmp_path / match.group(1)
    assert "2 runs done, 0 kept" in second.stdout and _rows(folder / "runs.csv") == 2
    again = fake_cli("sweep", "--name", "study", "--levels", "0,0.5", "--seed", "1")
    assert f"results folder: {match.group(1)} " in again.stderr
    assert "0 runs done, 2 kept" in again.stdout
    # --out keeps its exact meaning: a folder of another config is still refused
    refused = fake_cli("sweep", "--levels", "0,0.5", "--out", "results/study", "--seed", "2")
    assert refused.exit_code == 2
    assert refused.output.strip().splitlines() == [
        refused.output.strip()] and "holds a different config" in refused.output
