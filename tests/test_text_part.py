"""Multimodal checkpoints (Gemma-3 4B-27B, Mistral-Small 3.x, Ministral 3, LLaVA, Qwen-VL): the
language model prunebench keeps of them (prunebench.checkpoint.text_part) computes, on text,
what the whole model computes; it is taken out on download and on import, resumably, and
refused where its layout is not known."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from prunebench import PrunebenchError
from prunebench.checkpoint import text_part
from prunebench.checkpoint.architectures import ARCHITECTURES, known_shape_of
from prunebench.checkpoint.integrity import weight_files
from prunebench.checkpoint.param_count import checkpoint_config, config_from_dict, count_params

pytestmark = pytest.mark.usefixtures("one_thread")

VOCAB = 300
# A Gemma-3 language model as the 4B-27B have it, small: GQA, local and global blocks, the
# global ones with linearly scaled rotary positions; and a final logit soft cap that the
# multimodal class ignores (low enough to bend these logits if it were applied).
TEXT = dict(model_type="gemma3_text", hidden_size=64, intermediate_size=128, num_hidden_layers=4,
            num_attention_heads=4, num_key_value_heads=2, head_dim=16, vocab_size=VOCAB,
            max_position_embeddings=256, query_pre_attn_scalar=24, sliding_window=8,
            layer_types=["sliding_attention", "full_attention"] * 2,
            rope_scaling={"rope_type": "linear", "factor": 8.0}, final_logit_softcapping=0.5)
VISION = dict(model_type="siglip_vision_model", hidden_size=32, intermediate_size=64,
              num_hidden_layers=1, num_attention_heads=2, image_size=28, patch_size=14)


def multimodal(text: dict | None = None, **top):
    """A random Gemma3ForConditionalGeneration (biases and norm weights randomised too)."""
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration

    config = Gemma3Config(text_config=dict(text or TEXT), vision_config=dict(VISION),
                          mm_tokens_per_image=4, boi_token_index=297, eoi_token_index=298,
                          image_token_index=299, **top)
    torch.manual_seed(0)
    model = Gemma3ForConditionalGeneration(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                p.copy_(torch.randn_like(p) * 0.2 + (1.0 if "norm" in name else 0.0))
    return model


def saved(model, folder: Path, **kwargs) -> Path:
    model.save_pretrained(folder, **kwargs)
    return folder


def with_tokenizer(folder: Path) -> None:
    """A tokenizer beside the weights, as a checkpoint to import must have."""
    from prunebench.tiny import train_tokenizer

    train_tokenizer("the cat sat on the mat. " * 50).save_pretrained(folder)


def text_ids() -> torch.Tensor:
    return torch.randint(3, 290, (2, 20), generator=torch.Generator().manual_seed(1))


def logits(model, ids) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=ids).logits


def left_out_parameters(model) -> int:
    return sum(p.numel() for part in (model.model.vision_tower, model.model.multi_modal_projector)
               for p in part.parameters())


def files(folder: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(folder.iterdir()) if f.is_file()}


def killed_at_shard(n: int, folder: Path, monkeypatch) -> None:
    """Run the extraction of `folder` killed while it writes its n-th text shard."""
    import safetensors.torch

    calls = []

    def failing_save(tensors, path, metadata=None):
        calls.append(path)
        if len(calls) == n:
            raise OSError("killed")
        return save_file(tensors, path, metadata=metadata)

    monkeypatch.setattr(safetensors.torch, "save_file", failing_save)
    with pytest.raises(OSError, match="killed"):
        text_part.take_text_part(folder)


def fake_fetch(monkeypatch, folder: Path) -> None:
    """hub.download's network part faked: it copies the saved model `folder`."""
    from prunebench import hub

    def fetched(repo_id, revision, out_dir, allow):
        shutil.copytree(folder, out_dir, dirs_exist_ok=True)
        return out_dir

    monkeypatch.setattr(hub, "_fetch", fetched)


def test_the_kept_language_model_computes_what_the_multimodal_model_computes(tmp_path):
    """Sharded so that one shard holds vision tensors only: those go, each text shard gets a
    new one, the originals are deleted; the logits on text are the whole model's, and the soft
    cap its text config names is not applied (the multimodal class applies none)."""
    from prunebench.modeling import load_model

    model = multimodal()
    folder = saved(model, tmp_path / "gemma3", max_shard_size="100KB")
    originals = [f.name for f in weight_files(folder)]
    assert len(originals) > 2
    assert text_part.take_text_part(folder) is True

    expected = logits(model, text_ids())
    cap = TEXT["final_logit_softcapping"]  # were it applied, the logits would differ
    assert (cap * torch.tanh(expected / cap) - expected).abs().max() > 0.1
    kept = load_model(folder)
    assert type(kept).__name__ == "Gemma3ForCausalLM"
    assert kept.config.final_logit_softcapping is None
    torch.testing.assert_close(logits(kept, text_ids()), expected, rtol=0, atol=1e-5)

    names = {f.name for f in folder.glob("*.safetensors")}
    assert names == {f.name for f in weight_files(folder)}  # only what the index names
    assert all(text_part._is_text_shard(n) for n in names) and not names & set(originals)
    language = sum(p.numel() for p in model.model.language_model.parameters())
    assert sum(p.numel() for p in kept.parameters()) == language
    assert count_params(checkpoint_config(folder)) == language
    record = json.loads((folder / text_part.RECORD).read_text())
    assert record["left_out"]["parameters"] == left_out_parameters(model)
    assert record["taken_from"] == "Gemma3ForConditionalGeneration"
    assert record["original_weight_files"] == sorted(originals)
    assert text_part.take_text_part(folder) is False  # done: a text checkpoint stays as it is


