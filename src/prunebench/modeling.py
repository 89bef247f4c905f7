"""Model I/O and the checkpoint format.

A checkpoint is a directory with `config.json`, safetensors weights, tokenizer files and
`prunebench.json` (the sha256 of every weight, config and tokenizer file; see
prunebench.checkpoint.integrity). A dense or depth-pruned model is a plain HF checkpoint of its family
(LLaMA, Mistral, Qwen2, Qwen3, Gemma, Gemma-2, Gemma-3, Phi-3, OLMo-2, OLMo-3, Granite, SmolLM3,
Ministral 3, EXAONE-4, GLM, GLM-4, Seed-OSS, ERNIE 4.5, Cohere, Hunyuan dense, StableLM, Arcee,
Nemotron, Apertus, Ministral, Mixtral, Qwen3-MoE, OLMoE, Qwen2-MoE, gpt-oss, MiniMax-M2:
`param_count.FAMILIES`, chosen by the config's `model_type` and built from transformers' own
classes, never from code shipped with a checkpoint). A
width-pruned model's config carries `layer_shapes`: one entry per block with its query heads, KV
heads, MLP width and which output biases exist. `build_model` rebuilds those shapes on the meta
device, so sizing a model never needs its weights; `load_model` then assigns the weights from
safetensors (never pickle).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import SafetensorError, safe_open
from torch import nn
import transformers
from transformers import AutoTokenizer, LlamaConfig, TokenizersBackend

from prunebench import FamilyUnsupported, PrunebenchError, ResourceError
from prunebench.checkpoint import integrity
from prunebench.atomic import atomic_dir
from prunebench.checkpoint.integrity import (SAFETENSORS_INDEX, TOKENIZER_FILES,  # noqa: F401
                                             verify_manifest, weight_files)
from prunebench.checkpoint.param_count import (PER_BLOCK_CONFIG_LISTS,  # noqa: F401
                                    PER_BLOCK_CONFIG_VALUES,
                                    SHARED_INDEXER_TYPES,
                                    as_class_type,
                                    attention_sinks, block_param_count, checked_config_json,
                                    count_params,
                                    default_layer_shape, depth_kept_blocks,
                                    depth_needed_kinds, family,
                                    GATED_DELTANET_TYPES, head_dim, is_moe, kept_block_lists,
                                    kept_depth_scale,
                                    broken_reads, kv_sources, per_layer_input_width,
                                    RWKV_ONE_BLOCK,
                                    jamba_kept_layout, linear_attention_blocks,
                                    MASK_SIZING_KINDS,
                                    layer_shapes, mimo_v2_flash_window, mlp_bias,
                                    non_block_param_count, o_bias, qkv_bias, dbrx_unbuilt,
                                    unreproduced_layout,
                                    sdpa_not_causal, sparse_mlp_blocks, tied_embeddings,
                                    with_boolean_flags, with_partial_rotary,
                                    with_read_ffn_keys, without_null_shapes,
                                    zamba_needed_kinds, zamba2_removal_problem,
                                    inkling2_removal_problem)
from prunebench.checkpoint.param_count import (block_count, cross_attention_blocks,
                                               float16_problem, set_block_count)
from prunebench.projections import (alias_llama_names, block_mlp, decoder, down_proj,
                                    embedding_name, get_part, head_name, mlp_gated, mlp_inputs,
                                    module_name, o_proj, set_attention, set_block_heads,
                                    set_layers, set_part)

if TYPE_CHECKING:  # only named in annotations: importing the modelling code takes seconds,
    # which jobs that read a config or a tokenizer (calibration, dense report) do without
    from transformers import LlamaForCausalLM

log = logging.getLogger(__name__)

MANIFEST = integrity.MANIFEST


# --------------------------------------------------------------------------- layer shapes

def count_params_meta(config: LlamaConfig) -> int:
    """The same count by instantiating the model on the meta device (no memory, no weights)."""
    return sum(p.numel() for p in build_model(config).parameters())


# --------------------------------------------------------------------------- device and dtype

DTYPES = {"float16": torch.float16, "fp16": torch.float16, "half": torch.float16,
          "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
          "float32": torch.float32, "fp32": torch.float32, "float": torch.float32}


def resolve_device(device: str | torch.device | None = "auto",
                   option: str | None = None) -> torch.device:
    """'auto' = CUDA when present, else CPU; asking for CUDA without a GPU is an error. CUDA
    without an index on a machine with several GPUs is the GPU this process claims (one no
    other prunebench job holds: prunebench.gpu_claim), made the current device.

    `option`: the command-line option the device was given with (`--device` of the
    prunebench commands and the benchmarks/ scripts), which the fix of a device this machine
    cannot give names; None: the workflow's config key `device`, which the rule scripts and
    the library calls they make resolve (a command resolves its device before those calls)."""
    if device in (None, "auto"):
        if not torch.cuda.is_available():
            return torch.device("cpu")
        device = "cuda"
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ResourceError(f"device {device} requested but no CUDA GPU is visible here: run "
                            f"on a GPU {'machine' if option else 'node'}, or "
                            f"{set_device(('cpu', 'auto'), option)}")
    if device.type == "cuda" and device.index is None and torch.cuda.device_count() > 1:
        from prunebench.gpu_claim import claim_one

        device = torch.device("cuda", claim_one(gpu_keys()))
    if device.type == "cuda" and device.index is not None \
            and device.index >= (count := torch.cuda.device_count()):
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        raise PrunebenchError(
            f"device {device} names GPU {device.index}, but this process sees {count} GPU"
            f"{'s' if count != 1 else ''} (numbered from 0"
            f"{f'; CUDA_VISIBLE_DEVICES={visible}' if visible is not None else ''}): a scheduler "
            "such as SLURM gives each job its own GPUs, numbered from 0 in the job: "
            f"{set_device(('cuda', 'auto'), option)} (each job then uses the GPU it was "
            f"given), or an index below {count}")
    if device.type == "cuda" and device.index is not None:
        # What torch uses where no device is named (CUDA events, streams, graph capture,
        # synchronize): the GPU the work runs on, not GPU 0.
        torch.cuda.set_device(device.index)
    return device


def set_device(values: tuple[str, ...], option: str | None) -> str:
    """How the user sets the device to one of `values` where they gave it: the option of the
    command they typed (`give --device cpu or --device auto`), else the run's config (`set
    device: cpu or device: auto in the run's config`)."""
    if option:
        return "give " + " or ".join(f"{option} {value}" for value in values)
    return "set " + " or ".join(f"device: {value}" for value in values) + " in the run's config"


def gpu_keys() -> list[str]:
    """Each visible GPU's key for prunebench.gpu_claim: its UUID (the same GPU under any
    CUDA_VISIBLE_DEVICES order), else its index."""
    keys = []
    for index in range(torch.cuda.device_count()):
        uuid = getattr(torch.cuda.get_device_properties(index), "uuid", None)
        keys.append(str(uuid) if uuid else str(index))
    return keys


def is_activation_checkpointing(model) -> bool:
    """Whether the model recomputes its blocks' activations in the backward pass."""
    return (model.is_activation_checkpointing if _renamed_checkpointing(model)
            else model.is_gradient_checkpointing)


# The dropout rates a family's modules read at every forward in training mode, as floats:
# Seed-OSS's attention (attention_dropout on the attention weights, residual_dropout on its
# output) and MLP (residual_dropout), 0.1 in SeedOssConfig; Starcoder2's attention and MLP
# outputs (residual_dropout) and its embeddings (Starcoder2Model's embedding_dropout, 0.1 in
# the published configs); the other families' published configs have 0 (LLaMA's, the
# study's, has none).
DROPOUT_RATES = ("attention_dropout", "residual_dropout", "embedding_dropout",
                 # OPT's: OPTDecoderLayer's and OPTAttention's `dropout` (0.1 as published),
                 # OPTDecoder's `layerdrop` (blocks skipped at random in training mode)
                 "dropout", "layerdrop",
                 # BLOOM's: BloomAttention's and BloomMLP's `hidden_dropout` on their outputs;
                 # MPT's: MptAttention's `attn_dropout_p` on its probabilities, MptMLP's
                 # `hidden_dropout`; Falcon's: FalconDecoderLayer reads hidden_dropout and
                 # attention_dropout from the model's config, not from a module
                 # (base_dropout_off reads it too)
                 "hidden_dropout", "attn_dropout_p",
                 # DBRX's: DbrxNormAttentionNorm's and DbrxBlock's `resid_pdrop` on the
                 # sublayers' outputs, DbrxRouter's `moe_jitter_eps` (its router's input
                 # scaled by uniform noise of that spread)
                 "resid_pdrop", "moe_jitter_eps",
                 # GPT-BigCode's: GPTBigCodeAttention's `attn_dropout` on its probabilities
                 # (attn_pdrop, 0.1 by default; its other rates are nn.Dropout modules)
                 "attn_dropout",
                 # XGLM's: XGLMDecoderLayer's `activation_dropout` on fc1's activations (0
                 # as published; its `dropout` and XGLMModel's `layerdrop` are OPT's names)
                 "activation_dropout")


@contextlib.contextmanager
def base_dropout_off(model: nn.Module):
    """The model's own dropout off inside the block, its rates restored after: the passes that
    need training mode (Taylor+ scoring under activation checkpointing, LoRA recovery) compute
    the loss of the model as it runs in eval mode, as the study's LLaMA, which has no dropout,
    does in training mode. Its own: the rates DROPOUT_RATES name, and the rate `p` of its
    nn.Dropout modules (StableLM's `hidden_dropout` on each block's MLP output); a LoRA
    adapter's dropout (`lora.dropout`, peft's `lora_dropout` modules) is not touched."""
    saved = []  # (owner, name, rate): a list, as a config is not hashable
    # (the config too: Falcon's blocks read their rates from it)
    for qualified, module in [*model.named_modules(), ("config", model.config)]:
        if isinstance(module, nn.Dropout) and module.p and "lora_" not in qualified:
            saved.append((module, "p", module.p))
        for name in DROPOUT_RATES:
            rate = getattr(module, name, None)
            if isinstance(rate, (int, float)) and not isinstance(rate, bool) and rate:
                saved.append((module, name, rate))
    try:
        for module, name, _ in saved:
            setattr(module, name, 0.0)
        yield
    finally:
        for module, name, rate in saved:
            setattr(module, name, rate)


def final_norm(model: nn.Module) -> nn.Module:
    """The norm after the last block: PhiModel's `final_layernorm`, OPTDecoder's and
    GPTNeoXModel's `final_layer_norm` (OPT's an identity where its config removes it),
    XGLMModel's `layer_norm`, RecurrentGemmaModel's `final_norm`, xLSTMModel's `out_norm`,
    Nemotron-H's, MPT's and DBRX's `norm_f`, BLOOM's, FalconModel's, GPTJModel's, GPT2Model's
    and GPTBigCodeModel's `ln_f`, RwkvModel's `ln_out`, LFM2's `embedding_norm` (Lfm2Model applies it after the last
    block), every other family's `norm`."""
    inner = decoder(model)
    if family(model.config).post_ln_blocks:  # OpenAI GPT's: none (each block ends in its norm)
        return nn.Identity()
    if hasattr(inner, "embedding_norm") and not hasattr(inner, "norm"):  # LFM2's, so named
        return inner.embedding_norm
    if hasattr(inner, "norm_f"):  # Nemotron-H's, MPT's, DBRX's
        return inner.norm_f
    if hasattr(inner, "ln_f"):  # BLOOM's, Falcon's, GPT-J's, GPT-2's and GPT-BigCode's
        return inner.ln_f
    for name in ("final_layernorm", "final_layer_norm", "layer_norm",  # (XGLMModel's)
                 "final_norm",  # (RecurrentGemmaModel's)
                 "out_norm",  # (xLSTMModel's)
                 "layernorm",  # (CTRLModel's)
                 "ln_out"):  # (RwkvModel's)
        if hasattr(inner, name):
            return getattr(inner, name) or nn.Identity()
    return inner.norm


def sparse_block(layer: nn.Module) -> nn.Module:
    """A block's MLP or mixture of experts: GraniteMoE holds it as `block_sparse_moe`
    (GraniteMoE-Shared too, its shared MLP beside it; Granite 4.0 where its config has
    experts), Llama 4 as `feed_forward`, every other family as its dense MLP
    (`projections.block_mlp`: Granite 4.0's `shared_mlp` without experts)."""
    return (getattr(layer, "block_sparse_moe", None) or getattr(layer, "feed_forward", None)
            or block_mlp(layer))


def set_activation_checkpointing(model, on: bool) -> None:
    """Turn activation (gradient) checkpointing on, non-reentrant, or off. Non-reentrant: with
    frozen embeddings the reentrant variant would see no input that requires grad and silently
    give the blocks no gradients. A class without it (JetMoE's: its routers count tokens on
    the host) runs its passes whole: the same gradients, at the memory of every activation."""
    if not getattr(model, "supports_gradient_checkpointing", True):
        if on:
            log.warning("%s does not support activation checkpointing: its forward and backward "
                        "keep every activation (more memory, the same gradients)",
                        type(model).__name__)
        return
    renamed = _renamed_checkpointing(model)
    if not on:
        (model.activation_checkpointing_disable if renamed
         else model.gradient_checkpointing_disable)()
    elif renamed:
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})


def _renamed_checkpointing(model) -> bool:
    # transformers 5.2x renamed the API (activation_*) and deprecated the gradient_* names,
    # which v6 removes; earlier versions (the GPU machine's 5.17 among them) have only those.
    return hasattr(model, "activation_checkpointing_enable")


