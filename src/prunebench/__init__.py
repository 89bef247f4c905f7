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

    # A choice is also found by its last words ('taylor' of 'depth_taylor', 'source' of
    # 'data.source'): a misspelt short form is too far from the whole name for difflib.
    whole = [str(c) for c in choices]
    by_alias = {alias: alias for alias in whole}
    for choice in whole:
        for at, char in enumerate(choice):
            if char in "._" and choice[at + 1:]:
                by_alias.setdefault(choice[at + 1:], choice)
    ranked = difflib.get_close_matches(str(name), list(by_alias), n=max(1, len(by_alias)))
    close = list(dict.fromkeys(by_alias[alias] for alias in ranked))
    return f" (did you mean {' or '.join(map(repr, close[:n]))}?)" if close else ""
