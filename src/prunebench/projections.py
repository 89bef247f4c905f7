"""A block's projections by part, whether its family keeps them apart or packs them.

LLaMA-like blocks hold q/k/v and gate/up as separate `nn.Linear` modules. Phi-3's block packs
them by rows: `self_attn.qkv_proj` is [q; k; v] and `mlp.gate_up_proj` is [gate; up]; GLM's
packs gate/up alone (the family's `packed`: each module is asked for apart). Removing a head or a channel removes the same rows either way,
and the methods score the same parts, so the surgery, the methods and the compiled decoder ask
this module for a block's parts by their LLaMA names ("q_proj", ..., "down_proj") and get views
of the packed rows where the family packs them. o_proj and down_proj are separate everywhere.

An ungated MLP (Arcee's, Nemotron's, Starcoder2's, Phi's, Apertus's:
`down_proj(act(up_proj(x)))`) has up_proj alone before down_proj: `mlp_inputs` names a block's
MLP input parts, so the surgery, the methods and the compiled decoder read whichever there are.
Whether a family's MLP is gated is its `Family.ungated_mlp` (which the counts, the sizing and
the LoRA settings read from a config alone); `modeling.build_model` refuses a model whose
modules say otherwise (`modeling.check_mlp_gates`), so the modules read here always agree with
it.

Starcoder2's and Phi's blocks name some modules otherwise (`OWN_NAMES`, keyed by the module's
owner and its own name): Starcoder2's ungated MLP is `c_fc` -> act -> `c_proj`, Phi's `fc1` ->
act -> `fc2` and its attention's output projection `dense`; Granite 4.0's dense MLP is the
block's `shared_mlp` (`block_mlp`), its gate and up packed as Phi-3's in `input_linear`, its
down projection `output_linear`; OPT's attention output is `out_proj` and its block holds
its MLP's fc1 / fc2 itself (`block_mlp` answers the block), the blocks under `model.decoder`
(`decoder`). Every name this module gives or
takes is LLaMA's part name (or a packed module's, `qkv_proj` / `gate_up_proj`, which no family
names otherwise); `get_part` and `set_part` alone resolve it to the family's module, so that
each is sliced, scored, fused and adapted where the family's forward reads it.

GPT-NeoX's block packs q, k and v into one module too (`query_key_value`, its `qkv_proj`), but
head by head, [q_0; k_0; v_0; q_1; ...] (`PER_HEAD_PACKED`): its rows by part come from
`attention_part_rows`, never from a split at the q and k widths (Falcon's `query_key_value`
goes one of three ways by its config: `qkv_layout`). Its modules above the parts
are named otherwise too: the model's `gpt_neox` and each block's `attention`, which
`alias_llama_names` has answer LLaMA's names as well (its `embed_in` is read as every family's
embedding is, `get_input_embeddings`, and its `final_layer_norm` as OPT's, `modeling.final_norm`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from prunebench import PrunebenchError
from prunebench.checkpoint.param_count import PACKED_PARTS

ATTENTION_PARTS, MLP_PARTS = PACKED_PARTS["qkv_proj"], PACKED_PARTS["gate_up_proj"]

# (owner, module name) -> the LLaMA part it is, for the modules other families name otherwise:
# Phi's attention output `dense`, Starcoder2's MLP c_fc / c_proj, Phi's fc1 / fc2. The owner is
# the block's attribute that holds the module (`self_attn`, `mlp`; OPT's attention output
# `out_proj`; OPT's block holds fc1 / fc2 itself: `block_mlp`).
OWN_NAMES = {("self_attn", "dense"): "o_proj", ("self_attn", "out_proj"): "o_proj",
             ("mlp", "c_fc"): "up_proj",
             ("mlp", "c_proj"): "down_proj", ("mlp", "fc1"): "up_proj", ("mlp", "fc2"): "down_proj",
             ("mlp", "input_linear"): "gate_up_proj", ("mlp", "output_linear"): "down_proj",
             # GPT-NeoX: GPTNeoXAttention's query_key_value (and `dense`, Phi's name),
             # GPTNeoXMLP's dense_h_to_4h / dense_4h_to_h
             ("self_attn", "query_key_value"): "qkv_proj", ("mlp", "dense_h_to_4h"): "up_proj",
             ("mlp", "dense_4h_to_h"): "down_proj",
             # MPT: MptAttention's Wqkv, rows [all q; all k; all v] (Phi-3's), and out_proj
             # (OPT's name); BLOOM's are GPT-NeoX's names
             ("self_attn", "Wqkv"): "qkv_proj",
             # GPT-J: GPTJMLP's fc_in / fc_out (GPTJAttention's out_proj: OPT's name)
             ("mlp", "fc_in"): "up_proj", ("mlp", "fc_out"): "down_proj",
             # LFM2: Lfm2MLP's w1 / w3 / w2 (its block's `feed_forward`), read by LoRA's
             # targets (its attention's out_proj: OPT's name; its short convolution's
             # in_proj / out_proj are no part of LLaMA's)
             ("feed_forward", "w1"): "gate_proj", ("feed_forward", "w3"): "up_proj",
             ("feed_forward", "w2"): "down_proj",
             # GPT-2: GPT2Attention's c_attn, rows [all q; all k; all v] (Phi-3's), and its
             # output c_proj (GPT2MLP's c_fc / c_proj: Starcoder2's names); GPT-BigCode's
             # GPTBigCodeAttention / GPTBigCodeMLP name theirs alike (its c_attn's rows by
             # `qkv_layout`)
             ("self_attn", "c_attn"): "qkv_proj", ("self_attn", "c_proj"): "o_proj",
             # MiniCPM5-MoE: its queries and their output gates in one projection, as
             # Qwen3-Next's q_proj holds them (a mixture of experts: read by LoRA's targets)
             ("self_attn", "q_gate_proj"): "q_proj",
             # CTRL: MultiHeadAttention's Wq / Wk / Wv (its output `dense`: Phi's name), and
             # its `ffn`, an nn.Sequential whose modules 0 and 2 are the MLP's two Linears
             ("self_attn", "Wq"): "q_proj", ("self_attn", "Wk"): "k_proj",
             ("self_attn", "Wv"): "v_proj", ("mlp", "0"): "up_proj", ("mlp", "2"): "down_proj",
             # ModernBERT-decoder: its attention's output Wo, its MLP's Wi of rows [input;
             # gate] (act(input) x gate: Phi-3's gate_up_proj order, the first half activated)
             # and its Wo
             ("self_attn", "Wo"): "o_proj", ("mlp", "Wi"): "gate_up_proj",
             ("mlp", "Wo"): "down_proj",
             # ZAYA: its CCA projection (the attention's `qkv_proj`, a module holding LLaMA's
             # q_proj and k_proj) makes each value of two halves, both read by LoRA's v_proj
             ("qkv_proj", "v_proj_current"): "v_proj", ("qkv_proj", "v_proj_delayed"): "v_proj"}
# Block attributes that hold its dense MLP under another name than `mlp`, looked up in
# OWN_NAMES as `mlp` (Granite 4.0's `shared_mlp`, MPT's `ffn`).
MLP_OWNERS = {"shared_mlp": "mlp", "ffn": "mlp"}
# Block attributes that hold its attention under another name than `self_attn` (GPT-NeoX's
# `attention`, BLOOM's and Falcon's `self_attention`, MPT's, GPT-J's, GPT-2's and GPT-BigCode's
# `attn`; DBRX's norm_attn_norm's `attn`, read by LoRA's targets), looked up in OWN_NAMES as
# `self_attn`.
ATTENTION_OWNERS = {"attention": "self_attn", "self_attention": "self_attn", "attn": "self_attn",
                    "multi_head_attention": "self_attn"}  # (CTRL's EncoderLayer's)
# Packed q/k/v modules whose rows go head by head, [q_0; k_0; v_0; q_1; ...], one KV head per
# query head (GPTNeoXAttention views query_key_value's output as [heads, 3 x head_dim]), or,
# by the attention's layout flags, another way (Falcon's: `qkv_layout`).
PER_HEAD_PACKED = ("query_key_value",)
# Packed q/k/v modules in model-parallel shards, by their attention's class: CodeGen's
# qkv_proj, viewed as 4 shards (CodeGenAttention's mp_num; 5.17's forward holds it as a
# constant, not an attribute) of [q; v; k], each of a quarter of the heads (`qkv_layout`).
SHARDED_ATTENTION = {"CodeGenAttention": 4}
# Modules named otherwise than LLaMA's above a block's parts, by model_type: LLaMA's name ->
# the family's (GPTNeoXForCausalLM's `gpt_neox`, GPTNeoXLayer's `attention`). (The embedding
# and the final norm are found by what holds them, whatever their names:
# `get_input_embeddings`, `modeling.final_norm`.)
MODULE_ALIASES = {"gpt_neox": {"model": "gpt_neox", "self_attn": "attention"},
                  # GPTNeoXJapaneseForCausalLM's `gpt_neox_japanese` and LM head `embed_out`
                  # (GPTNeoXForCausalLM's is `lm_head`), GPTNeoXJapaneseLayer's `attention`
                  "gpt_neox_japanese": {"model": "gpt_neox_japanese", "self_attn": "attention",
                                        "lm_head": "embed_out"},
                  # BloomForCausalLM's `transformer`, BloomModel's blocks `h`, BloomBlock's
                  # `self_attention`; MptForCausalLM's `transformer`, MptModel's `blocks`,
                  # MptBlock's `attn` and `ffn` (the blocks replaced through `set_layers`)
                  "bloom": {"model": "transformer", "layers": "h", "self_attn": "self_attention"},
                  "mpt": {"model": "transformer", "layers": "blocks", "self_attn": "attn",
                          "mlp": "ffn"},
                  # FalconForCausalLM's `transformer`, FalconModel's blocks `h` (replaced
                  # through `set_layers`) and FalconDecoderLayer's `self_attention`
                  "falcon": {"model": "transformer", "layers": "h",
                             "self_attn": "self_attention"},
                  # GPTJForCausalLM's `transformer`, GPTJModel's blocks `h` (replaced
                  # through `set_layers`) and GPTJBlock's `attn`
                  "gptj": {"model": "transformer", "layers": "h", "self_attn": "attn"},
                  # CodeGenForCausalLM's: GPT-J's names
                  "codegen": {"model": "transformer", "layers": "h", "self_attn": "attn"},
                  # DbrxForCausalLM's `transformer`, DbrxModel's blocks `blocks` (replaced
                  # through `set_layers`); a DbrxBlock's attention and norms lie in its
                  # norm_attn_norm, its experts in its `ffn` (depth only, no width surgery
                  # reads them; LoRA finds its attention's Wqkv and out_proj by MPT's names
                  # in OWN_NAMES)
                  "dbrx": {"model": "transformer", "layers": "blocks"},
                  # GPT2LMHeadModel's `transformer`, GPT2Model's blocks `h` (replaced through
                  # `set_layers`) and learned positions `wpe` (OPT's `embed_positions`, read
                  # by the compiled decoder), GPT2Block's `attn`; GPTBigCodeForCausalLM's alike
                  "gpt2": {"model": "transformer", "layers": "h", "embed_positions": "wpe",
                           "self_attn": "attn"},
                  # OpenAIGPTLMHeadModel's `transformer`, its blocks `h`, embeddings
                  # `tokens_embed`, learned positions `positions_embed`, Block's `attn`
                  "openai-gpt": {"model": "transformer", "layers": "h",
                                 "embed_tokens": "tokens_embed",
                                 "embed_positions": "positions_embed", "self_attn": "attn"},
                  "gpt_bigcode": {"model": "transformer", "layers": "h",
                                  "embed_positions": "wpe", "self_attn": "attn"},
                  # GPTNeoForCausalLM's GPT-2's names, but its block's `attn` (GPTNeoAttention)
                  # wraps the attention that holds the projections, `attention`
                  # (GPTNeoSelfAttention): a dotted path, the block's self_attn that inner one
                  "gpt_neo": {"model": "transformer", "layers": "h", "embed_positions": "wpe",
                              "self_attn": "attn.attention"},
                  # MambaForCausalLM's and FalconMambaForCausalLM's `backbone`, their
                  # embeddings `embeddings` (their blocks `layers`, their final norm `norm_f`)
                  "mamba": {"model": "backbone", "embed_tokens": "embeddings"},
                  "falcon_mamba": {"model": "backbone", "embed_tokens": "embeddings"},
                  "mamba2": {"model": "backbone", "embed_tokens": "embeddings"},
                  # xLSTMForCausalLM's `backbone`, its embeddings `embeddings`, blocks `blocks`
                  # (its final norm `out_norm`: modeling.final_norm)
                  "xlstm": {"model": "backbone", "embed_tokens": "embeddings",
                            "layers": "blocks"},
                  # RwkvForCausalLM's `rwkv`, RwkvModel's blocks `blocks` and embeddings
                  # `embeddings` (its final norm `ln_out`), its LM head `head`
                  "rwkv": {"model": "rwkv", "layers": "blocks", "embed_tokens": "embeddings",
                           "lm_head": "head"},
                  # CTRLLMHeadModel's `transformer`, CTRLModel's blocks `h` and embeddings
                  # `w`, EncoderLayer's `multi_head_attention` and `ffn`
                  "ctrl": {"model": "transformer", "layers": "h", "embed_tokens": "w",
                           "self_attn": "multi_head_attention", "mlp": "ffn"},
                  # BioGptForCausalLM's `biogpt` (its blocks `layers`) and its LM head
                  # `output_projection`
                  "biogpt": {"model": "biogpt", "lm_head": "output_projection"},
                  # ModernBertDecoderLayer's `attn` (its LM head `decoder` is found by
                  # get_output_embeddings; its `lm_head` is the prediction head before it)
                  "modernbert-decoder": {"self_attn": "attn"}}

# The owner of each part (and packed module), which a lookup of OWN_NAMES is keyed by.
PART_OWNER = {**dict.fromkeys((*ATTENTION_PARTS, "qkv_proj", "o_proj"), "self_attn"),
              **dict.fromkeys((*MLP_PARTS, "gate_up_proj", "down_proj"), "mlp")}


def part_name(owner: str, name: str) -> str:
    """LLaMA's part name of the module `name` that a block's `owner` (`self_attn`, `mlp`)
    holds: OWN_NAMES' where the family names it otherwise, else `name` itself."""
    return OWN_NAMES.get((owner, name), name)


