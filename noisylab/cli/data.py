"""`noisylab data`: prepare datasets into HDF5 and inspect them.

Only click loads here; numpy, h5py and scikit-learn load inside
the commands, so `noisylab --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import click

from noisylab.cli._common import user_errors
from noisylab.errors import NoisylabError


@click.group()
def data() -> None:
    """Prepare datasets into HDF5 and inspect them."""


def _parse_resize(text: str | None):
    if text is None:
        return None
    parts = text.replace("x", ",").split(",")
    try:
        size = tuple(int(p) for p in parts)
    except ValueError:
        size = ()
    if len(size) != 2 or min(size) < 1:
        raise NoisylabError(f"--resize must be H,W (two integers >= 1), got {text!r}")
    return size


@data.command()
@click.argument("name", metavar="NAME")
@click.option(
    "--source", metavar="PATH|URL",
    help="Folder holding the official files (or the CIFAR tarball / its extracted folder), or a "
    "URL to fetch them from. Default: download from the official site. For `folder`: the class "
    "folder tree, or a .tar, .tar.gz, .tgz or .zip of one (required).",
)
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="HDF5 file to write.  [default: data/NAME.h5, for folder data/<--name>.h5]",
)
@click.option("--name", "dataset_name", default=None,
              help="folder: the dataset's name (required).")
@click.option("--classes", default=None,
              help="folder: class order 'a,b,c' naming every class folder once "
              "[default: folder names sorted].")
@click.option("--resize", default=None, metavar="H,W",
              help="folder: resize every image to H x W (bilinear) [default: all must match].")
@click.option("--order-labels", default=None, metavar="FILE[:KEY]",
              help="folder: put the training images in the order of this label sequence "
              "(.npy, .npz, .csv or a CIFAR-N .pt with KEY): the k-th file of class c goes to "
              "the position of the k-th occurrence of c.")
@click.option("--test-size", type=float, default=None,
              help="folder, single tree: test fraction of the stratified split [default: 0.2].")
@click.option("--seed", type=int, default=None,
              help="folder, single tree: seed of that split [default: 0].")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="folder: decoding threads [default: one per core].")
@user_errors
def prepare(name: str, source: str | None, out: Path | None, dataset_name: str | None,
            classes: str | None, resize: str | None, order_labels: str | None,
            test_size: float | None, seed: int | None, workers: int | None) -> None:
    """Write a dataset as one HDF5 file: official raw files (MD5-checked) or an image folder.

    NAME is one of: mnist, fashion-mnist, kmnist (four IDX .gz files), cifar10, cifar100 (the
    python-version .tar.gz), or folder: class folders train/<class>/* and test/<class>/* (or one
    <class>/* tree, split here), PNG or JPEG, read from a folder or an archive without
    extracting it. The write is atomic: after an error or Ctrl-C there is no output file.
    """
    folder_only = {"--name": dataset_name, "--classes": classes, "--resize": resize,
                   "--order-labels": order_labels, "--test-size": test_size, "--seed": seed,
                   "--workers": workers}
    if name != "folder":
        given = [option for option, value in folder_only.items() if value is not None]
        if given:
            raise NoisylabError(f"{given[0]} is an option of `noisylab data prepare folder` "
                                f"only, not of {name}")
        from noisylab.data.prepare import prepare_dataset

        prepare_dataset(name, source=source, out=out, log=click.echo)
        return
    if source is None:
        raise NoisylabError("`noisylab data prepare folder` needs --source DIR|ARCHIVE")
    if dataset_name is None:
        raise NoisylabError("`noisylab data prepare folder` needs --name NAME")
    from noisylab.data.folder import prepare_folder

    prepare_folder(
        source, name=dataset_name, out=out, log=click.echo,
        classes=None if classes is None else [c.strip() for c in classes.split(",")],
        resize=_parse_resize(resize), order_labels=order_labels,
        test_size=0.2 if test_size is None else test_size, seed=0 if seed is None else seed,
        workers=workers)


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