def resolve_dtype(dtype: str | torch.dtype, device: str | torch.device | None = None,
                  stored: torch.dtype | None = None) -> torch.dtype:
    """A dtype or its name; 'auto' (the benchmark's default) needs the `device` it runs on:
    float16 on CUDA, the study's, and float32 elsewhere, since CPUs have no fast fp16 matmul.
    Given the dtype a checkpoint is `stored` in, 'auto' on CUDA keeps bfloat16 for a model
    stored in it (Gemma-2, Llama-3, Qwen2.5: trained in it, their activations may overflow
    float16) where the GPU computes in it natively (Ampere and later)."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if str(dtype).lower() == "auto":
        if device is None:
            raise PrunebenchError("dtype 'auto' depends on the device (float16 on CUDA, float32 "
                                  "on CPU): pass the device, or name the dtype")
        kind = resolve_device(device).type if device == "auto" else torch.device(device).type
        if kind != "cuda":
            return torch.float32
        if stored == torch.bfloat16 and computes_bfloat16(device):
            return torch.bfloat16
        return torch.float16
    try:
        return DTYPES[str(dtype).lower()]
    except KeyError:
        raise PrunebenchError(f"unknown dtype {dtype!r}: choose one of {sorted(DTYPES)}") from None


def computes_bfloat16(device: str | torch.device) -> bool:
    """Whether the CUDA device (the one named, not merely the current one: a node may mix GPU
    models) computes in bfloat16 natively (Ampere and later; torch emulates it, slowly, on
    older ones)."""
    device = resolve_device(device) if device == "auto" else torch.device(device)
    named = torch.cuda.device(device) if device.index is not None else contextlib.nullcontext()
    with named:
        return torch.cuda.is_bf16_supported(including_emulation=False)


# --------------------------------------------------------------------------- building

class ZeroHeadAttention(nn.Module):
    """Attention of a block that kept no heads: its output is the o_proj bias alone.

    It still writes a 1-dim dummy key/value per token into the KV cache so that the cache's
    sequence length (read from block 0 by HF) stays right when block 0 is the zero-head one.
    The output projection keeps its family's name (`name`: Phi's `dense`), so that the
    checkpoint's tensors are named as transformers' model of the pruned shape names them.
    """

    def __init__(self, config: LlamaConfig, layer_idx: int, has_bias: bool,
                 name: str = "o_proj"):
        super().__init__()
        self.config = config
        self.layer_idx = layer_idx
        self.head_dim = head_dim(config)
        self.output_name = name
        setattr(self, name, nn.Linear(0, config.hidden_size, bias=has_bias))

    def forward(self, hidden_states: torch.Tensor, *args, **kwargs):
        # (GPT-NeoX's block passes its cache as `layer_past`)
        cache = kwargs.get("cache", kwargs.get("past_key_values", kwargs.get("layer_past")))
        if cache is not None:
            b, s = hidden_states.shape[:2]
            dummy = hidden_states.new_zeros(b, 1, s, 1)
            cache.update(dummy, dummy, self.layer_idx)
        out = getattr(self, self.output_name)(hidden_states.new_zeros(*hidden_states.shape[:-1], 0))
        return attention_outputs(self.config, out)


def attention_outputs(config: LlamaConfig, out: torch.Tensor) -> tuple:
    """What a block's attention returns for `out`, from a module standing in for it (no heads
    left, or a sublayer skipped): (out, no attention weights), and for GPT-NeoX-Japanese a
    third value, the bias GPTNeoXJapaneseLayer adds after the output projection: None, any
    such bias being the output's own (fold_dense_bias); OpenAI GPT's Block concatenates a list
    to what its Attention returns, a list: [out], as that Attention's own without weights."""
    if family(config).post_ln_blocks:
        return [out]
    return (out, None, None) if family(config).last_block_dense_bias else (out, None)


def _linear(n_in: int, n_out: int, bias: bool, like: nn.Linear) -> nn.Linear:
    return nn.Linear(n_in, n_out, bias=bias, device=like.weight.device, dtype=like.weight.dtype)


def norm_like(norm: nn.Module, size: int | tuple[int, int]) -> nn.Module:
    """An RMSNorm of the same class and epsilon as `norm`, over `size` channels (Cohere's
    per-head q/k norms: a (heads, head_dim) weight)."""
    new = type(norm)(size, norm_eps(norm))
    return new.to(device=norm.weight.device, dtype=norm.weight.dtype)


def per_head_norm_like(norm: nn.Module, heads: int) -> nn.Module:
    """StableLM's per-head q/k norm (StableLmLayerNormPerHead: one LayerNorm module a head, in
    `norms`) of the same class, size and epsilon as `norm`, over `heads` heads."""
    first = norm.norms[0]
    new = type(norm)(norm.dim, heads, eps=first.eps, bias=first.bias is not None)
    return new.to(device=first.weight.device, dtype=first.weight.dtype)


# OlmoLayerNorm's epsilon, a constant of its forward (the module keeps none).
OLMO_LAYER_NORM_EPS = 1e-5


def norm_eps(norm: nn.Module) -> float:
    """An HF norm's epsilon (`variance_epsilon` in LLaMA's, Qwen's and OLMo-2's RMSNorm, `eps` in
    Gemma's and in a torch LayerNorm; the first OLMo's parameterless LayerNorm holds none and
    uses 1e-5)."""
    eps = getattr(norm, "variance_epsilon", None)
    if eps is None:
        eps = getattr(norm, "eps", None)
    if eps is None and type(norm).__name__ == "OlmoLayerNorm":
        eps = OLMO_LAYER_NORM_EPS
    if eps is None:
        raise PrunebenchError(f"{type(norm).__name__} holds no epsilon that prunebench knows "
                              "(variance_epsilon or eps): report it with this transformers "
                              f"version ({transformers.__version__})")
    return eps


def apply_layer_shape(layer: nn.Module, config: LlamaConfig, layer_idx: int,
                      shape: dict[str, Any]) -> None:
    """Replace a freshly built block's projections with modules of the given shape."""
    d, hd = config.hidden_size, head_dim(config)
    attn, mlp = layer.self_attn, block_mlp(layer)
    n_q, n_kv = shape["num_attention_heads"], shape["num_key_value_heads"]
    in_bias, out_bias = qkv_bias(config), o_bias(config) or shape["o_proj_bias"]
    layout = family(config)
    out_name, out_weight = module_name(attn, "o_proj"), o_proj(attn).weight
    if n_q == 0:
        zero = ZeroHeadAttention(config, layer_idx, out_bias, out_name)
        zero.to(device=out_weight.device, dtype=out_weight.dtype)
        set_attention(layer, zero)
    else:
        if n_q % n_kv:
            raise PrunebenchError(f"block {layer_idx}: {n_q} query heads is not a multiple of "
                                  f"{n_kv} KV heads")
        if "qkv_proj" in layout.packed:  # Phi-3: one qkv_proj, rows [q; k; v] (GPT-NeoX's
            # query_key_value, head by head)
            set_part(attn, "qkv_proj", _linear(d, (n_q + 2 * n_kv) * hd, in_bias,
                                               get_part(attn, "qkv_proj")))
        else:
            for part, heads in (("q_proj", n_q), ("k_proj", n_kv), ("v_proj", n_kv)):
                # (by the family's names: CTRL's Wq / Wk / Wv)
                set_part(attn, part, _linear(d, heads * hd, in_bias, get_part(attn, part)))
        set_part(attn, "o_proj", _linear(n_q * hd, d, out_bias, o_proj(attn)))
        # Qwen3's q_norm / k_norm (size head_dim, shared by the heads) keep their shape;
        # OLMo-2's norm the whole projections, one weight per channel.
        if layout.qk_norm_whole:
            attn.q_norm = norm_like(attn.q_norm, n_q * hd)
            attn.k_norm = norm_like(attn.k_norm, n_kv * hd)
        elif layout.qk_norm_each_head and hasattr(attn, "q_norm"):  # Cohere: [heads, head_dim]
            attn.q_norm = norm_like(attn.q_norm, (n_q, hd))
            attn.k_norm = norm_like(attn.k_norm, (n_kv, hd))
        elif layout.qk_norm_each_head and hasattr(attn, "q_layernorm"):  # StableLM: a module
            attn.q_layernorm = per_head_norm_like(attn.q_layernorm, n_q)  # per head
            attn.k_layernorm = per_head_norm_like(attn.k_layernorm, n_kv)
        if layout.attention_sinks:  # GraniteSWA's sink logit a query head
            attn.sinks = nn.Parameter(attn.sinks.new_empty(n_q))
        set_block_heads(attn, n_q, n_kv)
    m = shape["intermediate_size"]
    m_bias = mlp_bias(config)
    if "gate_up_proj" in layout.packed:  # Phi-3, GLM: one gate_up_proj, rows [gate; up]
        # (Granite 4.0's input_linear)
        set_part(mlp, "gate_up_proj", _linear(d, 2 * m, m_bias, get_part(mlp, "gate_up_proj")))
    else:
        # (ArceeMLP, NemotronMLP, ApertusMLP: up_proj alone, no gate; Starcoder2's c_fc,
        # Phi's fc1)
        for part in mlp_inputs(mlp):
            set_part(mlp, part, _linear(d, m, m_bias, get_part(mlp, part)))
    set_part(mlp, "down_proj", _linear(m, d, m_bias or shape["down_proj_bias"], down_proj(mlp)))
    mlp.intermediate_size = m


def check_mlp_gates(model: nn.Module) -> None:
    """Refuse a model whose dense MLPs disagree with its family's `ungated_mlp`, which the
    counts, the width methods' sizing and the LoRA settings read from the config alone, while
    the surgery, the methods and the compiled decoder read the modules
    (`projections.mlp_inputs`): they would count and size one MLP and slice another. (A
    mixture of experts' sparse blocks hold no down_proj of their own and are not read.)"""
    config = model.config
    f = family(config)
    for idx, layer in enumerate(decoder(model).layers):
        mlp = sparse_block(layer)
        if not isinstance(getattr(mlp, module_name(mlp, "down_proj"), None), nn.Linear):
            continue
        if mlp_gated(mlp) == f.ungated_mlp:
            raise PrunebenchError(
                f"block {idx}: {f.model_class} builds an MLP "
                f"{'with' if mlp_gated(mlp) else 'without'} a gate ({type(mlp).__name__}: "
                f"{', '.join(mlp._modules)}), but prunebench's family {config.model_type!r} "
                "counts, sizes and adapts it as "
                f"{'ungated' if f.ungated_mlp else 'gated'} (Family.ungated_mlp is "
                f"{f.ungated_mlp}): report it with this transformers version "
                f"({transformers.__version__}); a family being added sets Family.ungated_mlp "
                "as its class builds the MLP")


def _transformers_class(name: str, model_type: str) -> type:
    """transformers' class `name`, or a PrunebenchError naming the version to install: an
    environment whose transformers was installed apart from prunebench's requirements (a GPU
    image's, older than 5.17) may lack a newer family's classes (Ministral 3's came with 5.0);
    a family newer than prunebench's floor (`Family.min_transformers`: EXAONE's, InternLM3's,
    whose model class is LLaMA's, there in any release) is refused below its first release."""
    from prunebench.checkpoint.param_count import require_transformers_release

    require_transformers_release(model_type)
    cls = getattr(transformers, name, None)
    if cls is None:
        raise PrunebenchError(
            f"model_type {model_type!r} needs transformers' {name}, which this transformers "
            f"({transformers.__version__}) does not have: upgrade transformers (`pip install "
            "-U 'transformers<6'`), or use a checkpoint of another family")
    return cls


def model_class(config) -> type:
    """The transformers causal-LM class of the config's family (LlamaForCausalLM, ...)."""
    return _transformers_class(family(config).model_class, config.model_type)


def config_class(model_type: str) -> type:
    """The transformers config class of a supported model_type (PrunebenchError otherwise)."""
    from types import SimpleNamespace

    return _transformers_class(family(SimpleNamespace(model_type=model_type)).config_class,
                               model_type)


@contextlib.contextmanager
def default_dtype(dtype: torch.dtype | None):
    """torch's default dtype set to `dtype` (a floating one) inside the block; None: unchanged."""
    if dtype is None:
        yield
        return
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def float32_kept(model: nn.Module, dtype: torch.dtype | None):
    """Which of `model`'s tensors (by name) transformers keeps in float32 when it loads the
    model in `dtype`: its class's `_keep_in_fp32_modules_strict` in float16 and bfloat16
    (DeepSeek-V3's routers, `gate.weight` and `e_score_correction_bias`; DeepSeek-V2's
    `gate.weight` in transformers 5.25), and `_keep_in_fp32_modules` in float16 (gpt-oss's
    norms). The names are matched as transformers matches them (a regex search of the name,
    `*` any run of characters), so each installed transformers version's own lists apply. A
    predicate on names; nothing is kept in float32 or float64. Also what the family's class
    makes float32 whatever the dtype (`Family.float32_params`: Hunyuan-A13B's routers), which
    transformers' loading leaves float32 in half precision."""
    names = []
    if dtype == torch.float16:
        names += sorted(getattr(model, "_keep_in_fp32_modules", None) or [])
    if dtype in (torch.float16, torch.bfloat16):
        names += sorted(getattr(model, "_keep_in_fp32_modules_strict", None) or [])
        # what the class itself makes float32 in any dtype, which loading leaves so (Hunyuan's
        # routers: Family.float32_params)
        config = getattr(model, "config", None)
        names += list(family(config).float32_params) if config is not None else []
    if not names:
        return lambda name: False
    pattern = re.compile("|".join(f"(?:{name.replace('*', '.*')})" for name in names))
    return lambda name: pattern.search(name) is not None


def refuse_float16(config, dtype: torch.dtype | None) -> None:
    """Stop a model of a family transformers cannot run in float16 (DeepSeek-V4's:
    param_count.FLOAT16_REASONS) from being loaded or cast to it, before any weight moves (the
    start refuses such a config: plan.checks.float16_problems)."""
    if problem := float16_problem(getattr(config, "model_type", None), dtype):
        raise PrunebenchError(problem)


def cast_floating(model: nn.Module, dtype: torch.dtype) -> nn.Module:
    """`model.to(dtype)` in place, except the tensors transformers keeps in float32 at that
    dtype (`float32_kept`), which are made float32: the model as `from_pretrained(dtype=...)`
    holds it, and a pruned or recovered model saved in its checkpoint's dtype keeps a router
    stored in float32 as it was. Each tensor is cast from its current values, so a float32
    model cast to bfloat16 keeps its routers exact."""
    refuse_float16(getattr(model, "config", None), dtype)
    kept = float32_kept(model, dtype)
    for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
        if tensor.is_floating_point():
            tensor.data = tensor.data.to(torch.float32 if kept(name) else dtype)
    return model


# Weights a family's checkpoints hold as transformers' Conv1D holds them ([in, out], x @ W + b:
# GPT-2's c_attn, c_proj and c_fc), which prunebench's model holds as nn.Linear ([out, in]:
# `linear_projections`): transposed as read (`_load_model`) and back as saved (`published_state`),
# so that every checkpoint keeps the names and shapes transformers' class loads.
CONV1D_WEIGHTS = {"gpt2": (".attn.c_attn.weight", ".attn.c_proj.weight", ".mlp.c_fc.weight",
                           ".mlp.c_proj.weight")}
CONV1D_WEIGHTS["openai-gpt"] = CONV1D_WEIGHTS["gpt2"]  # (GPT-1's Attention and MLP: the same)


def linear_projections(model: nn.Module) -> nn.Module:
    """`model` with each of its Conv1D modules (transformers' pytorch_utils.Conv1D: GPT-2's
    projections, weight [in, out]) replaced by the nn.Linear of the same parameters (weight
    [out, in], the transpose; the same bias): the one kind of projection every slice, score,
    fused block and LoRA adapter of prunebench reads, so that none of them needs a second
    orientation. The forward computes the same x W + b."""
    from transformers.pytorch_utils import Conv1D

    for module in list(model.modules()):
        for name, child in list(module._modules.items()):
            if isinstance(child, Conv1D):
                linear = nn.Linear(child.nx, child.nf, device="meta")  # no init to overwrite
                linear.weight = nn.Parameter(child.weight.detach().t().contiguous())
                linear.bias = nn.Parameter(child.bias.detach())
                setattr(module, name, linear)
    return model


