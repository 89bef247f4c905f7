"""config/README.md documents every key of the config schema (workflow/schemas/config.schema.yaml),
its key tables name no key the schema lacks, and the defaults they write as plain values are the
schema's: a key added to the schema without a word in config/README.md stays unknown to users,
and a documented key or default that the schema contradicts misleads them. Read from the two
files alone: no torch, no config is loaded."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
CONFIG_README = REPO / "config" / "README.md"


def _sections(text: str) -> dict[str, list[str]]:
    """The lines of each section whose heading starts with a key in backticks (the `lora`
    section, the `benchmark.paired` one), by that key: from its heading to the next heading of its
    level or above (a `##` section holds its `###` ones). Lines in fenced blocks are no
    headings."""
    lines = text.splitlines()
    headings = []  # (line index, level, key or None)
    fenced = False
    for i, line in enumerate(lines):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (match := re.match(r"(#+) ", line)):
            key = re.match(r"#+ `([A-Za-z0-9_.]+)`", line)
            headings.append((i, len(match[1]), key[1] if key else None))
    sections = {}
    for n, (start, level, key) in enumerate(headings):
        if key is None:
            continue
        end = next((i for i, lvl, _ in headings[n + 1:] if lvl <= level), len(lines))
        sections[key] = lines[start:end]
    return sections


def _code_spans(text: str) -> list[str]:
    return re.findall(r"`([^`\n]+)`", text)


def _names(word: str, spans: list[str]) -> bool:
    """Whether `word` stands as a whole name in one of the code spans (`data.source`,
    `{source, n, length}`, `r` / `alpha`)."""
    pattern = re.compile(rf"(?<![\w-]){re.escape(word)}(?![\w-])")
    return any(pattern.search(span) for span in spans)


def _resolve(node: dict, schema: dict) -> tuple[dict, bool]:
    """`node`, or the definition its $ref names (and whether it was one)."""
    if "$ref" in node:
        name = node["$ref"].removeprefix("#/definitions/")
        return schema["definitions"][name], True
    return node, False


def _schema_keys(node: dict, schema: dict, path: tuple[str, ...] = (),
                 in_definition: bool = False) -> Iterator[tuple[tuple[str, ...], bool]]:
    """Every key a config may write, as its path (`("lora", "data", "source")`) and whether it
    lies in a shared definition (`calibration`'s keys, documented once); the names a user
    chooses (a model's, a method's, a text's) and list items add nothing to the path."""
    node, ref = _resolve(node, schema)
    in_definition = in_definition or ref
    for key, sub in node.get("properties", {}).items():
        yield path + (key,), in_definition
        yield from _schema_keys(sub, schema, path + (key,), in_definition)
    for sub in (node.get("additionalProperties"), node.get("items")):
        if isinstance(sub, dict):
            yield from _schema_keys(sub, schema, path, in_definition)
    for sub in node.get("oneOf", []) + node.get("anyOf", []):
        yield from _schema_keys(sub, schema, path, in_definition)


def _schema_node(path: list[str], schema: dict) -> dict | None:
    """The schema of the key at `path` (through the names a user chooses), None if none."""
    node = schema
    for key in path:
        node, _ = _resolve(node, schema)
        while key not in node.get("properties", {}):
            if not isinstance(node.get("additionalProperties"), dict):
                return None
            node, _ = _resolve(node["additionalProperties"], schema)
        node = node["properties"][key]
    return _resolve(node, schema)[0]


def _table_rows(lines: list[str]) -> Iterator[tuple[list[str], list[str]]]:
    """The rows of a section's own tables, each with its table's header, as lists of cells:
    its subsections' tables are theirs (the `benchmark.paired` heading's), and a table's
    header and separator lines are no rows."""
    header, fenced = None, False
    for line in lines[1:]:
        fenced = fenced != line.startswith("```")
        if line.startswith("#") and not fenced:
            return
        if not line.startswith("|"):
            header = None
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if header is None:
            header = cells
        elif not set(cells[0]) <= set("-: "):
            yield header, cells


def _key_rows(lines: list[str]) -> list[str]:
    """The keys in the first column of a section's `| key | ... |` tables (`data.source`;
    `r` / `alpha` / `dropout`: three)."""
    return [key for header, cells in _table_rows(lines) if header[0] == "key"
            for key in _code_spans(cells[0])]


def test_every_schema_key_is_documented_in_config_readme():
    """A key has a row in its section's key table (`data.source` stands for `data` too), or a
    section of its own; a key nested in another's value (`embedded.model`'s keyword
    arguments, a variant's `{name, params, calibration}`) is named in its section, and the
    shared `calibration` definition's keys anywhere in the file."""
    schema = yaml.safe_load(SCHEMA.read_text())
    text = CONFIG_README.read_text()
    sections = _sections(text)
    everywhere = _code_spans(text)
    missing = []
    for path, in_definition in _schema_keys(schema, schema):
        dotted = ".".join(path)
        if any(key == dotted or key.startswith(dotted + ".") for key in sections):
            continue  # a section of its own (`device`, `evaluation.zeroshot`)
        owners = [key for key in sections if dotted.startswith(key + ".")]
        if not owners:
            missing.append(f"{dotted}: no section for `{path[0]}`")
            continue
        owner = max(owners, key=len)
        relative = dotted[len(owner) + 1:]
        rows = _key_rows(sections[owner])
        if in_definition:
            documented = _names(path[-1], everywhere)
        elif rows and "." not in relative:
            documented = any(row == relative or row.startswith(relative + ".") for row in rows)
        elif any(row.startswith(relative.split(".")[0] + ".") for row in rows):
            documented = relative in rows  # its siblings have rows (`data.seed`): so has it
        else:
            documented = relative in rows or _names(path[-1], _code_spans(
                "\n".join(sections[owner])))
        if not documented:
            missing.append(f"{dotted}: no row or mention of `{relative}` in the `{owner}` "
                           "section")
    assert not missing, "schema keys config/README.md does not document:\n" + "\n".join(missing)


def test_every_key_in_config_readme_tables_is_a_schema_key():
    """The `| key | ... |` tables of the sections named after config keys (a method's own
    `| param | ... |` tables are the registry's, checked by the config checks' tests)."""
    schema = yaml.safe_load(SCHEMA.read_text())
    unknown, checked = [], 0
    for section, lines in _sections(CONFIG_README.read_text()).items():
        if _schema_node(section.split("."), schema) is None:
            continue  # a method's section (`flap`)
        for key in _key_rows(lines):
            checked += 1
            if _schema_node(section.split(".") + key.split("."), schema) is None:
                unknown.append(f"{section}.{key}")
    assert checked > 50, checked  # the tables were found
    assert not unknown, ("keys config/README.md documents that the schema does not have: "
                         + ", ".join(unknown))


def _documented_value(cell: str):
    """A key table's default as written, where it is one plain value: a number (`128`, `1e-4`)
    or one code span (`auto`, `true`); None for words (`all`, `= window`, `(required)`)."""
    cell = cell.strip()
    if span := re.fullmatch(r"`([^`]+)`", cell):
        return yaml.safe_load(span[1])
    for kind in (int, float):
        try:
            return kind(cell)
        except ValueError:
            pass
    return None


def test_config_readme_defaults_are_the_schemas():
    """A default written as one plain value in a `| key | default | ... |` table is the one
    the schema gives (`r` / `alpha` / `dropout`: `8 / 16 / 0.05`, one each). Words are left
    alone, and so are keys without a schema default, whose default is the code's behaviour."""
    schema = yaml.safe_load(SCHEMA.read_text())
    wrong, compared = [], 0
    for section, lines in _sections(CONFIG_README.read_text()).items():
        if _schema_node(section.split("."), schema) is None:
            continue
        for header, cells in _table_rows(lines):
            if header[:2] != ["key", "default"]:
                continue
            keys = _code_spans(cells[0])
            values = cells[1].split(" / ") if len(keys) > 1 else [cells[1]]
            if len(keys) != len(values):
                continue
            for key, cell in zip(keys, values):
                node = _schema_node(section.split(".") + key.split("."), schema)
                value = _documented_value(cell)
                if node is None or "default" not in node or value is None or \
                        isinstance(node["default"], dict | list):
                    continue
                compared += 1
                default = node["default"]
                same = (value is default if isinstance(default, bool) else
                        value == default and not isinstance(value, bool))
                if not same:
                    wrong.append(f"{section}.{key}: config/README.md says {cell}, the schema "
                                 f"{default!r}")
    assert compared > 30, compared  # the tables were read
    assert not wrong, "defaults config/README.md misstates:\n" + "\n".join(wrong)
