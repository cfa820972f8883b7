"""`noisylab data`: prepare datasets into HDF5 and inspect them.

Only click loads here; numpy, h5py and scikit-learn load inside
the commands, so `noisylab --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import click

from noisylab.cli._common import user_errors


@click.group()
def data() -> None:
    """Prepare datasets into HDF5 and inspect them."""


@data.command()
@click.argument("name", metavar="NAME")
@click.option(
    "--source", metavar="PATH|URL",
    help="Folder holding the official files (or the CIFAR tarball / its extracted folder), or a "
    "URL to fetch them from. Default: download from the official site.",
)
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="HDF5 file to write.  [default: data/NAME.h5]",
)
@user_errors
def prepare(name: str, source: str | None, out: Path | None) -> None:
    """Verify the official raw files of NAME against their MD5 and write them as one HDF5 file.

    NAME is one of: mnist, fashion-mnist, kmnist (four IDX .gz files), cifar10, cifar100 (the
    python-version .tar.gz). The write is atomic: after an error or Ctrl-C there is no output file.
    """
    from noisylab.data.prepare import prepare_dataset

    prepare_dataset(name, source=source, out=out, log=click.echo)


@data.command()
@click.argument("name_or_path", metavar="NAME|PATH")
@click.option("--test-size", type=float, default=0.2, show_default=True,
              help="Test fraction when the file has no split (flat layout) and for digits.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of that split.")
@user_errors
def info(name_or_path: str, test_size: float, seed: int) -> None:
    """Show shapes, dtypes, class names and per-class counts of a dataset.

    NAME|PATH is digits (built in), a prepared name (data/NAME.h5) or the path of an HDF5 file.
    """
    from noisylab.data import describe_dataset

    click.echo(describe_dataset(name_or_path, test_size=test_size, seed=seed))