# Tensors two transformers versions' classes of a family hold under different names, the same
# values in the same layout: (the published name, which every supported version loads, the
# other's). Aria's experts: `mlp.experts.fc1.weight` [experts, hidden, 2 x width] (rows of
# each expert's [gate, up] in its columns) and `fc2.weight` [experts, width, hidden], as
# transformers 5.17's AriaGroupedExpertsGemm holds them and Rhymes publishes them; 5.25's
# AriaExperts holds them as `gate_up_proj` / `down_proj` (is_transposed) and renames them as it
# loads (its conversion mapping's aria_text). prunebench saves the published names, so that a
# checkpoint saved under one version loads under the other and in transformers, and loads
# either under the installed class's (`held_names`).
EQUAL_NAMES = {"aria_text": ((".mlp.experts.fc1.weight", ".mlp.experts.gate_up_proj"),
                             (".mlp.experts.fc2.weight", ".mlp.experts.down_proj"))}


def held_names(model_type: str, state: dict, held: set[str]) -> dict:
    """`state` with each tensor named as the installed class holds it (`held`), where its name
    is one of `EQUAL_NAMES`' pairs; the rest as they are."""
    pairs = EQUAL_NAMES.get(model_type, ())
    renamed = {}
    for name, tensor in state.items():
        for one, other in (*pairs, *((b, a) for a, b in pairs)):
            if name.endswith(one) and name not in held and name[: -len(one)] + other in held:
                name = name[: -len(one)] + other
                break
        renamed[name] = tensor
    return renamed


def published_names(model_type: str, state: dict) -> dict:
    """`state` with each tensor of `EQUAL_NAMES` under its published name, to save."""
    published = {}
    for name, tensor in state.items():
        for one, other in EQUAL_NAMES.get(model_type, ()):
            if name.endswith(other):
                name = name[: -len(other)] + one
                break
        published[name] = tensor
    return published


def published_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's state dict as its family's transformers class holds it, to save: GPT-2's
    projections' weights in Conv1D's orientation ([in, out]: `CONV1D_WEIGHTS`), GPT-NeoX-
    Japanese's output bias under its own name (`dense_bias`: fold_dense_bias, LOADED_NAMES)."""
    transposed = CONV1D_WEIGHTS.get(model.config.model_type, ())
    state = {k: (v.detach().t() if transposed and k.endswith(transposed) else v.detach())
             .contiguous() for k, v in model.state_dict().items()}
    if model.config.model_type == "qwen4_exp_text":
        state = sharded_ngram_tables(model.config, state)
    if model.config.model_type == "gpt_neox_japanese":
        ((published, held),) = LOADED_NAMES["gpt_neox_japanese"]
        state = {k[: -len(held)] + published if k.endswith(held) else k: v
                 for k, v in state.items()}
    prefixes, count = zamba_shared_prefixes(model), shared_block_count(model.config)
    if others := tuple(prefixes[count:]):
        # Zamba's shared block (Zamba2's blocks) under its first hybrid block's (blocks')
        # names alone, as transformers saves them (and ties the other hybrid blocks to those
        # when it loads)
        state = {k: v for k, v in state.items() if not k.startswith(others)}
    return state


# A Qwen4-Exp per-layer embedding's n-gram table, as its class holds it, and the name pattern
# of the row shards (split_ngram_parts of them) transformers saves it as and concatenates
# when it loads (its conversion mapping: Concatenate / Chunk over the rows).
NGRAM_TABLE = "ngram_embedding.weight"
NGRAM_SHARD = re.compile(r"^(.*ngram_embedding)\.shard_(\d+)\.weight$")


