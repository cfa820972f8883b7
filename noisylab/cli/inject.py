"""`noisylab inject`: corrupt a dataset's training labels and write them to a .npz archive."""

from __future__ import annotations

import click

from noisylab.cli._common import user_errors

# Kept equal to noisylab.noise.NOISE_KINDS (a test checks); spelled out so --help stays light.
KIND_CHOICES = ("random", "symmetric", "flip", "asymmetric", "confusion", "concentrated", "file")


def _format_matrix(matrix) -> str:
    size = matrix.shape[0]
    width = max(5, len(str(size - 1)) + 1)
    header = "true\\noisy " + " ".join(f"{j:>{width}}" for j in range(size))
    rows = [
        f"{i:>10} " + " ".join(f"{value:>{width}.3f}" for value in row)
        for i, row in enumerate(matrix)
    ]
    return "\n".join([header, *rows])


@click.command("inject")
@click.option("--dataset", "dataset_name", default="digits", show_default=True,
              help="Built-in name, prepared name or HDF5 path.")
@click.option("--noise", "kind", required=True, type=click.Choice(KIND_CHOICES),
              help="Kind of label noise.")
@click.option("--level", type=float, default=None,
              help="Noise level in [0, 1] (ignored for --noise file).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the noise RNG.")
@click.option("--mapping", default=None, help="Class map 'SRC:DST,...' (flip, asymmetric, "
              "concentrated).")
@click.option("--preset", default=None, help="asymmetric preset: mnist, cifar10, cifar100.")
@click.option("--matrix", default=None,
              help="confusion matrix: .npy/.csv path or inline '0.9,0.1;0.2,0.8'.")
@click.option("--trace", type=float, default=None,
              help="confusion: generate a random matrix with this trace instead of --matrix.")
@click.option("--matrix-seed", type=int, default=None,
              help="Seed of the from-trace matrix (default: drawn from --seed).")
@click.option("--clusters", type=int, default=None,
              help="concentrated: k-means clusters per class (default round(1/level), >= 2).")
@click.option("--features", default=None,
              help="concentrated: 'pca' (default) or a .npy file of (n, d) features.")
@click.option("--file", "label_file", default=None, help="file: .npy/.csv of noisy labels.")
@click.option("--stratify", is_flag=True, default=False,
              help="random/symmetric/flip: corrupt round(level * n_c) in each class.")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Output .npz (labels, corrupted, transition, clean_labels, spec).")
@user_errors
def inject(dataset_name, kind, level, seed, mapping, preset, matrix, trace, matrix_seed,
           clusters, features, label_file, stratify, out):
    """Inject label noise into the training labels of a dataset and save the result."""
    import dataclasses

    import numpy as np

    from noisylab.data import load_dataset
    from noisylab.errors import NoisylabError
    from noisylab.noise import inject as inject_noise
    from noisylab.noise import save_noisy

    dataset = load_dataset(dataset_name)
    given = {"mapping": mapping, "preset": preset, "matrix": matrix, "trace": trace,
             "matrix_seed": matrix_seed, "clusters": clusters, "file": label_file}
    options = {key: value for key, value in given.items() if value is not None}
    if stratify:
        options["stratify"] = True
    if features is not None and features != "pca":
        if not features.endswith(".npy"):
            raise NoisylabError(f"--features must be 'pca' or a .npy file, got {features!r}")
        try:
            options["features"] = np.load(features, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise NoisylabError(f"cannot read features file {features}: {exc}") from None
    elif kind == "concentrated":
        options["images"] = dataset.x_train
    elif features is not None:
        options["features"] = features

    noisy = inject_noise(dataset.y_train, kind=kind, level=level,
                         rng=np.random.default_rng(seed), num_classes=dataset.num_classes,
                         **options)
    noisy = dataclasses.replace(
        noisy, spec={**noisy.spec, "dataset": dataset.name, "seed": seed}
    )
    path = save_noisy(out, noisy, dataset.y_train)

    changed = int(noisy.corrupted.sum())
    click.echo(f"{kind} noise on {dataset.name}: {noisy.labels.size} training labels, "
               f"{dataset.num_classes} classes, level {level}, seed {seed}")
    click.echo(f"realized rate: {noisy.realized_rate:.4f} ({changed} of {noisy.labels.size} "
               "labels changed)")
    click.echo("realized transition (row = true class, column = noisy class):")
    click.echo(_format_matrix(noisy.transition))
    click.echo(f"wrote {path}")
