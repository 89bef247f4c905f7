"""Logging for workflow scripts: progress to the job's log file and to stderr."""

from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path


def setup(log_path: str | Path | None = None, level: int = logging.INFO) -> logging.Logger:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w"))
    logging.basicConfig(level=level, handlers=handlers, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    warnings.filterwarnings("ignore", message="Initializing zero-element tensors is a no-op")
    return logging.getLogger("prunebench")


def _log_uncaught(exc_type, exc, tb) -> None:
    """Put a failing job's error in its log file too, where Snakemake points the user."""
    from prunebench import PrunebenchError

    logger = logging.getLogger("prunebench")
    if issubclass(exc_type, PrunebenchError):  # the user's to fix: the message is the point
        logger.error("%s: %s", exc_type.__name__, exc)
    else:
        logger.error("job failed", exc_info=(exc_type, exc, tb))
