"""The look shared by every figure: palette, sizes, titles, notes, and saving without pyplot.

Every figure is a plain `matplotlib.figure.Figure` with constrained layout; nothing here touches
pyplot's global state, so figures can be built in threads, tests and servers alike.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Iterable

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from noisylab.validate import check_choice

# Okabe & Ito (2008), "Color Universal Design": distinguishable under the common colour-vision
# deficiencies. Black is kept last so that it stays free for reference lines.
OKABE_ITO = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)
CORRECT = "#009E73"  # bluish green
WRONG = "#D55E00"  # vermillion
REFERENCE = "#7F7F7F"  # grey for chance levels and ideal lines
AT_CHANCE_COLOR = "#CC0000"  # red rings around levels where runs never beat chance
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
DPI = 150
FORMATS = ("png", "pdf", "svg")

_RC = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
}


def color(i: int) -> str:
    """The `i`-th palette colour, cycling (yellow is skipped: it is faint on white)."""
    usable = [c for c in OKABE_ITO if c != "#F0E442"]
    return usable[i % len(usable)]


def marker(i: int) -> str:
    """The `i`-th marker, cycling."""
    return MARKERS[i % len(MARKERS)]


def new_figure(width: float, height: float) -> Figure:
    """An empty figure of ``width`` × ``height`` inches, 150 dpi, constrained layout, Agg canvas."""
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def apply_style(ax) -> None:
    """Apply the house style to one Axes (grid, spines, font sizes)."""
    ax.grid(True, alpha=_RC["grid.alpha"])
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    ax.tick_params(labelsize=_RC["xtick.labelsize"])
    ax.title.set_fontsize(_RC["axes.titlesize"])
    ax.xaxis.label.set_fontsize(_RC["axes.labelsize"])
    ax.yaxis.label.set_fontsize(_RC["axes.labelsize"])


def wrap_notes(notes: Iterable[str], width: int = 110) -> list[str]:
    """Notes wrapped into display lines, each prefixed with ``Note:`` once."""
    lines: list[str] = []
    for note in notes:
        lines.extend(textwrap.wrap(f"Note: {note}", width=width) or [""])
    return lines


def figure_with_notes(width: float, height: float, notes: Iterable[str]):
    """A new figure with ``notes`` written at its bottom, below everything else.

    Parameters
    ----------
    width, height : float
        Size in inches of the part that holds the axes; notes add to the height.
    notes : iterable of str
        Notes (wrapped to the width); none gives a plain figure.

    Returns
    -------
    fig : Figure
        The whole figure, to save and to give the suptitle.
    panel : Figure or SubFigure
        Where to draw axes, legends and colour bars (the figure itself when there are no notes).
    """
    lines = wrap_notes(notes, width=int(width * 16))
    if not lines:
        fig = new_figure(width, height)
        return fig, fig
    extra = 0.15 * len(lines) + 0.12
    fig = new_figure(width, height + extra)
    # a sub-figure keeps the notes clear of legends placed "outside" the axes
    panel, bottom = fig.subfigures(2, 1, height_ratios=[height, extra])
    bottom.text(0.01, 0.5, "\n".join(lines), ha="left", va="center", fontsize=7.5,
                style="italic", color="#444444", gid="note")
    return fig, panel


def title(what: str, *, dataset: str | None = None, model: Iterable[str] | str | None = None,
          noise: Iterable[str] | str | None = None) -> str:
    """A figure title naming what is shown and the dataset, model(s) and noise kind(s)."""

    def join(value) -> str:
        if value is None:
            return ""
        if isinstance(value, str):
            return value
        return ", ".join(dict.fromkeys(str(v) for v in value))

    parts = [p for p in (join(dataset), join(model)) if p]
    noise_text = join(noise)
    if noise_text:
        parts.append(f"{noise_text} noise")
    return f"{what} — {' · '.join(parts)}" if parts else what


def figure_bytes(fig: Figure, fmt: str = "png") -> bytes:
    """Render ``fig`` to bytes in ``fmt`` (png at `DPI`, pdf or svg)."""
    check_choice(fmt, "format", FORMATS)
    buf = io.BytesIO()
    metadata = {"Software": None} if fmt == "png" else None
    fig.savefig(buf, format=fmt, dpi=DPI, metadata=metadata)
    return buf.getvalue()
