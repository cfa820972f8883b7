"""``noisylab plot``: every figure of a results folder, plus a one-page HTML report; on a folder
of results folders, each of them plus an ``index.html`` that lists and compares them."""

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
@click.option("--force", is_flag=True,
              help="On a folder of sweeps: redraw sweeps whose plots are newer than runs.csv.")
@user_errors
def plot(results_dir: Path, fmt: str, out: Path | None, analytic: str, no_analytic: bool,
         k_text: str | None, force: bool) -> None:
    """Draw the figures of RESULTS_DIR (a folder written by `noisylab sweep`).

    Writes accuracy_vs_noise, f1_true_vs_noisy, memorization, training_curves,
    softmax_histograms, noise_matrix, prediction_grid and a self-contained report.html.
    Partial results (a sweep still running) are plotted as they are, with a note.

    On a folder that holds results folders (e.g. results/), plots each of them into its own
    plots/ (skipping those whose plots are newer than their runs.csv, unless --force) and writes
    RESULTS_DIR/index.html: a table of every sweep and per dataset a figure comparing them.
    """
    ks = parse_ks(k_text) if k_text else []
    overlay = False if no_analytic else analytic
    from noisylab.plots.load import is_results_folder

    if not is_results_folder(results_dir) and results_dir.is_dir():
        _plot_sweeps(results_dir, fmt=fmt, out=out, analytic=overlay, ks=ks, force=force)
        return
    from noisylab.plots.render import render_results

    rendered = render_results(results_dir, out=out, fmt=fmt, analytic=overlay, k_values=ks)
    for path in rendered.written:
        click.echo(f"wrote {path}")
    for note in rendered.notes:
        click.echo(f"note: {note}")


def _plot_sweeps(root: Path, *, fmt: str, out: Path | None, analytic: str | bool, ks: list[int],
                 force: bool) -> None:
    from noisylab.errors import NoisylabError
    from noisylab.plots.sweeps import entry_line, render_sweeps

    if out is not None:
        raise NoisylabError(f"--out needs one results folder, but {root} is a folder of them "
                            "(each is plotted into its own plots/)")
    rendered = render_sweeps(root, fmt=fmt, analytic=analytic, k_values=ks, force=force)
    for entry in rendered.entries:
        click.echo(entry_line(entry))
    n = len(rendered.figures)
    click.echo(f"wrote {rendered.index} ({len(rendered.entries)} sweeps, {n} comparison "
               f"figure{'s' if n != 1 else ''}); open it in a browser")
