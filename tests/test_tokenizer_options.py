"""How prunebench loads a checkpoint's tokenizer: Mistral's converted tokenizers (Mistral-Small
3.x) with the pre-tokenizer transformers corrects, and a pruned copy tokenizing as its base."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import transformers
from tokenizers import Regex, Tokenizer, models, pre_tokenizers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from prunebench import PrunebenchError
from prunebench.modeling import load_tokenizer, save_model, tokenizer_options
from prunebench.zeroshot_progress import store_identity

# Over the 100k tokens above which transformers looks at Mistral's pre-tokenizer regex.
VOCAB = 100_100
# A pre-tokenizer as published in a converted tokenizer.json: a regex split, then byte-level.
PUBLISHED_SPLIT = (r"[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
                   r"|\s+(?!\S)|\s+")
TEXT = "HelloWorld 12345 don't"

corrects_mistral_regex = pytest.mark.skipif(
    not hasattr(PreTrainedTokenizerFast, "_patch_mistral_regex"),
    reason="this transformers version does not correct Mistral's tokenizer regex")


def large_vocab_tokenizer(folder: Path, model_type: str, transformers_version: str | None,
                          pre_tokenizer=None) -> Path:
    """A checkpoint folder's tokenizer files and config.json, the tokenizer shaped as
    Mistral-Small's (a vocabulary over 100k tokens, a regex split before byte-level) unless
    another `pre_tokenizer` is given."""
    vocab = {f"w{i}": i for i in range(VOCAB - 1)} | {"<unk>": VOCAB - 1}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizer or pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PUBLISHED_SPLIT), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    folder.mkdir(parents=True, exist_ok=True)
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>").save_pretrained(folder)
    config = {"model_type": model_type}
    if transformers_version is not None:
        config["transformers_version"] = transformers_version
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def pieces(tokenizer) -> list[str]:
    return [piece for piece, _ in tokenizer.backend_tokenizer.pre_tokenizer.pre_tokenize_str(TEXT)]


def published_pieces(folder: Path) -> list[str]:
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    return [piece for piece, _ in tok.pre_tokenizer.pre_tokenize_str(TEXT)]


@corrects_mistral_regex
def test_a_mistral_tokenizer_and_its_pruned_copy_tokenize_as_transformers_corrects_it(tmp_path):
    """Mistral-Small 3.x's tokenizer, saved before transformers 5: loaded with transformers'
    correction of its regex (not as published), and a pruned model saved from it (config.json
    then names transformers 5, which corrects nothing more) tokenizes the same way."""
    from transformers import MistralConfig, MistralForCausalLM

    dense = large_vocab_tokenizer(tmp_path / "dense", "mistral", "4.50.0.dev0")
    corrected = pieces(AutoTokenizer.from_pretrained(str(dense), fix_mistral_regex=True))
    assert corrected != published_pieces(dense)  # the example tells the two apart

    tokenizer = load_tokenizer(dense)
    assert pieces(tokenizer) == corrected
    torch.manual_seed(0)
    model = MistralForCausalLM(MistralConfig(
        vocab_size=VOCAB, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=1, head_dim=8))
    save_model(model, tokenizer, tmp_path / "pruned")
    saved_by = json.loads((tmp_path / "pruned" / "config.json").read_text())
    assert saved_by["transformers_version"] == transformers.__version__
    assert pieces(load_tokenizer(tmp_path / "pruned")) == corrected


@pytest.mark.parametrize("model_type", ["gemma3_text", "llama"])
def test_another_familys_large_tokenizer_is_loaded_as_published(tmp_path, model_type):
    """transformers 5.17 would "correct" any large-vocabulary tokenizer whose config.json names
    no transformers version (a multimodal checkpoint's language model once had none): other
    families are never asked for the correction."""
    folder = large_vocab_tokenizer(tmp_path, model_type, None)
    tokenizer = load_tokenizer(folder)
    assert pieces(tokenizer) == published_pieces(folder)
    assert tokenizer_options(folder) == {}


def test_a_mistral_tokenizer_without_a_leading_regex_split_is_loaded_as_published(tmp_path):
    """transformers' correction replaces a leading regex split; given a SentencePiece-style
    pre-tokenizer (Mistral-7B's, in a fine-tune whose vocabulary grew past 100k) it would put a
    byte-level one in its place and break the tokenization: such a tokenizer is not corrected."""
    folder = large_vocab_tokenizer(
        tmp_path / "mistral", "mistral", "4.50.0.dev0",
        pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first"))
    assert tokenizer_options(folder) == {}
    assert pieces(load_tokenizer(folder)) == published_pieces(folder)


def test_kept_zero_shot_answers_are_told_apart_by_the_tokenizers_options(tmp_path):
    """Answers kept by an interrupted evaluation with the tokenizer as published are not taken
    for the corrected one's; a tokenizer loaded with no option names none (a store made before
    options existed still fits)."""
    from prunebench.tiny import train_tokenizer

    model = torch.nn.Linear(1, 1)
    model.prunebench_content = "sha256:0"
    tokenizer = train_tokenizer("the cat sat on the mat. " * 50)
    plain = store_identity(model, tokenizer, True)
    assert "tokenizer_options" not in plain
    tokenizer.prunebench_options = {}
    assert store_identity(model, tokenizer, True) == plain
    tokenizer.prunebench_options = {"fix_mistral_regex": True}
    assert store_identity(model, tokenizer, True) != plain


# A tekken.json as Mistral publishes it beside (or instead of) transformers' files: byte-level BPE
# ranks (the single bytes, then merges), special tokens ranked before them.
TEKKEN_SPECIALS = ["<unk>", "<s>", "</s>", "[INST]", "[/INST]"]
TEKKEN_TOKENS = [bytes([b]) for b in range(256)] + [b"th", b"the", b" the", b"at", b"cat", b" cat"]
TEKKEN_PATTERN = (r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+"
                  r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*"
                  r"|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def tekken_only(folder: Path, **token_ids) -> Path:
    """A Mistral checkpoint folder's config.json (naming `token_ids`) and tekken.json, no other
    tokenizer file (as Mistral-Small 3.2 and Magistral are published)."""
    import base64

    folder.mkdir(parents=True)
    vocab = [{"rank": rank, "token_bytes": base64.b64encode(token).decode(),
              "token_str": token.decode("latin-1")} for rank, token in enumerate(TEKKEN_TOKENS)]
    specials = [{"rank": rank, "token_str": token, "is_control": True}
                for rank, token in enumerate(TEKKEN_SPECIALS)]
    config = {"pattern": TEKKEN_PATTERN, "num_vocab_tokens": len(TEKKEN_TOKENS),
              "default_vocab_size": len(TEKKEN_TOKENS) + len(TEKKEN_SPECIALS),
              "default_num_special_tokens": len(TEKKEN_SPECIALS), "version": "v7"}
    (folder / "tekken.json").write_text(json.dumps(
        {"config": config, "vocab": vocab, "special_tokens": specials}))
    (folder / "config.json").write_text(json.dumps(
        {"model_type": "mistral", "transformers_version": "4.52.4", **token_ids}))
    return folder


def tekken_id(token: bytes) -> int:
    """The id Mistral's tokenizer gives a token: its rank after the special tokens."""
    return len(TEKKEN_SPECIALS) + TEKKEN_TOKENS.index(token)


@pytest.mark.parametrize("token_ids, bos, eos", [
    ({"bos_token_id": 1, "eos_token_id": 2}, "<s>", "</s>"),
    ({"bos_token_id": 3, "eos_token_id": [4, 2]}, "[INST]", "[/INST]"),  # the first EOS
    ({}, "<s>", "</s>"),  # config.json names none: MistralConfig's 1 and 2
])
def test_a_tekken_json_alone_is_the_tokenizer_with_the_models_bos_and_eos(tmp_path, token_ids,
                                                                          bos, eos):
    """Mistral's tekken.json without transformers' files: prunebench tokenizes with it, names
    the BOS and EOS tokens of the model's config (transformers' conversion names none) and adds
    the BOS to encoded text as Mistral's tokenizer does (lm-eval's requests rely on it), and a
    pruned copy tokenizes the same."""
    from transformers import MistralConfig, MistralForCausalLM

    from prunebench.checkpoint.local_import import local_problems

    folder = tekken_only(tmp_path / "mistral", **token_ids)
    assert not any("has no tokenizer" in problem for problem in local_problems("m", str(folder)))
    tokenizer = load_tokenizer(folder)
    assert tokenizer is not None and (tokenizer.bos_token, tokenizer.eos_token) == (bos, eos)
    bos_id = TEKKEN_SPECIALS.index(bos)
    text_ids = [tekken_id(b"the"), tekken_id(b" cat")]
    assert tokenizer("the cat", add_special_tokens=False)["input_ids"] == text_ids
    assert tokenizer.encode("the cat") == [bos_id, *text_ids]

    torch.manual_seed(0)
    model = MistralForCausalLM(MistralConfig(
        vocab_size=len(TEKKEN_TOKENS) + len(TEKKEN_SPECIALS), hidden_size=16,
        intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
        head_dim=8))
    save_model(model, tokenizer, tmp_path / "pruned")
    copy = load_tokenizer(tmp_path / "pruned")
    assert copy.encode("the cat") == [bos_id, *text_ids]
    assert (copy.bos_token, copy.eos_token) == (bos, eos)


def test_a_tokenizer_config_beside_tekken_json_decides_the_special_tokens(tmp_path):
    """Only a tekken.json alone takes its BOS and EOS from config.json: transformers' files beside
    it decide, as transformers loads them (Qwen's name no BOS while its config.json names one)."""
    folder = tekken_only(tmp_path / "mistral", bos_token_id=1, eos_token_id=2)
    AutoTokenizer.from_pretrained(str(folder)).save_pretrained(folder)  # naming neither token
    tokenizer = load_tokenizer(folder)
    assert (tokenizer.bos_token, tokenizer.eos_token) == (None, None)


@pytest.mark.parametrize("declared", ["LlamaTokenizerFast", "LlamaTokenizer"])
def test_a_byte_level_tokenizer_named_llama_tokenizes_as_published(declared, tmp_path):
    """Llama-3 fine-tunes (DeepSeek-R1-Distill-Llama among them) ship a byte-level
    tokenizer.json whose tokenizer_config.json names LlamaTokenizer(Fast), which splits as
    SentencePiece does: transformers 5.17 loaded it so and tokenized otherwise than the
    published tokenizer (5.24 reads the tokenizer.json as it is). prunebench tokenizes as
    published on either, and a pruned copy too; a SentencePiece-style tokenizer.json under the
    same name is loaded as before."""
    from tokenizers import decoders, trainers
    from transformers import LlamaConfig, LlamaForCausalLM

    text = "Hello world, the cat sat on the mat. Don't 12345 naïve café"
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator([text] * 20, trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<|begin_of_text|>", "<|end_of_text|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    dense = tmp_path / "dense"
    PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|begin_of_text|>",
                            eos_token="<|end_of_text|>").save_pretrained(dense)
    settings = json.loads((dense / "tokenizer_config.json").read_text())
    (dense / "tokenizer_config.json").write_text(json.dumps({**settings,
                                                             "tokenizer_class": declared}))
    (dense / "config.json").write_text(json.dumps({"model_type": "llama"}))
    published = Tokenizer.from_file(str(dense / "tokenizer.json")).encode(text).ids

    tokenizer = load_tokenizer(dense)
    assert tokenizer(text, add_special_tokens=False)["input_ids"] == published
    assert tokenizer.decode(published) == text
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=400, hidden_size=16, intermediate_size=32,
                                         num_hidden_layers=1, num_attention_heads=2))
    save_model(model, tokenizer, tmp_path / "pruned")
    assert load_tokenizer(tmp_path / "pruned")(text, add_special_tokens=False)["input_ids"] == \
        published
    # loaded otherwise than AutoTokenizer: named where kept zero-shot answers are matched
    assert tokenizer.prunebench_options == {"loaded_as": "TokenizersBackend"}

    from prunebench.modeling import _byte_level_named_llama

    # a model type transformers knows to misname its tokenizer builds its own class (Qwen2's)
    (dense / "config.json").write_text(json.dumps({"model_type": "qwen2"}))
    assert not _byte_level_named_llama(dense)
    (dense / "config.json").write_text(json.dumps({"model_type": "llama"}))
    assert _byte_level_named_llama(dense)
    spm = json.loads((dense / "tokenizer.json").read_text())
    spm["pre_tokenizer"] = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first",
                            "split": False}
    spm["decoder"] = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first",
                      "split": False}
    (dense / "tokenizer.json").write_text(json.dumps(spm))
    assert not _byte_level_named_llama(dense)  # SentencePiece-style: LlamaTokenizer's own
    load_tokenizer(dense)


def test_a_copy_saved_with_a_sentencepiece_split_over_byte_level_tokens_is_refused(tmp_path):
    """What transformers 5.17 saved of a byte-level tokenizer named LlamaTokenizer (a copy an
    earlier prunebench pruned there): a Metaspace split over a byte-level vocabulary and
    decoder, which tokenizes otherwise than its base. Refused, with the remedy."""
    from tokenizers import decoders

    tok = Tokenizer(models.BPE(vocab={"a": 0, "b": 1, "ab": 2}, merges=[("a", "b")]))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.ByteLevel()
    folder = tmp_path / "pruned"
    PreTrainedTokenizerFast(tokenizer_object=tok).save_pretrained(folder)
    (folder / "config.json").write_text(json.dumps({"model_type": "llama"}))
    with pytest.raises(PrunebenchError, match="splits text as SentencePiece does but decodes "
                                              "bytes.*prune the model again"):
        load_tokenizer(folder)
