"""The one exception type for user mistakes.

The CLI turns a `NoisylabError` into a one-line message and exit status 2; anything else is a bug
and keeps its traceback.
"""


class NoisylabError(ValueError):
    """Bad input: the message states the rule and the value that broke it."""