def module_name(owner: nn.Module, part: str) -> str:
    """The name under which `owner` (a block's self_attn or mlp) holds LLaMA's `part`: its
    module that `part_name` maps to `part` (Phi's `dense` for o_proj), else `part`."""
    return next((name for name in owner._modules if part_name(PART_OWNER[part], name) == part),
                part)


def llama_name(qualified: str) -> str:
    """LLaMA's part name of a module by its qualified name (`model.layers.0.mlp.c_fc`:
    up_proj), or its own last name where the family names it as LLaMA does."""
    owner, _, name = qualified.rpartition(".")
    owner = owner.rpartition(".")[2]
    if owner.isdigit():  # the block itself holds it (OPT's fc1 / fc2): an MLP's module
        owner = "mlp"
    return part_name({**MLP_OWNERS, **ATTENTION_OWNERS}.get(owner, owner), name)


def alias_llama_names(model: nn.Module) -> nn.Module:
    """`model` with its modules that its family names otherwise than LLaMA's (`MODULE_ALIASES`:
    GPT-NeoX's) answering LLaMA's names too (`model.model.layers[i].self_attn` is GPT-NeoX's
    `gpt_neox.layers[i].attention`), as every module of prunebench reads them. Plain attributes
    of the owning modules, not submodules: the state dict, the saved checkpoint and
    transformers' forward keep the family's own names. Of the aliased modules prunebench
    replaces a block's attention, through `set_attention`, and the blocks, through
    `set_layers`, which keep their aliases right."""
    aliases = MODULE_ALIASES.get(getattr(getattr(model, "config", None), "model_type", None))
    for module in model.modules() if aliases else ():
        for llama, own in aliases.items():
            first, *inner = own.split(".")
            if first in module._modules and llama not in module._modules:
                target = module._modules[first]
                # (GPT-Neo's attn.attention; a block whose attention kept no heads holds a
                # ZeroHeadAttention as its `attn` itself, which is then the alias)
                for name in inner:
                    target = target._modules.get(name, target)
                object.__setattr__(module, llama, target)
    return model


