"""results/index.html and the reports it links, opened in a real headless Chromium.

Skips when no Chromium is installed (``apt-get install -y chromium``; see tests/browser.py).
"""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from browser import Chromium, find_chromium
from results_fixtures import make_results_folder

from noisylab.plots.sweeps import render_sweeps

pytestmark = pytest.mark.slow   # starts a browser and draws two sweeps' figures (~15 s)


@pytest.fixture(scope="module")
def chromium():
    executable = find_chromium()
    if executable is None:
        pytest.skip("no Chromium browser installed (apt-get install -y chromium, or set "
                    "NOISYLAB_CHROMIUM to its path)")
    with Chromium(executable) as browser:
        yield browser


def test_index_and_reports_render_without_errors(tmp_path, chromium):
    root = tmp_path / "results"
    make_results_folder(root / "default", noise=("random",), levels=(0.0, 0.4, 0.8))
    make_results_folder(root / "digits-flip+symmetric", noise=("flip", "symmetric"),
                        levels=(0.0, 0.5), repeats=1)
    make_results_folder(root / "mnist-random", datasets=("mnist",), noise=("random",),
                        levels=(0.0, 0.5), run_files=False)
    broken = root / "broken"
    broken.mkdir()
    (broken / "runs.csv").write_text("run_id,dataset,noise,level,repeat,model\n")
    render_sweeps(root)

    page = chromium.check(root / "index.html")
    assert page.problems() == []
    assert len(page.images) == 2                      # digits and mnist comparisons
    assert all(i["width"] > 300 and i["height"] > 200 for i in page.images), page.images
    assert sorted(unquote(link) for link in page.links) == sorted(
        unquote((root / n / "plots" / "report.html").as_uri())
        for n in ("default", "digits-flip+symmetric", "mnist-random"))
    for link in page.links:                          # each link opens a report that renders
        report = chromium.check(link)
        assert report.problems() == [], link
        assert len(report.images) >= 3, link


def test_the_checker_sees_what_goes_wrong(tmp_path, chromium):
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><body><img src="missing.png" alt="gone">'
                   '<img src="data:image/png;base64,AAAA" alt="corrupt">'
                   '<script>console.error("boom"); notDefined();</script></body></html>')
    page = chromium.check(bad)
    problems = "\n".join(page.problems())
    assert "console error: boom" in problems
    assert "notDefined is not defined" in problems
    assert "image did not load: 'gone'" in problems and "image did not load: 'corrupt'" in problems
    assert "ERR_FILE_NOT_FOUND" in problems
