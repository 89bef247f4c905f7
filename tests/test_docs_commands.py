"""The commands and config snippets the documentation shows, which users copy: every option it
gives a `prunebench` command or a benchmarks/ script is one that command's parser has, every
rule it reruns by name (`-R lora`) is one of the workflow's, every YAML snippet passes the
checks the workflow makes at its start, stacked on the default as the docs stack them, and every
refusal of a benchmarks/ script that docs/failure-modes.md shows is what its parser says. Read
from the documents and the parsers alone: nothing runs, no model is built."""

from __future__ import annotations

import ast
import importlib.util
import re
import shlex
import sys
from pathlib import Path

import pytest

from prunebench import PrunebenchError
from prunebench.cli import main
from prunebench.plan.checks import check_config
from prunebench.plan.config_files import load_config_files

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", REPO / "config" / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SUBCOMMANDS = ("plan", "check-config", "usage", "prune", "recover", "bench", "eval")
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """Each fenced block's language and body."""
    return re.findall(r"^```(\w*)\n(.*?)^```", text, flags=re.M | re.S)


def code_spans(text: str) -> list[str]:
    """The inline code spans outside fenced blocks, as CommonMark reads them (a span opens and
    closes with backtick runs of one length, may wrap lines, and knows no escapes), each on one
    line."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    spans, i = [], 0
    while (opening := re.compile(r"`+").search(text, i)) is not None:
        run = opening[0]
        closing = re.compile(rf"(?<!`){run}(?!`)").search(text, opening.end())
        if closing is None:
            i = opening.end()
            continue
        spans.append(" ".join(text[opening.end():closing.start()].split()))
        i = closing.end()
    return spans


def command_lines(doc: Path) -> list[str]:
    """What the document shows as a command: each line of its shell blocks (a line ending in
    `\\` joined to the next, the comment dropped) and each inline code span."""
    text = doc.read_text()
    lines = [re.sub(r"\s#.*", "", line) for lang, body in fenced_blocks(text)
             if lang in ("bash", "sh", "") for line in body.replace("\\\n", " ").splitlines()]
    return lines + code_spans(text)


def usage(run, capsys) -> set[str]:
    """The options in the usage line of `run`'s --help (which lists every option, unlike its
    descriptions, which may name other commands' options)."""
    with pytest.raises(SystemExit) as stop:
        run()
    assert stop.value.code == 0
    return set(OPTION.findall(capsys.readouterr().out.split("\n\n")[0]))


def test_every_prunebench_option_the_docs_show_is_one_its_command_takes(capsys):
    """`prunebench recover ... --warmup-steps 2`, and a span naming the command alone
    (`bench --attention efficient`, as docs/failure-modes.md writes them)."""
    options = {sub: usage(lambda sub=sub: main([sub, "--help"]), capsys) for sub in SUBCOMMANDS}
    subcommand = "|".join(map(re.escape, SUBCOMMANDS))
    shown, unknown = 0, []
    for doc in DOCS:
        for line in command_lines(doc):
            for match in re.finditer(rf"(?:\bprunebench\s+|^)({subcommand})\s(.*?)"
                                     r"(?=\bprunebench\s|\bsnakemake\b|;|$)", line):
                for option in OPTION.findall(match[2]):
                    shown += 1
                    if option not in options[match[1]]:
                        unknown.append(f"{doc.relative_to(REPO)}: `prunebench {match[1]}` has "
                                       f"no {option}: {line}")
    assert shown > 50, shown  # the commands were found
    assert not unknown, "\n".join(unknown)