def set_attention(layer: nn.Module, attention: nn.Module) -> None:
    """Put `attention` where the block's forward reads it (`self_attn`, GPT-NeoX's
    `attention`), its LLaMA alias (`alias_llama_names`) following it."""
    # (GPT-Neo's block reads its GPTNeoAttention `attn`, which `attention` replaces whole)
    own = next((name for name in ATTENTION_OWNERS if name in layer._modules), "self_attn")
    setattr(layer, own, attention)
    if own != "self_attn":
        object.__setattr__(layer, "self_attn", attention)


def set_layers(model: nn.Module, layers: nn.ModuleList) -> None:
    """Put a model's blocks where its forward reads them (`layers`, BLOOM's, Falcon's, GPT-J's,
    GPT-2's and GPT-BigCode's `h`, MPT's and DBRX's `blocks`: `MODULE_ALIASES`), their LLaMA
    alias following (`alias_llama_names`)."""
    inner = decoder(model)
    own = MODULE_ALIASES.get(model.config.model_type, {}).get("layers", "layers")
    setattr(inner, own, layers)
    if own != "layers":
        object.__setattr__(inner, "layers", layers)


def block_mlp(layer: nn.Module) -> nn.Module:
    """A block's dense MLP: `mlp`, Granite 4.0's `shared_mlp` (every block's MLP where its
    config has no experts), Nemotron-H's one `mixer` (an MLP in its MLP blocks; its Mamba-2
    and attention mixers hold no down_proj, which `modeling.check_mlp_gates` reads), or the
    block itself where it holds its MLP's modules (OPT's OPTDecoderLayer: fc1 / fc2)."""
    if hasattr(layer, "mixer"):
        return layer.mixer
    if hasattr(layer, "mlp"):
        return layer.mlp
    return getattr(layer, "shared_mlp", layer)


