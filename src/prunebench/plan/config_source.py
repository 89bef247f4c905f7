"""Where in the config files a key is written: a problem of a stacked config names the file and
line to edit, not only the merged key (Snakemake reports the Snakefile line that checked it).

A problem line starts with its key's dotted path ('models.llama.variants.2: ...', or
'...variants[2]'); the last of the files that writes that whole path is the one whose value the
merge kept (a later `--configfile` replaces a value, and a list whole). A key that no file writes
whole (a schema default judged with other keys) or that the command line's `--config` sets is
left unnamed rather than named wrongly.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

_INDEX = re.compile(r"\[(\d+)\]|(\d+)(?=$|[.\[])")


def locate(path: str, files: list[str | Path] | tuple = ()) -> str | None:
    """'config/my.yaml, line 12': where the last of `files` to write the dotted `path` writes
    it, or None where none writes it whole."""
    found = None
    for file in files:
        try:
            root = yaml.compose(Path(file).read_text(encoding="utf-8"),
                                Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue  # the checks name an unreadable file themselves
        line = _line_of(root, path)
        if line is not None:
            found = f"{file}, line {line}"
    return found


def _line_of(node, path: str) -> int | None:
    """The 1-based line where `node` writes `path` (its key's line for a mapping entry)."""
    line = None
    while path:
        if isinstance(node, yaml.MappingNode):
            # the longest key that starts the path: a model may be named 'qwen2.5-7b'
            matches = [(key, value) for key, value in _entries(node)
                       if isinstance(key, yaml.ScalarNode) and _starts(path, key.value)]
            if not matches:
                return None
            key, node = max(matches, key=lambda m: len(m[0].value))
            line, path = key.start_mark.line + 1, path[len(key.value):]
        elif isinstance(node, yaml.SequenceNode):
            index = _INDEX.match(path)
            if index is None or int(index[1] or index[2]) >= len(node.value):
                return None
            node = node.value[int(index[1] or index[2])]
            line, path = node.start_mark.line + 1, path[index.end():]
        else:
            return None
        path = path.removeprefix(".")
    return line


def _entries(node: yaml.MappingNode, seen: frozenset = frozenset()) -> list:
    """A mapping's entries as the loader reads them: its own keys first, then those a merge key
    (`<<: *defaults`, or `<<: [*a, *b]`, the first taking precedence) brings in, whose values
    are written where the anchored mapping writes them (in this file)."""
    own, merged = [], []
    for key, value in node.value:
        if isinstance(key, yaml.ScalarNode) and key.tag == "tag:yaml.org,2002:merge":
            sources = value.value if isinstance(value, yaml.SequenceNode) else [value]
            for source in sources:
                if isinstance(source, yaml.MappingNode) and id(source) not in seen:
                    merged += _entries(source, seen | {id(node)})
        else:
            own.append((key, value))
    return own + merged  # max() in _line_of keeps the first of equal keys: the own one


def _starts(path: str, key: str) -> bool:
    return path == key or path.startswith((f"{key}.", f"{key}["))


def name_sources(problems: list[str], files: list[str | Path] | tuple,
                 set_on_command_line: tuple[str, ...] | list[str] = ()) -> list[str]:
    """Each problem prefixed with where it is written ('config/my.yaml, line 12: benchmark...'),
    where one file writes its key whole and the command line's `--config KEY=VALUE` (its
    KEY=VALUE words, `set_on_command_line`) does not set the key's top-level section."""
    overridden = {word.partition("=")[0].strip() for word in set_on_command_line}
    named = []
    for problem in problems:
        path = problem.partition(": ")[0]
        on_command_line = " " not in path and re.split(r"[.\[]", path)[0] in overridden
        where = None if " " in path or on_command_line else locate(path, files)
        if on_command_line and "." in path and " is text, not " in problem:
            # the user wrote a number, which Snakemake made text: not theirs to write otherwise
            value = problem.partition(": ")[2].partition(" is text, not ")[0]
            problem = f"{path}: {value} {COMMAND_LINE_TEXT}"
        named.append(f"{where}: {problem}" if where else problem)
    return named


# Snakemake's `--config KEY=VALUE` reads a VALUE that is a mapping or list with YAML's base
# loader: every number inside it arrives as text ('benchmark={batch_sizes: [4]}' gives ['4']).
COMMAND_LINE_TEXT = ("is text: Snakemake's --config reads every number inside a mapping or list "
                     "as text; set this key in a config file stacked last instead, e.g. "
                     "--configfile config/config.yaml my.yaml")
