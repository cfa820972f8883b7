"""`noisylab analytic`: the K-NN plurality model's accuracy curves, as a CSV and a plot."""

from __future__ import annotations

import click

from noisylab.cli._common import parse_ks, user_errors

_KINDS = ("random", "symmetric", "flip", "confusion", "concentrated")


def _load_softmax(path):
    import numpy as np

    from noisylab.errors import NoisylabError

    try:
        with np.load(path, allow_pickle=False) as data:
            keys = sorted(data.files)
            if "probs" not in keys or "y_true" not in keys:
                raise NoisylabError(
                    f"{path} needs arrays 'probs' and 'y_true'; found: {', '.join(keys) or 'none'}"
                )
            probs, y_true = data["probs"], data["y_true"]
    except (OSError, ValueError) as exc:
        raise NoisylabError(f"cannot read softmax file {path}: {exc}") from None
    if probs.ndim != 2 or y_true.shape != (probs.shape[0],):
        raise NoisylabError(
            f"{path}: 'probs' must be (n, L) and 'y_true' (n,), "
            f"got {probs.shape} and {y_true.shape}"
        )
    return probs, y_true


@click.command("analytic")
@click.option("--noise", "kind", type=click.Choice(_KINDS), required=True, help="Noise model.")
@click.option("--classes", "num_classes", type=int, default=None,
              help="Number of classes L (inferred from --softmax when omitted).")
@click.option("--k", "ks", default="1,5,25,51", show_default=True,
              help="Comma list of K (neighbours).")
@click.option("--levels", default="0:1:0.05", show_default=True,
              help="START:STOP:STEP (inclusive) or a comma list of noise levels.")
@click.option("--matrix", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Row-stochastic L x L matrix (.npy or .csv) for confusion / flip.")
@click.option("--softmax", type=click.Path(exists=True, dir_okay=False), default=None,
              help="predictions.npz of a clean run (probs, y_true): the general case, eq. 2.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="analytic",
              show_default=True, help="Folder for analytic.csv and analytic.png.")
@user_errors
def analytic(kind, num_classes, ks, levels, matrix, softmax, out_dir):
    """Expected accuracy of the K-NN plurality model (Drory et al.) under label noise."""
    from pathlib import Path

    import numpy as np
    import pandas as pd

    from noisylab.analytic import accuracy_table
    from noisylab.config import parse_levels
    from noisylab.errors import NoisylabError
    from noisylab.noise import read_matrix
    from noisylab.plots import style
    from noisylab.plots.analytic import analytic_curves_figure

    k_list = parse_ks(ks)
    try:
        level_arr = np.asarray(parse_levels(levels))
    except NoisylabError as exc:
        raise NoisylabError(f"bad --levels {levels!r}: {exc}") from None
    probs = y_true = None
    if softmax is not None:
        probs, y_true = _load_softmax(softmax)
        if num_classes is None:
            num_classes = int(probs.shape[1])
        elif probs.shape[1] != num_classes:
            raise NoisylabError(
                f"{softmax}: 'probs' has {probs.shape[1]} classes but --classes is {num_classes}"
            )
    if num_classes is None:
        raise NoisylabError("--classes is required without --softmax")
    mat = read_matrix(matrix) if matrix is not None else None
    table = accuracy_table(kind, level_arr, k_list, num_classes, matrix=mat,
                           clean_probs=probs, true_labels=y_true)          # (levels, ks)
    frame = pd.DataFrame({
        "level": np.repeat(level_arr, len(k_list)),
        "k": np.tile(np.asarray(k_list, dtype=np.int64), level_arr.size),
        "accuracy": table.ravel(),
    })
    source = "clean softmax" if probs is not None else "perfectly learnable"
    title = f"K-NN model: {kind} noise, L={num_classes}, {source}"
    fig = analytic_curves_figure(frame, title=title)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    csv_path, png_path = out / "analytic.csv", out / "analytic.png"
    style.write_atomic(csv_path, frame.to_csv(index=False))
    style.write_atomic(png_path, style.figure_bytes(fig, "png"))
    click.echo(f"wrote {csv_path} and {png_path}")
