"""Helpers shared by the CLI commands: turning user errors into one line and exit status 2."""

from __future__ import annotations

import functools

import click

from noisylab.errors import NoisylabError


class UserError(click.ClickException):
    """A one-line error on stderr and exit status 2, without a traceback."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"Error: {self.format_message()}", err=True)


def user_errors(func):
    """Decorate a click command so that library `NoisylabError`s become `UserError`s."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except NoisylabError as exc:
            raise UserError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None

    return wrapper


def parse_ks(text: str, *, option: str = "--k") -> list[int]:
    """Parse a comma list of neighbour counts K, each an integer >= 1 (``"1,5,25"``)."""
    try:
        ks = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        ks = []
    if not ks or min(ks) < 1:
        raise NoisylabError(f"{option} must be a comma list of integers >= 1, got {text!r}")
    return ks


class RegistryChoice(click.Choice):
    """A `click.Choice` whose choices come from a library registry, read on first use.

    So the names a command accepts are the registry's own (one list, not a copy in the CLI), and
    ``noisylab --help`` does not import the registry's module.

    Parameters
    ----------
    load : callable
        Returns the names, e.g. ``lambda: noisylab.noise.NOISE_KINDS``.
    """

    def __init__(self, load, case_sensitive: bool = True):
        self._load = load
        self._choices: tuple[str, ...] | None = None
        super().__init__((), case_sensitive=case_sensitive)

    @property
    def choices(self) -> tuple[str, ...]:
        if self._choices is None:
            self._choices = tuple(self._load())
        return self._choices

    @choices.setter
    def choices(self, value) -> None:  # click.Choice.__init__ assigns; the registry decides
        pass


def noise_kinds() -> tuple[str, ...]:
    from noisylab.noise import NOISE_KINDS

    return NOISE_KINDS


def analytic_kinds() -> tuple[str, ...]:
    from noisylab.analytic import ANALYTIC_KINDS

    return ANALYTIC_KINDS
