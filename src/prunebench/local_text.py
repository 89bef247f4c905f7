"""Text of your own: files named in the config's `texts`, for calibration and perplexity.

A text has a name of its own (`texts: {legal: {train: data/legal-train.jsonl, test: ...}}`),
which calibration (`calibration.source: legal`) and perplexity (`evaluation.perplexity.datasets:
[legal]`) then use as they use a hub dataset's: windows are drawn from its `train` file,
perplexity scored on its `test` file. A file is either JSON lines (`.jsonl`: one JSON object a
line, its `field`, "text" by default, holding the row: a document may span several lines) or
plain UTF-8 text (any other name: one row a line, as WikiText's rows are).

The workflow copies each split once into the run's resources (`prepare`): its rows as JSON
lines, which calibration reads (`read_rows`), the text perplexity scores, and where it came from
(the file's path, size, modification time and sha256), which the calibration file and the job
logs record. As for a `local:` model folder, only a change of the file's content copies it
again and remakes what was made from it (`workflow_state`): a file moved (the config pointed at
its new place), touched, or gone after its copy (a purged scratch space) reruns nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from prunebench import PrunebenchError
from prunebench.plan.layout import LOCAL_TEXT_ORIGIN, LOCAL_TEXT_ROWS

log = logging.getLogger(__name__)

# The splits a text of your own can have: calibration draws from `train`, perplexity scores
# `test` (as it scores WikiText-2's test split).
SPLITS = ("train", "test")
DEFAULT_FIELD = "text"
# Rows of a JSON-lines file are joined so into the text perplexity scores (WikiText-2's
# evaluation joins its rows with a blank line too); a plain text file is scored as it is.
JSONL_JOINER = "\n\n"


def source_file(path: str) -> Path:
    """The file a `texts` entry names: `~` expanded, a relative path taken from the directory
    the run works in (as a `local:` model folder is: the same resolution)."""
    from prunebench.checkpoint.local_import import local_path

    return local_path(path)


def file_problem(path: str | Path) -> str | None:
    """Why `path` cannot be read as a text of your own, or None (checked before any job)."""
    path = Path(path)
    if not path.exists():
        return f"{path} does not exist"
    if not path.is_file():
        return f"{path} is not a file"
    return None


def state(path: str | Path) -> list[int]:
    """The file's size and modification time (ns): what tells a changed file."""
    stat = Path(path).stat()
    return [stat.st_size, stat.st_mtime_ns]


def workflow_state(path: str | Path, origin_file: str | Path) -> list[int] | None:
    """What the workflow compares to decide whether a text file changed since its copy (the
    `local_text` rule's param): its `state`, except that the copy's recorded state stands for
    a file gone since (None where nothing was copied either: the config check names the file)
    and for one whose time alone moved, its size and bytes those copied (hashed once per
    change of its stat: known_sha256's memo)."""
    from prunebench.atomic import read_json_or_none
    from prunebench.checkpoint.integrity import known_sha256

    try:
        origin = read_json_or_none(origin_file)
        recorded = origin.get("state") if isinstance(origin, dict) else None
    except (OSError, ValueError):  # a damaged record counts as none: the copy is made again
        origin, recorded = None, None
    path = Path(path)
    try:
        now = state(path)
    except OSError:
        return recorded
    if recorded is None or now == recorded or now[0] != recorded[0]:
        return now
    try:
        same = known_sha256([path])[path.name] == origin.get("sha256")
    except OSError:
        return now
    return recorded if same else now


def read_source_rows(path: str | Path, field: str = DEFAULT_FIELD) -> list[str]:
    """The rows of a text file of your own (module docstring), empty lines of a plain text
    file kept as empty rows (the joined samplings join them, as WikiText's are)."""
    return read_source(path, field)[0]


def read_source(path: str | Path, field: str = DEFAULT_FIELD) -> tuple[list[str], str, str]:
    """(rows, the text perplexity scores, sha256) of a text file of your own, all from one read
    of its bytes: what was hashed is what was parsed, even if the file is written to meanwhile.
    A leading byte order mark (a Windows editor's UTF-8) is no part of the text."""
    path = Path(path)
    problem = file_problem(path)
    if problem:
        raise PrunebenchError(f"text file {problem}: fix the path in the config's `texts`")
    data = path.read_bytes()
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise PrunebenchError(f"{path} is not UTF-8 text ({err.reason} at byte {err.start}): "
                              "save it as UTF-8") from None
    # Line ends as Python's text mode reads them (\r\n and \r are \n): a file saved on
    # Windows gives the rows and the scored text it gives on Linux.
    content = content.replace("\r\n", "\n").replace("\r", "\n")
    rows = _jsonl_rows(path, content, field) if is_jsonl(path) else _lines(content)
    if not any(row.strip() for row in rows):
        raise PrunebenchError(f"{path} holds no text: give a file with at least one non-empty row")
    text = JSONL_JOINER.join(rows) if is_jsonl(path) else content
    return rows, text, hashlib.sha256(data).hexdigest()


def _lines(content: str) -> list[str]:
    """The lines of `content`, split at "\n" alone, as the hub and embedded texts' rows are:
    str.splitlines also splits at form feeds, U+0085 and U+2028, which JSON keeps unescaped
    inside a string and books and legal text hold inside a paragraph."""
    lines = content.split("\n")
    return lines[:-1] if lines[-1] == "" else lines


def is_jsonl(path: str | Path) -> bool:
    return Path(path).suffix.lower() == ".jsonl"


