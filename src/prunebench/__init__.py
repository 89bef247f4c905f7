"""prunebench: what does structured pruning really buy an LLM at generation time?

One module per concern; see docs/architecture.md for the map.
"""

__version__ = "0.1.0"


class PrunebenchError(Exception):
    """An error caused by input the user can fix; the message names the problem and the fix."""


def did_you_mean(name: str, choices, n: int = 1) -> str:
    """' (did you mean 'a'?)' for the choices close to a misspelt `name`, else '': the end of
    an error message that refuses a name."""
    import difflib

    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=n)
    return f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
