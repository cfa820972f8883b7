"""`noisylab inject`: corrupt a dataset's training labels and write them to a .npz archive."""

from __future__ import annotations

import click

from noisylab.cli._common import RegistryChoice, noise_kinds, user_errors


@click.command("inject")
@click.option("--dataset", "dataset_name", default="digits", show_default=True,
              help="Built-in name, prepared name or HDF5 path.")
@click.option("--noise", "kind", required=True, type=RegistryChoice(noise_kinds),
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
              help="concentrated: 'pca' (default) or a .npy file of (n, d) features; "
              "instance: such a file instead of the images.")
@click.option("--file", "label_file", default=None, help="file: .npy/.csv of noisy labels.")
@click.option("--human-labels", default=None, metavar="PATH[:KEY]|cifar10n:SET",
              help="human: a label set, PATH:KEY (e.g. CIFAR-10_human.pt:worse_label) or "
              "cifar10n:aggre|worse|random1|random2|random3 (file looked for in data/ and next "
              "to the dataset).")
@click.option("--human-key", default=None, help="human: the key of the label set in PATH.")
@click.option("--flip-sd", type=float, default=None,
              help="instance: standard deviation of the per-sample flip rates [default: 0.1].")
@click.option("--stratify", is_flag=True, default=False,
              help="random/symmetric/flip: corrupt round(level * n_c) in each class.")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Output .npz (labels, corrupted, transition, clean_labels, spec).")
@user_errors
def inject(dataset_name, kind, level, seed, mapping, preset, matrix, trace, matrix_seed,
           clusters, features, label_file, human_labels, human_key, flip_sd, stratify, out):
    """Inject label noise into the training labels of a dataset and save the result."""
    from noisylab.config import MAX_SEED
    from noisylab.data import DEFAULT_DATA_DIR, load_dataset, resolve_dataset_path
    from noisylab.errors import NoisylabError
    from noisylab.noise import read_features, save_noisy
    from noisylab.noise.dataset import describe_noisy, inject_training_labels
    from noisylab.validate import check_scalar

    check_scalar(seed, "--seed", kind=int, low=0, high=MAX_SEED)
    check_scalar(matrix_seed, "--matrix-seed", kind=int, low=0, high=MAX_SEED, allow_none=True)
    if not out.strip():
        raise NoisylabError("--out must name a .npz file, got ''")
    dataset = load_dataset(dataset_name)
    given = {"mapping": mapping, "preset": preset, "matrix": matrix, "trace": trace,
             "matrix_seed": matrix_seed, "clusters": clusters, "file": label_file,
             "label_set": human_labels, "key": human_key, "flip_sd": flip_sd}
    options = {key: value for key, value in given.items() if value is not None}
    if stratify:
        options["stratify"] = True
    if kind == "human":
        search = [DEFAULT_DATA_DIR]
        if dataset_name != "digits":
            search.append(resolve_dataset_path(dataset_name).parent)
        options["search"] = search
    if features is not None and features != "pca":
        features = read_features(features)
    noisy = inject_training_labels(dataset, kind=kind, level=level, seed=seed, features=features,
                                   **options)
    path = save_noisy(out, noisy, dataset.y_train)
    click.echo(describe_noisy(noisy))
    click.echo(f"wrote {path}")
