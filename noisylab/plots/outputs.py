"""What a trained network outputs: softmax histograms, realized noise matrices, prediction grids.

Each function takes arrays and returns a `matplotlib.figure.Figure`; none reads files or touches
pyplot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from noisylab.plots import style


def _names(class_names, num_classes: int) -> list[str]:
    if class_names is None or len(class_names) != num_classes:
        return [str(i) for i in range(num_classes)]
    return [str(c) for c in class_names]


def _class_ticks(ax, names: Sequence[str], axis: str = "x") -> None:
    n = len(names)
    if n > 20:
        return  # too many to read; the axis label says "class index"
    rotate = 90 if n > 5 and max(len(s) for s in names) > 2 else 0
    if axis == "x":
        ax.set_xticks(range(n), names, rotation=rotate)
    else:
        ax.set_yticks(range(n), names)


def _noisy_label_share(noise: str | None, level: float, num_classes: int) -> float | None:
    """Expected fraction of a class's training labels left on it, for the kinds where it is known.

    A network that learns the noisy-label distribution outputs about this on the true class
    (Drory et al., Figs. 2–3).
    """
    if noise == "random":
        return 1 - level + level / num_classes
    if noise in ("symmetric", "flip"):
        return 1 - level
    return None


def softmax_histograms(predictions: Mapping[float, Mapping[str, np.ndarray]], *,
                       class_index: int | None = None, class_names: Sequence[str] | None = None,
                       dataset: str | None = None, model: str | None = None,
                       noise: str | None = None, notes: Sequence[str] = ()) -> Figure:
    """The network's softmax output at several noise levels (after Drory et al., Figs. 2–3).

    Top row: the mean softmax vector over test samples of one true class, the true class marked.
    Bottom row: the histogram, over all test samples, of the probability given to the true class.
    For random, symmetric and flip noise a dashed tick marks the expected share of training labels
    left on the true class, which a network that fits the noisy distribution reproduces.

    Parameters
    ----------
    predictions : mapping of float to mapping
        Level → arrays ``probs`` of shape (n_test, L) and ``y_true`` of shape (n_test,).
    class_index : int, optional
        The true class averaged in the top row; default the most frequent one at the first level.
    class_names : sequence of str, optional
        Names for the L classes.
    """
    levels = sorted(predictions)
    ncols = max(1, len(levels))
    fig, panel = style.figure_with_notes(max(5.0, 2.7 * ncols + 0.6), 5.2, notes)
    axes = panel.subplots(2, ncols, squeeze=False, sharey="row")
    if levels:
        first = predictions[levels[0]]
        num_classes = int(np.asarray(first["probs"]).shape[1])
        names = _names(class_names, num_classes)
        if class_index is None:
            counts = np.bincount(np.asarray(first["y_true"], dtype=np.int64),
                                 minlength=num_classes)
            class_index = int(np.argmax(counts))
    for col, level in enumerate(levels):
        probs = np.asarray(predictions[level]["probs"], dtype=float)
        y_true = np.asarray(predictions[level]["y_true"], dtype=np.int64)
        ax_bar, ax_hist = axes[0, col], axes[1, col]
        chosen = y_true == class_index
        mean = probs[chosen].mean(axis=0) if chosen.any() else np.full(num_classes, np.nan)
        colors = [style.color(0) if j == class_index else style.REFERENCE
                  for j in range(num_classes)]
        ax_bar.bar(range(num_classes), mean, color=colors, gid=f"mean_softmax:{level:g}")
        ax_bar.bar([class_index], [0], color=style.color(0), label="true class")  # legend key
        share = _noisy_label_share(noise, level, num_classes)
        if share is not None:
            ax_bar.hlines(share, class_index - 0.6, class_index + 0.6, colors="black",
                          linestyles="--", linewidth=1, gid=f"noisy_share:{level:g}",
                          label="expected share of training labels kept on the true class")
        ax_bar.set_ylim(0, 1.08)
        ax_bar.set_title(f"γ = {level:g}  (n = {int(chosen.sum())} of class {names[class_index]})")
        _class_ticks(ax_bar, names)
        if num_classes <= 20:
            tick = ax_bar.get_xticklabels()[class_index]
            tick.set_color(style.color(0))
            tick.set_fontweight("bold")
        ax_bar.set_xlabel("class" if num_classes <= 20 else "class index")

        p_true = probs[np.arange(len(y_true)), y_true] if len(y_true) else np.array([])
        weights = np.full(len(p_true), 1.0 / max(1, len(p_true)))
        ax_hist.hist(p_true, bins=np.linspace(0, 1, 21), weights=weights, color=style.color(2),
                     edgecolor="white", linewidth=0.5, gid=f"p_true_hist:{level:g}")
        ax_hist.set_xlim(0, 1)
        ax_hist.set_xlabel("softmax probability of the true class")
        if col == 0:
            ax_bar.set_ylabel("mean softmax output (probability)")
            ax_hist.set_ylabel("fraction of test samples")
        for ax in (ax_bar, ax_hist):
            style.apply_style(ax)
        ax_bar.grid(False, axis="x")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if handles:
        panel.legend(handles[:2], labels[:2], loc="outside lower center", frameon=False,
                     ncols=2)
    if not levels:
        axes[0, 0].text(0.5, 0.5, "no predictions", transform=axes[0, 0].transAxes,
                        ha="center", va="center", color="#666666")
    fig.suptitle(style.title("Softmax output by noise level", dataset=dataset, model=model,
                             noise=noise))
    return fig


def noise_matrix(transitions: Mapping[str, np.ndarray], *,
                 class_names: Sequence[str] | None = None, dataset: str | None = None,
                 notes: Sequence[str] = ()) -> Figure:
    """Heatmaps of realized transition matrices, P(noisy = j | true = i), one panel each.

    Parameters
    ----------
    transitions : mapping of str to ndarray of shape (L, L)
        Panel title (e.g. ``"random, γ = 0.8"``) → a run's realized matrix, row = true class.
    class_names : sequence of str, optional
        Names for the L classes.
    """
    panels = list(transitions.items())
    ncols = max(1, len(panels))
    fig, panel = style.figure_with_notes(max(4.8, 3.9 * ncols + 0.9), 4.3, notes)
    axes = panel.subplots(1, ncols, squeeze=False)[0]
    image = None
    for ax, (label, matrix) in zip(axes, panels, strict=False):
        matrix = np.asarray(matrix, dtype=float)
        num_classes = matrix.shape[0]
        names = _names(class_names, num_classes)
        image = ax.imshow(matrix, cmap="cividis", vmin=0.0, vmax=1.0, gid=f"transition:{label}")
        if num_classes <= 12:
            for i in range(num_classes):
                for j in range(num_classes):
                    v = matrix[i, j]
                    ax.text(j, i, f"{v:.2f}".lstrip("0") if v < 1 else "1", ha="center",
                            va="center", fontsize=6 if num_classes > 6 else 8,
                            color="black" if v > 0.55 else "white")
        _class_ticks(ax, names, "x")
        _class_ticks(ax, names, "y")
        ax.set_xlabel("noisy label")
        ax.set_ylabel("true label")
        ax.set_title(label)
        ax.grid(False)
    if image is not None:
        panel.colorbar(image, ax=list(axes), shrink=0.85,
                     label="P(noisy label = column | true label = row)")
    else:
        axes[0].text(0.5, 0.5, "no noise.npz", transform=axes[0].transAxes, ha="center",
                     va="center", color="#666666")
    fig.suptitle(style.title("Realized label-noise transition on the training set",
                             dataset=dataset))
    return fig


def prediction_grid(images: np.ndarray, y_true: np.ndarray, y_noisy: np.ndarray,
                    y_pred: np.ndarray, *, class_names: Sequence[str] | None = None,
                    max_images: int = 24, ncols: int = 8, dataset: str | None = None,
                    model: str | None = None, noise: str | None = None,
                    level: float | None = None, notes: Sequence[str] = ()) -> Figure:
    """Test images labelled with their true, noisy and predicted labels.

    The prediction is green with a check mark when it equals the true label and vermillion with a
    cross otherwise; a noisy label that differs from the true one is orange.

    Parameters
    ----------
    images : ndarray of shape (n, H, W, C), uint8
    y_true, y_noisy, y_pred : ndarray of shape (m,) with m >= n
        Labels of the same samples, in the same order.
    """
    images = np.asarray(images)
    n = int(min(len(images), max_images, len(y_true)))
    ncols = max(1, min(ncols, n))
    nrows = max(1, -(-n // ncols))
    fig, panel = style.figure_with_notes(max(5.0, 1.3 * ncols), 1.75 * nrows + 0.6, notes)
    axes = panel.subplots(nrows, ncols, squeeze=False)
    names = _names(class_names, int(max(np.max(y_true, initial=0), np.max(y_pred, initial=0),
                                        np.max(y_noisy, initial=0)) + 1)
                   if class_names is None else len(class_names))
    for idx, ax in enumerate(axes.ravel()):
        ax.set_axis_off()
        if idx >= n:
            continue
        img = images[idx]
        if img.ndim == 3 and img.shape[-1] == 1:
            img = img[..., 0]
        ax.imshow(img, cmap="gray_r" if img.ndim == 2 else None, interpolation="nearest")
        t, z, p = int(y_true[idx]), int(y_noisy[idx]), int(y_pred[idx])
        ok = p == t
        ax.set_title(f"pred: {names[p]} {'✓' if ok else '✗'}", fontsize=7,
                     color=style.CORRECT if ok else style.WRONG, pad=2,
                     gid=f"pred:{idx}:{'ok' if ok else 'wrong'}")
        ax.text(0.5, -0.04, f"true: {names[t]}", transform=ax.transAxes, ha="center", va="top",
                fontsize=6.5)
        ax.text(0.5, -0.22, f"noisy: {names[z]}", transform=ax.transAxes, ha="center",
                va="top", fontsize=6.5, color=style.OKABE_ITO[1] if z != t else "black")
    if n == 0:
        axes[0, 0].text(0.5, 0.5, "no test images saved", ha="center", va="center",
                        transform=axes[0, 0].transAxes, color="#666666")
    at = f" at γ = {level:g}" if level is not None else ""
    fig.suptitle(style.title(f"Test predictions{at}", dataset=dataset, model=model, noise=noise))
    return fig