def benchmark_script(path: Path, monkeypatch):
    """The module of a benchmarks/ script."""
    # the scripts import script_arguments (paired_check gpu_check) from beside themselves
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_benchmark_script_option_the_docs_show_is_one_the_script_takes(capsys,
                                                                             monkeypatch):
    # (script_arguments.py, the scripts' shared argument reading, is no script)
    scripts = {path.stem: path for path in (REPO / "benchmarks").glob("*.py")
               if "__main__" in path.read_text()}
    assert "script_arguments" not in scripts and len(scripts) > 5, scripts
    options = {}
    for name, path in scripts.items():
        module = benchmark_script(path, monkeypatch)
        monkeypatch.setattr(sys, "argv", [str(path), "--help"])  # prune_methods reads argv
        options[name] = usage(module.main, capsys)
    named = "|".join(map(re.escape, scripts))
    shown, unknown = 0, []
    for doc in DOCS:
        for line in command_lines(doc):
            for match in re.finditer(rf"\b({named})\.py\b(.*?)(?=\b(?:{named})\.py\b|$)", line):
                for option in OPTION.findall(match[2]):
                    shown += 1
                    if option not in options[match[1]]:
                        unknown.append(f"{doc.relative_to(REPO)}: {match[1]}.py has no "
                                       f"{option}: {line}")
    assert shown > 50, shown
    assert not unknown, "\n".join(unknown)


def test_every_benchmark_script_refusal_the_docs_show_is_what_it_says(capsys, monkeypatch,
                                                                       tmp_path):
    """docs/failure-modes.md's "Benchmark scripts" rows, each command run as it is shown: the
    script stops with exit code 2 and says the row's message (its `...` standing for what the
    row leaves out; a row of two commands gives one message for both, or one each)."""
    session, check, paired, variants, families, memory = (
        benchmark_script(REPO / "benchmarks" / f"{name}.py", monkeypatch)
        for name in ("gpu_session", "gpu_check", "paired_check", "decode_variants",
                     "family_check", "gpu_memory"))

    def start(*args, **kwargs):
        raise AssertionError("gpu_session took the arguments and started its steps")

    # gpu_session checks its arguments in main, before the session starts; a row it took would
    # start the session, which this stops.
    monkeypatch.setattr(session, "Session", start)
    runs = {"gpu_check.py": check.parse_args, "paired_check.py": paired.parse_args,
            "decode_variants.py": variants.parse_args, "family_check.py": families.parse_args,
            "gpu_memory.py": memory.parse_args,
            "gpu_session.py": lambda argv: session.main([*argv, "--out", str(tmp_path / "out"),
                                                         "--work", str(tmp_path / "work")])}
    text = (REPO / "docs" / "failure-modes.md").read_text()
    section = text.split("\n## Benchmark scripts")[1].split("\n## ")[0]
    rows = [line.strip("|").split("|") for line in section.splitlines()
            if line.startswith("| ") and not line.startswith("| bad input |")]
    checked = 0
    for shown, said in rows:
        commands = [span for span in code_spans(shown) if span.split()[0] in runs]
        messages = code_spans(said)
        assert commands and len(messages) in (1, len(commands)), (shown, said)
        for command, message in zip(commands, messages * len(commands) if len(messages) == 1
                                    else messages):
            script, *argv = shlex.split(command)
            with pytest.raises(SystemExit) as stop:
                runs[script](argv)
            error = capsys.readouterr().err
            assert stop.value.code == 2, command
            assert re.search(".*".join(map(re.escape, message.split("..."))), error), \
                f"{command} said {error!r}, not {message!r}"
            checked += 1
    assert checked >= 15, checked  # the rows were found


def test_every_rule_the_docs_rerun_by_name_is_a_rule_of_the_workflow():
    """`snakemake --cores all -R perplexity zeroshot` (docs/upgrading.md); a file path given
    to -R instead (`-R resources/data/...`) is no rule's name."""
    rules = set(re.findall(r"^rule (\w+)", "\n".join(
        path.read_text() for path in (REPO / "workflow").rglob("*.smk")), flags=re.M))
    assert {"prune", "benchmark", "lora", "aggregate"} <= rules
    shown, unknown = 0, []
    for doc in DOCS:
        for line in command_lines(doc):
            for match in re.finditer(r"\bsnakemake\b.*?\s(?:-R|--forcerun)((?:\s+(?!-)[\w/<>.-]+)+)",
                                     line):
                for word in match[1].split():
                    if re.fullmatch(r"[a-z_]+", word):
                        shown += 1
                        if word not in rules:
                            unknown.append(f"{doc.relative_to(REPO)}: no rule {word!r}: {line}")
    assert shown > 5, shown
    assert not unknown, "\n".join(unknown)


