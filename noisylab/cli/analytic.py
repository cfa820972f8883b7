"""`noisylab analytic`: the K-NN plurality model's accuracy curves, as a CSV and a plot."""

from __future__ import annotations

import click

from noisylab.cli._common import RegistryChoice, analytic_kinds, parse_ks, user_errors


@click.command("analytic")
@click.option("--noise", "kind", type=RegistryChoice(analytic_kinds), required=True,
              help="Noise model.")
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
    from noisylab.config import parse_levels
    from noisylab.errors import NoisylabError
    from noisylab.plots.analytic import write_analytic

    if not out_dir.strip():
        raise NoisylabError("--out must name a folder, got ''")
    k_list = parse_ks(ks)
    try:
        level_list = parse_levels(levels)
    except NoisylabError as exc:
        raise NoisylabError(f"bad --levels {levels!r}: {exc}") from None
    csv_path, png_path = write_analytic(kind, level_list, k_list, out_dir=out_dir,
                                        num_classes=num_classes, matrix=matrix, softmax=softmax)
    click.echo(f"wrote {csv_path} and {png_path}")