def test_a_config_json_in_the_published_form_gives_the_same_language_model(tmp_path):
    """google/gemma-3-4b-it's config.json names few keys in transformers 4.50's terms
    (rope_scaling, sliding_window_pattern, torch_dtype at the top): the text config's class
    fills the rest, as inside the multimodal model."""
    from transformers import Gemma3ForConditionalGeneration

    from prunebench.modeling import load_model

    text = {k: v for k, v in TEXT.items() if k not in ("layer_types", "final_logit_softcapping")}
    folder = saved(multimodal(), tmp_path / "published")
    published = {
        "architectures": ["Gemma3ForConditionalGeneration"], "model_type": "gemma3",
        "boi_token_index": 297, "eoi_token_index": 298, "image_token_index": 299,
        "mm_tokens_per_image": 4, "eos_token_id": [1, 106], "torch_dtype": "float32",
        "text_config": {**text, "sliding_window_pattern": 2, "rope_theta": 1000000.0,
                        "rope_local_base_freq": 10000.0},
        "vision_config": VISION}
    (folder / "config.json").write_text(json.dumps(published))
    whole = Gemma3ForConditionalGeneration.from_pretrained(folder).eval()
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    text_part.take_text_part(copy)

    kept = load_model(copy)
    assert kept.config.eos_token_id == [1, 106]  # the whole model's, as generation uses it
    assert kept.config.layer_types == whole.config.text_config.layer_types
    torch.testing.assert_close(logits(kept, text_ids()), logits(whole, text_ids()),
                               rtol=0, atol=1e-5)


def test_transformers_5_module_names_and_an_untied_head_are_taken_too(tmp_path):
    """Tensors named as transformers 5's modules name them (`model.language_model.*`,
    `model.vision_tower.*`, `lm_head.*`), with an LM head of its own (untied)."""
    from prunebench.modeling import load_model

    model = multimodal(tie_word_embeddings=False)
    folder = saved(model, tmp_path / "untied")
    state = load_file(folder / "model.safetensors")
    renamed = {}
    for name, tensor in state.items():
        for old, new in (("language_model.model.", "model.language_model."),
                         ("language_model.lm_head.", "lm_head."),
                         ("vision_tower.", "model.vision_tower."),
                         ("multi_modal_projector.", "model.multi_modal_projector.")):
            if name.startswith(old):
                renamed[new + name.removeprefix(old)] = tensor
    assert "lm_head.weight" in renamed and len(renamed) == len(state)
    save_file(renamed, folder / "model.safetensors", metadata={"format": "pt"})

    text_part.take_text_part(folder)
    kept = load_model(folder)
    assert kept.config.tie_word_embeddings is False
    assert not torch.equal(kept.lm_head.weight, kept.model.embed_tokens.weight)
    torch.testing.assert_close(logits(kept, text_ids()), logits(model, text_ids()),
                               rtol=0, atol=1e-5)


@pytest.mark.parametrize("wrapper, name", [
    ("gemma3", "audio_tower.proj.weight"),
    # Qwen-VL: under `model.`, but neither the language model's nor the ViT's
    ("qwen3_vl", "model.audio_tower.proj.weight"),
])
def test_an_unknown_tensor_is_refused_and_nothing_is_changed(wrapper, name, tmp_path):
    model = multimodal() if wrapper == "gemma3" else qwen_vl(wrapper)[0]
    folder = saved(model, tmp_path / "odd")
    state = load_file(folder / "model.safetensors")
    state[name] = torch.zeros(2, 2)
    save_file(state, folder / "model.safetensors", metadata={"format": "pt"})
    before = files(folder)
    with pytest.raises(PrunebenchError, match=name.replace(".", r"\.")):
        text_part.take_text_part(folder)
    assert files(folder) == before


ANOTHER_FAMILY = "is 'llama': prunebench takes out only the 'gemma3_text'"


def test_a_language_model_of_another_family_is_refused(tmp_path):
    folder = saved(multimodal(), tmp_path / "other")
    config = json.loads((folder / "config.json").read_text())
    config["text_config"]["model_type"] = "llama"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(PrunebenchError, match=ANOTHER_FAMILY):
        text_part.take_text_part(folder)
    with pytest.raises(PrunebenchError, match=ANOTHER_FAMILY):
        checkpoint_config(folder)


def test_an_interrupted_extraction_resumes_to_the_same_checkpoint(tmp_path, monkeypatch):
    """Broken off while writing its shards, the folder is still the multimodal checkpoint (its
    config.json), and the rerun finishes it with the shards already written; broken off after
    config.json, before the originals were deleted, the next call deletes them (only files the
    index does not name)."""
    model = multimodal()
    straight = saved(model, tmp_path / "straight", max_shard_size="100KB")
    broken = tmp_path / "broken"
    shutil.copytree(straight, broken)
    text_part.take_text_part(straight)

    killed_at_shard(2, broken, monkeypatch)
    assert json.loads((broken / "config.json").read_text())["model_type"] == "gemma3"
    assert len(list(broken.glob("model-text-*"))) == 1  # the first shard, whole
    monkeypatch.undo()
    assert text_part.take_text_part(broken) is True
    assert files(broken) == files(straight)

    # config.json written, the originals not yet deleted: the next call deletes them.
    original = tmp_path / "original"
    shutil.copytree(tmp_path / "straight", original)
    leftover = original / json.loads((original / text_part.RECORD).read_text())[
        "original_weight_files"][0]
    leftover.write_bytes(b"left by a run that ended before deleting it")
    assert text_part.take_text_part(original) is False
    assert not leftover.exists() and files(original) == files(straight)


def test_a_multimodal_folder_given_as_it_is_is_refused_with_the_way_to_use_it(tmp_path):
    from prunebench.modeling import load_config

    folder = saved(multimodal(), tmp_path / "gemma-3-4b-it")
    with pytest.raises(PrunebenchError, match="Gemma3ForConditionalGeneration.*local:<folder>"):
        load_config(folder)


