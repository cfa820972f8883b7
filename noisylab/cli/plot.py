"""``noisylab plot``: every figure of a results folder, plus a one-page HTML report."""

from __future__ import annotations

from pathlib import Path

import click

from noisylab.cli._common import parse_ks, user_errors


@click.command("plot")
@click.argument("results_dir", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["png", "pdf", "svg"]), default="png",
              show_default=True, help="File format of the figures (report.html embeds PNGs).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the figures [default: RESULTS_DIR/plots].")
@click.option("--analytic", type=click.Choice(["auto", "learnable"]), default="auto",
              show_default=True,
              help="Form of the K-NN model overlaid with its best-fit K: auto takes the general "
                   "form (eq. 2) from the folder's level-0 predictions where it has them, "
                   "learnable the perfectly learnable form.")
@click.option("--no-analytic", "no_analytic", is_flag=True, help="No K-NN model overlay.")
@click.option("--k", "k_text", default=None, metavar="K1,K2,...",
              help="Extra K values for the analytic overlay, e.g. 1,5,25.")
@user_errors
def plot(results_dir: Path, fmt: str, out: Path | None, analytic: str, no_analytic: bool,
         k_text: str | None) -> None:
    """Draw the figures of RESULTS_DIR (a folder written by `noisylab sweep`).

    Writes accuracy_vs_noise, f1_true_vs_noisy, memorization, training_curves,
    softmax_histograms, noise_matrix, prediction_grid and a self-contained report.html.
    Partial results (a sweep still running) are plotted as they are, with a note.
    """
    ks = parse_ks(k_text) if k_text else []
    from noisylab.plots.render import render_results

    rendered = render_results(results_dir, out=out, fmt=fmt,
                              analytic=False if no_analytic else analytic, k_values=ks)
    for path in rendered.written:
        click.echo(f"wrote {path}")
    for note in rendered.notes:
        click.echo(f"note: {note}")
