"""``index.html`` of a folder of sweeps: one self-contained page that lists and compares them.

`build_index` turns `SweepEntry` rows and comparison figures (`ReportFigure`s) into its HTML:
a table of every sweep with a link to its ``report.html``, then the figures, embedded as base64
PNGs so the page opens offline. It reads and writes nothing; `noisylab.plots.sweeps` does.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from noisylab.plots.report import PAGE_CSS, ReportFigure, figure_html

_INDEX_CSS = """
table.sweeps td, table.sweeps th { text-align: left; vertical-align: top; }
table.sweeps td.num { text-align: right; }
.status-broken, .status-empty { color: #D55E00; font-weight: 600; }
"""

#: The statuses a sweep can have on the page.
STATUSES = ("plotted", "up to date", "empty", "broken")


@dataclass(frozen=True)
class SweepEntry:
    """One sweep as the index lists it.

    Attributes
    ----------
    name : str
        Its folder relative to the indexed folder (``/``-separated).
    status : {'plotted', 'up to date', 'empty', 'broken'}
        ``plotted`` now; ``up to date``: its plots were newer than its runs.csv, so left alone;
        ``empty``: no finished run; ``broken``: unreadable (``reason`` says why).
    reason : str
        Why it is empty or broken ('' otherwise).
    datasets, noise, models : tuple of str
    methods : tuple of str or None
        None when its runs.csv has no ``method`` column.
    done : int
        Finished runs (rows of runs.csv).
    total : int or None
        Runs in its grid, when its config can be read.
    best, worst : str
        Highest and lowest mean test accuracy with where it was measured ('' when none).
    modified : str
        When its results last changed (local time, to the minute).
    report : str or None
        Link to its ``report.html``, relative to the page.
    """

    name: str
    status: str
    reason: str = ""
    datasets: tuple[str, ...] = ()
    noise: tuple[str, ...] = ()
    methods: tuple[str, ...] | None = None
    models: tuple[str, ...] = ()
    done: int = 0
    total: int | None = None
    best: str = ""
    worst: str = ""
    modified: str = ""
    report: str | None = None


def _cell(text: str, css: str = "") -> str:
    attr = f' class="{css}"' if css else ""
    return f"<td{attr}>{html.escape(text)}</td>"


def _row(entry: SweepEntry, *, methods: bool, default_method: str) -> str:
    name = html.escape(entry.name)
    if entry.report:
        name = f'<a href="{html.escape(quote(entry.report, safe="/+"))}">{name}</a>'
    status = entry.status + (f": {entry.reason}" if entry.reason else "")
    cells = [f"<td>{name}</td>",
             _cell(status, f"status-{entry.status.replace(' ', '-')}"),
             _cell(", ".join(entry.datasets)), _cell(", ".join(entry.noise))]
    if methods:
        cells.append(_cell(", ".join(entry.methods) if entry.methods is not None
                           else default_method))
    total = "?" if entry.total is None else str(entry.total)
    cells += [_cell(", ".join(entry.models)), _cell(f"{entry.done} / {total}", "num"),
              _cell(entry.best), _cell(entry.worst), _cell(entry.modified)]
    return "<tr>" + "".join(cells) + "</tr>"


def build_index(entries: Sequence[SweepEntry], figures: Sequence[ReportFigure], *,
                title: str, default_method: str = "ce") -> str:
    """The HTML text of the index page.

    Parameters
    ----------
    entries : sequence of SweepEntry
        The sweeps, in table order.
    figures : sequence of ReportFigure
        Comparison figures (anchor, caption, PNG bytes), in page order.
    title : str
        The indexed folder, as the page title.
    default_method : str
        Shown for a sweep without a ``method`` column when another sweep has one (the methods
        column appears only then).
    """
    esc = html.escape
    methods = any(e.methods is not None for e in entries)
    heads = ["sweep", "status", "datasets", "noise"] + (["methods"] if methods else []) + [
        "models", "runs done / total", "best test accuracy", "worst test accuracy",
        "last modified"]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>noisylab sweeps — {esc(title)}</title>",
        f"<style>{PAGE_CSS}{_INDEX_CSS}</style></head><body>",
        f"<h1>noisylab sweeps — {esc(title)}</h1>",
        f"<p>{len(entries)} results folder{'s' if len(entries) != 1 else ''}; a name links to "
        "its report. Best and worst: mean test accuracy over repeats.</p>",
        '<div class="scroll"><table class="sweeps"><thead><tr>'
        + "".join(f"<th>{esc(h)}</th>" for h in heads) + "</tr></thead><tbody>",
    ]
    parts.extend(_row(e, methods=methods, default_method=default_method) for e in entries)
    parts.append("</tbody></table></div>")
    if figures:
        parts.append("<h2>Sweeps compared, by dataset</h2>")
    parts.extend(figure_html(fig) for fig in figures)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