def test_the_workflow_checks_plans_and_imports_its_language_model(tmp_path):
    """A `local:` folder holding the multimodal checkpoint passes the start's checks, is sized
    by its language model, and is imported as that model, manifest verified."""
    from prunebench.checkpoint.integrity import MANIFEST, verify_manifest
    from prunebench.checkpoint.local_import import import_local, local_problems
    from prunebench.modeling import load_model

    model = multimodal()
    folder = saved(model, tmp_path / "gemma-3-4b-it")
    with_tokenizer(folder)
    assert local_problems("gemma3", str(folder)) == []
    language = sum(p.numel() for p in model.model.language_model.parameters())
    assert count_params(checkpoint_config(folder)) == language
    # the jobs' sizes, before the import (the end-to-end run stopped here on the wrapper's
    # model_type)
    from prunebench.plan.jobsize import known_param_count

    assert known_param_count(tmp_path / "resources" / "models" / "gemma3",
                             f"local:{folder}") == language

    out = tmp_path / "resources" / "models" / "gemma3"
    import_local(f"local:{folder}", out)
    verify_manifest(out)
    assert text_part.RECORD in json.loads((out / MANIFEST).read_text())["files_sha256"]
    assert json.loads((folder / "config.json").read_text())["model_type"] == "gemma3"  # read only
    torch.testing.assert_close(logits(load_model(out), text_ids()), logits(model, text_ids()),
                               rtol=0, atol=1e-5)


def test_a_download_keeps_the_language_model(tmp_path, monkeypatch):
    """hub.download (the workflow's model rule and the commands' hf: models) takes the language
    model out once the files are there (the network part faked: it copies a saved model)."""
    from prunebench import hub

    fake_fetch(monkeypatch, saved(multimodal(), tmp_path / "saved"))
    out = hub.download("google/gemma-3-4b-it", "abc", tmp_path / "download")
    assert json.loads((out / "config.json").read_text())["model_type"] == "gemma3_text"
    assert (out / text_part.RECORD).is_file()
    with safe_open(next(out.glob("model-text-*.safetensors")), "pt") as handle:
        assert all(name.startswith(("model.", "lm_head.")) for name in handle.keys())


def test_the_published_configs_text_part_is_the_known_shape():
    """gemma-3-4b-it's published config.json, as the start and `prunebench plan` read it, sizes
    as the `gemma-3-4b` shape a hub id of it is planned with (the text config class's defaults
    for what it leaves out)."""
    published = {
        "architectures": ["Gemma3ForConditionalGeneration"], "model_type": "gemma3",
        "torch_dtype": "bfloat16", "eos_token_id": [1, 106],
        "text_config": {"hidden_size": 2560, "intermediate_size": 10240,
                        "model_type": "gemma3_text", "num_hidden_layers": 34,
                        "rope_scaling": {"factor": 8.0, "rope_type": "linear"},
                        "sliding_window": 1024},
        "vision_config": {"hidden_size": 1152, "image_size": 896, "intermediate_size": 4304,
                          "model_type": "siglip_vision_model", "num_attention_heads": 16,
                          "num_hidden_layers": 27, "patch_size": 14, "vision_use_head": False}}
    values = text_part.text_config_values(published)
    assert values["model_type"] == "gemma3_text" and values["torch_dtype"] == "bfloat16"
    assert known_shape_of("google/gemma-3-4b-it") == "gemma-3-4b"
    assert count_params(config_from_dict(values)) == count_params(
        config_from_dict(ARCHITECTURES["gemma-3-4b"])) == 3_880_263_168


def test_an_lm_head_of_its_own_stays_untied_whatever_the_config_says(tmp_path):
    """A fine-tune saved by transformers 4 with an untied head names the tying in its text
    config only, so the wrapper's config says nothing (tied, by its class's default); its own
    head, which differs from the embedding, is what transformers computes with."""
    from prunebench.modeling import load_model

    model = multimodal(tie_word_embeddings=False)
    folder = saved(model, tmp_path / "fine-tune")
    config = json.loads((folder / "config.json").read_text())
    config.pop("tie_word_embeddings")
    config["text_config"]["tie_word_embeddings"] = False
    (folder / "config.json").write_text(json.dumps(config))
    text_part.take_text_part(folder)
    kept = load_model(folder)
    assert kept.config.tie_word_embeddings is False
    torch.testing.assert_close(logits(kept, text_ids()), logits(model, text_ids()),
                               rtol=0, atol=1e-5)


def test_a_record_copied_into_another_checkpoint_deletes_nothing(tmp_path):
    """A text_part.json carried into a folder where a fine-tune of the kept model was saved
    (whose shards may have the original's names: model-00001-of-00002): its files stay."""
    from prunebench.modeling import save_model

    extracted = saved(multimodal(), tmp_path / "extracted", max_shard_size="100KB")
    text_part.take_text_part(extracted)
    record = json.loads((extracted / text_part.RECORD).read_text())
    fine_tune = tmp_path / "fine-tune"
    from prunebench.modeling import load_model

    save_model(load_model(extracted), None, fine_tune)
    # beside its weights, a file of the recorded names that its index does not name
    (fine_tune / record["original_weight_files"][0]).write_bytes(b"kept by the user")
    (fine_tune / text_part.RECORD).write_text(json.dumps(record))
    before = files(fine_tune)
    assert text_part.take_text_part(fine_tune) is False
    assert files(fine_tune) == before


@pytest.mark.parametrize("change, message", [
    ({"quantization_config": {"quant_method": "bitsandbytes"}}, "quantized checkpoint"),
    ({"auto_map": {"AutoModel": "modeling_x.Model"}}, "custom code"),
    ({"tie_word_embeddings": None}, "not valid for gemma3_text"),
    ({"text_config": {**TEXT, "use_bidirectional_attention": True}},
     "use_bidirectional_attention"),
])
def test_a_config_the_start_or_transformers_refuses_changes_nothing(tmp_path, change, message):
    folder = saved(multimodal(), tmp_path / "refused")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **change}))
    before = files(folder)
    with pytest.raises(PrunebenchError, match=message):
        text_part.take_text_part(folder)
    assert files(folder) == before


def test_shards_of_other_original_files_are_not_reused(tmp_path, monkeypatch):
    """An extraction broken off, then its original files replaced by others of the same names
    (a branch that moved, a folder saved again): the rerun makes every text shard again from
    the new files, none of the earlier run's is kept."""
    folder = saved(multimodal(), tmp_path / "moved", max_shard_size="100KB")
    fresh = tmp_path / "fresh"
    shutil.copytree(folder, fresh)
    killed_at_shard(3, folder, monkeypatch)
    monkeypatch.undo()
    assert len(list(folder.glob("model-text-*"))) == 2
    for root in (folder, fresh):  # the same new tensors under the same names, in both
        for shard in sorted(root.glob("model-0*.safetensors")):
            save_file({k: v + 0.5 for k, v in load_file(shard).items()}, shard,
                      metadata={"format": "pt"})
    text_part.take_text_part(fresh)
    text_part.take_text_part(folder)
    assert files(folder) == files(fresh)


