"""`prunebench plan`: sizes from configs alone, no weights."""
from pathlib import Path

import pytest
import yaml

from prunebench.checkpoint.architectures import known_shape_of
from prunebench.cli import main, plan_rows

REPO = Path(__file__).resolve().parents[1]


def test_plan_sizes_the_paper_variants_without_weights(tmp_path, capsys):
    config = {"models": {
        "llama-7b": {"source": "random:llama-7b",
                     "variants": ["dense", "depth_ppl-4.9B", "llm_pruner-4.9B", "flap-4.9B",
                                  {"name": "llm_pruner-5.42B", "params": {"ratio": 0.25}}]},
        "vicuna-13b": {"source": "random:vicuna-13b", "variants": ["depth_ppl-9.5B"]},
    }}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    rows = {(r["model"], r["variant"]): r for r in plan_rows(tmp_path / "c.yaml", tmp_path)}
    assert rows["llama-7b", "dense"]["params_after"] == 6_738_415_616
    assert rows["llama-7b", "depth_ppl-4.9B"]["params_after"] == 4_916_965_376
    assert rows["llama-7b", "depth_ppl-4.9B"]["blocks_removed"] == 9
    assert abs(rows["llama-7b", "llm_pruner-4.9B"]["params_after"] - 4.9e9) < 0.01 * 4.9e9
    assert rows["llama-7b", "llm_pruner-5.42B"]["params_after"] == 5_422_977_024
    assert rows["vicuna-13b", "depth_ppl-9.5B"]["blocks_removed"] == 11
    assert main(["plan", "--configfile", str(tmp_path / "c.yaml"),
                 "--resources", str(tmp_path)]) == 0
    assert "4,916,965,376" in capsys.readouterr().out


def test_plan_reports_an_unreachable_target(tmp_path, capsys):
    config = {"models": {"m": {"source": "random:llama-7b", "variants": ["llm_pruner-0.5B"]}}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    assert main(["plan", "--configfile", str(tmp_path / "c.yaml"), "--resources", str(tmp_path)]) == 2
    assert "unreachable" in capsys.readouterr().err


def _offline(monkeypatch):
    """No hub: nothing cached, no connection, and a download would be a bug."""
    import huggingface_hub

    from prunebench import cli

    def no_download(*args, **kwargs):
        raise AssertionError("an unreachable hub must not be tried (about 30 s of retries)")

    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda *a, **k: None)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_download)
    monkeypatch.setattr(cli, "hub_reachable", lambda: False)


def test_plan_offline_uses_the_published_shape_and_says_so(tmp_path, capsys, monkeypatch):
    _offline(monkeypatch)
    paper = REPO / "config" / "paper.yaml"
    assert main(["plan", "--configfile", str(paper), "--resources", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    notes = captured.err.strip().splitlines()
    assert len(notes) == len(yaml.safe_load(paper.read_text())["models"])  # one line per model
    assert all("planning with the published shape" in line for line in notes)
    assert "| llama-7b | depth_ppl-4.9B | 4.9B | 4,916,965,376" in captured.out


def test_plan_offline_without_a_known_shape_says_what_to_do(tmp_path, capsys, monkeypatch):
    _offline(monkeypatch)
    config = {"models": {"m": {"source": "hf:org/mystery-model@main", "variants": ["dense"]}}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    assert main(["plan", "--configfile", str(tmp_path / "c.yaml"), "--resources", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "org/mystery-model" in err and "copy its config.json" in err


@pytest.mark.parametrize("repo_id, shape", [
    ("huggyllama/llama-7b", "llama-7b"), ("lmsys/vicuna-13b-v1.3", "vicuna-13b"),
    ("meta-llama/Meta-Llama-3-8B", "llama-3-8b"), ("org/mystery-model", None),
])
def test_known_shape_of_a_hub_id(repo_id, shape):
    assert known_shape_of(repo_id) == shape


def test_paper_tables_sizes_remove_the_studys_block_counts(tmp_path, monkeypatch):
    # The study's tables: LLaMA-7B 20% / 35% pruned = 6 / 11 of 32 blocks, Vicuna-13B 21% / 37%
    # = 8 / 15 of 40 blocks.
    _offline(monkeypatch)
    rows = plan_rows(REPO / "config" / "paper-tables.yaml", tmp_path)
    removed = {(r["model"], r["variant"]): r.get("blocks_removed") for r in rows}
    for model, sizes in {"llama-7b": {"5.5B": 6, "4.5B": 11},
                         "vicuna-13b": {"10.5B": 8, "8.3B": 15}}.items():
        for size, blocks in sizes.items():
            for method in ("depth_ppl", "depth_taylor"):
                assert removed[model, f"{method}-{size}"] == blocks