def test_every_config_snippet_in_the_docs_passes_the_start_checks(tmp_path, monkeypatch):
    """Each YAML block stacked on config/config.yaml, as the docs stack one (a whole config of
    its own would say which sections it lacks). A snippet's files and folders are examples,
    not there to read (`local:/scratch/me/...`, `texts: {legal: {train: /data/...}}`): that one
    of them is missing is the only problem left to it. From a folder of its own, so that its
    relative paths name nothing in the checkout."""
    monkeypatch.chdir(tmp_path)
    snippets = [(doc, body) for doc in DOCS for lang, body in fenced_blocks(doc.read_text())
                if lang == "yaml"]
    assert len(snippets) >= 6, len(snippets)  # the blocks were found
    wrong = []
    for n, (doc, body) in enumerate(snippets):
        snippet = tmp_path / f"snippet-{n}.yaml"
        snippet.write_text(body)
        paths = re.findall(r"(?:local:|train: |test: )([^\s,}#]+)", body)
        try:
            check_config(load_config_files([REPO / "config" / "config.yaml", snippet]),
                         resources=tmp_path / "resources")
        except PrunebenchError as err:
            for problem in str(err).splitlines()[1:]:
                missing = re.search(r"(no such folder|does not exist)", problem)
                if not (missing and any(Path(p).name in problem for p in paths)):
                    wrong.append(f"{doc.relative_to(REPO)}:\n{body}-> {problem.strip()}")
    assert not wrong, "\n".join(wrong)


