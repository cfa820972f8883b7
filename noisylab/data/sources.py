"""Where the preparable datasets come from: official file names, MD5 checksums and download URLs.

This is the one table of checksums and locations. `noisylab.prepare` reads `SOURCES` at call time,
so a test can substitute an entry (``monkeypatch.setitem(SOURCES, "mnist", ...)``) or pass its own
table with ``prepare_dataset(..., sources=...)``. Standard library only, so importing it is cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RawFile:
    """One official file. ``role`` is what it holds (``train_images``, ``archive``, ...)."""

    role: str
    filename: str
    md5: str


@dataclass(frozen=True)
class Source:
    """A preparable dataset.

    kind : ``"idx"`` (four gzipped IDX files) or ``"cifar"`` (the python-version tarball).
    files : the files to download and verify (IDX: four; CIFAR: the tarball).
    mirrors : base URLs tried in order; a file's URL is ``mirror + filename``.
    class_names : IDX datasets only; CIFAR reads them from its meta pickle.
    folder : CIFAR only: the folder inside the tarball.
    members : CIFAR only: the files of the extracted folder with their checksums, so an
        already-extracted folder can be verified too.
    label_key, names_key : CIFAR only: the pickle entries holding labels and class names.
    """

    name: str
    kind: str
    files: tuple[RawFile, ...]
    mirrors: tuple[str, ...]
    homepage: str = ""
    class_names: tuple[str, ...] = ()
    folder: str = ""
    members: tuple[RawFile, ...] = field(default=())
    label_key: str = ""
    names_key: str = ""

    def urls(self, filename: str) -> list[str]:
        return [m if m.endswith(filename) else m.rstrip("/") + "/" + filename for m in self.mirrors]


def _idx_files(md5s: tuple[str, str, str, str]) -> tuple[RawFile, ...]:
    names = (
        ("train_images", "train-images-idx3-ubyte.gz"),
        ("train_labels", "train-labels-idx1-ubyte.gz"),
        ("test_images", "t10k-images-idx3-ubyte.gz"),
        ("test_labels", "t10k-labels-idx1-ubyte.gz"),
    )
    return tuple(RawFile(role, fn, md5) for (role, fn), md5 in zip(names, md5s, strict=True))


SOURCES: dict[str, Source] = {
    "mnist": Source(
        name="mnist",
        kind="idx",
        files=_idx_files((
            "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "d53e105ee54ea40749a09fcbcd1e9432",
            "9fb629c4189551a2d022fa330f9573f3",
            "ec29112dd5afa0611ce80d1b7f02629c",
        )),
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
        homepage="http://yann.lecun.com/exdb/mnist/",
        class_names=tuple(str(i) for i in range(10)),
    ),
    "fashion-mnist": Source(
        name="fashion-mnist",
        kind="idx",
        files=_idx_files((
            "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "25c81989df183df01b3e8a0aad5dffbe",
            "bef4ecab320f06d8554ea6380940ec79",
            "bb300cfdad3c16e7a12a480ee83cd310",
        )),
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        homepage="https://github.com/zalandoresearch/fashion-mnist",
        class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                     "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    ),
    "kmnist": Source(
        name="kmnist",
        kind="idx",
        files=_idx_files((
            "bdb82020997e1d708af4cf47b453dcf7",
            "e144d726b3acfaa3e44228e80efcd344",
            "5c965bf0a639b31b8f53240b1b52f4d7",
            "7320c461ea6c1c855c0b718fb2a4b134",
        )),
        mirrors=("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
        homepage="https://github.com/rois-codh/kmnist",
        class_names=("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
    ),
    "cifar10": Source(
        name="cifar10",
        kind="cifar",
        files=(RawFile("archive", "cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a"),),
        mirrors=("https://www.cs.toronto.edu/~kriz/",),
        homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
        folder="cifar-10-batches-py",
        members=(
            RawFile("train", "data_batch_1", "c99cafc152244af753f735de768cd75f"),
            RawFile("train", "data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"),
            RawFile("train", "data_batch_3", "54ebc095f3ab1f0389bbae665268c751"),
            RawFile("train", "data_batch_4", "634d18415352ddfa80567beed471001a"),
            RawFile("train", "data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb"),
            RawFile("test", "test_batch", "40351d587109b95175f43aff81a1287e"),
            RawFile("meta", "batches.meta", "5ff9c542aee3614f3951f8cda6e48888"),
        ),
        label_key="labels",
        names_key="label_names",
    ),
    "cifar100": Source(
        name="cifar100",
        kind="cifar",
        files=(RawFile("archive", "cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85"),),
        mirrors=("https://www.cs.toronto.edu/~kriz/",),
        homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
        folder="cifar-100-python",
        members=(
            RawFile("train", "train", "16019d7e3df5f24257cddd939b257f8d"),
            RawFile("test", "test", "f0ef6b0ae62326f3e7ffdfab6717acfc"),
            RawFile("meta", "meta", "7973b15100ade9c7d40fb424638fde48"),
        ),
        label_key="fine_labels",
        names_key="fine_label_names",
    ),
}