def test_a_touched_source_file_does_not_import_again(tmp_path):
    """The workflow reruns an import (and all made from it) when a file of the folder changed,
    not when it was only touched: the files the extraction replaced are known by the sha256
    it recorded of them."""
    import os

    from prunebench.checkpoint.local_import import (folder_state, import_files, import_local,
                                                    workflow_state)

    folder = saved(multimodal(), tmp_path / "gemma-3-4b-it", max_shard_size="100KB")
    with_tokenizer(folder)
    out = import_local(f"local:{folder}", tmp_path / "resources" / "models" / "gemma3")
    imported = folder_state(folder)
    assert "model.safetensors.index.json" in imported  # sharded, as the published ones
    for file in import_files(folder):
        stat = file.stat()
        os.utime(file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert folder_state(folder) != imported
    assert workflow_state(folder, out) == imported
    config = folder / "config.json"
    config.write_text(config.read_text().replace('"mm_tokens_per_image": 4',
                                                 '"mm_tokens_per_image": 5'))
    assert workflow_state(folder, out) == folder_state(folder) != imported


def test_a_finished_extraction_is_not_downloaded_again(tmp_path, monkeypatch):
    """Killed after the language model was kept (while the manifest was hashed, or before the
    originals were deleted), the rerun does not fetch the whole multimodal checkpoint again;
    originals left over are deleted."""
    from prunebench import hub

    fake_fetch(monkeypatch, saved(multimodal(), tmp_path / "saved"))
    out = hub.download("google/gemma-3-4b-it", "abc", tmp_path / "download")
    before = files(out)
    leftover = out / json.loads((out / text_part.RECORD).read_text())["original_weight_files"][0]
    leftover.write_bytes(b"an original the killed run had not deleted yet")

    def refetched(*args):
        raise AssertionError("fetched again")

    monkeypatch.setattr(hub, "_fetch", refetched)
    assert hub.download("google/gemma-3-4b-it", "abc", tmp_path / "download") == out
    assert files(out) == before


def test_an_import_killed_after_the_extraction_finishes_without_copying_again(tmp_path,
                                                                                monkeypatch):
    """Killed while the manifest was hashed (minutes for a 27B model), the import's rerun
    writes the manifest of what it made; it does not copy the folder's shards again (the
    originals are gone from its staging folder) nor make the text shards again."""
    import prunebench.modeling
    from prunebench.checkpoint import local_import
    from prunebench.modeling import load_model

    model = multimodal()
    folder = saved(model, tmp_path / "gemma-3-4b-it", max_shard_size="100KB")
    with_tokenizer(folder)
    out = tmp_path / "resources" / "models" / "gemma3"

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(prunebench.modeling, "write_manifest", killed)
    with pytest.raises(KeyboardInterrupt):
        local_import.import_local(f"local:{folder}", out)
    staging = out.parent / f".{out.name}.import"
    assert text_part.finished(staging)
    shards = {f.name: f.stat().st_mtime_ns for f in staging.glob("model-text-*")}
    monkeypatch.undo()

    copies = []
    monkeypatch.setattr(local_import, "_copy_and_convert", lambda *a: copies.append(a))
    local_import.import_local(f"local:{folder}", out)
    assert copies == []
    assert {f.name: f.stat().st_mtime_ns for f in out.glob("model-text-*")} == shards
    torch.testing.assert_close(logits(load_model(out), text_ids()), logits(model, text_ids()),
                               rtol=0, atol=1e-5)


def test_the_whole_models_dtype_is_the_text_models():
    raw = {"model_type": "gemma3", "torch_dtype": "bfloat16",
           "text_config": {"model_type": "gemma3_text", "dtype": "float32"}}
    values = text_part.text_config_values(raw)
    assert values["torch_dtype"] == "bfloat16" and "dtype" not in values


def mistral3(text: dict):
    """A random Mistral3ForConditionalGeneration (untied) of language model `text` beside a
    small Pixtral vision tower."""
    from transformers import Mistral3Config, Mistral3ForConditionalGeneration

    vision = dict(model_type="pixtral", hidden_size=32, intermediate_size=64,
                  num_hidden_layers=1, num_attention_heads=2, head_dim=16, image_size=28,
                  patch_size=14)
    torch.manual_seed(0)
    return Mistral3ForConditionalGeneration(Mistral3Config(
        text_config=text, vision_config=vision, image_token_index=299,
        tie_word_embeddings=False)).eval()


def test_mistral_small_3_keeps_its_mistral_language_model_and_its_own_head(tmp_path):
    """Mistral-Small 3.1 / 3.2 (Mistral3ForConditionalGeneration): a Mistral text model with
    head_dim set apart and an LM head of its own, beside a Pixtral vision tower; its published
    config.json names no tying at the top (the class's default ties) and unties in its
    text_config: the head kept is its own."""
    from prunebench.modeling import load_model

    model = mistral3(dict(model_type="mistral", hidden_size=64, intermediate_size=128,
                          num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
                          head_dim=8, vocab_size=VOCAB, max_position_embeddings=256,
                          sliding_window=None, tie_word_embeddings=False))
    folder = saved(model, tmp_path / "mistral-small")
    config = json.loads((folder / "config.json").read_text())
    config.pop("tie_word_embeddings")
    config["transformers_version"] = "4.50.0.dev0"  # as published (and the text_config names none)
    (folder / "config.json").write_text(json.dumps(config))

    assert text_part.take_text_part(folder) is True
    # Who saved it decides whether transformers corrects its tokenizer (test_tokenizer_options).
    assert json.loads((folder / "config.json").read_text())["transformers_version"] == \
        "4.50.0.dev0"
    kept = load_model(folder)
    assert type(kept).__name__ == "MistralForCausalLM" and kept.config.head_dim == 8
    assert kept.config.tie_word_embeddings is False
    torch.testing.assert_close(logits(kept, text_ids()), logits(model, text_ids()),
                               rtol=0, atol=1e-5)
    record = json.loads((folder / text_part.RECORD).read_text())
    assert record["taken_from"] == "Mistral3ForConditionalGeneration"
    assert record["left_out"]["parameters"] == left_out_parameters(model)
    assert (known_shape_of("mistralai/Mistral-Small-3.1-24B-Instruct-2503")
            == "mistral-small-3.1-24b")


def test_ministral_3_keeps_its_ministral3_language_model_with_its_query_scale(tmp_path):
    """Ministral 3 and Devstral Small 2 wrap a `ministral3` language model (Mistral's block,
    YaRN, queries scaled by position past the original context: 8 tokens here, so the 20-token
    texts cross it twice) in the same Mistral3ForConditionalGeneration: it is kept as a
    Ministral3ForCausalLM computing what the whole model computes; a wrapper holding another
    family is refused by name."""
    from prunebench.modeling import load_model

    from test_families import MINISTRAL3_ROPE

    model = mistral3(dict(model_type="ministral3", hidden_size=64, intermediate_size=128,
                          num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                          head_dim=16, vocab_size=VOCAB, max_position_embeddings=256,
                          rope_parameters=dict(MINISTRAL3_ROPE), tie_word_embeddings=False))
    with torch.no_grad():  # attention sharp enough that the query scale moves the logits
        for layer in model.model.language_model.layers:
            layer.self_attn.q_proj.weight.mul_(12.0)
    folder = saved(model, tmp_path / "ministral-3")
    other = saved(model, tmp_path / "other")

    assert text_part.take_text_part(folder) is True
    kept = load_model(folder)
    assert type(kept).__name__ == "Ministral3ForCausalLM"
    assert kept.config.rope_parameters["llama_4_scaling_beta"] == 0.7
    torch.testing.assert_close(logits(kept, text_ids()), logits(model, text_ids()),
                               rtol=0, atol=1e-5)
    assert json.loads((folder / text_part.RECORD).read_text())["text_model_type"] == "ministral3"

    config = json.loads((other / "config.json").read_text())
    config["text_config"]["model_type"] = "llama"
    (other / "config.json").write_text(json.dumps(config))
    with pytest.raises(PrunebenchError, match="language model is 'llama'.*'mistral' or "
                                              "'ministral3' or 'mistral4' language model"):
        text_part.take_text_part(other)


def test_a_command_given_the_folder_imports_its_language_model_once(tmp_path, monkeypatch):
    """`prunebench prune ./gemma-3-4b-it ...`: the folder's language model, imported into the
    command's cache as a workflow imports it, once; the folder only read."""
    from prunebench.checkpoint import local_import
    from prunebench.commands.model_source import resolve_model
    from prunebench.modeling import load_model

    model = multimodal()
    folder = saved(model, tmp_path / "gemma-3-4b-it")
    with_tokenizer(folder)
    before = files(folder)
    checkpoint = resolve_model(str(folder), tmp_path / "cache")
    assert checkpoint.path.parent == tmp_path / "cache" and checkpoint.name == "gemma-3-4b-it"
    torch.testing.assert_close(logits(load_model(checkpoint.path), text_ids()),
                               logits(model, text_ids()), rtol=0, atol=1e-5)
    monkeypatch.setattr(local_import, "import_local",
                        lambda *a, **k: pytest.fail("imported again"))
    assert resolve_model(f"local:{folder}", tmp_path / "cache").path == checkpoint.path
    assert files(folder) == before


def test_a_command_trusting_remote_code_imports_the_folders_code_files(tmp_path, monkeypatch):
    """`--trust-remote-code` reached hub downloads only: a multimodal folder whose tokenizer
    ships its own code was imported without it, and the import made so was reused."""
    from prunebench.commands.model_source import resolve_model
    from prunebench.plan.layout import TRUST_REMOTE_CODE_VARIABLE

    monkeypatch.delenv(TRUST_REMOTE_CODE_VARIABLE, raising=False)
    folder = saved(multimodal(), tmp_path / "gemma-3-4b-it")
    with_tokenizer(folder)
    (folder / "tokenization_mine.py").write_text("# a tokenizer's own code\n")
    plain = resolve_model(str(folder), tmp_path / "cache").path
    trusted = resolve_model(str(folder), tmp_path / "cache", trust_remote_code=True).path
    assert trusted != plain and trusted.name.endswith("+code")
    assert (trusted / "tokenization_mine.py").is_file()
    assert not (plain / "tokenization_mine.py").exists()


def test_a_command_names_the_folder_it_was_given_when_it_cannot_import_it(tmp_path):
    from prunebench.commands.model_source import resolve_model

    folder = saved(multimodal(), tmp_path / "gemma-3-4b-it")
    with pytest.raises(PrunebenchError, match=f"^MODEL {folder}: .*has no tokenizer"):
        resolve_model(str(folder), tmp_path / "cache")


LLAVA_VISION = dict(model_type="clip_vision_model", hidden_size=32, intermediate_size=64,
                    num_hidden_layers=1, num_attention_heads=2, image_size=28, patch_size=14,
                    projection_dim=16)


@pytest.mark.parametrize("wrapper, text_type, tied", [
    ("llava", "llama", False),      # LLaVA-1.5: Vicuna v1.5
    ("llava_next", "mistral", False),  # LLaVA-NeXT 1.6 Mistral-7B, with its image_newline
    ("llava", "qwen2", True),       # a small tied language model, tied in its text_config only
])
def test_llava_models_keep_their_language_model(wrapper, text_type, tied, tmp_path):
    """LLaVA-1.5 and LLaVA-NeXT hold a CLIP vision tower and a projector (LLaVA-NeXT also a
    learned image_newline vector) beside a LLaMA, Mistral or Qwen2 language model: kept as
    that family's causal LM, computing what the whole model computes on text; tied where the
    text config ties (the wrapper's config class ties then, though its own default does not)."""
    import transformers

    from prunebench.modeling import load_model

    text = dict(model_type=text_type, hidden_size=64, intermediate_size=128,
                num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                vocab_size=VOCAB, max_position_embeddings=256, tie_word_embeddings=tied)
    names = {"llava": ("LlavaConfig", "LlavaForConditionalGeneration"),
             "llava_next": ("LlavaNextConfig", "LlavaNextForConditionalGeneration")}[wrapper]
    config_cls, model_cls = (getattr(transformers, name) for name in names)
    torch.manual_seed(0)
    model = model_cls(config_cls(text_config=text, vision_config=dict(LLAVA_VISION),
                                 image_token_index=299)).eval()
    assert model.config.tie_word_embeddings is tied
    folder = saved(model, tmp_path / wrapper)
    config = json.loads((folder / "config.json").read_text())
    config.pop("tie_word_embeddings", None)  # as llava-hf's configs: named in text_config only
    (folder / "config.json").write_text(json.dumps(config))

    assert text_part.take_text_part(folder) is True
    kept = load_model(folder)
    assert type(kept).__name__ == {"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM",
                                   "qwen2": "Qwen2ForCausalLM"}[text_type]
    assert kept.config.tie_word_embeddings is tied
    torch.testing.assert_close(logits(kept, text_ids()), logits(model, text_ids()),
                               rtol=0, atol=1e-5)
    record = json.loads((folder / text_part.RECORD).read_text())
    assert record["text_model_type"] == text_type
    assert record["left_out"]["parameters"] == sum(
        p.numel() for name, p in model.named_parameters() if "language_model" not in name
        and not name.startswith("lm_head"))


QWEN_VL_TEXT = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                    num_attention_heads=4, num_key_value_heads=2, vocab_size=VOCAB,
                    max_position_embeddings=256, rope_theta=5000.0, bos_token_id=1,
                    eos_token_id=2)
