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