def embedding_name(model: nn.Module) -> str:
    """The input embedding's weight by its name in the state dict (`model.embed_tokens.weight`,
    GPT-NeoX's `gpt_neox.embed_in.weight`, OPT's `model.decoder.embed_tokens.weight`), which
    the loader ties and a device map places."""
    weight = model.get_input_embeddings().weight
    return next(name for name, p in model.named_parameters() if p is weight)


def head_name(model: nn.Module) -> str:
    """The LM head's weight by its name in the state dict (`lm_head.weight`, BioGPT's
    `output_projection.weight`), which a tied checkpoint leaves out."""
    head = model.get_output_embeddings()
    return next((f"{name}.weight" for name, module in model.named_modules() if module is head),
                "lm_head.weight")


def decoder(model: nn.Module) -> nn.Module:
    """The module that holds a causal LM's blocks (`layers`), embeddings and final norm: OPT's
    `model.decoder` (OPTModel wraps an OPTDecoder), every other family's `model`."""
    inner = model.model
    return inner.decoder if isinstance(getattr(inner, "decoder", None), nn.Module) else inner


# A block's norms before attention and before the MLP by LLaMA's names, and the names other
# families give them (ApertusDecoderLayer: attention_layernorm, feedforward_layernorm;
# VaultGemmaDecoderLayer: pre_feedforward_layernorm before the MLP, Gemma-2's name, without
# Gemma-2's norms of the sublayers' outputs; OPTDecoderLayer: self_attn_layer_norm,
# final_layer_norm; MptBlock: norm_1, norm_2; FalconDecoderLayer's parallel block of two
# norms: ln_attn, ln_mlp; GPTJBlock's one norm of its parallel block, ln_1; GPT2Block's and
# GPTBigCodeBlock's ln_1, ln_2; CTRL's EncoderLayer's layernorm1, layernorm2;
# ModernBertDecoderLayer's attn_norm (block 0's an Identity), mlp_norm).
OWN_NORM_NAMES = {"input_layernorm": ("attention_layernorm", "self_attn_layer_norm", "norm_1",
                                      "ln_attn", "ln_1", "layernorm1", "attn_norm"),
                  "post_attention_layernorm": ("feedforward_layernorm",
                                               "pre_feedforward_layernorm", "final_layer_norm",
                                               "norm_2", "ln_mlp", "ln_2", "layernorm2",
                                               "mlp_norm")}


