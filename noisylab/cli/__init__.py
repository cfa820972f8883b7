"""The `noisylab` command line: a click group whose commands live one per module.

Command modules import library code inside the command functions, so `noisylab --help` never loads
TensorFlow or Keras.
"""

from __future__ import annotations

import importlib

import click

from noisylab import __version__

# (module under noisylab.cli, attribute) for every command or group; a module that is not there yet
# is skipped so that the group works while commands are being added.
_COMMANDS = [
    ("data", "data"),
    ("inject", "inject"),
    ("sweep", "sweep"),
    ("analytic", "analytic"),
    ("plot", "plot"),
]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="noisylab")
def main() -> None:
    """Label-noise robustness studies: inject noise, train CNNs, compare with theory."""


for _module, _attr in _COMMANDS:
    try:
        _mod = importlib.import_module(f"noisylab.cli.{_module}")
    except ModuleNotFoundError as exc:
        if exc.name != f"noisylab.cli.{_module}":
            raise
        continue
    main.add_command(getattr(_mod, _attr))
