"""`prunebench plan`: sizes from configs alone, no weights."""
import yaml

from prunebench.cli import main, plan_rows


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
