"""``report.html``: one self-contained page with the summary table, the notes and every figure.

Figures are embedded as base64 PNGs, so the page opens offline and can be mailed as one file.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from noisylab.axes import SUMMARY_KEYS, with_legacy
from noisylab.results import format_mean_std

PAGE_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto;
       max-width: 1200px; padding: 0 1rem; color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
table { border-collapse: collapse; font-size: 0.8rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.2rem 0.5rem; text-align: right; }
th { background: #f4f4f4; position: sticky; top: 0; }
td:nth-child(-n+KEYS), th:nth-child(-n+KEYS) { text-align: left; }
table.methods td:nth-child(-n+2), table.methods th:nth-child(-n+2) { text-align: left; }
td.best { font-weight: 700; background: #eaf5ea; }
.notes { background: #fff7e0; border-left: 4px solid #E69F00; padding: 0.5rem 1rem; }
.scroll { overflow-x: auto; max-height: 32rem; }
figure { margin: 1rem 0; } img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.85rem; color: #555; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.1rem 1rem; font-size: 0.85rem; }
dt { font-weight: 600; }
""".replace("KEYS", str(len(SUMMARY_KEYS)))   # the summary's key columns, left-aligned


@dataclass(frozen=True)
class ReportFigure:
    """One figure for the report: a file stem, a caption and its PNG bytes."""

    name: str
    caption: str
    png: bytes


def figure_html(fig: ReportFigure, *, caption: str | None = None) -> str:
    """A ``<figure>`` with the PNG embedded as base64, its alt text and caption escaped."""
    esc = html.escape
    data = base64.b64encode(fig.png).decode("ascii")
    return (f'<figure id="{esc(fig.name)}"><img alt="{esc(fig.caption)}" '
            f'src="data:image/png;base64,{data}"><figcaption>'
            f"{esc(fig.caption if caption is None else caption)}</figcaption></figure>")


def _summary_table(summary: pd.DataFrame) -> str:
    if summary.empty:
        return "<p>No finished runs yet.</p>"
    table = summary.copy()
    keep = [c for c in table.columns if not c.endswith("_std")]
    for column in [c for c in table.columns if c.endswith("_mean")]:
        std = table.get(column[: -len("_mean")] + "_std")
        stds = std if std is not None else [float("nan")] * len(table)
        table[column] = [format_mean_std(m, s) for m, s in zip(table[column], stds, strict=True)]
    table = table[keep].rename(columns=lambda c: c[: -len("_mean")] if c.endswith("_mean") else c)
    return table.to_html(index=False, border=0, float_format=lambda v: f"{v:g}", escape=True)


def method_table(summary: pd.DataFrame, metric: str = "test_accuracy") -> pd.DataFrame:
    """Method x (noise, level): ``metric`` mean and std per cell, and the best method per column.

    Parameters
    ----------
    summary : DataFrame
        Summary rows (`noisylab.results.summarize`).

    Returns
    -------
    DataFrame
        One row per (dataset, model, method, noise, level) with ``mean``, ``std`` and ``best``
        (True for the highest mean of its (dataset, model, noise, level) column; ties all
        marked).
    """
    frame = with_legacy(summary)
    rows = frame[["dataset", "model", "method", "noise", "level"]].copy()
    rows["mean"] = pd.to_numeric(frame.get(f"{metric}_mean"), errors="coerce")
    rows["std"] = pd.to_numeric(frame.get(f"{metric}_std"), errors="coerce")
    column = ["dataset", "model", "noise", "level"]
    top = rows.groupby(column)["mean"].transform("max")
    rows["best"] = rows["mean"].notna() & (rows["mean"] == top)
    return rows.reset_index(drop=True)


def _method_table_html(summary: pd.DataFrame) -> str:
    """The method x (noise, level) table of test accuracy, best per column in bold."""
    esc = html.escape
    table = method_table(summary)
    cols = list(dict.fromkeys(zip(table["noise"], table["level"], strict=True)))
    head = "".join(f"<th>{esc(str(n))} {lv:g}</th>" for n, lv in cols)
    out = ['<table class="methods"><thead><tr><th>dataset · model</th><th>method</th>'
           f"{head}</tr></thead><tbody>"]
    for (dataset, model, method), part in table.groupby(["dataset", "model", "method"],
                                                         sort=False):
        cells = []
        for noise, level in cols:
            hit = part[(part["noise"] == noise) & (part["level"] == level)]
            if hit.empty:
                cells.append("<td>–</td>")
                continue
            row = hit.iloc[0]
            mark = " class=\"best\"" if row["best"] else ""
            star = " ★" if row["best"] else ""
            cells.append(f"<td{mark}>{esc(format_mean_std(row['mean'], row['std']))}{star}</td>")
        out.append(f"<tr><td>{esc(f'{dataset} · {model}')}</td><td>{esc(str(method))}</td>"
                   + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def build_report(*, name: str, summary: pd.DataFrame, figures: Sequence[ReportFigure],
                 notes: Sequence[str] = (), metadata: Mapping | None = None,
                 config: Mapping | None = None) -> str:
    """The HTML text of a self-contained report.

    Parameters
    ----------
    name : str
        The results folder's name, used as the page title.
    summary : DataFrame
        The summary table (``M_mean``/``M_std`` columns are shown as "mean ± std").
    figures : sequence of ReportFigure
        Figures in page order.
    notes : sequence of str
        Notes about missing or partial results, shown at the top.
    metadata, config : mapping, optional
        ``metadata.json`` and a few config keys, shown as a definition list.
    """
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>noisylab report — {esc(name)}</title>",
        f"<style>{PAGE_CSS}</style></head><body>",
        f"<h1>noisylab report — {esc(name)}</h1>",
    ]
    facts: dict[str, object] = {}
    for key in ("name", "seed", "datasets", "noise", "levels", "repeats", "methods", "models",
                "val"):
        if config and key in config:
            value = config[key]
            facts[f"config {key}"] = (", ".join(map(str, value))
                                      if isinstance(value, (list, tuple)) else value)
    for key, value in (metadata or {}).items():
        if not isinstance(value, (dict, list)):
            facts[str(key)] = value
    if facts:
        parts.append("<dl>")
        parts.extend(f"<dt>{esc(k)}</dt><dd>{esc(str(v))}</dd>" for k, v in facts.items())
        parts.append("</dl>")
    if notes:
        parts.append('<div class="notes"><strong>Notes</strong><ul>')
        parts.extend(f"<li>{esc(n)}</li>" for n in notes)
        parts.append("</ul></div>")
    if not summary.empty and with_legacy(summary)["method"].nunique() > 1:
        parts.append("<h2>Test accuracy by method (mean ± std over repeats; ★ best per "
                     "column)</h2>")
        parts.append(f'<div class="scroll">{_method_table_html(summary)}</div>')
    parts.append("<h2>Summary (mean ± std over repeats)</h2>")
    parts.append(f'<div class="scroll">{_summary_table(summary)}</div>')
    if figures:
        parts.append("<h2>Figures</h2>")
    parts.extend(figure_html(fig, caption=f"{fig.name}: {fig.caption}") for fig in figures)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
