"""The one base exception: every error launchdeck raises on purpose says what it is about.

`title` is the short heading a view shows above the message (a notification's title, the first
words of a CLI error); the message itself is the exception's text, already safe to show (secrets
masked where the raiser knew them).
"""

from __future__ import annotations


class LaunchdeckError(Exception):
    title = "launchdeck"


def title_of(error: BaseException) -> str:
    """The heading for any error: its own title, or its type's name for a bug."""
    return error.title if isinstance(error, LaunchdeckError) else type(error).__name__
