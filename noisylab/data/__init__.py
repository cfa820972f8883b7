"""Datasets: the in-memory `Dataset`, built-in `digits`, HDF5 files, and preparing them.

Modules, one job each (imports flow down this list):

- `dataset`: the `Dataset` type, the one image/label check, the seeded stratified split, `digits`;
- `hdf5`: the HDF5 schema, read with validation and written atomically;
- `load`: find a dataset by built-in name, prepared name (``data/NAME.h5``) or path; describe it;
- `sources`, `rawformats`, `prepare`: the official raw files (checksums, IDX and CIFAR pickles)
  turned into an HDF5 file by ``noisylab data prepare``.

A new dataset format is a new reader module here that returns a `Dataset` (through
`check_images_labels`) and, if it is prepared from raw files, an entry in `sources.SOURCES`.
numpy and h5py only; scikit-learn loads only for `digits` and splits.
"""

from noisylab.data.dataset import BUILTIN, Dataset, check_images_labels, load_digits
from noisylab.data.hdf5 import H5_SUFFIXES, read_hdf5, save_dataset
from noisylab.data.load import (
    DEFAULT_DATA_DIR,
    describe_dataset,
    load_dataset,
    resolve_dataset_path,
)

__all__ = [
    "BUILTIN",
    "DEFAULT_DATA_DIR",
    "H5_SUFFIXES",
    "Dataset",
    "check_images_labels",
    "describe_dataset",
    "load_dataset",
    "load_digits",
    "read_hdf5",
    "resolve_dataset_path",
    "save_dataset",
]