# M-RoPE's sections over a head's 8 frequency pairs (head_dim 16): time, height, width.
QWEN_VL = {
    "qwen2_vl": ("Qwen2VLConfig", "Qwen2VLForConditionalGeneration", "Qwen2ForCausalLM",
                 dict(QWEN_VL_TEXT, rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]}),
                 dict(depth=1, embed_dim=32, hidden_size=64, num_heads=2, mlp_ratio=2)),
    "qwen2_5_vl": ("Qwen2_5_VLConfig", "Qwen2_5_VLForConditionalGeneration", "Qwen2ForCausalLM",
                   dict(QWEN_VL_TEXT, rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]}),
                   dict(depth=1, hidden_size=32, intermediate_size=64, num_heads=2,
                        out_hidden_size=64, fullatt_block_indexes=[0])),
    "qwen3_vl": ("Qwen3VLConfig", "Qwen3VLForConditionalGeneration", "Qwen3ForCausalLM",
                 dict(QWEN_VL_TEXT, head_dim=16, rope_scaling={
                     "rope_type": "default", "mrope_section": [2, 3, 3],
                     "mrope_interleaved": True}),
                 dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2,
                      out_hidden_size=64, deepstack_visual_indexes=[0, 1],
                      num_position_embeddings=16)),
}