def sharded_ngram_tables(config, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`state` with each Qwen4-Exp n-gram table split by rows into config.split_ngram_parts
    shards (`ngram_embedding.shard_<i>.weight`, torch.chunk's), as transformers saves it."""
    out = {}
    for name, tensor in state.items():
        if name.endswith("." + NGRAM_TABLE):
            stem = name[: -len(".weight")]
            for i, part in enumerate(torch.chunk(tensor, config.split_ngram_parts, dim=0)):
                out[f"{stem}.shard_{i}.weight"] = part.clone()  # (a file each holds)
        else:
            out[name] = tensor
    return out


def joined_ngram_tables(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`state` with each Qwen4-Exp n-gram table's row shards (`sharded_ngram_tables`)
    concatenated in their order into the one table its class holds."""
    shards: dict[str, dict[int, torch.Tensor]] = {}
    out = {}
    for name, tensor in state.items():
        if match := NGRAM_SHARD.match(name):
            shards.setdefault(match.group(1), {})[int(match.group(2))] = tensor
        else:
            out[name] = tensor
    for stem, parts in shards.items():
        out[f"{stem}.weight"] = torch.cat([parts[i] for i in sorted(parts)], dim=0)
    return out


# Layer kinds a family's class holds under another name than its published config.json gives
# them, written back so on save: Qwen4-Exp's indexed blocks (5.18 on "indexed_attention", 5.17
# "qwen_sparse_attention"), published "full_attention", which every release reads (5.17
# refuses the later name).
PUBLISHED_LAYER_TYPES = {"qwen4_exp_text": {"indexed_attention": "full_attention",
                                            "qwen_sparse_attention": "full_attention"}}


def write_published_layer_types(config, folder: Path) -> None:
    """Rewrite config.json's layer_types in `folder` with the published names of its kinds
    (`PUBLISHED_LAYER_TYPES`); nothing for other families."""
    names = PUBLISHED_LAYER_TYPES.get(getattr(config, "model_type", None))
    if not names:
        return
    path = Path(folder) / "config.json"
    raw = json.loads(path.read_text())
    raw["layer_types"] = [names.get(kind, kind) for kind in raw.get("layer_types") or []]
    path.write_text(json.dumps(raw, indent=2, sort_keys=True) + "\n")


# The module in a Zamba hybrid block that holds the shared transformer block it runs
SHARED_BLOCK_MODULES = {"zamba": "shared_transf", "zamba2": "shared_transformer"}


def shared_block_count(config) -> int:
    """How many shared transformer blocks a Zamba (one) or Zamba2 (num_mem_blocks) model's
    hybrid blocks run, hybrid block j (in hybrid order) the j mod count-th."""
    return config.num_mem_blocks if config.model_type == "zamba2" else 1


def zamba_shared_prefixes(model: nn.Module) -> list[str]:
    """The state-dict prefixes of the shared transformer block in a Zamba or Zamba2 model's
    hybrid blocks, in block order ("model.layers.3.shared_transf."); none in other
    families."""
    if (name := SHARED_BLOCK_MODULES.get(model.config.model_type)) is None:
        return []
    return [f"model.layers.{i}.{name}." for i, layer in enumerate(decoder(model).layers)
            if hasattr(layer, name)]


def share_zamba_block(model: nn.Module) -> None:
    """Hold Zamba's shared transformer block as one module, the first hybrid block's, in every
    hybrid block (Zamba2's num_mem_blocks blocks: hybrid block j runs the j mod
    num_mem_blocks-th hybrid block's): transformers ties the copies ZambaModel builds, one a
    hybrid block, parameter by parameter (5.17 and 5.25, with tied embeddings: zamba_unbuilt
    and zamba2_unbuilt refuse others), which a load's assigned weights would untie; one module
    keeps them one (counted once, read once)."""
    if (name := SHARED_BLOCK_MODULES.get(model.config.model_type)) is None:
        return
    hybrid, count = ([layer for layer in decoder(model).layers if hasattr(layer, name)],
                     shared_block_count(model.config))
    for j, layer in enumerate(hybrid[count:], start=count):
        setattr(layer, name, getattr(hybrid[j % count], name))


def _zamba_shared_state(model: nn.Module, state: dict[str, torch.Tensor]) -> dict:
    """A Zamba checkpoint's shared block (Zamba2's blocks) under every hybrid block's names:
    saved under the first hybrid block's (the first num_mem_blocks') alone (transformers' save
    and prunebench's), whose weights transformers ties the other hybrid blocks to when it loads
    (a copy saved under another's is replaced so too)."""
    prefixes, count = zamba_shared_prefixes(model), shared_block_count(model.config)
    if len(prefixes) <= count:
        return state
    state = {k: v for k, v in state.items() if not k.startswith(tuple(prefixes[count:]))}
    return {**state, **{prefix + k[len(prefixes[j % count]):]: v
                        for j, prefix in enumerate(prefixes[count:], start=count)
                        for k, v in state.items() if k.startswith(prefixes[j % count])}}


def fold_dense_bias(model: nn.Module) -> None:
    """GPT-NeoX-Japanese's attention bias held as its output projection's own: the attention
    that holds a `dense_bias` (the last block's, `Family.last_block_dense_bias`) returns it
    for GPTNeoXJapaneseLayer to add to `dense`'s output; here `dense` carries it as its bias
    and the attention returns None, the same sum, so that the surgery, FLAP's compensation,
    the counts (`layer_shapes`: that block's o_proj bias) and the compiled decoder read it as
    every family's o_proj bias. Saved back under transformers' name (`published_state`)."""
    for layer in decoder(model).layers:
        attn = layer.self_attn
        bias = attn._parameters.get("dense_bias")
        if bias is None:
            continue
        dense = attn.dense
        folded = nn.Linear(dense.in_features, dense.out_features, bias=True,
                           device=dense.weight.device, dtype=dense.weight.dtype)
        folded.weight = dense.weight
        folded.bias = bias
        del attn.dense_bias
        attn.dense_bias = None
        attn.dense = folded


# A value a block's module computes from the block's index when built, which a depth prune
# keeps: model_type -> (the config list a depth prune writes, one entry a kept block,
# PER_BLOCK_CONFIG_LISTS; the module holding it; its attribute). DiffLlamaAttention's
# lambda_init = 0.8 - 0.6 exp(-0.3 layer_idx): a kept block reloaded under its new index would
# weigh its second softmax map otherwise than the block that was scored, so build_model sets
# each block's from the list (transformers itself ignores the key: a depth-pruned DiffLlama
# reloads as scored through prunebench's loader only).
BLOCK_CONSTANTS = {"diffllama": ("layer_lambda_init", "self_attn", "lambda_init")}


def build_model(config: LlamaConfig, device: str | torch.device = "meta",
                dtype: torch.dtype | None = None) -> LlamaForCausalLM:
    """Instantiate the architecture (per-block shapes included) with uninitialised weights.

    On "meta" nothing is allocated; on a real device the weights are randomly initialised.
    The class is the family's own transformers class (`model_class`); other model types raise.
    """
    cls = model_class(config)
    config = model_wide_readable(config)
    values = ({"model_type": config.model_type, **config.to_dict()}
              if hasattr(config, "to_dict") else vars(config))
    if problem := unreproduced_layout(values) or dbrx_unbuilt(values):
        raise FamilyUnsupported(f"this config {problem}")
    shapes = getattr(config, "layer_shapes", None)
    if attention_sinks(config):
        # gpt-oss's, Granite-SWA's and GraniteMoE-SWA's sink logits are in transformers' eager
        # (and flash / flex) attention only: SDPA, which a config may name, would drop them
        # without a word.
        config._attn_implementation = "eager"
    if getattr(config, "attn_logit_softcapping", None) is not None:
        # Gemma-2 soft-caps its attention scores, which no SDPA kernel does: transformers 5.2x
        # builds it with eager attention, but 5.17 (and older) picks SDPA, whose attention
        # drops the cap without a word, and every prune, evaluation and LoRA would score
        # another model. (The benchmarks set their attention themselves.)
        config._attn_implementation = "eager"
    if sdpa_not_causal(config):
        # Doge on transformers 5.17: its SDPA attention drops the causal mask (eager keeps it)
        config._attn_implementation = "eager"
    with torch.device(device), default_dtype(dtype):
        # Made in `dtype` rather than cast to it: a model built in float32 first needs twice
        # the memory of a half-precision one (Mixtral-8x7B: 187 GB, more than an H200 has).
        # (GPT-NeoX's modules answer LLaMA's names too: alias_llama_names)
        # (GPT-2's Conv1D projections held as nn.Linear: linear_projections)
        model = alias_llama_names(linear_projections(cls(config)))
        if family(config).last_block_dense_bias:
            fold_dense_bias(model)
        if dtype is not None:
            # what transformers makes float32 whatever the default, in `dtype` too, but for
            # what it keeps in float32 at that dtype when loading (DeepSeek's routers)
            cast_floating(model, dtype)
        if shapes is not None:
            for idx, (layer, shape) in enumerate(zip(decoder(model).layers, layer_shapes(config))):
                # (a Llama 3.2 Vision cross-attention block is kept whole: as built)
                if shape != default_layer_shape(config) and not shape.get("cross_attention"):
                    apply_layer_shape(layer, config, idx, shape)
        share_zamba_block(model)
    if (constant := BLOCK_CONSTANTS.get(config.model_type)) and getattr(config, constant[0], None):
        key, owner, name = constant
        for layer, value in zip(decoder(model).layers, getattr(config, key), strict=True):
            setattr(getattr(layer, owner), name, value)
    check_mlp_gates(model)
    return model


def random_model(config: LlamaConfig, device: str | torch.device, dtype: torch.dtype,
                 seed: int = 0) -> LlamaForCausalLM:
    """A randomly initialised model of a known shape: speed depends on shapes, not values."""
    torch.manual_seed(seed)
    model = build_model(config, device=device, dtype=dtype)
    model.eval()
    return model


# --------------------------------------------------------------------------- saving / loading

def write_manifest(path: Path, extra: dict[str, Any] | None = None) -> dict[str, list]:
    """Record the sha256 of every weight, config and tokenizer file in `path` (verified by
    load_model; the config and tokenizer files also by load_tokenizer). Returns what was hashed,
    for `integrity.remember_verified` once the folder is renamed into place. A hub download
    records the commit the hub served (`hub_commit`), which a source without `@<commit>` does
    not name."""
    from prunebench.hub import downloaded_commit

    commit = downloaded_commit(path)
    return integrity.write_manifest(path, weight_files(path),
                                    {**({"hub_commit": commit} if commit else {}), **(extra or {})})


def dtype_name(model: nn.Module) -> str:
    """The precision `model` computes in ('float16'), as result files record it."""
    return str(next(model.parameters()).dtype).removeprefix("torch.")


def placement_record(model: nn.Module) -> dict[str, Any]:
    """Where a model spread by a device map ran, module by module ({"device_map": {"model.layers.0":
    "0", ..., "model.layers.39": "cpu"}}), as result files record it; {} for a model on one
    device (the file's `device` says where)."""
    mapping = getattr(model, "hf_device_map", None)
    return {"device_map": {k: str(v) for k, v in mapping.items()}} if mapping else {}


def config_dtype(config: LlamaConfig) -> torch.dtype:
    """The dtype a checkpoint's config records (fp16 for the hub's LLaMA), else float32:
    pruned and recovered checkpoints are saved in it, whatever dtype the work used.

    A model from `load_model` carries its stored dtype here even where it computes in another
    (loading in float32 leaves the config as on disk), and one whose config.json names none
    carries its weights' dtype."""
    # `dtype` since transformers 4.56 (`torch_dtype` before, a deprecated alias after).
    named = getattr(config, "dtype", None) if hasattr(config, "dtype") else getattr(
        config, "torch_dtype", None)
    return resolve_dtype(named or "float32")


# safetensors' names of the floating-point dtypes a checkpoint may be stored in.
SAFETENSORS_DTYPES = {"F16": torch.float16, "BF16": torch.bfloat16, "F32": torch.float32,
                      "F64": torch.float64}


def stored_dtype(path: Path) -> torch.dtype | None:
    """The floating-point dtype the checkpoint at `path` stores its weights in: the one holding
    most of its parameters, counted over every weight file's header (no tensor is read). Not
    the first tensor's: a checkpoint may keep its norms or rotary buffers in float32 beside
    bfloat16 or float16 weights, and one of those may come first. Tensors of other dtypes
    (integers, float8) are not counted. None if it has no floating-point tensor or a header is
    unreadable (load_model's checks then say what is wrong with the file)."""
    elements: dict[torch.dtype, int] = {}
    try:
        for file in weight_files(path):
            with safe_open(file, framework="pt") as fh:
                for key in fh.keys():
                    tensor = fh.get_slice(key)
                    found = SAFETENSORS_DTYPES.get(tensor.get_dtype())
                    if found is not None:
                        elements[found] = elements.get(found, 0) + math.prod(tensor.get_shape())
    except SafetensorError:
        return None
    return max(elements, key=elements.__getitem__) if elements else None


def _stored_dtype_or_none(path: Path) -> torch.dtype | None:
    """stored_dtype, or None where the checkpoint is missing or unreadable: the loader's own
    checks then say what is wrong, as they would for any other dtype."""
    try:
        return stored_dtype(path)
    except (PrunebenchError, OSError):
        return None


def saved_dtype(path: Path, config: LlamaConfig) -> torch.dtype:
    """The dtype a model made from the checkpoint at `path` (config `config`) is saved in,
    pruned or recovered: its stored weights', else what its config names (config_dtype)."""
    return stored_dtype(path) or config_dtype(config)


def check_param_count(model: LlamaForCausalLM, what: str) -> int:
    """The model's parameter count, after checking the config and the weights agree on it."""
    expected = count_params(model.config)
    actual = sum(p.numel() for p in model.parameters())
    if actual != expected:
        raise RuntimeError(f"{what}: config says {expected:,} params but the model has "
                           f"{actual:,}; config and weights are out of step")
    return expected


def load_config(path: str | Path) -> LlamaConfig:
    path = Path(path)
    raw = checked_config_json(path)  # missing, invalid, or a family prunebench lacks: refused
    cls = config_class(raw.get("model_type") or "llama")
    # from_pretrained's two steps, with a null head_dim or num_key_value_heads read as left out
    # (`without_null_shapes`): the counts read the file the same way. MiniMax-M2's rotary_dim
    # is given as the partial_rotary_factor every transformers version reads, Llama-4-Scout's
    # attn_temperature_tuning 4 as the true it means; DBRX's ffn_config with the keys its class
    # reads alone (5.17 refuses the others, 5.25 ignores them); MiMo-V2-Flash's window as 5.25
    # reads it, written into sliding_window so that 5.17 reads it too (mimo_v2_flash_window).
    values, kwargs = cls.get_config_dict(path)
    values = as_class_type(values)  # (the type read, GPT-SW3's "gpt-sw3" GPT-2's: the tables')
    values = with_boolean_flags(with_partial_rotary(without_null_shapes(values)))
    values = mimo_v2_flash_window(values)  # (one window in 5.17 and 5.25)
    return model_wide_readable(cls.from_dict(with_read_ffn_keys(values), **kwargs))


def model_wide_readable(config):
    """`config`, a Dots 3 Note one (whose blocks differ: per_layer_config) with its model-wide
    values readable: transformers refuses to read a value that per_layer_config may override
    from the whole config (AmbiguousGlobalPerLayerAttributeError) unless this flag is set, and
    prunebench reads the model-wide ones (the indexed blocks') where a value is the model's,
    each block's own through per_layer_config where it is the block's
    (param_count.latent_block_shapes). Any other config as it is."""
    if getattr(config, "model_type", None) == "dots3_note_text":
        config.allow_global_per_layer_attribute_access = True
    return config


def save_model(model: LlamaForCausalLM, tokenizer, path: str | Path,
               extra_manifest: dict[str, Any] | None = None) -> None:
    """Save config, safetensors weights, tokenizer and manifest atomically into `path`."""
    from huggingface_hub import save_torch_state_dict

    model.config.architectures = [family(model.config).model_class]
    # A checkpoint that named code of its family's own classes (Phi-3's `auto_map`) was built
    # with transformers' class, and is saved as one (the code files do not travel with it).
    model.config.__dict__.pop("auto_map", None)
    # config.json names the dtype the weights are saved in: a model cast after it was built
    # (a `random:` model made in float16) would otherwise keep its config's, or none, and the
    # checkpoints pruned from it would be saved in float32, twice the disk.
    floating = next((p.dtype for p in model.parameters() if p.is_floating_point()), None)
    if floating is not None:
        model.config.dtype = floating
    with atomic_dir(path) as tmp:
        # (Dots 3 Note's flag: prunebench's reading, not the model's: model_wide_readable)
        readable = model.config.__dict__.pop("allow_global_per_layer_attribute_access", None)
        model.config.save_pretrained(tmp)
        write_published_layer_types(model.config, tmp)
        if readable is not None:
            model.config.allow_global_per_layer_attribute_access = readable
        if getattr(model, "generation_config", None) is not None:
            model.generation_config.save_pretrained(tmp)
        undo_rwkv_rescale(model)  # (RWKV's trained weights, not those its forward divided)
        state = published_state(model)  # (GPT-2's Conv1D weights as transformers holds them)
        state = published_names(model.config.model_type, state)  # (Aria's experts' names)
        if tied_embeddings(model.config):
            # One tensor under two names: keep the embedding's, as transformers saves it (the
            # deduplicating saver would otherwise keep whichever name it meets first).
            state.pop(head_name(model), None)
        save_torch_state_dict(state, tmp, max_shard_size="5GB", safe_serialization=True)
        if tokenizer is not None:
            tokenizer.save_pretrained(tmp)
            keep_sentencepiece_model(tokenizer, tmp)
        hashed = write_manifest(tmp, extra_manifest)
    integrity.remember_verified(Path(path), hashed)  # its first load need not hash it again


def undo_rwkv_rescale(model) -> None:
    """Give an RWKV model its trained weights again. RwkvModel's first forward in eval mode
    divides each block's attention.output and feed_forward.value weights in place by
    2 ** (i // rescale_every), i the block's position, and then halves the hidden states after
    every rescale_every-th block (layers_are_rescaled): weights tied to the blocks' positions,
    which a saved checkpoint must not hold (transformers' loader would divide them again) and a
    depth prune changes. Multiplied back (powers of two: exact), the next forward in eval mode
    divides them by their new positions. Other models: nothing."""
    inner = getattr(model, "rwkv", None)
    if not family(model.config).rwkv_blocks or not getattr(inner, "layers_are_rescaled", False):
        return
    with torch.no_grad():
        if model.config.rescale_every > 0:
            for i, block in enumerate(inner.blocks):
                scale = 2 ** (i // model.config.rescale_every)
                block.attention.output.weight.mul_(scale)
                block.feed_forward.value.weight.mul_(scale)
    inner.layers_are_rescaled = False


def keep_sentencepiece_model(tokenizer, folder: Path) -> None:
    """Copy the SentencePiece model (tokenizer.model) of the folder `tokenizer` was loaded from
    into `folder`: transformers 5 saves a tokenizer without it, and evaluating text as the
    study's code tokenized it needs it (prunebench.legacy_tokenization)."""
    import shutil

    from prunebench.legacy_tokenization import SENTENCEPIECE_FILE

    loaded_from = getattr(tokenizer, "name_or_path", None)
    if not loaded_from:  # made in memory (the tiny model's): no folder, no file
        return
    source = Path(str(loaded_from)) / SENTENCEPIECE_FILE
    if source.is_file() and not (Path(folder) / SENTENCEPIECE_FILE).exists():
        shutil.copyfile(source, Path(folder) / SENTENCEPIECE_FILE)


# The CPU allocator's alignment (c10's, 64 bytes): what a tensor of its own starts at.
CPU_ALIGNMENT = 64


def load_state_dict(path: Path, device: str | torch.device = "cpu",
                    dtype: torch.dtype | None = None,
                    kept_float32=lambda name: False) -> dict[str, torch.Tensor]:
    """The checkpoint's tensors, floating-point ones cast to `dtype` (None: as stored), or to
    float32 where `kept_float32(name)` (float32_kept: what transformers keeps in float32)."""
    state = {}
    for file in weight_files(path):
        try:
            with safe_open(file, framework="pt", device=str(device)) as fh:
                for key in fh.keys():
                    if key in state:  # the second file's would silently replace the first's
                        raise PrunebenchError(
                            f"checkpoint {path}: {key} is in two of its weight files (the "
                            f"second is {file.name}): the files are of two saves mixed; "
                            "re-download or re-run the step that made it")
                    tensor = fh.get_tensor(key)
                    if dtype is not None and tensor.is_floating_point():
                        tensor = tensor.to(torch.float32 if kept_float32(key) else dtype)
                    if tensor.device.type == "cpu" and tensor.data_ptr() % CPU_ALIGNMENT:
                        # A tensor read in its stored dtype on the CPU is a view at its offset
                        # in the file, which may sit off the allocator's alignment; some CPU
                        # kernels (the experts' grouped matmul) then round otherwise. A copy
                        # of its own makes the logits the weights', whatever the file's layout.
                        tensor = tensor.clone()
                    state[key] = tensor
        except SafetensorError as exc:  # truncated or not safetensors at all
            raise PrunebenchError(f"checkpoint {path}: weight file {file.name} is not readable "
                                  f"safetensors ({exc}); re-download or re-run the step that "
                                  "made it") from exc
    return state


def load_model(path: str | Path, device: str | torch.device = "cpu",
               dtype: torch.dtype | str | None = torch.float32, verify: bool = True,
               device_map: str | dict | None = None, max_memory: dict | None = None,
               offload_dir: str | Path | None = None,
               keep_cpu_resident: bool = False) -> LlamaForCausalLM:
    """Load any prunebench checkpoint (dense, depth- or width-pruned) from safetensors, in
    `dtype` (a torch dtype or its name; None keeps the stored one).

    With `device_map` (a strategy such as "auto" or a module -> device mapping), whole blocks
    are spread over GPUs / CPU / disk by prunebench.checkpoint.device_map instead of all going to `device`;
    inputs then go to `device_map.main_device(model)`; `keep_cpu_resident` keeps the blocks
    mapped to the cpu in host memory, computed there, instead of streamed to a GPU per forward
    (`device_map.dispatch`). A model that does not fit is an explained error for every caller
    (the rule scripts load models themselves), not a traceback.
    """
    from prunebench.oom import first_line, is_out_of_memory, out_of_memory_error

    if dtype is not None:  # a name from a config ('auto' by the device and the stored dtype)
        auto = not isinstance(dtype, torch.dtype) and str(dtype).lower() == "auto"
        dtype = resolve_dtype(dtype, device, _stored_dtype_or_none(Path(path)) if auto else None)
    try:
        return _load_model(Path(path), device, dtype, verify, device_map, max_memory, offload_dir,
                           keep_cpu_resident)
    except Exception as exc:  # noqa: BLE001 - only allocation failures are translated
        if not is_out_of_memory(exc):
            raise
        where = f"device_map {device_map!r}" if device_map is not None else str(device)
        raise out_of_memory_error(exc)(
            f"out of memory loading {path} onto {where} ({first_line(exc)}): use a device with "
            "more memory or a smaller dtype, or, for prune and evaluation jobs, spread the model "
            "over several GPUs and the CPU with the model's device_map / max_memory "
            "(config/README.md, `models`; benchmarks and LoRA run on one device)") from None


def claim_placement_gpus(device_map: str | dict, max_memory: dict | None) -> None:
    """Hold the GPUs a device-mapped model is spread over, on a machine with several, so that
    no other prunebench job shares them (prunebench.gpu_claim): those its device_map or
    max_memory names (none for a map of only the CPU and disk), else every visible one."""
    if not (torch.cuda.is_available() and torch.cuda.device_count() > 1):
        return
    from prunebench.gpu_claim import claim_all
    from prunebench.plan.variants import placement_gpus

    keys = gpu_keys()
    named = placement_gpus({"device_map": device_map, "max_memory": max_memory})
    # An index beyond the visible GPUs is dispatch's to refuse, with its fix.
    claim_all(keys if named is None else [keys[i] for i in named if i < len(keys)])


def accelerate_max_memory(max_memory: dict | None) -> dict | None:
    """max_memory as accelerate reads it: a GPU written "0" (every key of a JSON config is
    text) becomes 0, which accelerate wants ("Device 0 is not recognized" otherwise)."""
    if not max_memory:
        return max_memory
    return {int(k) if isinstance(k, str) and k.isdigit() else k: v for k, v in max_memory.items()}


# Tensors a family's fused checkpoints name otherwise than its transformers class holds them,
# renamed as read (no file is rewritten), as transformers' conversion mapping renames them (5.17
# and 5.25). GraniteMoE's published tensors (and what save_pretrained writes back) hold the
# experts fused already: `block_sparse_moe.input_linear.weight` [experts, 2 * width, hidden]
# (rows [gate; up]) is `block_sparse_moe.experts.gate_up_proj`, `output_linear.weight`
# [experts, hidden, width] is `experts.down_proj`, the router's `router.layer.weight` is
# `router.weight`. PhiMoE's router, published as Mixtral's (`block_sparse_moe.gate.weight`,
# which the one-time fusion of its per-expert tensors names `mlp.gate.weight`), is
# `mlp.router.weight`.
_GRANITE_MOE_NAMES = ((".block_sparse_moe.input_linear.weight",
                       ".block_sparse_moe.experts.gate_up_proj"),
                      (".block_sparse_moe.output_linear.weight",
                       ".block_sparse_moe.experts.down_proj"),
                      (".block_sparse_moe.router.layer.weight",
                       ".block_sparse_moe.router.weight"))
# (GraniteMoE-Shared's and Granite 4.0's experts as GraniteMoE's; their shared_mlp's
# input_linear / output_linear are the modules' own names, kept)
# GPT-NeoX's published LM head, `embed_out` (GPTNeoXForCausalLM's `lm_head`: transformers
# renames it as it loads, in 5.17 and 5.25), matched as the whole name.
LOADED_NAMES = {"granitemoe": _GRANITE_MOE_NAMES, "granitemoeshared": _GRANITE_MOE_NAMES,
                "granitemoehybrid": _GRANITE_MOE_NAMES,
                "phimoe": ((".mlp.gate.weight", ".mlp.router.weight"),),
                "gpt_neox": (("embed_out.weight", "lm_head.weight"),),
                # GPT-NeoX-Japanese's last block's attention bias, held as its output
                # projection's (fold_dense_bias; saved back by published_state)
                "gpt_neox_japanese": ((".attention.dense_bias", ".attention.dense.bias"),),
                # EXAONE's published block names (its own code's), inside transformer.h.N
                # (LOADED_PREFIXES), as LlamaForCausalLM holds them
                "exaone": tuple((f".{own}.{kind}", f".{llama}.{kind}")
                                for own, llama in (
                                    ("attn.attention.q_proj", "self_attn.q_proj"),
                                    ("attn.attention.k_proj", "self_attn.k_proj"),
                                    ("attn.attention.v_proj", "self_attn.v_proj"),
                                    ("attn.attention.out_proj", "self_attn.o_proj"),
                                    ("ln_1", "input_layernorm"),
                                    ("ln_2", "post_attention_layernorm"),
                                    ("mlp.c_fc_0", "mlp.gate_proj"),
                                    ("mlp.c_fc_1", "mlp.up_proj"), ("mlp.c_proj", "mlp.down_proj"))
                                for kind in ("weight", "bias")),
                # Ergo's published names (its training framework's, which transformers'
                # conversion of `ergo` renames as it loads and writes back as it saves), inside
                # layers.N (LOADED_PREFIXES); its router's and shared expert's weights stored
                # [in, out] are turned as read (STORED_TRANSPOSED)
                "ergo": tuple((f".{own}", f".{held}") for own, held in (
                    ("attention.wqkv.weight", "self_attn.qkv_proj.weight"),
                    ("attention.wo.weight", "self_attn.o_proj.weight"),
                    ("attention.q_norm.weight", "self_attn.q_norm.weight"),
                    ("attention.k_norm.weight", "self_attn.k_norm.weight"),
                    ("attention_norm.weight", "input_layernorm.weight"),
                    ("post_attention_norm.weight", "post_attention_layernorm.weight"),
                    ("ffn_norm.weight", "pre_feedforward_layernorm.weight"),
                    ("post_ffn_norm.weight", "post_feedforward_layernorm.weight"),
                    ("post_attention_residual.scale", "attention_residual_gate.weight"),
                    ("post_ffn_residual.scale", "feedforward_residual_gate.weight"),
                    ("feed_forward.up.weight", "mlp.up_proj.weight"),
                    ("feed_forward.down.weight", "mlp.down_proj.weight"),
                    ("feed_forward.gate_kernel", "mlp.gate.linear.weight"),
                    ("feed_forward.router_bias", "mlp.gate.e_score_correction_bias"),
                    ("feed_forward.up_proj", "mlp.experts.up_proj"),
                    ("feed_forward.down_proj", "mlp.experts.down_proj"),
                    ("feed_forward.expert_output_norm.scale",
                     "mlp.experts.post_expert_norm.weight"),
                    ("feed_forward.shared_up_proj", "mlp.shared_experts.up_proj.weight"),
                    ("feed_forward.shared_down_proj", "mlp.shared_experts.down_proj.weight"),
                    ("feed_forward.shared_expert_output_norm.scale",
                     "mlp.shared_experts.norm.weight")))}
# Tensors a family's published checkpoints store transposed ([in, out]) under their published
# names, turned as read, before the names are (`_load_model`): Ergo's router and shared
# expert, which transformers' conversion of `ergo` transposes as it loads them (and back as it
# saves). The name decides, as in transformers: a tensor under the class's own name (what
# prunebench and a state dict saved as held write) is read as it is, whatever its shape (a
# router of as many experts as hidden channels is square).
STORED_TRANSPOSED = {"ergo": (".feed_forward.gate_kernel", ".feed_forward.shared_up_proj",
                              ".feed_forward.shared_down_proj")}


# Name prefixes of checkpoints saved from a family's base model rather than its causal LM, which
# transformers' from_pretrained loads under the class's base_model_prefix (`model`): OPTModel's
# `decoder.*` (OPT checkpoints converted from metaseq hold the base model's names).
LOADED_PREFIXES = {"opt": (("decoder.", "model.decoder."),),
                   # GPT-2's hub checkpoints (gpt2 ... gpt2-xl) hold GPT2Model's names
                   "gpt2": tuple((own, f"transformer.{own}") for own in ("h.", "wte.", "wpe.",
                                                                           "ln_f.")),
                   # openai-community/openai-gpt's holds OpenAIGPTModel's (tied: no head)
                   "openai-gpt": tuple((own, f"transformer.{own}")
                                       for own in ("h.", "tokens_embed.", "positions_embed.")),
                   # EXAONE's published checkpoints (and transformers' saves of them) hold
                   # its own code's transformer.wte / h / ln_f (LOADED_NAMES: inside a block)
                   "exaone": (("transformer.wte.", "model.embed_tokens."),
                              ("transformer.h.", "model.layers."),
                              ("transformer.ln_f.", "model.norm.")),
                   # Ergo's published (training framework's) top-level names
                   "ergo": (("tok_embeddings.", "model.embed_tokens."), ("norm.", "model.norm."),
                            ("output.", "lm_head."), ("layers.", "model.layers."))}


# Buffers that checkpoints saved by older transformers carry and the family's class no longer
# holds, which its from_pretrained ignores (`_keys_to_ignore_on_load_unexpected`): GPT-J's
# causal-mask buffers of each attention, GPT-2's too (GPT2PreTrainedModel's attn.bias), and
# CodeGen's (attn.causal_mask, which Salesforce's conversion wrote with attn.masked_bias).
UNREAD_BUFFERS = {"gptj": (".attn.bias", ".attn.masked_bias"),
                  "codegen": (".attn.causal_mask", ".attn.masked_bias"),
                  "gpt2": (".attn.bias", ".attn.masked_bias"),
                  # OpenAI GPT's causal masks and position ids, persistent buffers up to
                  # transformers 4.x (its 4.20 saves them; 5's are not: the loader makes
                  # them again, _materialise_causal_masks)
                  "openai-gpt": (".attn.bias", "position_ids")}


def loaded_name(model_type: str, name: str) -> str:
    """A checkpoint tensor's name as the family's transformers class holds it."""
    for published, loaded in LOADED_PREFIXES.get(model_type, ()):
        if name.startswith(published):  # (then a name inside it: EXAONE's blocks')
            name = loaded + name.removeprefix(published)
            break
    for published, loaded in LOADED_NAMES.get(model_type, ()):
        if name.endswith(published) and (published.startswith(".") or name == published):
            return name[: -len(published)] + loaded
    return name


def _load_model(path: Path, device, dtype, verify, device_map, max_memory,
                offload_dir, keep_cpu_resident=False) -> LlamaForCausalLM:
    config = load_config(path)
    if verify:
        verify_manifest(path)
    stored = stored_dtype(path)
    if stored is not None and stored != config_dtype(config):
        # config.json names no dtype, or another than the weights': what is saved from this
        # model (pruned, recovered) keeps the dtype its weights were stored in (config_dtype).
        config.dtype = stored
    max_memory = accelerate_max_memory(max_memory)
    if device_map is not None:
        device = "cpu"  # weights pass through host memory; dispatch() moves each to its device
        claim_placement_gpus(device_map, max_memory)
    refuse_float16(config, dtype)
    model = build_model(config, device="meta")
    kept = float32_kept(model, dtype)  # (matched on the names the class holds: Ergo's differ)
    state = load_state_dict(path, device=device, dtype=dtype,
                            kept_float32=lambda name: kept(loaded_name(config.model_type, name)))
    # Checkpoints saved by transformers <= 4.30 (LLaMA-1, Vicuna v1.3) still carry the rotary
    # tables as weights; they are recomputed from the config, so drop them.
    state = {k: v for k, v in state.items() if not k.endswith("rotary_emb.inv_freq")
             and not k.endswith(UNREAD_BUFFERS.get(config.model_type, ()))}
    if turned := STORED_TRANSPOSED.get(config.model_type):  # (Ergo's, by published name)
        state = {k: v.t().contiguous() if k.endswith(turned) else v for k, v in state.items()}
    if config.model_type in LOADED_NAMES or config.model_type in LOADED_PREFIXES:
        state = {loaded_name(config.model_type, k): v for k, v in state.items()}
    if transposed := CONV1D_WEIGHTS.get(config.model_type):  # GPT-2's, read as nn.Linear's
        state = {k: v.t().contiguous() if k.endswith(transposed) else v for k, v in state.items()}
    embedding = embedding_name(model)  # (GPT-NeoX's gpt_neox.embed_in, OPT's model.decoder.*)
    head_weight = head_name(model)  # (BioGPT's output_projection.weight)
    if tied_embeddings(config):
        head = state.pop(head_weight, None)
        if embedding not in state and head is not None:
            state[embedding] = head  # tied, saved under the head's name
    if config.model_type == "minimax":
        state = _with_lightning_buffers(model, state, path)
    if config.model_type == "qwen4_exp_text":
        state = joined_ngram_tables(state)
    state = _zamba_shared_state(model, state)
    expected = model.state_dict()
    if config.model_type in EQUAL_NAMES:  # (Aria's experts: 5.17's names or 5.25's)
        state = held_names(config.model_type, state, set(expected))
    missing = sorted(set(expected) - set(state)
                     - ({head_weight} if tied_embeddings(config) else set()))
    unexpected = sorted(set(state) - set(expected))
    if is_moe(config) and unexpected:
        from prunebench.checkpoint.moe_fuse import mxfp4_names, per_expert_names

        if quantized := mxfp4_names(unexpected):
            raise PrunebenchError(
                f"checkpoint {path} holds its experts' weights in MXFP4 ({quantized[0]}, ...), "
                "as openai publishes gpt-oss; prunebench reads them in bfloat16, which a "
                "download or an import makes once: use the model through a workflow source "
                "(hf:<org>/<repo>@<commit> or local:<folder>) or give a command the folder "
                "(imported into its cache)")
        if per_expert := per_expert_names(unexpected):
            raise PrunebenchError(
                f"checkpoint {path} holds its experts' weights one expert at a time "
                f"({per_expert[0]}, ...), as published checkpoints do; prunebench reads them "
                "fused (transformers 5's layout), which a download or an import makes once: "
                "use the model through a workflow source (hf:<org>/<repo>@<commit> or "
                "local:<folder>) or give a command the folder (imported into its cache)")
    if missing or unexpected:
        raise PrunebenchError(f"checkpoint {path}: weights do not match config.json "
                              f"(missing {missing[:5]}, unexpected {unexpected[:5]})")
    for key, tensor in state.items():
        if tuple(expected[key].shape) != tuple(tensor.shape):
            raise PrunebenchError(f"checkpoint {path}: {key} has shape {tuple(tensor.shape)} but "
                                  f"config.json implies {tuple(expected[key].shape)}")
    model.load_state_dict(state, strict=False, assign=True)
    share_zamba_block(model)  # (the weights assigned under each hybrid block's names: one)
    inner = decoder(model)
    if tied_embeddings(config):  # (ModernBERT-decoder's `decoder`; its lm_head is no head)
        model.get_output_embeddings().weight = model.get_input_embeddings().weight
    # Non-persistent buffers (rotary inv_freq) were created on meta: rebuild them for real, on
    # the CPU as transformers computes them (a GPU's pow may differ in the last bit), then moved.
    # (Granite 4.0 without position_embedding_type "rope" holds no rotary module, Nemotron-H
    # none at all, OPT none either: its learned positions are weights; Lfm2MoeModel names its
    # own `pos_emb`)
    for name in ("rotary_emb", "pos_emb"):
        if getattr(inner, name, None) is not None:
            setattr(inner, name, type(getattr(inner, name))(config=config).to(device))
    # (Granite-SWA's and GraniteMoE-SWA's one rotary module per rotary base their blocks use,
    # each built from a copy of the config given that base, which the module keeps)
    for i, rotary in enumerate(getattr(inner, "rotary_embs", None) or ()):
        inner.rotary_embs[i] = type(rotary)(config=rotary.config).to(device)
    if config.model_type == "deepseek_v4":
        # (DeepSeek-V4's compressors and indexers each hold a rotary module of their own,
        # built from the config as the model's)
        for layer in inner.layers:
            for name, module in list(layer.named_modules()):
                if name.endswith(".rotary_emb"):
                    owner = layer.get_submodule(name.rsplit(".", 1)[0])
                    owner.rotary_emb = type(module)(config=config).to(device)
    if family(config).sincos_table:
        _materialise_sincos_tables(model, device)
    _materialise_causal_masks(model, device)
    if family(config).sinusoidal_positions:
        _materialise_sinusoidal_positions(inner.embed_positions, device)
    if family(config).position_buffer:
        _materialise_position_buffer(inner, config, device)
    _materialise_embedding_scale(model.get_input_embeddings(), device)
    if family(config).mamba_beside_attention:
        _materialise_mup_vectors(model, config, device)
    if config.model_type == "falcon_mamba":
        _materialise_weightless_norms(model, device)
    if family(config).griffin_blocks:
        _materialise_griffin_buffers(model, config, device)
    if getattr(model.model, "embed_tokens_per_layer", None) is not None:
        _materialise_embedding_scale(model.model.embed_tokens_per_layer, device)  # Gemma 4's
    if config.model_type == "gemma3n_text":
        _materialise_gemma3n_scales(model, config, device)
    if config.model_type == "ergo":
        _materialise_query_key_scales(model, config, device)
    if config.model_type == "zaya":
        _zaya_skip_expert_biases(model)
    left = [name for name, b in model.named_buffers() if b.is_meta]
    if left and torch.device(device).type != "meta":  # a family's buffer this loader does not know: it would fail at the first forward
        raise PrunebenchError(f"checkpoint {path}: the model's buffers {left[:5]} are not "
                              "restored by prunebench's loader for this transformers version "
                              f"({transformers.__version__}): report it with that version")
    model.eval()
    # The checkpoint's own decoding defaults (its stop tokens: Llama-3-Instruct's <|eot_id|>
    # beside EOS; sampling settings; Gemma-2's cache kind), which a model built from its config
    # alone lacks: a pruned copy saved them from config.json, without them. (Benchmarks time
    # with a fresh generation config whatever the checkpoint ships: benchmark.runners.)
    if (path / "generation_config.json").is_file():
        from transformers import GenerationConfig

        try:
            model.generation_config = GenerationConfig.from_pretrained(path)
        except (OSError, ValueError) as err:  # not used to measure: said, not fatal
            from prunebench.oom import first_line

            log.warning("%s/generation_config.json is not read (%s): a copy saved from this "
                        "model gets one made from config.json", path, first_line(err))
    if device_map is not None:
        from prunebench.checkpoint.device_map import dispatch

        model = dispatch(model, device_map, max_memory=max_memory, offload_dir=offload_dir,
                         keep_cpu_resident=keep_cpu_resident)
    # What the weights and tokenizer are, for a zero-shot evaluation's kept progress
    # (prunebench.zeroshot_progress): answers of another model are never taken for this one's.
    model.prunebench_content = integrity.content_digest(path)
    return model


# MiniMaxLightningAttention's persistent buffers, each computed from the block's index over
# num_hidden_layers - 1 when built: its decay slopes and the decay factors made from them.
LIGHTNING_BUFFERS = ("slope_rate", "query_decay", "key_decay", "diagonal_decay")


def _with_lightning_buffers(model, state: dict[str, torch.Tensor],
                            path: Path) -> dict[str, torch.Tensor]:
    """`state` with each MiniMax lightning attention block's decay buffers (LIGHTNING_BUFFERS),
    which a depth prune saves with the weights, as the blocks had them before it (a kept block
    rebuilt under its new index and depth would decay otherwise). A checkpoint without them
    (one saved without its buffers) gets them as transformers computes them, from each
    block's index, where that index is the block's own: never in a depth-pruned one, which is
    refused."""
    state = dict(state)
    for i, layer in enumerate(decoder(model).layers):
        prefix = f"model.layers.{i}.self_attn."
        if not hasattr(layer.self_attn, "slope_rate"):
            continue  # (a softmax attention block)
        held = [name for name in LIGHTNING_BUFFERS if prefix + name in state]
        if len(held) == len(LIGHTNING_BUFFERS):
            continue
        if held or getattr(model.config, "blocks_before_pruning", None):
            raise PrunebenchError(
                f"checkpoint {path}: block {i}'s lightning attention decay buffers "
                f"({prefix}slope_rate, ...) are {'partly ' if held else ''}missing, and "
                "they are computed again from a block's index only for a checkpoint that "
                "holds none and was not depth-pruned (a kept block decays as the dense "
                "model's block did): make it again (a prune: from the dense model, with this "
                "prunebench, which saves them)")
        weight = state[prefix + "qkv_proj.weight"]
        mixer = layer.self_attn
        with torch.device("cpu"):  # (built on meta; computed as transformers does, on the CPU)
            slope = mixer.get_slope_rate()
            for name, value in zip(LIGHTNING_BUFFERS, (slope, *mixer.decay_factors(slope))):
                state[prefix + name] = value.to(weight.device, weight.dtype)
    return state


def _materialise_sincos_tables(model: nn.Module, device) -> None:
    """GPT-J's sin / cos table in every attention (GPTJAttention's `embed_positions` in
    transformers 5.17; 5.25 holds it in the rotary module rebuilt above), left on meta by a
    load that assigns the weights: made as its class makes it, on the CPU, then moved.
    CodeGen's alike (CodeGenAttention's in 5.17, CodeGenRotaryEmbedding's in 5.25), made by
    the same function: CodeGen's create_sinusoidal_positions is GPT-J's."""
    from transformers.models.gptj.modeling_gptj import create_sinusoidal_positions

    for module in model.modules():
        table = getattr(module, "embed_positions", None)
        if isinstance(table, torch.Tensor) and table.is_meta:
            module.embed_positions = create_sinusoidal_positions(
                module.max_positions, module.pos_embd_dim).to(device)


def _materialise_causal_masks(model: nn.Module, device) -> None:
    """A causal mask held as a non-persistent boolean buffer `bias` (GPTBigCodeModel's,
    [n_positions, n_positions], which transformers 5's forward no longer reads but the class
    still builds; GPTNeoSelfAttention's [1, 1, positions, positions], which its forward
    reads), left on meta by a load that assigns the weights: made again as its class makes it,
    the lower triangle of ones, banded to the window_size last positions in GPT-Neo's local
    blocks; OpenAI GPT's Attention holds its lower triangle as floats, [1, 1, n_positions,
    n_positions], which its forward reads, and OpenAIGPTModel its `position_ids`, the
    arange(n_positions) its forward takes the positions from."""
    for module in model.modules():
        mask = module._buffers.get("bias")
        own = type(module).__module__.endswith("modeling_openai")  # (OpenAI GPT's float mask)
        if isinstance(mask, torch.Tensor) and mask.is_meta and (mask.dtype == torch.bool or own):
            causal = torch.tril(torch.ones(mask.shape, dtype=torch.bool, device=device))
            if getattr(module, "attention_type", None) == "local":
                causal ^= torch.tril(causal, -module.config.window_size)
            module.bias = causal.to(mask.dtype)
        ids = module._buffers.get("position_ids")
        if own and isinstance(ids, torch.Tensor) and ids.is_meta:
            module.position_ids = torch.arange(ids.shape[0], device=device)


def _materialise_mup_vectors(model, config, device) -> None:
    """Falcon-H1's Mamba-2 mixers scale their in_proj outputs by a non-persistent buffer
    (`mup_vector`: each part of the projection by its entry of ssm_multipliers), left on meta
    by the load: each block's computed again as FalconH1Model computes it, from the config."""
    from transformers.models.falcon_h1.modeling_falcon_h1 import compute_mup_vector

    vector = compute_mup_vector(config)
    for layer in decoder(model).layers:
        built = layer.mamba.mup_vector  # (on meta, in the dtype the model was built in)
        layer.mamba.register_buffer("mup_vector", vector.to(device, built.dtype),
                                    persistent=False)


def _materialise_sinusoidal_positions(positions: nn.Module, device) -> None:
    """XGLM's sinusoidal table (XGLMSinusoidalPositionalEmbedding's non-persistent `weights`),
    left on meta by a load that assigns the weights: made by the module's own get_embedding,
    as its class makes it (float32, cast to the default dtype), on the CPU, then moved in the
    dtype the meta buffer was given."""
    table = positions.weights
    if table.is_meta:
        positions.weights = positions.get_embedding(
            positions.num_positions + positions.offset, positions.embedding_dim,
            positions.padding_idx).to(device=device, dtype=table.dtype)


def _materialise_position_buffer(inner: nn.Module, config, device) -> None:
    """CTRL's fixed sinusoidal rows (CTRLModel's non-persistent `pos_encoding`), left on meta
    by a load that assigns the weights: made by modeling_ctrl's own positional_encoding, as
    CTRLModel makes them (float32, n_positions rows), in the dtype the meta buffer was given."""
    from transformers.models.ctrl.modeling_ctrl import positional_encoding

    name = family(config).position_buffer
    table = getattr(inner, name)
    if table.is_meta:
        rows, width = table.shape
        setattr(inner, name, positional_encoding(rows, width, torch.float32)
                .to(device=device, dtype=table.dtype))


def _materialise_weightless_norms(model, device) -> None:
    """FalconMamba's norms of B, C and dt (FalconMambaWeightlessRMSNorm) keep a weight of ones
    in a non-persistent buffer their forward never reads (the CUDA kernels' path takes it),
    left on meta by the load: ones again, as the class builds it."""
    for layer in decoder(model).layers:
        for name in ("dt_layernorm", "b_layernorm", "c_layernorm"):
            norm = getattr(layer.mixer, name)
            norm.register_buffer("weight", torch.ones(norm.weight.shape, device=device),
                                 persistent=False)


def _materialise_griffin_buffers(model, config, device) -> None:
    """RecurrentGemma's non-persistent buffers, left on meta by the load: the model's
    `normalizer`, sqrt(hidden_size) rounded to bfloat16 as RecurrentGemmaModel builds it (the
    embeddings are scaled by that rounded value, not the exact root), and each attention
    block's own rotary module (its inv_freq), built on the CPU as transformers computes it."""
    inner = decoder(model)
    inner.normalizer = torch.tensor(config.hidden_size ** 0.5, dtype=torch.bfloat16,
                                    device=device)
    for layer in inner.layers:
        rotary = getattr(layer.temporal_block, "rotary_emb", None)
        if rotary is not None:
            layer.temporal_block.rotary_emb = type(rotary)(config=config).to(device)


def _materialise_embedding_scale(embedding: nn.Module, device) -> None:
    """Gemma-2's scaled embedding (transformers 5.2x) keeps sqrt(hidden_size) in a buffer
    saved with no checkpoint (left on meta by a load that assigns the weights): set it as its
    module's own value, which transformers' initialisation gives it."""
    scale = getattr(embedding, "embed_scale", None)
    if isinstance(scale, torch.Tensor) and scale.is_meta:
        embedding.embed_scale = torch.tensor(float(embedding.scalar_embed_scale), device=device)


def _materialise_gemma3n_scales(model: nn.Module, config, device) -> None:
    """Gemma 3n's constant scales, buffers saved with no checkpoint (left on meta by a load
    that assigns the weights): each block's AltUp router_input_scale (1 / hidden_size), the
    text model's per_layer_projection_scale (hidden_size ** -0.5) and per_layer_input_scale
    (1 / sqrt(2)), as Gemma3nPreTrainedModel._init_weights sets them, in the dtype the model
    is built in (its embeddings'), as transformers' from_pretrained makes them."""
    text = model.model
    dtype = text.embed_tokens.weight.dtype
    values = {(text, "per_layer_projection_scale"): config.hidden_size ** -0.5,
              (text, "per_layer_input_scale"): 1 / math.sqrt(2.0)}
    values.update({(layer.altup, "router_input_scale"): config.hidden_size ** -1.0
                   for layer in decoder(model).layers})
    for (module, name), value in values.items():
        if getattr(module, name).is_meta:
            setattr(module, name, torch.tensor(value, device=device, dtype=dtype))


def _materialise_query_key_scales(model: nn.Module, config, device) -> None:
    """Ergo's global blocks' scale of queries and keys, sqrt(global_attention_scale) where
    config.json sets it (a buffer saved with no checkpoint, `qk_scale`, left on meta by a load
    that assigns the weights): set as ErgoAttention makes it, in the dtype the model is built
    in (its attention's weights'), as transformers' from_pretrained makes it."""
    for layer in decoder(model).layers:
        scale = getattr(layer.self_attn, "qk_scale", None)
        if isinstance(scale, torch.Tensor) and scale.is_meta:
            layer.self_attn.qk_scale = torch.tensor(
                config.global_attention_scale ** 0.5, device=device,
                dtype=layer.self_attn.o_proj.weight.dtype)


def load_tokenizer(path: str | Path, trust_remote_code: bool = False):
    """The checkpoint's tokenizer, or None for a `random:` model saved without one.

    Code shipped with a tokenizer runs only when the config sets `trust_remote_code: true`.
    """
    if not (Path(path) / "config.json").exists():
        checked_config_json(path)  # no checkpoint here (or a variant's folder): named, not None
    # Jobs that read only the tokenizer (calibration) must not tokenize with an edited or
    # deleted one; the small files only, so this costs no weight hashing.
    verify_manifest(Path(path), weights=False)
    if not any((Path(path) / name).exists() for name in TOKENIZER_FILES):
        return None
    if trust_remote_code:
        log.warning("trust_remote_code is on: code shipped with the tokenizer in %s may run", path)
    options = tokenizer_options(path)
    _refuse_metaspace_over_bytes(Path(path))
    # A byte-level tokenizer.json that tokenizer_config.json calls a LlamaTokenizer (Llama-3
    # fine-tunes, DeepSeek-R1-Distill-Llama) is loaded as it is, as transformers 5.24 loads it:
    # 5.17's LlamaTokenizer would split its text as SentencePiece does, and a pruned copy would
    # save that wrong tokenizer.
    loader = TokenizersBackend if _byte_level_named_llama(Path(path)) else AutoTokenizer
    try:
        tokenizer = loader.from_pretrained(str(path), trust_remote_code=trust_remote_code,
                                           **options)
    except ValueError as exc:
        if "trust_remote_code" not in str(exc):
            raise
        raise PrunebenchError(f"the tokenizer in {path} needs to run code shipped with it; "
                              "prunebench does not run it unless the config sets "
                              "`trust_remote_code: true` (review that code first)") from exc
    except OSError as exc:
        missing = _missing_tokenizer_code(Path(path)) if trust_remote_code else []
        if not missing:
            raise
        # transformers asks for the file as if the folder were a hub repository: say why it is
        # not there instead (a download made before the switch was on, or by a command without
        # --trust-remote-code, left the code out).
        raise PrunebenchError(
            f"the tokenizer in {path} runs its own code, from {', '.join(missing)}, which is not "
            "in the folder: a hub download or a `local:` import takes a checkpoint's code files "
            "only with `trust_remote_code: true` (--trust-remote-code), so one made without it "
            "has none. Delete the folder and rerun with the switch on, which downloads or "
            "imports the model again with its code") from exc
    _name_tekken_special_tokens(tokenizer, Path(path))
    if type(tokenizer).__module__.startswith("transformers_modules"):  # the checkpoint's code
        from prunebench.provenance import note_remote_code

        note_remote_code(f"{type(tokenizer).__module__}.{type(tokenizer).__name__}", path)
    # What the zero-shot answers kept for resuming depend on besides the files (zeroshot_progress).
    tokenizer.prunebench_options = (options if loader is AutoTokenizer else
                                    {**options, "loaded_as": "TokenizersBackend"})
    return tokenizer


def _missing_tokenizer_code(path: Path) -> list[str]:
    """The code files the `auto_map` of the checkpoint's tokenizer_config.json or config.json
    names for its tokenizer, in this repository (not `<repo>--<module>.<class>`, another
    repository's), that are not in `path`."""
    from prunebench.atomic import read_json_or_none

    named = []
    for name in ("tokenizer_config.json", "config.json"):
        data = read_json_or_none(path / name)
        auto_map = data.get("auto_map") if isinstance(data, dict) else None
        entry = auto_map.get("AutoTokenizer") if isinstance(auto_map, dict) else None
        named += entry if isinstance(entry, list) else [entry]
    files = {f"{ref.rsplit('.', 1)[0]}.py" for ref in named
             if isinstance(ref, str) and "." in ref and "--" not in ref}
    return sorted(file for file in files if not (path / file).is_file())


def _tokenizer_parts(path: Path) -> dict[str, Any]:
    """tokenizer.json's pre-tokenizer, decoder and post-processor ({} without a readable one)."""
    from prunebench.atomic import read_json_or_none

    tokenizer_json = read_json_or_none(path / "tokenizer.json")
    if not isinstance(tokenizer_json, dict):
        return {}
    return {part: tokenizer_json.get(part) for part in ("pre_tokenizer", "decoder",
                                                         "post_processor")}


def _names_type(node: Any, kind: str) -> bool:
    """Whether a tokenizer.json component (or a Sequence of them) is or holds a `kind`."""
    if isinstance(node, dict):
        return node.get("type") == kind or any(_names_type(v, kind) for v in node.values())
    return isinstance(node, list) and any(_names_type(v, kind) for v in node)


def _refuse_metaspace_over_bytes(path: Path) -> None:
    """A tokenizer.json that splits text as SentencePiece does (Metaspace) but decodes bytes
    (ByteLevel) is what transformers 5.17 saved of a byte-level tokenizer named LlamaTokenizer
    (a copy pruned by an earlier prunebench on it): it tokenizes otherwise than its base, and
    its results would not compare with the base's."""
    parts = _tokenizer_parts(path)
    if _names_type(parts.get("pre_tokenizer"), "Metaspace") and _names_type(
            parts.get("decoder"), "ByteLevel"):
        raise PrunebenchError(
            f"{path / 'tokenizer.json'} splits text as SentencePiece does but decodes bytes: a "
            "copy of a byte-level (Llama-3-style) tokenizer that transformers 5.17 saved as a "
            "LlamaTokenizer, which tokenizes otherwise than the model was trained with: prune "
            "the model again (its base now loads its tokenizer as published, and the copy "
            "saves it so)")


def _byte_level_named_llama(path: Path) -> bool:
    """Whether the folder's tokenizer_config.json (or config.json) names LlamaTokenizer(Fast),
    no code of its own, and its tokenizer.json is byte-level (a ByteLevel pre-tokenizer,
    decoder or post-processor): LlamaTokenizer hard-codes SentencePiece's Metaspace split. Not
    for the model types transformers knows to declare a wrong tokenizer class (Qwen2's:
    DeepSeek-R1-Distill-Qwen names LlamaTokenizerFast), whose own class it builds instead."""
    from transformers.models.auto import tokenization_auto

    from prunebench.atomic import read_json_or_none

    settings = read_json_or_none(path / "tokenizer_config.json")
    settings = settings if isinstance(settings, dict) else {}
    config = read_json_or_none(path / "config.json")
    config = config if isinstance(config, dict) else {}
    declared = settings.get("tokenizer_class") or config.get("tokenizer_class")
    misdeclared = getattr(tokenization_auto, "MODELS_WITH_INCORRECT_HUB_TOKENIZER_CLASS", ())
    if (not isinstance(declared, str) or declared.removesuffix("Fast") != "LlamaTokenizer"
            or "auto_map" in settings or config.get("model_type") in misdeclared):
        return False
    return any(_names_type(node, "ByteLevel") for node in _tokenizer_parts(path).values())


def _name_tekken_special_tokens(tokenizer, path: Path) -> None:
    """A tokenizer transformers builds from Mistral's tekken.json alone names no BOS or EOS
    token and adds none: name the tokens the model's config gives the ids of (its class's
    defaults where config.json names none), which prunebench's windows, prompts and zero-shot
    requests put first, and have the tokenizer add the BOS itself, as Mistral's does, for
    whoever uses it outside prunebench. A pruned copy saves both with the tokenizer."""
    if (path / "tokenizer_config.json").exists() or not (path / "tekken.json").exists():
        return
    config = load_config(path)
    for role in ("bos", "eos"):
        token_id = getattr(config, f"{role}_token_id", None)
        if isinstance(token_id, list):  # several EOS ids: the first is the tokenizer's
            token_id = token_id[0] if token_id else None
        if getattr(tokenizer, f"{role}_token") is None and isinstance(token_id, int):
            token = tokenizer.convert_ids_to_tokens(token_id)
            if token is not None:
                setattr(tokenizer, f"{role}_token", token)
    if tokenizer.bos_token is not None:
        tokenizer.add_bos_token = True


# Mistral's tokenizers converted from its own format (Mistral-Small 3.x and others with a
# vocabulary over 100k tokens) were published with a pre-tokenizer regex that splits some text
# unlike Mistral's own tokenizer, the one the model was trained with. transformers 5 corrects
# it only when asked (and warns otherwise), and only for a checkpoint of a Mistral model saved
# before transformers 5: a copy prunebench saved (a pruned model) holds the corrected tokenizer
# already. Other families are never asked: transformers 5.17 would also "correct" a
# large-vocabulary tokenizer whose config.json names no transformers version.
MISTRAL_MODEL_TYPES = frozenset({"mistral"})


def tokenizer_options(path: str | Path) -> dict[str, Any]:
    """The options prunebench loads the tokenizer in checkpoint folder `path` with: the
    correction for a Mistral checkpoint's tokenizer.json that splits by a regex first (as the
    converted ones do). transformers' correction replaces that split; it would swap another
    pre-tokenizer (SentencePiece-style, Mistral-7B's) for a byte-level one and break it, and
    a tokenizer converted from tekken.json alone is made with Mistral's own regex."""
    from prunebench.atomic import read_json_or_none

    raw = read_json_or_none(Path(path) / "config.json")
    if not (isinstance(raw, dict) and raw.get("model_type") in MISTRAL_MODEL_TYPES):
        return {}
    pre = _tokenizer_parts(Path(path)).get("pre_tokenizer")
    steps = pre.get("pretokenizers") if isinstance(pre, dict) else None
    if (pre or {}).get("type") == "Sequence" and steps and steps[0].get("type") == "Split":
        return {"fix_mistral_regex": True}
    return {}


def require_tokenizer(path: str | Path, purpose: str, trust_remote_code: bool = False):
    """The checkpoint's tokenizer; an error naming what needs it when there is none."""
    tokenizer = load_tokenizer(path, trust_remote_code)
    if tokenizer is None and (Path(path) / MANIFEST).exists():
        # Saved so by prunebench (a prune of a model without them): its manifest names every
        # file it has, so tokenizer files copied in now would be refused as added after the save.
        raise PrunebenchError(
            f"{path} has no tokenizer files, but {purpose} needs them: it was saved without "
            f"any, and files copied into it now are refused ({MANIFEST} names every file it "
            "was saved with); make it again from a model that has them (for a prunebench prune "
            "output: copy the tokenizer files into the dense model's folder, then rerun the "
            "prune with --force)")
    if tokenizer is None:
        raise PrunebenchError(f"{path} has no tokenizer files, but {purpose} needs them: copy the "
                              "base model's tokenizer files into that folder")
    return tokenizer


# --------------------------------------------------------------------------- depth surgery

# A block's token mixer, by the attribute each family holds it under: softmax attention,
# Qwen3-Next's and Qwen3.5's Gated DeltaNet, Granite 4.0's Mamba-2 mixer, Nemotron-H's one
# mixer a block (a Mamba-2 mixer, attention or an MLP), LFM2's short convolution.
TOKEN_MIXERS = ("self_attn", "linear_attn", "mamba", "mixer", "conv",
                # (JetMoE's attention, its index its cache entry's; BLOOM's and Falcon's
                # `self_attention` answer `self_attn` too: projections.alias_llama_names)
                "self_attention",
                # (RecurrentGemma's attention or recurrent block, its index its cache entry's)
                "temporal_block",
                # (Llama 3.2 Vision's cross-attention, whose index is its cache entry's)
                "cross_attn")


def _attention_kept(config, keep: list[int]) -> bool:
    """Whether the blocks `keep` hold an attention block where the family needs one kept
    (Qwen3-Next's, Qwen3.5's, Granite 4.0's, Bamba's and Nemotron-H's caches size the masks
    by one)."""
    return all(set(blocks) & set(keep) for name, blocks, _ in depth_needed_kinds(config)
               if name in MASK_SIZING_KINDS)


# A Zamba2 shared block's adapter lists, one slot a hybrid block: (submodule, list's name)
ZAMBA2_ADAPTER_LISTS = (("feed_forward", "gate_up_proj_adapter_list"),
                        ("self_attn", "linear_q_adapter_list"),
                        ("self_attn", "linear_k_adapter_list"),
                        ("self_attn", "linear_v_adapter_list"))


def _zamba2_kept_adapters(model, hybrid: list[int], keep: list[int]) -> None:
    """A depth-pruned Zamba2 model's shared blocks as transformers builds them for the kept
    blocks: each adapter list holds the kept hybrid blocks' slots alone, in hybrid order (the
    removed ones' adapters dropped; zamba2_removal_problem has made sure that each kept hybrid
    block's new slot is one of its shared block's, where its adapter moves: a checkpoint saved
    then names it by the new slot), and each block looks its adapters up by the index
    Zamba2Model passes it, its new one. `hybrid`: the hybrid blocks' indices before."""
    slots = [j for j, block in enumerate(hybrid) if block in keep]
    now = [i for i, layer in enumerate(decoder(model).layers)
           if hasattr(layer, "shared_transformer")]
    shared = {id(layer.shared_transformer): layer.shared_transformer
              for layer in decoder(model).layers if hasattr(layer, "shared_transformer")}
    for block in shared.values():
        for part, name in ZAMBA2_ADAPTER_LISTS:
            if (adapters := getattr(getattr(block, part), name, None)) is not None:
                setattr(getattr(block, part), name, nn.ModuleList(adapters[j] for j in slots))
        block.feed_forward.num_fwd_mem_blocks = len(slots)
        block.self_attn.layer_block_map = now
        block.self_attn.layer_dic = block.feed_forward.layer_dic = {
            idx: j for j, idx in enumerate(now)}


def set_residual_places(layer, index: int) -> None:
    """Give a Beam block the residual places of block `index`; nothing for other blocks. A
    Beam block adds each sublayer's output to the residual scaled by that sublayer's place in
    the stack, 2 (i + 1) and 2 (i + 1) + 1, fixed when built: the kept blocks' new places, as
    the model of the kept blocks transformers builds, and a reload, hold them; the old ones
    would weigh the residual against other sums (remove_blocks, and the depth criteria's
    methods.depth.without_blocks, which scores the model a removal leaves)."""
    if hasattr(layer, "attn_residual_add_idx"):
        layer.attn_residual_add_idx = 2 * (index + 1)
        layer.mlp_residual_add_idx = layer.attn_residual_add_idx + 1


def remove_blocks(model: LlamaForCausalLM, blocks: list[int]) -> LlamaForCausalLM:
    """Remove whole decoder blocks in place; the result is a plain, shallower LLaMA."""
    n = block_count(model.config)
    drop = set(blocks)
    if any(b < 0 or b >= n for b in drop):
        raise PrunebenchError(f"block indices {sorted(drop)} out of range for {n} blocks")
    keep = [i for i in range(n) if i not in drop]
    if not _attention_kept(model.config, keep):
        # (refused before anything changes: the model stays whole; Granite 4.0's, Bamba's and
        # Nemotron-H's caches stop as Qwen3-Next's does, in 5.17 and 5.25)
        # (the blocks of the kind needed: LFM3's windowed attention blocks are of it too)
        kind, attention, why = next(needed for needed in depth_needed_kinds(model.config)
                                    if needed[0] in MASK_SIZING_KINDS)
        name, mixer, last = (
            ("Nemotron-H", "Mamba-2 and MLP", "where the model's last block is one")
            if family(model.config).one_mixer_blocks else
            ("Bamba", "Mamba-2", "where the model's last block is one")
            if model.config.model_type == "bamba" else
            ("LFM3" if model.config.model_type == "lfm3" else "LFM2", "short convolution",
             "set to reach its last attention block")
            if family(model.config).short_conv else
            ("Granite 4.0", "Mamba-2", "where the model's last block is one")
            if family(model.config).mamba_mixer else
            ("Kimi Linear", "Kimi Delta Attention", "where the model's last block is one")
            if model.config.model_type == "kimi_linear" else
            ("Ling hybrid", "Kimi Delta Attention", "where the model's last block is one")
            if model.config.model_type == "bailing_hybrid" else
            ("Jamba", "Mamba", "set to reach its last attention block")
            if model.config.model_type == "jamba" else
            (GATED_DELTANET_TYPES[model.config.model_type], "Gated DeltaNet",
             "(the last block of the published Qwen3-Next and Qwen3.5 models is one)"))
        raise PrunebenchError(
            f"removing blocks {sorted(drop)} would leave this {name} model {mixer} "
            f"blocks only (its {kind} blocks are {attention}): {why}. Remove fewer blocks "
            f"(a larger size), or keep a {kind} block with the depth method's protect_last "
            f"{last}")
    linear = linear_attention_blocks(model.config)
    if family(model.config).griffin_blocks and all(linear[i] for i in keep):
        # (refused before anything changes: RecurrentGemmaModel's masks, 5.17 and 5.25)
        raise PrunebenchError(
            f"removing blocks {sorted(drop)} would leave this RecurrentGemma model recurrent "
            f"blocks only (its attention blocks are {[i for i in range(n) if not linear[i]]}): "
            "RecurrentGemmaModel sizes its masks by its first attention block's cache, so "
            "neither generate nor any cached forward runs without one. Remove fewer blocks (a "
            "larger size), or keep an attention block with the depth method's protect_first / "
            "protect_last")
    for kind, kind_blocks, why in zamba_needed_kinds(model.config):
        if len(left := set(kind_blocks) & set(keep)) < 2:  # (refused before anything changes)
            raise PrunebenchError(
                f"removing blocks {sorted(drop)} would leave this Zamba model "
                f"{len(left) or 'none'} of its {kind} blocks {kind_blocks}: {why}. Remove fewer "
                "blocks (a larger size), or keep two with the depth method's protect_first / "
                "protect_last")
    if family(model.config).rwkv_blocks and len(keep) < 2:  # (refused before anything changes)
        raise PrunebenchError(
            f"removing blocks {sorted(drop)} would leave this RWKV model {len(keep) or 'no'} "
            f"block{'' if len(keep) == 1 else 's'}: {RWKV_ONE_BLOCK}. Remove fewer blocks (a "
            "larger size)")
    if model.config.model_type == "olmo_hybrid" and not any(linear[i] for i in keep):
        # (refused before anything changes: OlmoHybridConfig's check, 5.17 and 5.25)
        raise PrunebenchError(
            f"removing blocks {sorted(drop)} would leave this OLMo Hybrid model full-attention "
            "blocks only (its Gated DeltaNet blocks are "
            f"{[i for i in range(n) if linear[i]]}): OlmoHybridConfig refuses a model without "
            "a Gated DeltaNet block, so neither prunebench nor transformers would load the "
            "pruned checkpoint. Remove fewer blocks (a larger size)")
    if (broken := broken_reads(model.config, drop)) and model.config.model_type == \
            "qwen4_exp_text":  # (refused before anything changes)
        ple = [i - 1 for i in model.config.ple_layer_ids]
        raise PrunebenchError(
            f"removing blocks {sorted(drop)} would remove per-layer embedding block(s) "
            f"{sorted({source for _, source, _ in broken})} of this Qwen4-Exp model and keep "
            f"later ones ({sorted({reader for reader, _, _ in broken})}; its PLE blocks are "
            f"{ple}): each PLE table's hash and rows follow its block's rank in ple_layer_ids, "
            "so a later table would reload at another rank, which transformers refuses (a "
            "size mismatch) or hashes otherwise. Remove only the last PLE blocks (each with "
            "every PLE block after it), or keep them: the depth methods choose so "
            "(methods.sizing.may_remove)")
    if broken:  # (refused before anything changes)
        raise PrunebenchError(
            f"removing blocks {sorted(drop)} would remove block(s) "
            f"{sorted({source for _, source, _ in broken})} of this Kolibri-1.1 model and keep "
            "blocks that read them ("
            + "; ".join(f"{reader} reads {source}'s {what}" for reader, source, what in broken)
            + "): those would read a missing block's or another's. Remove each such block with "
            f"all its readers (here also {sorted({reader for reader, _, _ in broken})}), or "
            "keep it: the depth methods choose so (methods.sizing.may_remove)")
    if problem := (zamba2_removal_problem(model.config, drop)  # (before anything changes)
                   or inkling2_removal_problem(model.config, drop)):
        raise PrunebenchError(problem)
    if needed := sorted(drop & set(depth_kept_blocks(model.config))):
        # (refused before anything changes)
        if family(model.config).one_mixer_blocks:
            raise PrunebenchError(
                f"removing blocks {sorted(drop)} would remove block 0 of this Nemotron-H model, "
                "which a depth prune keeps: transformers 5.25's cache reads the sequence length "
                "from the first block's entry, which an MLP block (the next one here may be "
                "one) has not, so generate would stop. Remove other blocks: the depth methods "
                "never choose it (methods.sizing.removable_blocks)")
        if family(model.config).attention_indexer:  # (GLM-MoE-DSA's, HY-V4's)
            name = SHARED_INDEXER_TYPES[model.config.model_type][0]
            raise PrunebenchError(
                f"removing blocks {sorted(drop)} would remove block 0 of this {name} "
                "model, which a depth prune keeps: its blocks that indexer_types names "
                "\"shared\" reuse the top keys of the last \"full\" block before them, and one "
                "left first would have none (transformers' attention raises). Remove other "
                "blocks: the depth methods never choose it (methods.sizing.removable_blocks)")
        if family(model.config).first_attention_unnormed:
            raise PrunebenchError(
                f"removing blocks {sorted(drop)} would remove block 0 of this "
                "ModernBERT-decoder model, which a depth prune keeps: its class builds the "
                "first block without a norm before the attention, so the block left first "
                "would lose its trained attn_norm and compute another model. Remove other "
                "blocks: the depth methods never choose it (methods.sizing.removable_blocks)")
        if cross_attention_blocks(model.config):
            raise PrunebenchError(
                f"removing blocks {sorted(drop)} would remove block(s) {needed} of this Llama "
                "3.2 Vision model, which a depth prune keeps: its cross-attention blocks "
                f"{cross_attention_blocks(model.config)} (skipped on text, so no text score "
                "can judge them; removing them would take its image pathway away and save "
                "nothing a text step reads) and its first block (a cross-attention block left "
                "first holds no cache entry on text, where transformers' static cache reads the "
                "sequence length). Remove other blocks: the depth methods never choose these "
                "(methods.sizing.removable_blocks)")
        if model.config.model_type == "gemma3n_text":
            raise PrunebenchError(
                f"removing blocks {sorted(drop)} would remove block(s) {needed} this Gemma 3n "
                f"model needs: each block whose keys and values later blocks reuse "
                f"({_kv_reuse(model.config)}). Remove other blocks: the depth methods never "
                "choose these (methods.sizing.removable_blocks)")
        raise PrunebenchError(
            f"removing blocks {sorted(drop)} would remove block(s) {needed} this Gemma 4 model "
            "needs: its last block (Gemma4TextConfig makes the last block global, so a "
            "sliding block left last would reload as another) and each block whose keys and "
            f"values later blocks reuse ({_kv_reuse(model.config)}). Remove other blocks: the "
            "depth methods never choose these (methods.sizing.removable_blocks)")
    # A mixture of experts picks each block's MLP kind by its index (Family.sparse_blocks):
    # the config values that give every kept block its kind again under its new index (found,
    # or refused where the keys cannot say them, before anything changes).
    sparse = sparse_mlp_blocks(model.config)  # each block's MLP kind, by its index before removal
    kind_values = family(model.config).sparse_blocks.kept([sparse[i] for i in keep])
    # (Jamba's attention blocks likewise: every attn_layer_period-th from attn_layer_offset)
    kind_values.update(jamba_kept_layout(model.config, keep))
    undo_rwkv_rescale(model)  # (RWKV's weights divided by their blocks' old positions)
    before = list(decoder(model).layers)
    set_layers(model, nn.ModuleList(before[i] for i in keep))
    if family(model.config).rwkv_blocks and keep and keep[0] != 0:
        # RWKV's pre_ln, the embeddings' norm that RwkvBlock builds and runs on block 0 alone:
        # kept, on the block left first (which then runs it: its layer_id 0, below), as the
        # model of the kept blocks that transformers builds holds it there
        before[keep[0]].pre_ln = before[0].pre_ln
    if (family(model.config).last_block_dense_bias and keep
            and o_proj(decoder(model).layers[-1].self_attn).bias is None):
        # GPT-NeoX-Japanese builds a dense_bias in its last block whatever the depth, zeros
        # where untrained: the model of the kept blocks transformers builds has one there
        # (held as the output projection's bias: fold_dense_bias; other families' last block
        # may hold no self_attn at all: LFM2's convolutions)
        dense = o_proj(decoder(model).layers[-1].self_attn)
        dense.bias = nn.Parameter(dense.weight.new_zeros(dense.out_features),
                                  requires_grad=dense.weight.requires_grad)
    for new_idx, layer in enumerate(decoder(model).layers):
        # the block's cache entry: its attention's, Qwen3-Next's or Qwen3.5's Gated DeltaNet's
        # or Granite 4.0's Mamba-2 mixer's (a Granite block holds the one it has, the other
        # None), LFM2's short convolution's, or both of a Falcon-H1 block's (its attention and
        # Mamba-2 mixer share one)
        for mixer in (getattr(layer, name, None) for name in TOKEN_MIXERS):
            # (a Nemotron-H MLP block's mixer has no index: no cache entry of its own)
            if mixer is not None and hasattr(mixer, "layer_idx"):
                mixer.layer_idx = new_idx
            # (GPTNeoSelfAttention's cache entry is its `layer_id`)
            if mixer is not None and hasattr(mixer, "layer_id"):
                mixer.layer_id = new_idx
            # (DeepSeek-V3.2's and GLM-MoE-DSA's indexers cache their keys under an index of
            # their own; a GLM-MoE-DSA "shared" block holds none)
            indexer = getattr(mixer, "indexer", None)
            if indexer is not None and hasattr(indexer, "layer_idx"):
                indexer.layer_idx = new_idx
            # (a Kolibri-1.1 block reads its keys' source's entry of the forward's shared keys
            # and values, stored under that block's layer_idx: its new number, kept)
            if mixer is not None and hasattr(mixer, "kv_source_layer"):
                mixer.kv_source_layer = keep.index(mixer.kv_source_layer)
            # (Inkling's short convolutions on its keys and values keep their states in the
            # cache under their block's index; Inkling 2's, in its key and value projections)
            for conv in (getattr(mixer, name, None) for name in ("k_sconv", "v_sconv")):
                if conv is not None:
                    conv.layer_idx = new_idx
            for projection in (getattr(mixer, name, None) for name in ("k_proj", "v_proj")):
                if (conv := getattr(projection, "sconv", None)) is not None:
                    conv.layer_idx = new_idx
        # (and those on an Inkling or Inkling 2 block's attention and MLP outputs)
        for conv in (getattr(layer, name, None) for name in (
                "attn_sconv", "mlp_sconv", "post_attention_convolution", "post_mlp_convolution")):
            if conv is not None:
                conv.layer_idx = new_idx
        # (a Qwen4-Exp block's per-layer embedding and its n-gram table keep their
        # convolution's state and the last token ids in the block's cache entry)
        if (ple := getattr(layer, "ple", None)) is not None:
            ple.layer_idx = ple.ple_embedding.layer_idx = new_idx
        if hasattr(layer, "layer_idx"):
            layer.layer_idx = new_idx
        if isinstance(attentions := getattr(layer, "self_attn", None), nn.ModuleList):
            # (a LongCat-Flash block's two latent attentions, cache entries 2j and 2j + 1 of
            # block j, as LongcatFlashDecoderLayer numbers them when built)
            for half, attention in enumerate(attentions):
                attention.layer_idx = len(attentions) * new_idx + half
        set_residual_places(layer, new_idx)
        if model.config.model_type == "zaya":
            # ZAYA's CCA projection caches its convolution and delayed-value states under an
            # index of its own, which its router holds too
            layer.self_attn.qkv_proj.layer_idx = layer.mlp.gate.layer_idx = new_idx
        if family(model.config).rwkv_blocks:
            # (RWKV's block, its time and channel mixing: each reads and writes the state at
            # its layer_id, and the block runs pre_ln where it is 0)
            layer.layer_id = layer.attention.layer_id = layer.feed_forward.layer_id = new_idx
        # (a Zamba hybrid block's own Mamba block, whose mixer's index is its cache entry's; its
        # shared attention takes the index ZambaModel passes it)
        if (mamba_block := getattr(layer, "mamba_decoder", None)) is not None:
            mamba_block.layer_idx = mamba_block.mamba.layer_idx = new_idx
        # (DbrxBlock's attention, whose index is its cache entry's, lies in its
        # norm_attn_norm, which holds the index too)
        holder = getattr(layer, "norm_attn_norm", None)
        for module in (holder, getattr(holder, "attn", None)):
            if module is not None:
                module.layer_idx = new_idx
    if model.config.model_type == "zaya" and keep:
        _zaya_first_router(decoder(model).layers[0].mlp.gate)
    if model.config.model_type == "zamba2":
        _zamba2_kept_adapters(model, [i for i, layer in enumerate(before)
                                      if hasattr(layer, "shared_transformer")], keep)
    config = model.config
    if drop:
        # Written into config.json as `layer_shapes` is by width pruning: a depth-pruned copy
        # that lost its manifest and report still says it was pruned (a base model given as
        # `local:` is refused then); transformers keeps the key and ignores it. The first prune
        # of a chain sets it: the dense model's depth.
        config.blocks_before_pruning = getattr(config, "blocks_before_pruning", None) or n
    # (MiniCPM3's scale_depth, read over sqrt(num_hidden_layers): each kept block scales its
    # sublayers as it did, in this model and in one reloaded from its config.json)
    for key, value in kept_depth_scale(config, n, len(keep)).items():
        setattr(config, key, value)
        for layer in decoder(model).layers:  # MiniCPM3DecoderLayer's, computed when built
            layer.residual_scale = value / math.sqrt(len(keep))
    set_block_count(config, len(keep))
    if config.model_type == "xlstm":
        # (xLSTMModel builds num_blocks blocks, its cache num_hidden_layers states: the reload
        # builds the kept ones)
        config.num_blocks = len(keep)
    for key, value in kind_values.items():
        setattr(config, key, value)
    if constant := BLOCK_CONSTANTS.get(config.model_type):
        # each block's value as its module holds it (a chain's second prune: as the first left
        # it), before kept_block_lists keeps the kept blocks' entries
        key, owner, name = constant
        setattr(config, key, [getattr(getattr(layer, owner), name) for layer in before])
    for key, value in kept_block_lists(config, keep).items():
        setattr(config, key, value)
    if hasattr(decoder(model), "cross_attention_layers"):
        # (MllamaTextModel skips a cross-attention block by these indices, read from its own
        # copy of the config's list)
        decoder(model).cross_attention_layers = config.cross_attention_layers
    for key in PER_BLOCK_CONFIG_VALUES:  # one for every block, or a list of one per block
        if isinstance(getattr(config, key, None), list):
            setattr(config, key, [getattr(config, key)[i] for i in keep])
    if family(config).per_layer_blocks:
        _keep_per_layer_blocks(model, keep, n)
    elif getattr(config, "is_heterogeneous", False):
        # (Dots 3 Note's sliding blocks' latents; read only here: to_dict copies the config)
        _keep_per_layer_config(config, keep)
    return model


def _zaya_skip_expert_biases(model) -> None:
    """Each ZAYA router's balancing bias of its skip expert (the last of balancing_biases, a
    persistent buffer) set to -1, whatever the checkpoint holds, as transformers'
    from_pretrained leaves it (5.17, 5.25: ZayaPreTrainedModel._init_weights assigns it after
    loading, by index, not by an init function that loaded tensors skip): prunebench's model
    then computes transformers' logits."""
    with torch.no_grad():
        for layer in decoder(model).layers:
            layer.mlp.gate.balancing_biases[-1] = -1.0


def _zaya_first_router(router) -> None:
    """A ZAYA router left first by a depth prune made as ZayaRouter builds block 0's: without
    router_states_scale and reading no router state (use_eda false). The same forward: no
    block before it hands it a state to scale. Its checkpoint then holds what transformers'
    model of the kept blocks loads, which has no place for that scale."""
    if router.use_eda:
        router.use_eda = False
        del router.router_states_scale


def _kv_reuse(config) -> str:
    """Which Gemma 4 (or Gemma 3n) blocks reuse which block's keys and values, as a message
    says it."""
    pairs = [f"{i} reuses {source}" for i, source in enumerate(kv_sources(config))
             if source is not None]
    return "; ".join(pairs) or "none here"


def _keep_per_layer_blocks(model, keep: list[int], n: int) -> None:
    """What else a Gemma 4 model (Family.per_layer_blocks) keeps of the blocks `keep` (of `n`)
    after `remove_blocks` took the others out: each kept block's per_layer_config overrides
    under its new index (its head_dim and KV heads), the number of last blocks that reuse keys
    and values (the kept ones: still the last, each with the block it reuses, which
    remove_blocks keeps), and the kept blocks' slices of the packed per-layer embedding and
    projection (one hidden_size_per_layer_input slice a block, in block order)."""
    config, text = model.config, model.model
    if getattr(config, "per_layer_config", None) is not None:  # (Gemma 3n has none)
        _keep_per_layer_config(config, keep)
    first_shared = n - (config.num_kv_shared_layers or 0)
    config.num_kv_shared_layers = sum(i >= first_shared for i in keep)
    for layer in decoder(model).layers:
        attention = layer.self_attn
        if getattr(attention, "kv_shared_layer_index", None) is not None:
            # (transformers 5.17's Gemma 3n attention reads its keys' source's entry of the
            # forward's shared keys and values by that block's index: its new one, kept)
            attention.kv_shared_layer_index = keep.index(attention.kv_shared_layer_index)
    if hasattr(text, "first_kv_shared_layer_idx"):  # (transformers 5.25's, set when built)
        text.first_kv_shared_layer_idx = len(keep) - config.num_kv_shared_layers
    text.unique_layer_types = set(config.layer_types)
    if width := per_layer_input_width(config):  # (none in Gemma 4 12B's)
        rows = torch.tensor([i * width + j for i in keep for j in range(width)])
        with torch.no_grad():
            table = text.embed_tokens_per_layer
            table.weight = nn.Parameter(table.weight[:, rows.to(table.weight.device)].clone(),
                                        requires_grad=table.weight.requires_grad)
            table.embedding_dim = table.weight.shape[1]
            projection = text.per_layer_model_projection
            projection.weight = nn.Parameter(
                projection.weight[rows.to(projection.weight.device)].clone(),
                requires_grad=projection.weight.requires_grad)
            projection.out_features = projection.weight.shape[0]


def _keep_per_layer_config(config, keep: list[int]) -> None:
    """Each kept block's per_layer_config overrides (of the blocks `keep`) under its new index,
    as transformers' config gives a block its own values by index (Gemma 4's head_dim and KV
    heads, Dots 3 Note's sliding blocks' latent attention)."""
    overrides = {int(i): o for i, o in (config.to_dict().get("per_layer_config") or {}).items()}
    config.per_layer_config = {new: overrides[old] for new, old in enumerate(keep)
                               if old in overrides}


def save_random_model(architecture: str, out_dir: str | Path, tokenizer=None,
                      dtype: torch.dtype = torch.float16, seed: int = 0) -> None:
    """A randomly initialised checkpoint of a known architecture (speed depends on shapes only).

    `tokenizer` (optional, e.g. the embedded text's) lets calibration and evaluation run on it;
    its ids must fit the architecture's vocabulary.
    """
    from prunebench.checkpoint.architectures import architecture_config

    config = architecture_config(architecture)
    if tokenizer is not None and len(tokenizer) > config.vocab_size:
        raise PrunebenchError(f"tokenizer has {len(tokenizer)} ids, more than {architecture}'s "
                              f"vocabulary of {config.vocab_size}")
    device = resolve_device("auto")  # on a machine with several GPUs, one no other job holds
    model = random_model(config, device, dtype, seed)
    # CUDA's and the CPU's generators draw different weights from one seed: the device is part
    # of what makes these weights (its kind: every GPU draws the same).
    save_model(model, tokenizer, out_dir, extra_manifest={"random": {
        "architecture": architecture, "seed": seed, "device": device.type,
        "tokenizer": "embedded text's (a stand-in)" if tokenizer is not None else None}})