def block_norm(layer: nn.Module, name: str) -> nn.Module | None:
    """A block's norm by LLaMA's `name` (`input_layernorm`, `post_attention_layernorm`), under
    whatever name its family gives it; None where the block has none (OLMo-2's has no norm
    before its sublayers, Cohere's parallel block none before its MLP). (Gemma-2's sandwich
    block, whose post_attention_layernorm norms the attention's output, is read by its own
    names: fused_block.)"""
    for own in (name, *OWN_NORM_NAMES.get(name, ())):
        if hasattr(layer, own):
            return getattr(layer, own)
    return None


def get_part(owner: nn.Module, part: str) -> nn.Linear:
    """The module of `owner` (a block's self_attn or mlp) that is LLaMA's `part` (or a packed
    module), under whatever name its family gives it."""
    return getattr(owner, module_name(owner, part))


def set_part(owner: nn.Module, part: str, module: nn.Module) -> None:
    """Put `module` where `owner`'s forward reads LLaMA's `part` (its own name for it)."""
    setattr(owner, module_name(owner, part), module)


def o_proj(attn: nn.Module) -> nn.Linear:
    """A block's attention output projection (Phi's `dense`)."""
    return get_part(attn, "o_proj")


def down_proj(mlp: nn.Module) -> nn.Linear:
    """A block's MLP output projection (Starcoder2's `c_proj`, Phi's `fc2`)."""
    return get_part(mlp, "down_proj")


def attention_heads(attn: nn.Module, head_dim: int) -> tuple[int, int]:
    """(query heads, KV heads) of a block's attention as its modules are (0, 0: no heads)."""
    n_q = o_proj(attn).in_features // head_dim  # o_proj reads every query head, in any family
    if n_q == 0:
        return 0, 0
    if packed_attention(attn):
        return n_q, (get_part(attn, "qkv_proj").out_features - n_q * head_dim) // (2 * head_dim)
    return n_q, get_part(attn, "k_proj").out_features // head_dim  # (CTRL's Wk)


def mlp_width(mlp: nn.Module) -> int:
    """A block's MLP channels (down_proj reads each of them, in any family)."""
    return down_proj(mlp).in_features


