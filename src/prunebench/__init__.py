"""prunebench: what does structured pruning really buy an LLM at generation time?

One module per concern; see docs/architecture.md for the map.
"""

__version__ = "0.1.0"


class PrunebenchError(Exception):
    """An error caused by input the user can fix; the message names the problem and the fix."""

    # Whether the same job, run again unchanged, could succeed. Not for input errors: the
    # input decides them, so a scheduler's retry would only fail the same way again
    # (prunebench.logs ends such retries at once).
    retry_may_help = False


class FamilyUnsupported(PrunebenchError):
    """What a model's family cannot be given, whatever its size or weights (a width method on a
    mixture of experts): the family a hub id names is enough to say so before a download."""


class ResourceError(PrunebenchError):
    """The machine fell short, not the input: the host out of memory, no GPU visible, the
    network or the disk failing. A retry with more memory, later or on another node may
    succeed. (A GPU out of memory is no such error: a retry gets the same kind of GPU.)"""

    retry_may_help = True


def did_you_mean(name: str, choices, n: int = 1) -> str:
    """' (did you mean 'a'?)' for the choices close to a misspelt `name`, else '': the end of
    an error message that refuses a name."""
    import difflib

    whole = [str(c) for c in choices]
    # The name in other letter case ('DEPTH_PPL') first: difflib counts every changed letter.
    close = [c for c in whole if c.lower() == str(name).lower()][:n]
    close = close or difflib.get_close_matches(str(name), whole, n=n)
    if not close:
        # Then by a choice's last words ('taylor' of 'depth_taylor', 'source' of
        # 'data.source'): a misspelt short form is too far from the whole name for difflib.
        # Only as a fallback and only when very close, as short tails match too much.
        by_tail: dict[str, str] = {}
        for choice in whole:
            for at, char in enumerate(choice):
                if char in "._" and choice[at + 1:]:
                    by_tail.setdefault(choice[at + 1:], choice)
        ranked = difflib.get_close_matches(str(name), list(by_tail), n=len(by_tail) or 1,
                                           cutoff=0.8)
        close = list(dict.fromkeys(by_tail[tail] for tail in ranked))[:n]
    return f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