def random_model(config_name: str, model_name: str, **config):
    """A random transformers `model_name` of the `config_name` made of `config` (biases and
    norm weights randomised too, so that a bias or norm lost on the way shows)."""
    import transformers

    torch.manual_seed(0)
    model = getattr(transformers, model_name)(getattr(transformers, config_name)(**config))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                p.copy_(torch.randn_like(p) * 0.2 + (1.0 if "norm" in name else 0.0))
    return model.eval()


def qwen_vl(wrapper: str, **top):
    """A random Qwen-VL model and the name of the text family's class that should compute what
    it computes on text."""
    config_name, model_name, text_class, text, vision = QWEN_VL[wrapper]
    return random_model(config_name, model_name, text_config=dict(text),
                        vision_config=dict(vision), **top), text_class


@pytest.mark.parametrize("wrapper", sorted(QWEN_VL))
def test_qwen_vl_models_keep_their_language_model(wrapper, tmp_path):
    """Qwen2-VL, Qwen2.5-VL and Qwen3-VL hold a ViT beside a Qwen2 (Qwen3) language model that
    rotates by M-RoPE: kept as Qwen2ForCausalLM (Qwen3ForCausalLM) with the ordinary rotation of
    the same frequencies, computing what the whole model computes on text (positions past the
    first M-RoPE section's share of the frequencies included: a section rotated by another
    rule would show)."""
    from prunebench.modeling import load_model

    model, text_class = qwen_vl(wrapper)
    folder = saved(model, tmp_path / wrapper)
    originals = [f.name for f in weight_files(folder)]
    assert text_part.take_text_part(folder) is True

    kept = load_model(folder)
    assert type(kept).__name__ == text_class
    assert "mrope_section" not in json.dumps(kept.config.to_dict())
    ids = torch.randint(3, 290, (2, 60), generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(logits(kept, ids), logits(model, ids), rtol=0, atol=1e-5)
    record = json.loads((folder / text_part.RECORD).read_text())
    assert record["text_model_type"] == text_class.removesuffix("ForCausalLM").lower()
    assert record["left_out"]["parameters"] == sum(
        p.numel() for p in model.model.visual.parameters())
    assert record["original_weight_files"] == sorted(originals)
    assert not list(folder.glob("model.safetensors"))
    assert text_part.take_text_part(folder) is False


def test_qwen2_5_vl_in_its_published_form_keeps_the_settings_at_the_configs_top(tmp_path):
    """Qwen/Qwen2.5-VL-7B-Instruct's config.json has no text_config: the language model's
    settings are at its top beside vision_config and the image / video token ids, and its
    rotation is `rope_scaling: {type: mrope, mrope_section: ...}` with `rope_theta` apart
    (the 3B's published config.json, but for the sizes); tied (as the 3B) at the top."""
    from transformers import Qwen2_5_VLForConditionalGeneration

    from prunebench.modeling import load_model

    model, _ = qwen_vl("qwen2_5_vl", tie_word_embeddings=True)
    folder = saved(model, tmp_path / "published")
    _, _, _, text, vision = QWEN_VL["qwen2_5_vl"]
    published = {"architectures": ["Qwen2_5_VLForConditionalGeneration"],
                 "model_type": "qwen2_5_vl", **text, "rms_norm_eps": 1e-6,
                 "tie_word_embeddings": True, "torch_dtype": "float32", "use_sliding_window": False,
                 "sliding_window": 32768, "max_window_layers": 70,
                 "vision_start_token_id": 295, "vision_end_token_id": 296,
                 "vision_token_id": 297, "image_token_id": 298, "video_token_id": 299,
                 "vision_config": vision, "transformers_version": "4.41.2"}
    (folder / "config.json").write_text(json.dumps(published))
    whole = Qwen2_5_VLForConditionalGeneration.from_pretrained(folder).eval()
    assert whole.config.get_text_config().rms_norm_eps == 1e-6

    text_part.take_text_part(folder)
    config = json.loads((folder / "config.json").read_text())
    assert not {k for k in config if k.startswith(("vision", "image", "video"))}
    kept = load_model(folder)
    assert kept.config.rms_norm_eps == 1e-6 and kept.config.tie_word_embeddings is True
    assert kept.config.rope_parameters["rope_theta"] == 5000.0
    ids = torch.randint(3, 290, (2, 60), generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(logits(kept, ids), logits(whole, ids), rtol=0, atol=1e-5)


@pytest.mark.parametrize("wrapper", ["qwen2_5_vl", "qwen3_vl"])
def test_a_qwen_vl_tied_in_its_text_config_only_is_kept_tied(wrapper, tmp_path):
    """Qwen2.5-VL-3B and Qwen3-VL-2B/4B tie their LM head; a config that says so in its
    text_config only (as transformers 4 saved it), over files without an LM head, keeps the
    language model tied (not refused for a missing head, not given a random one)."""
    from prunebench.modeling import load_model

    model, _ = qwen_vl(wrapper, tie_word_embeddings=True)
    folder = saved(model, tmp_path / wrapper)
    with safe_open(folder / "model.safetensors", framework="pt") as handle:
        assert "lm_head.weight" not in handle.keys()
    config = json.loads((folder / "config.json").read_text())
    del config["tie_word_embeddings"]
    config["text_config"]["tie_word_embeddings"] = True
    (folder / "config.json").write_text(json.dumps(config))

    text_part.take_text_part(folder)
    kept = load_model(folder)
    assert kept.config.tie_word_embeddings is True
    ids = torch.randint(3, 290, (2, 12), generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(logits(kept, ids), logits(model, ids), rtol=0, atol=1e-5)


SIGLIP_SMALL = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                    num_attention_heads=2, image_size=28, patch_size=14)
OTHER_VLMS = {  # wrapper: (config class, model class, its vision config)
    "internvl": ("InternVLConfig", "InternVLForConditionalGeneration",
                 dict(SIGLIP_SMALL, image_size=[28, 28], patch_size=[14, 14])),
    "idefics3": ("Idefics3Config", "Idefics3ForConditionalGeneration", SIGLIP_SMALL),
    "smolvlm": ("SmolVLMConfig", "SmolVLMForConditionalGeneration", SIGLIP_SMALL),
    # GOT-OCR 2.0's SAM-style ViT (windows of 2 patches, one global block) and its
    # convolutional projector
    "got_ocr2": ("GotOcr2Config", "GotOcr2ForConditionalGeneration",
                 dict(hidden_size=32, output_channels=16, num_hidden_layers=2,
                      num_attention_heads=2, image_size=64, patch_size=16, mlp_dim=64,
                      window_size=2, global_attn_indexes=[1])),
}


@pytest.mark.parametrize("wrapper, text_type, tied", [
    ("internvl", "qwen2", False),   # InternVL3-8B-hf: Qwen2.5-7B, untied
    ("internvl", "qwen3", True),    # InternVL3.5-1B-hf: Qwen3-0.6B, tied
    ("idefics3", "llama", False),   # Idefics3-8B: Llama-3.1-8B
    ("smolvlm", "llama", True),     # SmolVLM-256M: SmolLM2-135M, tied
    ("got_ocr2", "qwen2", True),    # GOT-OCR-2.0-hf: Qwen2-0.5B's shape, tied
    ("got_ocr2", "qwen2", False),   # a fine-tune saved untied
])
def test_internvl_and_smolvlm_keep_their_language_model(wrapper, text_type, tied, tmp_path):
    """InternVL's -hf checkpoints and GOT-OCR 2.0's (LLaVA's layout) and Idefics3 / SmolVLM
    (`model.text_model.*` beside `model.vision_model.*` and a connector) keep their language
    model as that family's causal LM, computing what the whole model computes on text, tied or
    not as it is."""
    from prunebench.modeling import load_model

    config_name, model_name, vision = OTHER_VLMS[wrapper]
    text = dict(model_type=text_type, hidden_size=64, intermediate_size=128,
                num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                vocab_size=VOCAB, max_position_embeddings=256, tie_word_embeddings=tied,
                **({"head_dim": 16} if text_type == "qwen3" else {}))
    model = random_model(config_name, model_name, text_config=text, vision_config=dict(vision),
                         image_token_id=299, tie_word_embeddings=tied)
    folder = saved(model, tmp_path / wrapper)
    # Idefics3Config's pad token 128002 at the top, as transformers 4 saved it (SmolVLM's
    # published configs hold it over a 49,280-token vocabulary): not the language model's
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "pad_token_id": 128002}))

    assert text_part.take_text_part(folder) is True
    kept = load_model(folder)
    assert type(kept).__name__ == {"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM",
                                   "qwen3": "Qwen3ForCausalLM"}[text_type]
    assert kept.config.tie_word_embeddings is tied
    assert kept.config.pad_token_id is None
    torch.testing.assert_close(logits(kept, text_ids()), logits(model, text_ids()),
                               rtol=0, atol=1e-5)
    record = json.loads((folder / text_part.RECORD).read_text())
    language = (model.model.language_model if wrapper in ("internvl", "got_ocr2")
                else model.model.text_model)
    assert record["left_out"]["parameters"] == (
        sum(p.numel() for p in model.parameters())
        - sum(p.numel() for p in language.parameters())
        - (0 if tied else model.lm_head.weight.numel()))