def attention_inputs(attn: nn.Module) -> tuple[str, ...]:
    """The parts that read a block's attention input: Phi-3's packed qkv_proj (GPT-NeoX's
    query_key_value), or LLaMA's q_proj, k_proj and v_proj."""
    return ("qkv_proj",) if packed_attention(attn) else ATTENTION_PARTS


def packed_attention(attn: nn.Module) -> bool:
    """Whether a block's attention packs q, k and v into one module (Phi-3's qkv_proj, rows
    [q; k; v]; GPT-NeoX's query_key_value, head by head: `qkv_layout`)."""
    return module_name(attn, "qkv_proj") in attn._modules


def qkv_layout(attn: nn.Module) -> str:
    """How a block's packed q/k/v rows go: "runs", [all q; all k; all v] (Phi-3's qkv_proj;
    Falcon's multi-query query_key_value, Falcon-7B's, of one KV head, and GPT-BigCode's
    multi-query c_attn, StarCoder's); "heads", head by head [q_0; k_0; v_0; q_1; ...]
    (GPT-NeoX's `PER_HEAD_PACKED`; Falcon's and GPT-BigCode's without either flag); or
    "groups", each KV group's queries then its key and value [q_0 .. q_(r-1); k_0; v_0; q_r;
    ...] (Falcon's new_decoder_architecture: FalconAttention views the rows as [KV heads,
    queries a group + 2, head_dim]). The flags are the attention module's own, as its
    forward reads them. A `c_attn` is GPT-2's runs, GPT-BigCode's as its `multi_query` says
    (GPT2Attention holds no such flag). "shards": CodeGen's qkv_proj, shards of [q; v; k]
    of as many heads each (`SHARDED_ATTENTION`, `attention_part_rows`)."""
    if qkv_shards(attn) > 1:
        return "shards"
    if module_name(attn, "qkv_proj") == "c_attn":
        return "heads" if getattr(attn, "multi_query", True) is False else "runs"
    if module_name(attn, "qkv_proj") not in PER_HEAD_PACKED:
        return "runs"
    if getattr(attn, "new_decoder_architecture", False):
        return "groups"
    return "runs" if getattr(attn, "multi_query", False) else "heads"


def qkv_shards(attn: nn.Module) -> int:
    """The model-parallel shards a block's packed q/k/v rows are laid out in (CodeGen's 4:
    `SHARDED_ATTENTION`), each holding as many heads; 1 for every other attention."""
    return SHARDED_ATTENTION.get(type(attn).__name__, 1)


def mlp_inputs(mlp: nn.Module) -> tuple[str, ...]:
    """The parts that read a block's MLP input: Phi-3's and GLM's packed gate_up_proj (Granite
    4.0's input_linear), LLaMA's gate_proj and up_proj, or an ungated MLP's up_proj alone
    (ArceeMLP, NemotronMLP, ApertusMLP build no gate_proj; Starcoder2MLP's c_fc and PhiMLP's
    fc1 are its up_proj: `get_part`)."""
    if packed_mlp(mlp):
        return ("gate_up_proj",)
    return MLP_PARTS if hasattr(mlp, "gate_proj") else ("up_proj",)


def packed_mlp(mlp: nn.Module) -> bool:
    """Whether a block's MLP packs gate and up into one module of rows [gate; up] (Phi-3's and
    GLM's gate_up_proj, Granite 4.0's input_linear)."""
    return module_name(mlp, "gate_up_proj") in mlp._modules


def mlp_gated(mlp: nn.Module) -> bool:
    """Whether a block's MLP multiplies act(gate) by up (SwiGLU), or is ungated (act(up))."""
    return mlp_inputs(mlp) != ("up_proj",)


def attention_row_split(attn: nn.Module, head_dim: int) -> list[int]:
    """Rows of q, k and v in a packed qkv_proj (or the separate projections' sizes)."""
    n_q, n_kv = attention_heads(attn, head_dim)
    return [n_q * head_dim, n_kv * head_dim, n_kv * head_dim]