def heading_anchors(text: str) -> set[str]:
    """The anchors GitHub gives a document's headings: lower case, punctuation dropped but for
    `-` and `_`, spaces as `-`, and `-1`, `-2`, ... after a repeated one."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    anchors, seen = set(), {}
    for heading in re.findall(r"^#{1,6}\s+(.*?)\s*#*\s*$", text, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        anchors.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return anchors


def test_every_relative_link_in_the_docs_resolves():
    """`[docs/results.md](docs/results.md#rerunning-one-cell)`: the file exists, and an anchor
    names one of its headings (a link in a code block or span is no link)."""
    checked, broken = 0, []
    for doc in [*DOCS, REPO / "docs" / "measurements" / "README.md"]:
        text = re.sub(r"^```.*?^```", "", doc.read_text(), flags=re.M | re.S)
        text = re.sub(r"(`+).*?\1", "", text, flags=re.S)
        for target in re.findall(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", text):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:: not this checkout's
                continue
            path, _, anchor = target.partition("#")
            file = (doc.parent / path).resolve() if path else doc
            checked += 1
            if not file.exists():
                broken.append(f"{doc.relative_to(REPO)}: {target}: no such file")
            elif anchor and (file.suffix != ".md" or anchor not in heading_anchors(file.read_text())):
                broken.append(f"{doc.relative_to(REPO)}: {target}: no such heading")
    assert checked > 20, checked  # the links were found
    assert not broken, "\n".join(broken)


# A message's pointer to a document: the file alone (`docs/hub.md`), or with a section, quoted
# (`docs/results.md, "Rerunning one cell"`) or, for config/README.md's keys, in backticks
# (`config/README.md, \`models\``); `README` is README.md.
CITATION = re.compile(r"(README(?:\.md)?|(?:config|docs)/[\w-]+\.md)(?:'s)?"
                      r"(?:,\s*(?:\"([^\"]+)\"|'([^']+)'|`([^`]+)`))?")


def code_strings(path: Path) -> list[str]:
    """The strings of a source file, each one whole: Python's through its syntax tree (adjacent
    literals joined, an f-string's fields as `{}`), a Snakemake file's lines as written."""
    if path.suffix != ".py":
        return [path.read_text().replace('\\"', '"')]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append(node.value)
        elif isinstance(node, ast.JoinedStr):
            found.append("".join(part.value if isinstance(part, ast.Constant) else "{}"
                                 for part in node.values))
    return found


def sections(text: str) -> list[str]:
    """What a message may name in a document: its headings and its paragraphs' bold labels
    (docs/benchmarks.md's `**Drift**`), backticks dropped, outside code blocks."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    found = re.findall(r"^#{1,6}\s+(.*?)\s*#*\s*$", text, flags=re.M)
    found += re.findall(r"^(?:[-*]\s+)?\*\*([^*]+)\*\*", text, flags=re.M)
    return [heading.replace("`", "") for heading in found]


def test_every_section_a_message_cites_is_in_its_document():
    """ALONE_HINT sent readers to README's "Real models" after the whole text had moved to
    docs/running.md: a message's pointer names an existing file, and the section it names
    starts one of that file's headings (or bold paragraph labels), as `Compute nodes without
    network` starts docs/hub.md's "Compute nodes without network: pre-fetching"."""
    sources = [*(REPO / "src" / "prunebench").rglob("*.py"), *(REPO / "benchmarks").glob("*.py"),
               *(REPO / "workflow" / "scripts").glob("*.py"),
               *(REPO / "workflow" / "rules").glob("*.smk"), REPO / "workflow" / "Snakefile"]
    cited, broken = [], []
    for source in sources:
        for text in code_strings(source):
            for match in CITATION.finditer(text):
                name = "README.md" if match[1] == "README" else match[1]
                section = " ".join((match[2] or match[3] or match[4] or "").split())
                where = f"{source.relative_to(REPO)}: {name}" + (f", {section!r}" if section else "")
                cited.append(where)
                if not (REPO / name).is_file():
                    broken.append(f"{where}: no such file")
                elif section and not any(re.match(re.escape(section) + r"(?!\w)", heading)
                                         for heading in sections((REPO / name).read_text())):
                    broken.append(f"{where}: no such section")
    # the citations were found, the section ones among them
    assert "src/prunebench/plan/checks.py: docs/running.md, 'Real models'" in cited, cited
    assert sum(", " in where for where in cited) > 20, cited
    assert not broken, "\n".join(broken)


def markdown_section(text: str, heading: str) -> str:
    """The text under the heading `heading` (its subsections included), up to the next heading
    of its level or above (a `#` line inside a code block is none); a heading written twice,
    or not at all, fails the test."""
    lines, fenced, found = text.splitlines(keepends=True), False, []
    for i, line in enumerate(lines):
        fenced ^= line.startswith("```")
        level = re.match(r"(#+) ", line)
        if not fenced and level:
            found.append((i, len(level[1]), line[level.end():].rstrip("\n")))
    [(start, level)] = [(i, n) for i, n, title in found if title == heading]
    end = next((i for i, n, _ in found if i > start and n <= level), len(lines))
    return "".join(lines[start + 1:end])


def tables(text: str) -> list[str]:
    """Each Markdown table of `text`, its lines as written."""
    return re.findall(r"^(?:\|.*\|\n)+", text, flags=re.M)


def test_the_readmes_commands_are_copies_of_docs_running():
    """The README shows, in brief, commands that docs/running.md holds whole: each of its code
    blocks in these sections is one of docs/running.md's in the same section, so that an
    option changed there (and checked there by the tests above) is changed on the front page
    too."""
    readme, running = (REPO / "README.md").read_text(), (REPO / "docs/running.md").read_text()
    copies = 0
    for heading in ("One checkpoint, no config", "Real models"):
        theirs = fenced_blocks(markdown_section(running, heading))
        for block in fenced_blocks(markdown_section(readme, heading)):
            assert block in theirs, (f"README.md, {heading!r}: a block that docs/running.md's "
                                     f"section does not hold:\n{block[1]}")
            copies += 1
    assert copies >= 4, copies  # the one-checkpoint commands, a hub run, one's own model, text


def test_the_readmes_measured_figures_are_copies_of_docs_benchmarks():
    """The README's "Measured figures" repeats docs/benchmarks.md's headline GPU table (a copy,
    which must match it line for line) and sums up rows of its table of development-machine
    figures: a row of the README whose measurement docs/benchmarks.md also gives (the same
    `what` before its details) quotes its figures (in bold), commits and dates."""
    readme = markdown_section((REPO / "README.md").read_text(), "Measured figures")
    source = markdown_section((REPO / "docs/benchmarks.md").read_text(), "Measured figures")
    readme_tables, source_tables = tables(readme), tables(source)
    gpu = [table for table in readme_tables if table.startswith("| variant |")]
    assert len(gpu) == 1, readme_tables
    assert gpu[0] in source_tables, f"README's GPU table is none of docs/benchmarks.md's:\n{gpu[0]}"

    def rows(table_list):
        """`what` (before its details) -> `measured`, of the `| what | measured |` tables."""
        found = {}
        for table in table_list:
            if table.startswith("| what | measured |"):
                for what, measured in re.findall(r"^\| (.*?) \| (.*) \|$", table, flags=re.M)[2:]:
                    found[re.split(r"[(:]", what)[0].strip()] = measured
        return found

    theirs, summed = rows(source_tables), 0
    for what, measured in rows(readme_tables).items():
        if what not in theirs:
            continue  # the README's own (the clean-clone `.ci/run`, which docs/benchmarks.md cites)
        quoted = re.findall(r"\*\*[^*]+\*\*|`[0-9a-f]{7,}`|\d{4}-\d{2}-\d{2}", measured)
        missing = [part for part in quoted if part not in theirs[what]]
        assert not missing, f"README.md's {what!r}: {missing} not in docs/benchmarks.md's row"
        summed += bool(quoted)
    assert summed >= 1  # `make run` from a fresh clone


def test_the_families_paragraph_names_every_family_of_the_table_and_no_other():
    """docs/families.md lists the families twice, in its table and in one paragraph: a family
    added to one only (or to the paragraph's dense list, not its mixtures of experts) makes
    them disagree. Each family is named in the paragraph as `(`model_type`...`, the table's
    rows of mixtures of experts say **mixture of experts**."""
    from prunebench.checkpoint.param_count import FAMILIES as SUPPORTED

    text = (REPO / "docs" / "families.md").read_text()
    intro = text[:text.index("\n## ")]
    rows = re.findall(r"^\| `([a-z0-9_-]+)` \| `\w+`[^|]* \|(.*)\|$", intro, flags=re.M)
    table = {model_type for model_type, _ in rows}
    moe = {model_type for model_type, row in rows if "**mixture of experts" in row}
    paragraph = markdown_section(text, "Supported families and known shapes, in one paragraph")
    dense_part, moe_part = re.split(r"mixtures\s+of\s+experts\s+for\s+depth\s+pruning\s+only:",
                                    paragraph)
    named = re.compile(r"\(`([a-z0-9_-]+)`")
    # the table read whole: the code's families (test_families checks each has its row)
    assert table == set(SUPPORTED) and moe, (table ^ set(SUPPORTED), moe)
    assert set(named.findall(dense_part)) == table - moe
    assert set(named.findall(moe_part)) == moe


NUMBER_WORDS = {word: n for n, word in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen".split())}
NUMBER_WORDS.update({word: 10 * n for n, word in enumerate(
    "twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2)})


def number_of(words: str) -> int:
    """A count written in words as the docs write them ("eighty-eight", "one hundred and
    one")."""
    total = 0
    for part in re.split(r"[\s-]+", words.lower()):
        if part == "hundred":
            total *= 100
        elif part != "and":
            total += NUMBER_WORDS[part]
    return total


def test_the_family_counts_are_the_registrys():
    """README.md and docs/families.md count the families and their mixtures of experts, counts
    each merge of new families must update: they are param_count.FAMILIES' and the table's
    rows of mixtures of experts (Granite 4.0's, with experts or without, counted apart)."""
    from prunebench.checkpoint.param_count import FAMILIES as SUPPORTED

    text = (REPO / "docs" / "families.md").read_text()
    moe = len(re.findall(r"^\| `[a-z0-9_]+` \| `\w+`[^|]* \|[^\n]*\*\*mixture of experts", text,
                         flags=re.M))
    families, experts = re.search(r"evaluates ([a-z][a-z -]*?) decoder families "
                                  r"\(([a-z-]+) of them mixtures of experts", text).groups()
    assert (number_of(families), number_of(experts)) == (len(SUPPORTED), moe)
    paragraph = markdown_section(text, "Supported families and known shapes, in one paragraph")
    listed = re.search(r"and ([a-z-]+) mixtures\s+of\s+experts\s+for\s+depth", paragraph)
    assert number_of(listed.group(1)) == moe
    readme = " ".join((REPO / "README.md").read_text().split())
    assert re.search(r"one of (\d+) decoder families", readme).group(1) == str(len(SUPPORTED))
    assert re.search(r"(\d+) mixtures of experts such as", readme).group(1) == str(moe)
