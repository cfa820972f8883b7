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


def curve_table(kind: str, levels, k_values, num_classes: int, *, matrix=None,
                clean_probs=None, true_labels=None):
    """The model's expected accuracy for every (level, K) as a frame ``level, k, accuracy``.

    Parameters are those of `noisylab.analytic.accuracy_table`.
    """
    import numpy as np
    import pandas as pd

    from noisylab.analytic import accuracy_table

    levels = np.asarray(levels, dtype=np.float64)
    ks = np.asarray(list(k_values), dtype=np.int64)
    table = accuracy_table(kind, levels, ks, num_classes, matrix=matrix,
                           clean_probs=clean_probs, true_labels=true_labels)   # (levels, ks)
    return pd.DataFrame({"level": np.repeat(levels, ks.size), "k": np.tile(ks, levels.size),
                         "accuracy": table.ravel()})


def write_analytic(kind: str, levels, k_values, *, out_dir, num_classes: int | None = None,
                   matrix=None, softmax=None):
    """``noisylab analytic``: the curves as ``analytic.csv`` and ``analytic.png`` in ``out_dir``.

    Parameters
    ----------
    kind : str
        A noise kind of `noisylab.analytic.ANALYTIC_KINDS`.
    levels : sequence of float
    k_values : sequence of int
    out_dir : path-like
        Created if needed; both files are written atomically.
    num_classes : int, optional
        L; read from ``softmax`` when omitted there.
    matrix : path, optional
        ``.npy``/``.csv`` row-stochastic matrix (confusion, flip).
    softmax : path, optional
        ``predictions.npz`` of a clean run (``probs``, ``y_true``): the general case, eq. 2.

    Returns
    -------
    tuple of Path
        The CSV and PNG written.
    """
    from noisylab.atomic import created_folder, write_files
    from noisylab.errors import NoisylabError
    from noisylab.noise import read_matrix
    from noisylab.results import read_predictions

    probs = y_true = None
    if softmax is not None:
        probs, y_true = (read_predictions(softmax, keys=("probs", "y_true"))[k]
                         for k in ("probs", "y_true"))
        if probs.ndim != 2 or y_true.shape != (probs.shape[0],):
            raise NoisylabError(f"{softmax}: 'probs' must be (n, L) and 'y_true' (n,), "
                                f"got {probs.shape} and {y_true.shape}")
        if num_classes is None:
            num_classes = int(probs.shape[1])
        elif probs.shape[1] != num_classes:
            raise NoisylabError(
                f"{softmax}: 'probs' has {probs.shape[1]} classes but --classes is {num_classes}")
    if num_classes is None:
        raise NoisylabError("--classes is required without --softmax")
    mat = read_matrix(matrix) if matrix is not None else None
    frame = curve_table(kind, levels, k_values, num_classes, matrix=mat, clean_probs=probs,
                        true_labels=y_true)
    source = "clean softmax" if probs is not None else "perfectly learnable"
    fig = analytic_curves_figure(frame, title=f"K-NN model: {kind} noise, L={num_classes}, "
                                              f"{source}")
    png = style.figure_bytes(fig, "png")
    with created_folder(out_dir) as out:
        csv_path, png_path = write_files({out / "analytic.csv": frame.to_csv(index=False).encode(),
                                          out / "analytic.png": png})
    return csv_path, png_path