def attention_part_rows(attn: nn.Module, head_dim: int) -> dict[str, list[int]]:
    """The rows of a packed q/k/v module that hold each of q_proj, k_proj and v_proj, in their
    heads' order (`qkv_layout`): Phi-3's three runs [q; k; v]; head by head (GPT-NeoX's, one KV
    head per query head), head h's q, k and v at rows h x 3 x head_dim + (0, 1, 2) x head_dim
    onwards; or by KV group (Falcon's new decoder architecture, r query heads a group), query
    head g x r + j at group g's slot j of r + 2, its key and value at slots r and r + 1; or in
    shards (CodeGen's, r = heads / shards a shard, local = r x head_dim), head h's q, v and k
    at rows (h // r) x 3 x local + (0, 1, 2) x local + (h % r) x head_dim onwards."""
    n_q, n_kv = attention_heads(attn, head_dim)
    layout = qkv_layout(attn)
    if layout == "shards":
        per = n_q // qkv_shards(attn)
        return {part: [(h // per * 3 + place) * per * head_dim + h % per * head_dim + c
                       for h in range(n_q) for c in range(head_dim)]
                for part, place in (("q_proj", 0), ("k_proj", 2), ("v_proj", 1))}
    if layout == "runs":
        starts = dict(zip(ATTENTION_PARTS, (0, n_q * head_dim, (n_q + n_kv) * head_dim)))
        return {part: list(range(starts[part], starts[part] + size)) for part, size
                in zip(ATTENTION_PARTS, attention_row_split(attn, head_dim))}
    if layout == "heads":
        return {part: [(3 * h + i) * head_dim + c for h in range(n_q) for c in range(head_dim)]
                for i, part in enumerate(ATTENTION_PARTS)}
    r = n_q // n_kv  # (a block of no heads has no query_key_value: ZeroHeadAttention)

    def rows(slots: list[tuple[int, int]]) -> list[int]:  # (group, slot) -> its head's rows
        return [(g * (r + 2) + j) * head_dim + c for g, j in slots for c in range(head_dim)]

    return {"q_proj": rows([(h // r, h % r) for h in range(n_q)]),
            "k_proj": rows([(g, r) for g in range(n_kv)]),
            "v_proj": rows([(g, r + 1) for g in range(n_kv)])}


def part_tensors(layer: nn.Module, head_dim: int,
                 tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`tensors` (one per part of `layer`, as `scored_weights` names them: weights, gradients,
    row scores) keyed by the LLaMA layout's part names, a packed module's split into its
    parts' rows."""
    out = {}
    for name, t in tensors.items():
        if name == "qkv_proj" and qkv_layout(layer.self_attn) != "runs":  # GPT-NeoX, Falcon
            rows = attention_part_rows(layer.self_attn, head_dim)
            out.update({part: t[rows[part]] for part in ATTENTION_PARTS})
        elif name == "qkv_proj":
            out.update(zip(ATTENTION_PARTS, t.split(attention_row_split(layer.self_attn, head_dim))))
        elif name == "gate_up_proj":
            out.update(zip(MLP_PARTS, t.split(mlp_width(block_mlp(layer)))))
        else:
            out[name] = t
    return out


def scored_weights(layer: nn.Module, with_attention: bool) -> dict[str, nn.Parameter]:
    """The weight parameters of a block's projections by LLaMA's part names (packed ones
    whole; Phi's `dense` as o_proj, Starcoder2's c_fc / c_proj as up_proj / down_proj): what a
    method scores and `part_tensors` then splits."""
    attn, mlp = layer.self_attn, block_mlp(layer)
    parts = [(attn, n) for n in (*attention_inputs(attn), "o_proj")] if with_attention else []
    parts += [(mlp, n) for n in (*mlp_inputs(mlp), "down_proj")]
    return {part: get_part(owner, part).weight for owner, part in parts}


def kept_attention_rows(attn: nn.Module, head_dim: int, q_rows: list[int],
                        kv_rows: list[int]) -> dict[str, list[int]]:
    """The rows of each attention input part (`attention_inputs`) that keep the given q rows
    and K/V rows."""
    if not packed_attention(attn):
        return {"q_proj": q_rows, "k_proj": kv_rows, "v_proj": kv_rows}
    if qkv_layout(attn) == "groups":
        # Falcon's new decoder architecture: the kept query heads' rows and the kept KV
        # groups' key and value rows, in the module's order (a group that keeps r' queries
        # keeps them before its key and value: [KV heads, r' + 2, head_dim] as FalconAttention
        # views them, every kept group keeping as many, as the surgery keeps them)
        parts = attention_part_rows(attn, head_dim)
        return {"qkv_proj": sorted([*(parts["q_proj"][r] for r in q_rows),
                                    *(parts[part][r] for part in ("k_proj", "v_proj")
                                      for r in kv_rows)])}
    if qkv_layout(attn) in ("heads", "shards"):
        # GPT-NeoX: every kept head's q, k and v rows, in the module's order (one KV head per
        # query head, so the kept q and K/V rows name the same heads). CodeGen's alike: its
        # shards, each [q; v; k] of its heads, keep that layout in the module's order where
        # each shard keeps as many heads (the surgery's check: `surgery.check_shards_kept`),
        # as its attention of fewer heads splits them
        if q_rows != kv_rows:
            raise PrunebenchError("a head-by-head or sharded packed q/k/v module (GPT-NeoX's "
                                  "query_key_value, CodeGen's qkv_proj) keeps the same heads' "
                                  "q, k and v rows: report it, this is a bug")
        parts = attention_part_rows(attn, head_dim)
        return {"qkv_proj": sorted(parts[part][r] for part in ATTENTION_PARTS for r in q_rows)}
    n_q_rows, n_kv_rows, _ = attention_row_split(attn, head_dim)
    return {"qkv_proj": [*q_rows, *(n_q_rows + r for r in kv_rows),
                         *(n_q_rows + n_kv_rows + r for r in kv_rows)]}


def kept_mlp_rows(mlp: nn.Module, keep: list[int]) -> dict[str, list[int]]:
    """The rows of each MLP input part (`mlp_inputs`) that keep the given channels."""
    if not packed_mlp(mlp):
        return {part: keep for part in mlp_inputs(mlp)}  # (an ungated MLP: up_proj's alone)
    width = mlp_width(mlp)
    return {"gate_up_proj": [*keep, *(width + c for c in keep)]}


class BlockConfig:
    """The model's config as one block's attention reads it, with that block's head counts.

    Phi-3's attention splits its packed qkv output at `config.num_attention_heads` query
    heads, the model-wide count: a width-pruned block with fewer heads would split it wrongly.
    Its attention module reads this instead, which answers the block's own counts and passes
    everything else (the attention implementation, the sliding window) through to the shared
    config, so that settings changed on the model later still reach the block."""

    def __init__(self, shared: Any, **own: Any):
        object.__setattr__(self, "_shared", shared)
        object.__setattr__(self, "_own", own)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # copy's and pickle's protocol: this object's own, not the
            raise AttributeError(name)  # shared config's (a deepcopy would copy that alone)
        try:
            own = object.__getattribute__(self, "_own")
            shared = object.__getattribute__(self, "_shared")
        except AttributeError:  # while copy / pickle rebuild the object
            raise AttributeError(name) from None
        return own[name] if name in own else getattr(shared, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(object.__getattribute__(self, "_shared"), name, value)


def set_block_heads(attn: nn.Module, n_q: int, n_kv: int) -> None:
    """Tell a block's attention module its own head counts (after building or surgery)."""
    if hasattr(attn, "n_head") and not hasattr(attn, "head_dim"):
        # OpenAI GPT's Attention: its split_size wide, heads split by n_head, no head_dim
        attn.head_dim = attn.split_size // attn.n_head
        attn.n_head = n_q
    attn.num_key_value_groups = n_q // n_kv
    if hasattr(attn, "num_heads"):  # StableLM's attention views its q/k/v by these counts
        attn.num_heads, attn.num_key_value_heads = n_q, n_kv
    if hasattr(attn, "num_kv_heads"):  # Falcon's splits query_key_value by these
        attn.num_kv_heads = n_kv
    if hasattr(attn, "num_attention_heads"):  # GPT-J's (transformers 5.17 splits its heads by it)
        attn.num_attention_heads = n_q
    # GPT-2's splits c_attn's output into q, k, v by it (BLOOM's, Falcon's and GPT-BigCode's
    # attentions hold one their forwards do not read: told alike)
    if hasattr(attn, "split_size"):
        attn.split_size = n_q * attn.head_dim
    if hasattr(attn, "kv_dim"):  # GPT-BigCode's splits c_attn by its widths and heads
        attn.embed_dim, attn.kv_heads, attn.kv_dim = n_q * attn.head_dim, n_kv, n_kv * attn.head_dim
    # XGLM's (Bart's attention, is_decoder) reshapes its heads' output to embed_dim, its width
    if hasattr(attn, "is_decoder") and hasattr(attn, "embed_dim"):
        attn.embed_dim = n_q * attn.head_dim
    if qkv_layout(attn) == "shards":  # CodeGen's (5.25) splits qkv_proj's shards by it
        attn.embed_dim = n_q * attn.head_dim
    # Phi-3's splits qkv_proj by its config's counts (5.17's CodeGenAttention holds no config)
    if hasattr(attn, "qkv_proj") and hasattr(attn, "config"):
        attn.num_key_value_heads = n_kv
        shared = attn.config._shared if isinstance(attn.config, BlockConfig) else attn.config
        attn.config = shared if n_q == shared.num_attention_heads else BlockConfig(
            shared, num_attention_heads=n_q, num_key_value_heads=n_kv)
