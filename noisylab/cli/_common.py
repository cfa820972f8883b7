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


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def os_error_line(exc: OSError) -> str:
    """An `OSError` (disk full, permission, read-only, a missing folder) as one line naming
    the path."""
    where = exc.filename if exc.filename is not None else None
    reason = exc.strerror or _one_line(exc)
    return f"cannot write {where}: {reason}" if where else f"{reason}"


def user_errors(func):
    """Decorate a click command so that library `NoisylabError`s become `UserError`s, and an
    `OSError` that escaped the writers (which word their own) one line naming its path."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except NoisylabError as exc:
            raise UserError(_one_line(exc)) from None
        except OSError as exc:
            raise UserError(os_error_line(exc)) from None

    return wrapper


def save_traceback(exc: BaseException) -> str | None:
    """Write the traceback of ``exc`` to a new file in the temp folder; its path (None when
    even that fails)."""
    import tempfile
    import traceback

    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    try:
        fd, path = tempfile.mkstemp(prefix="noisylab-traceback-", suffix=".txt")
        with open(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError:
        return None
    return path


class NoisylabGroup(click.Group):
    """The command group with the last-resort handler: never a raw traceback.

    - Ctrl-C anywhere (even while the libraries load) exits with 130 and one line;
    - a `NoisylabError` or `OSError` a command did not turn into a `UserError` is one line,
      exit 2;
    - anything else is a bug: one line naming the exception and the path of a file holding its
      traceback, exit 1.
    """

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit,
                click.exceptions.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            raise SystemExit(130) from None
        except NoisylabError as exc:
            raise UserError(_one_line(exc)) from None
        except OSError as exc:
            raise UserError(os_error_line(exc)) from None
        except Exception as exc:  # noqa: BLE001 - the last resort
            saved = save_traceback(exc)
            where = f"; traceback in {saved}" if saved else ""
            click.echo(f"Error: internal error, please report it: {type(exc).__name__}: "
                       f"{_one_line(exc)}{where}", err=True)
            raise SystemExit(1) from None


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
