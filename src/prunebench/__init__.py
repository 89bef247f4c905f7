"""prunebench: what does structured pruning really buy an LLM at generation time?

One module per concern; see docs/architecture.md for the map.
"""

__version__ = "0.1.0"


class PrunebenchError(Exception):
    """An error caused by input the user can fix; the message names the problem and the fix."""