@pytest.mark.parametrize("wrapper", sorted(w for w, spec in text_part.WRAPPERS.items()
                                           if spec.text_config_types))
def test_a_qwen_vl_text_classs_own_defaults_are_kept(wrapper):
    """The Qwen-VL text configs' classes (Qwen2_5_VLTextConfig, ...) default otherwise than
    Qwen2Config / Qwen3Config (a 72B's shapes, another rotary base and norm epsilon): each
    such default is in the wrapper's text_defaults, as transformers has it, and nothing else."""
    import transformers

    spec = text_part.WRAPPERS[wrapper]
    ((own_type, family),) = spec.text_config_types.items()
    own = transformers.AutoConfig.for_model(own_type).to_dict()
    theirs = transformers.AutoConfig.for_model(family).to_dict()
    own["rope_theta"] = own.pop("rope_parameters")["rope_theta"]
    theirs["rope_theta"] = theirs.pop("rope_parameters")["rope_theta"]
    differing = {key: value for key, value in own.items() if theirs.get(key, value) != value
                 and key not in ("model_type", "layer_types")}  # (one per block: follows)
    assert differing == spec.text_defaults


@pytest.mark.parametrize("wrapper, rope, left_out", [
    # hand-trimmed: the rotary base and norm epsilon left to the class (Qwen2.5-VL's 1e6 and
    # 1e-5, not Qwen2's 1e4 and 1e-6)
    ("qwen2_5_vl", {"type": "mrope", "mrope_section": [2, 3, 3]}, ("rope_theta", "rms_norm_eps")),
    # the newer key naming M-RoPE itself (as vLLM's notes have users edit it in)
    ("qwen2_5_vl", {"rope_type": "mrope", "mrope_section": [2, 3, 3]}, ()),
    ("qwen3_vl", {"rope_type": "default", "mrope_section": [2, 3, 3],
                  "mrope_interleaved": True}, ("rope_theta",)),
])
def test_a_qwen_vl_config_that_leaves_settings_to_its_class_computes_the_same(
        wrapper, rope, left_out, tmp_path):
    """A config.json that leaves a setting out gets the value the whole model's text config
    class gives it, not the text family's default; any way of naming M-RoPE becomes the
    ordinary rotation the family's class builds."""
    import transformers

    model, _ = qwen_vl(wrapper)
    folder = saved(model, tmp_path / wrapper)
    config = json.loads((folder / "config.json").read_text())
    text = config["text_config"]
    for key in (*left_out, "rope_parameters"):
        text.pop(key, None)
    text["rope_scaling"] = rope
    (folder / "config.json").write_text(json.dumps(config))
    whole = getattr(transformers, QWEN_VL[wrapper][1]).from_pretrained(folder).eval()

    text_part.take_text_part(folder)
    from prunebench.modeling import load_model

    kept = load_model(folder)
    ids = torch.randint(3, 290, (2, 60), generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(logits(kept, ids), logits(whole, ids), rtol=0, atol=1e-5)
    assert kept.config.rope_parameters["rope_type"] == "default"
    assert kept.config.rope_parameters["rope_theta"] == whole.config.get_text_config(
    ).rope_parameters["rope_theta"]


def test_moss_transcribe_diarize_keeps_its_qwen3_language_model(tmp_path):
    """MOSS-Transcribe-Diarize (transformers 5.20 on) holds a Qwen3 language model beside an
    audio encoder and its projector, tied: kept as Qwen3ForCausalLM of the whole model's
    parameters but the encoder's and projector's, counted from config.json alone, computing
    the whole model's logits on text (the audio token's id among it), depth-prunable."""
    import transformers

    from prunebench.modeling import load_model, remove_blocks

    if not hasattr(transformers, "MossTranscribeDiarizeForConditionalGeneration"):
        pytest.skip("transformers < 5.20 has no MOSS-Transcribe-Diarize class to compare with")
    model = random_model(
        "MossTranscribeDiarizeConfig", "MossTranscribeDiarizeForConditionalGeneration",
        audio_config=dict(num_mel_bins=8, hidden_size=32, num_hidden_layers=1,
                          num_attention_heads=2, intermediate_size=64, max_source_positions=16),
        text_config=dict(QWEN_VL_TEXT, model_type="qwen3", vocab_size=VOCAB),
        audio_token_id=VOCAB - 1)
    folder = saved(model, tmp_path / "moss")
    assert text_part.take_text_part(folder) is True
    kept = load_model(folder)
    assert type(kept).__name__ == "Qwen3ForCausalLM" and kept.config.tie_word_embeddings
    language = sum(p.numel() for p in model.model.language_model.parameters())
    assert sum(p.numel() for p in kept.parameters()) == count_params(
        checkpoint_config(folder)) == language
    ids = text_ids()
    ids[:, 4] = VOCAB - 1
    torch.testing.assert_close(logits(kept, ids), logits(model, ids), rtol=0, atol=1e-5)
    record = json.loads((folder / text_part.RECORD).read_text())
    assert record["left_out"]["parameters"] == sum(
        p.numel() for part in (model.model.audio_tower, model.model.multi_modal_projector)
        for p in part.parameters())
    remove_blocks(kept, [1])
    assert sum(p.numel() for p in kept.parameters()) == count_params(kept.config)


def test_whole_model_token_ids_the_language_model_lacks_are_left_to_it():
    """Idefics3's config class pads the whole model with 128002: over a vocabulary without it
    (SmolVLM's 49,280 tokens; LLaMA's default 32,000 where the text config names none) the
    language model keeps its own pad; a list of ids keeps those the vocabulary has."""
    top = {"model_type": "smolvlm", "pad_token_id": 128002, "eos_token_id": [49279, 128009],
           "bos_token_id": 1, "vision_config": {}}
    values = text_part.text_config_values(
        {**top, "text_config": {"model_type": "llama", "vocab_size": 49280, "pad_token_id": 2}})
    assert (values["pad_token_id"], values["eos_token_id"], values["bos_token_id"]) == (
        2, [49279], 1)
    unsized = text_part.text_config_values({**top, "text_config": {"model_type": "llama"}})
    assert "pad_token_id" not in unsized and "eos_token_id" not in unsized  # (both >= 32000)
    assert unsized["bos_token_id"] == 1
    assert text_part.text_config_values(
        {**top, "eos_token_id": [128009], "text_config": {"vocab_size": 49280}}
    ).get("eos_token_id") is None
