"""One exception type for problems the user can fix (bad input, bad params)."""

from __future__ import annotations

import sys


class UserError(Exception):
    """A problem with the user's data or params, reported as one line with the fix.

    The message names the file, the column or key, and what to change. The runner and
    the CLI print it without a traceback.
    """

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class SparkQueryError(RuntimeError):
    """A statement failed on Spark (`helpers.spark_engine`); the message is Spark's first line.

    Defined here, with no Spark import, so that code running on either engine can catch it.
    """


def cli_error(exc: BaseException) -> int:
    """Print one line for an error of a command-line tool and return its exit status, 1.

    A `UserError` prints its message; anything else its type and first line, never a
    traceback (the tools promise one line).

    >>> cli_error(ValueError("bad\\nsecond line"))
    1
    """
    if isinstance(exc, UserError):
        print(f"error: {exc}", file=sys.stderr)
    else:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"error: {type(exc).__name__}: {first}", file=sys.stderr)
    return 1