def _jsonl_rows(path: Path, content: str, field: str) -> list[str]:
    rows = []
    for number, line in enumerate(_lines(content), 1):
        if not line.strip():
            continue
        where = f"{path}, line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise PrunebenchError(f"{where} is not JSON ({err.msg}): a .jsonl file holds one "
                                  "JSON object a line") from None
        if not isinstance(record, dict):
            raise PrunebenchError(f"{where} is a JSON {type(record).__name__}, not an object "
                                  f"with a {field!r} field")
        if field not in record:
            raise PrunebenchError(f"{where} has no field {field!r} (its fields: "
                                  f"{sorted(record)}): name the one holding the text (the config's "
                                  "texts.<name>.field, or --text-field)")
        if not isinstance(record[field], str):
            raise PrunebenchError(f"{where}: field {field!r} is a JSON "
                                  f"{type(record[field]).__name__}, not a string")
        rows.append(record[field])
    return rows


def split_field(spec: dict[str, Any], split: str) -> str:
    """The field the `local_text` job of `split` reads (its param): a .jsonl file's (`field`,
    text by default); for a plain text file, whose rows are its lines, always the default. A
    `field` set for the other split's .jsonl file then copies no plain file again, which
    would remake the windows, prunes and perplexities made from it (and a plain file's job
    keeps the param it had before any field was set)."""
    return spec.get("field", DEFAULT_FIELD) if is_jsonl(spec[split]) else DEFAULT_FIELD


def prepare(source: str | Path, field: str, rows_out: str | Path, text_out: str | Path,
            origin_out: str | Path) -> dict[str, Any]:
    """Copy one split of a text of your own into the run: its rows (JSON lines), the text
    perplexity scores, and its origin (path, sha256, format, rows), each written atomically.
    Returns the origin."""
    from prunebench.atomic import write_json, write_text

    source = Path(source)
    before = state(source)
    rows, text, sha256 = read_source(source, field)
    if state(source) != before:  # written to while it was read: the copy would be half of it
        raise PrunebenchError(f"{source} changed while it was copied: rerun snakemake once it "
                              "is written")
    jsonl = is_jsonl(source)
    origin = {"file": str(source), "sha256": sha256, "bytes": before[0],
              "state": before, "format": "jsonl" if jsonl else "text",
              "field": field if jsonl else None, "rows": sum(1 for row in rows if row.strip())}
    write_text(rows_out, "".join(json.dumps({DEFAULT_FIELD: row}, ensure_ascii=False) + "\n"
                                 for row in rows))
    write_text(text_out, text)
    write_json(origin_out, origin)
    return origin


def scoring_text(path: str | Path, field: str = DEFAULT_FIELD) -> str:
    """The text perplexity scores of a file of your own (what `prepare` copies as the text)."""
    return read_source(path, field)[1]


def perplexity_splits(config: dict[str, Any]) -> dict[str, str]:
    """The perplexity rule's `splits` param: the hub datasets' (EVAL_SPLITS), and `test` for
    each text of your own that evaluation.perplexity.datasets names. Only those: the param is
    a rerun trigger of every perplexity job, so a text that calibration alone uses, or one
    added to `texts` and not yet used, must leave the finished jobs' param as it was."""
    from prunebench.data import EVAL_SPLITS

    texts = config.get("texts") if isinstance(config.get("texts"), dict) else {}
    perplexity = (config.get("evaluation") or {}).get("perplexity") or {}
    scored = perplexity.get("datasets") if isinstance(perplexity, dict) else None
    return {**EVAL_SPLITS, **{name: "test" for name in texts
                              if isinstance(scored, list) and name in scored}}


# `prunebench prune --calibration file:<path>` and `prunebench eval --ppl file:<path>` name a
# file directly (the workflow names it in `texts`).
FILE_PREFIX = "file:"


def named_file(source: str) -> Path | None:
    """The file a `file:<path>` source names (`source_file`), or None for another source."""
    return source_file(source[len(FILE_PREFIX):]) if source.startswith(FILE_PREFIX) else None


def split_sources(text: str) -> list[str]:
    """A comma-separated list of sources (`prunebench eval --ppl`) into its entries, a
    `file:<path>` whose path holds commas kept whole: each `file:` entry takes the following
    pieces for as long as they name an existing file with it, the longest such path winning
    (`file:/data/a,b.txt,embedded` is that file and `embedded`)."""
    pieces, entries, i = text.split(","), [], 0
    while i < len(pieces):
        end = i
        if pieces[i].strip().startswith(FILE_PREFIX):
            for j in range(i + 1, len(pieces)):
                whole = named_file(",".join(pieces[i:j + 1]).strip())
                if whole is not None and whole.is_file():
                    end = j
        entries.append(",".join(pieces[i:end + 1]).strip())
        i = end + 1
    return entries


def read_rows(dataset: str, split: str, root: str | Path = ".") -> tuple[list[str], str] | None:
    """(rows, where they came from) of a text of your own as the workflow prepared it under
    `root` (the run's directory), or None where no such copy exists."""
    rows_file = Path(root) / LOCAL_TEXT_ROWS.format(dataset=dataset, split=split)
    origin_file = Path(root) / LOCAL_TEXT_ORIGIN.format(dataset=dataset, split=split)
    if not rows_file.is_file():
        return None
    try:
        # split at "\n" alone (_lines): the rows hold U+2028 and U+0085 unescaped
        rows = [json.loads(line)[DEFAULT_FIELD]
                for line in _lines(rows_file.read_text(encoding="utf-8"))]
        origin = json.loads(origin_file.read_text(encoding="utf-8"))
        where = f"{origin['file']} (sha256 {origin['sha256']})"
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise PrunebenchError(
            f"the copy of text {dataset!r} ({split}) in {rows_file.parent} is damaged "
            f"({type(err).__name__}: {err}): delete {rows_file} and rerun snakemake, which "
            "copies it again") from None
    return rows, where
