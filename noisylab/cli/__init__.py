"""The `noisylab` command line: a click group whose commands live one per module.

Command modules import library code inside the command functions, so `noisylab --help` never loads
TensorFlow, Keras or matplotlib.
"""

from __future__ import annotations

import click

from noisylab import __version__
from noisylab.cli._common import NoisylabGroup
from noisylab.cli.analytic import analytic
from noisylab.cli.data import data
from noisylab.cli.inject import inject
from noisylab.cli.plot import plot
from noisylab.cli.reproduce import reproduce
from noisylab.cli.sweep import sweep


@click.group(cls=NoisylabGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="noisylab")
def main() -> None:
    """Label-noise robustness studies: inject noise, train CNNs, compare with theory."""


for _command in (data, inject, sweep, analytic, plot, reproduce):
    main.add_command(_command)
