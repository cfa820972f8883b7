"""Figure of the K-NN model's expected accuracy against the noise level, one line per K."""

from __future__ import annotations

from matplotlib.figure import Figure

from noisylab.plots import style


def analytic_curves_figure(df, *, title: str = "K-NN plurality model") -> Figure:
    """Accuracy vs noise level, one line per K.

    Parameters
    ----------
    df : pandas.DataFrame
        Columns ``level`` (noise level in [0, 1]), ``k`` (int) and ``accuracy`` (in [0, 1]).
    title : str
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        Built without pyplot; the caller saves it.
    """
    missing = {"level", "k", "accuracy"} - set(df.columns)
    if missing:
        from noisylab.errors import NoisylabError

        raise NoisylabError(f"frame needs columns level, k, accuracy; missing {sorted(missing)}")
    fig = style.new_figure(7.5, 4.5)
    ax = fig.add_subplot()
    style.apply_style(ax)
    for idx, (k, part) in enumerate(sorted(df.groupby("k"), key=lambda kv: kv[0])):
        part = part.sort_values("level")
        ax.plot(part["level"], part["accuracy"], color=style.color(idx),
                marker=style.marker(idx), markersize=3.5, linewidth=1.6,
                label=f"K = {k}")
    ax.set_xlabel("noise level γ")
    ax.set_ylabel("expected accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(True, alpha=0.3)
    ax.set_title(title)
    ax.legend(title="neighbours", loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return fig
