"""One exception type for problems the user can fix (bad input, bad params)."""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's data or params, reported as one line with the fix.

    The message names the file, the column or key, and what to change. The runner and
    the CLI print it without a traceback.
    """

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))
