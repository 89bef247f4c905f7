"""A config.json's values as an object the counts and the methods' plans accept, without
transformers (`config_from_dict`): each family's values as its config class derives them where
the file leaves them out (the `*_values`, `*_layer_types` and `*_block_kinds` readers).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from prunebench import PrunebenchError

from .defaults import CONFIG_DEFAULTS, MIMO_V2_FLASH_WINDOW, _LLAMA_DEFAULTS, with_llama_keys
from .families import FAMILIES
from .traits import MINIMAX_M3_SPARSE, falcon_kv_heads
from .shapes import NEMOTRON_H_PATTERN


# The Mamba-2 keys NemotronHConfig reads under older names (its __post_init__), as counted.
NEMOTRON_H_OLD_KEYS = {"mamba_n_groups": "n_groups", "mamba_d_conv": "conv_kernel",
                       "mamba_conv_bias": "use_conv_bias"}


def nemotron_h_layer_types(values: dict[str, Any]) -> Any:
    """A Nemotron-H config.json's block kinds as NemotronHConfig reads them: its
    layers_block_type (or layer_types, its attribute_map's name), else its
    hybrid_override_pattern, else the class's default four blocks (Mamba-2, experts,
    attention, MLP)."""
    kinds = values.get("layers_block_type") or values.get("layer_types")
    if isinstance(kinds, list):
        return kinds
    pattern = values.get("hybrid_override_pattern")
    if isinstance(pattern, str):
        return [NEMOTRON_H_PATTERN.get(c, c) for c in pattern]
    return ["linear_attention", "moe", "full_attention", "mlp"]


# MiniMax-M3's own config.json keys of its indexer (`sparse_attention_config`) and the
# MiniMaxM3VLTextConfig keys it reads them as (5.17, 5.25).
MINIMAX_M3_INDEXER_KEYS = {"sparse_num_index_heads": "index_n_heads",
                           "sparse_index_dim": "index_head_dim",
                           "sparse_block_size": "index_block_size",
                           "sparse_topk_blocks": "index_topk_blocks",
                           "sparse_local_block": "index_local_blocks"}


def minimax_m3_values(values: dict[str, Any]) -> dict[str, Any]:
    """A MiniMax-M3 language model's config.json values as MiniMaxM3VLTextConfig reads them
    (5.17, 5.25): the indexer's settings and each block's attention kind from its
    `sparse_attention_config` (sparse_attention_freq: 1 a sparse block), the MLP kinds from
    `moe_layer_freq` (1 sparse, 0 dense) where config.json lists none; every block full
    attention and sparse MLP where neither is given."""
    values = dict(values)
    sparse = values.pop("sparse_attention_config", None) or {}
    freq = values.pop("moe_layer_freq", None)
    values.update({key: sparse[own] for own, key in MINIMAX_M3_INDEXER_KEYS.items()
                   if own in sparse})
    n = values["num_hidden_layers"]
    if not values.get("layer_types"):
        values["layer_types"] = ([MINIMAX_M3_SPARSE if f else "full_attention"
                                  for f in sparse["sparse_attention_freq"]]
                                 if "sparse_attention_freq" in sparse
                                 else ["full_attention"] * n)
    if not values.get("mlp_layer_types"):
        values["mlp_layer_types"] = (["sparse" if f else "dense" for f in freq]
                                     if freq is not None else ["sparse"] * n)
    return values


def glm_moe_dsa_indexer_types(values: dict[str, Any]) -> list[str]:
    """Each block's indexer kind as GlmMoeDsaConfig derives it where config.json gives no
    indexer_types (5.17 and 5.25): from index_topk_pattern ("F" full, "S" shared) where given,
    else a block i is "full" where max(i - index_skip_topk_offset + 1, 0) is a multiple of
    index_topk_freq (1 and 2 by default: every block full)."""
    if values.get("indexer_types"):
        return list(values["indexer_types"])
    pattern = values.get("index_topk_pattern")
    if pattern is not None:
        return ([{"F": "full", "S": "shared"}[c] for c in pattern] if isinstance(pattern, str)
                else list(pattern))
    freq = max(values.get("index_topk_freq", 1), 1)
    offset = values.get("index_skip_topk_offset", 2)
    return ["full" if max(i - offset + 1, 0) % freq == 0 else "shared"
            for i in range(values["num_hidden_layers"])]


def inkling_values(values: dict[str, Any]) -> dict[str, Any]:
    """An Inkling config.json's values as InklingTextConfig's __post_init__ reads them (5.25):
    layer_types from local_layer_ids (every block but each sixth windowed where it gives
    none), mlp_layer_types from dense_mlp_idx (dense blocks first; none by default), and
    where it gives dense_intermediate_size, intermediate_size as the experts' width and that
    as the dense MLP's."""
    values = dict(values)
    n = values["num_hidden_layers"]
    if not values.get("layer_types"):
        local = values.get("local_layer_ids")
        local = set(local) if local is not None else {i for i in range(n) if (i + 1) % 6}
        values["layer_types"] = ["hybrid_sliding" if i in local else "hybrid"
                                 for i in range(n)]
    if not values.get("mlp_layer_types"):
        dense = values.get("dense_mlp_idx") or 0
        values["mlp_layer_types"] = ["dense" if i < dense else "sparse" for i in range(n)]
    if values.get("dense_intermediate_size") is not None:
        values["moe_intermediate_size"] = values["intermediate_size"]
        values["intermediate_size"] = values["dense_intermediate_size"]
    return values


DEEPSEEK_V4_RATIOS = {0: "sliding_attention", 4: "compressed_sparse_attention",
                      128: "heavily_compressed_attention"}


def deepseek_v4_values(values: dict[str, Any]) -> dict[str, Any]:
    """A DeepSeek-V4 config.json's values as DeepseekV4Config's __post_init__ reads them (5.24,
    5.25): compress_rates (CSA 4, HCA 128, or compress_rate_csa / compress_rate_hca), layer_types
    (or from compress_ratios; two HCA blocks then CSA and HCA in turn where neither is given),
    mlp_layer_types (num_hash_layers "hash_moe" blocks first, 3 where not given, then "moe"),
    both cut to num_hidden_layers (num_key_value_heads kept as given, as the class keeps it:
    its attention builds one head whatever it says, which `kv_heads` gives every reader)."""
    values = dict(values)
    n = values["num_hidden_layers"]
    rates = dict(values.get("compress_rates") or {"compressed_sparse_attention": 4,
                                                   "heavily_compressed_attention": 128})
    for key, kind in (("compress_rate_csa", "compressed_sparse_attention"),
                      ("compress_rate_hca", "heavily_compressed_attention")):
        if values.get(key) is not None:
            rates[kind] = values[key]
    values["compress_rates"] = rates
    kinds = values.get("layer_types")
    if kinds is None and values.get("compress_ratios") is not None:
        kinds = [DEEPSEEK_V4_RATIOS.get(r, r) for r in values["compress_ratios"]]
    if kinds is None:
        kinds = (["heavily_compressed_attention"] * min(n, 2)
                 + ["compressed_sparse_attention" if i % 2 else "heavily_compressed_attention"
                    for i in range(max(n - 2, 0))])
    values["layer_types"] = list(kinds)[:n]
    mlps = values.get("mlp_layer_types")
    if mlps is None:
        hashed = values.get("num_hash_layers")
        hashed = 3 if hashed is None else hashed
        mlps = ["hash_moe"] * min(n, hashed) + ["moe"] * max(0, n - hashed)
    values["mlp_layer_types"] = list(mlps)[:n]
    return values


def hy_v4_indexer_types(values: dict[str, Any]) -> list[str]:
    """Each block's indexer kind as HYV4Config derives it where config.json gives no
    indexer_types (5.17 and 5.25): block 0 and every fourth from block 1 "full", the others
    "shared"."""
    if values.get("indexer_types"):
        return list(values["indexer_types"])
    return ["full" if i == 0 or (i - 1) % 4 == 0 else "shared"
            for i in range(values["num_hidden_layers"])]


def cohere2_moe_block_kinds(values: dict[str, Any]) -> dict[str, Any]:
    """A Cohere2-MoE config.json's values with each block's attention and MLP kinds as
    Cohere2MoeConfig derives them where it gives no layer_types / mlp_layer_types (5.17 and
    5.25 alike): the first `first_k_dense_replace` blocks (a key it reads and does not keep)
    dense, each prefix_dense_sliding_window_pattern-th of them full attention (every one at 1),
    and in the blocks after them each sliding_window_pattern-th, counted from the first of
    them, full attention, the others sliding; the rest sparse."""
    n, dense = values["num_hidden_layers"], values.get("first_k_dense_replace") or 0
    prefix = values.get("prefix_dense_sliding_window_pattern") or 1
    pattern = values.get("sliding_window_pattern") or 4
    kinds = {}
    if not values.get("layer_types"):
        kinds["layer_types"] = (
            ["sliding_attention" if (i + 1) % prefix else "full_attention"
             for i in range(dense)]
            + ["sliding_attention" if (i + 1) % pattern else "full_attention"
               for i in range(n - dense)])
    if not values.get("mlp_layer_types"):
        kinds["mlp_layer_types"] = dense_prefix_kinds(n, dense)
    return {**values, **kinds}


def dense_prefix_kinds(blocks: int, dense: int) -> list[str]:
    """Each block's MLP kind (`mlp_layer_types`) where the first `dense` blocks are dense and
    the others sparse: what the config classes of Cohere2-MoE, Laguna, EXAONE-MoE,
    DeepSeek-V3.2, HY-V3 and GLM-4.7-Flash derive where config.json lists none."""
    dense = min(dense, blocks)
    return ["dense"] * dense + ["sparse"] * (blocks - dense)


def laguna_block_kinds(values: dict[str, Any]) -> dict[str, Any]:
    """A Laguna or Mellum config.json's values with each block's kinds as LagunaConfig and
    MellumConfig derive them where it gives none (5.17 and 5.25 alike): every block full
    attention, Laguna's block 0 dense and the rest sparse (Mellum's every block sparse), and
    Laguna's every block of num_attention_heads query heads."""
    n, laguna = values["num_hidden_layers"], values.get("model_type") == "laguna"
    kinds = {}
    if not values.get("layer_types"):
        kinds["layer_types"] = ["full_attention"] * n
    if not values.get("mlp_layer_types"):
        kinds["mlp_layer_types"] = dense_prefix_kinds(n, 1 if laguna else 0)
    if laguna and not values.get("num_attention_heads_per_layer"):
        kinds["num_attention_heads_per_layer"] = [values["num_attention_heads"]] * n
    return {**values, **kinds}


def beam_block_kinds(values: dict[str, Any]) -> dict[str, Any]:
    """A Beam config.json's values with each block's kinds as BeamConfig derives them where
    it gives none (5.20.1 to 5.25 alike): every sixth block and the last full attention, the
    others sliding; the first three blocks dense (all of them in a model of fewer), the others
    sparse."""
    n, kinds = values["num_hidden_layers"], {}
    if not values.get("layer_types"):
        kinds["layer_types"] = ["sliding_attention" if (i + 1) % 6 and i < n - 1
                                else "full_attention" for i in range(n)]
    if not values.get("mlp_layer_types"):
        kinds["mlp_layer_types"] = dense_prefix_kinds(n, 3)
    return {**values, **kinds}


def exaone_moe_block_kinds(values: dict[str, Any]) -> dict[str, Any]:
    """An EXAONE-MoE config.json's values with each block's attention and MLP kinds as
    ExaoneMoeConfig derives them where it gives no layer_types / mlp_layer_types (5.17 and
    5.25 alike): every sliding_window_pattern-th block full attention, the others sliding, and
    the first `first_k_dense_replace` blocks dense, the others sparse. (A pattern other than a
    positive number, K-EXAONE's "LLLG", comes with its layer_types, or is refused when read:
    `exaone_moe_unread`.)"""
    n, kinds = values["num_hidden_layers"], {}
    pattern = values.get("sliding_window_pattern")
    if not values.get("layer_types") and isinstance(pattern, int) and pattern > 0:
        kinds["layer_types"] = ["sliding_attention" if (i + 1) % pattern else "full_attention"
                                for i in range(n)]
    if not values.get("mlp_layer_types"):
        kinds["mlp_layer_types"] = dense_prefix_kinds(n, values.get("first_k_dense_replace") or 0)
    return {**values, **kinds}


def flint_block_kinds(values: dict[str, Any]) -> dict[str, Any]:
    """A Flint config.json's values with each block's kinds as FlintConfig's __post_init__
    derives them where it gives none: full attention on the first two blocks, every fourth
    from block 1 and the last, sliding elsewhere; the dense blocks `mlp_only_layers` [0, 1]
    where null (an empty list: none dense)."""
    n, kinds = values["num_hidden_layers"], {}
    if not values.get("layer_types"):
        kinds["layer_types"] = ["full_attention" if i < 2 or i % 4 == 1 or i == n - 1
                                else "sliding_attention" for i in range(n)]
    if values.get("mlp_only_layers") is None:
        kinds["mlp_only_layers"] = [0, 1]
    return {**values, **kinds}


# Kolibri1_1Config's default keys' sources, by indexed block: the indexed block (by its rank
# among them) whose keys and values each reads, for up to ten indexed blocks.
KOLIBRI1_1_KV_SOURCES = (0, 0, 0, 3, 4, 5, 5, 5, 5, 0)


def kolibri1_1_layout(values: dict[str, Any]) -> dict[str, Any]:
    """A Kolibri-1.1 config.json's values with what Kolibri1_1Config.__post_init__ derives
    where it gives none: every fifth block indexed (the others sliding), blocks 0 and 1 dense,
    the 1st, 3rd, 4th and 6th indexed blocks indexers, and each indexed block's keys' source
    by KOLIBRI1_1_KV_SOURCES (refused past ten indexed blocks, as the class refuses)."""
    n = values["num_hidden_layers"]
    kinds = values.get("layer_types") or [
        "indexed_attention" if (i + 1) % 5 == 0 else "sliding_attention" for i in range(n)]
    indexed = [i for i, kind in enumerate(kinds) if kind == "indexed_attention"]
    values = {**values, "layer_types": kinds}
    if values.get("mlp_only_layers") is None:
        values["mlp_only_layers"] = [i for i in (0, 1) if i < n]
    if values.get("index_layers") is None:
        values["index_layers"] = [indexed[i] for i in (0, 2, 3, 5) if i < len(indexed)]
    if values.get("kv_source_layers") is None:
        if len(indexed) > len(KOLIBRI1_1_KV_SOURCES):
            raise PrunebenchError(
                f"this Kolibri-1.1 config.json has {len(indexed)} indexed-attention blocks "
                "and no kv_source_layers: Kolibri1_1Config's default covers "
                f"{len(KOLIBRI1_1_KV_SOURCES)} and refuses more. Give kv_source_layers (each "
                "block's keys' source) in config.json")
        sources = list(range(n))
        for block, rank in zip(indexed, KOLIBRI1_1_KV_SOURCES):
            sources[block] = indexed[rank]
        values["kv_source_layers"] = sources
    return values


def ergo_values(values: dict[str, Any]) -> dict[str, Any]:
    """An Ergo config.json's values as ErgoConfig and ErgoForCausalLM read them (its window
    key `local_attention_window`: CONFIG_KEY_NAMES): each block's kinds derived where it lists
    none (every global_attention_every_n_layers-th block full attention, the first
    num_dense_blocks dense); head_dim hidden / heads and the head untied whatever config.json
    says (ErgoAttention and ErgoForCausalLM read neither key)."""
    values = {**values, "head_dim": values["hidden_size"] // values["num_attention_heads"],
              "tie_word_embeddings": False}
    n, every = values["num_hidden_layers"], values["global_attention_every_n_layers"]
    if not values.get("layer_types"):
        values["layer_types"] = ["sliding_attention" if (i + 1) % every else "full_attention"
                                 for i in range(n)]
    if not values.get("mlp_layer_types"):
        values["mlp_layer_types"] = dense_prefix_kinds(n, values["num_dense_blocks"])
    return values


def config_from_dict(values: dict[str, Any]) -> SimpleNamespace:
    """Config values as an object the counts below and the methods' plans accept (no
    transformers), with its family's defaults for the keys they read."""
    values = as_class_type(values)  # (GPT-SW3's "gpt-sw3": GPT-2's)
    defaults = CONFIG_DEFAULTS.get(values.get("model_type") or "llama", _LLAMA_DEFAULTS)
    values = with_llama_keys(values)
    if "num_experts" in values and "num_local_experts" not in values:
        # Qwen3-MoE's, OLMoE's and Qwen2-MoE's config.json name for what the first two classes
        # hold as num_local_experts (num_experts(config) reads either).
        values = {**values, "num_local_experts": values["num_experts"]}
    if "n_routed_experts" in values and "num_local_experts" not in values:
        # DeepSeek-V2's, V3's and GLM-4.5's config.json name for it (their classes'
        # attribute_map).
        values = {**values, "num_local_experts": values["n_routed_experts"]}
    if "moe_num_experts" in values and "num_local_experts" not in values:
        # ERNIE 4.5's config.json names for them (Ernie4_5_MoeConfig's attribute_map).
        values = {**values, "num_local_experts": values["moe_num_experts"]}
    if "moe_k" in values and "num_experts_per_tok" not in values:
        values = {**values, "num_experts_per_tok": values["moe_k"]}
    if "moe_topk" in values and "num_experts_per_tok" not in values:
        # Hunyuan's (HunYuanMoEV1Config's attribute_map), one value or one per block
        values = {**values, "num_experts_per_tok": values["moe_topk"]}
    given = values  # (config.json's own keys, LLaMA's names)
    values = {**defaults, "layer_shapes": None, **without_null_shapes(values)}
    if values.get("model_type") == "deepseek_v4":
        # DeepseekV4Config's attribute_map: intermediate_size (the shared expert's width, what
        # its MLP reads) is moe_intermediate_size, whichever name config.json gives (the
        # former where both are: the class sets it last)
        width = given.get("intermediate_size", values["moe_intermediate_size"])
        values["intermediate_size"] = values["moe_intermediate_size"] = width
    if values["num_key_value_heads"] is None or FAMILIES.get(
            values.get("model_type") or "llama", FAMILIES["llama"]).kv_per_query_head:
        # (GPT-NeoX, OPT: one per query head whatever config.json says, as their attention
        # builds them: `kv_heads`)
        values["num_key_value_heads"] = values["num_attention_heads"]
    if values.get("model_type") == "falcon":
        # FalconConfig's: the MLP 4 x hidden wide and every query head its own KV head where
        # left out, the KV heads its attention builds (`falcon_kv_heads`)
        values["ffn_hidden_size"] = values["ffn_hidden_size"] or 4 * values["hidden_size"]
        values["num_kv_heads"] = values["num_kv_heads"] or values["num_attention_heads"]
        values["num_key_value_heads"] = falcon_kv_heads(SimpleNamespace(**values))
    if values.get("model_type") == "gpt_neo":
        # GPTNeoConfig's __post_init__: each block's kind, attention_types expanded (a
        # depth-pruned config.json's too), and its default window
        values["attention_layers"] = gpt_neo_attention_layers(values)
        values.setdefault("window_size", GPT_NEO_WINDOW)
    if values.get("model_type") == "gpt_bigcode":
        # GPTBigCodeConfig's __post_init__: one KV head where multi_query, one a query head
        # else, whatever num_key_value_heads says (Falcon's rule without its new architecture)
        values["num_key_value_heads"] = falcon_kv_heads(SimpleNamespace(**values))
    if values.get("model_type") in ("deepseek_v2", "deepseek_v3", "sarvam_mla"):
        # DeepseekV2Config and DeepseekV3Config set head_dim to qk_rope_head_dim whatever
        # config.json says (SarvamMLAConfig too: its legacy head_dim, kv_lora_rank +
        # qk_rope_head_dim, dropped).
        values["head_dim"] = values["qk_rope_head_dim"]
    if values.get("model_type") in ("deepseek_v32", "glm_moe_dsa"):
        # DeepseekV32Config's and GlmMoeDsaConfig's __post_init__: head_dim is
        # qk_rope_head_dim, and the first first_k_dense_replace blocks dense where config.json
        # lists no MLP kinds (5.17, 5.25); GLM-MoE-DSA's indexer kinds
        values["head_dim"] = values["qk_rope_head_dim"]
        if not values.get("mlp_layer_types"):
            values["mlp_layer_types"] = dense_prefix_kinds(
                values["num_hidden_layers"], values.get("first_k_dense_replace") or 0)
        if values["model_type"] == "glm_moe_dsa":
            values["indexer_types"] = glm_moe_dsa_indexer_types(values)
    if values.get("model_type") == "inkling_text":
        values = inkling_values(values)
    if values.get("model_type") == "inkling2_text" and not values.get("layer_types"):
        # (Inkling2TextConfig's __post_init__, 5.25: every sixth block full, the others
        # windowed, whatever n_layers_per_attn_res_block says)
        values["layer_types"] = ["hybrid" if (i + 1) % 6 == 0 else "hybrid_sliding"
                                 for i in range(values["num_hidden_layers"])]
    if values.get("model_type") == "hy_v4":
        # HYV4Config's __post_init__ (5.17, 5.25): head_dim is qk_rope_head_dim, one key and
        # value a query head, block 0 dense and an indexer in blocks 0, 1, 5, 9... where
        # config.json lists no kinds
        values["head_dim"] = values["qk_rope_head_dim"]
        values["num_key_value_heads"] = values["num_attention_heads"]
        if not values.get("mlp_layer_types"):
            values["mlp_layer_types"] = dense_prefix_kinds(values["num_hidden_layers"], 1)
        values["indexer_types"] = hy_v4_indexer_types(values)
    if values.get("model_type") == "deepseek_v4":
        values = deepseek_v4_values(values)
    if values.get("model_type") == "dots3_note_text":
        values = dots3_values(values)
    if values.get("model_type") == "xlstm":
        # xLSTMConfig's __post_init__: hidden_size and num_hidden_layers read, embedding_dim
        # and num_blocks only where those are null (`xlstm_sizes`)
        values.update(zip(("hidden_size", "embedding_dim", "num_hidden_layers", "num_blocks"),
                          xlstm_sizes(given)))
    if values.get("model_type") == "minimax_m3_vl_text":
        values = minimax_m3_values(values)
    if values.get("model_type") in ("axk1", "axk2"):
        # AXK1Config's and AXK2Config's __post_init__: head_dim is qk_rope_head_dim; 5.25
        # (AXK2Config: 5.24 on) derives the MLP kinds from first_k_dense_replace and
        # moe_layer_freq (1 and 1) where config.json lists none (A.X K1 on 5.17 reads
        # first_k_dense_replace alone: a config where they differ is refused)
        values["head_dim"] = values["qk_rope_head_dim"]
        values["mlp_layer_types"] = axk1_mlp_kinds(values)
    if values.get("model_type") == "hy_v3" and not values.get("mlp_layer_types"):
        # HYV3Config's: the first block dense, the others sparse (5.17, 5.25)
        values["mlp_layer_types"] = dense_prefix_kinds(values["num_hidden_layers"], 1)
    if values.get("model_type") == "minicpm3":
        # MiniCPM3Config's __post_init__: head_dim is qk_rope_head_dim whatever config.json
        # says, a value head hidden_size / heads wide where v_head_dim is None
        values["head_dim"] = values["qk_rope_head_dim"]
        values["v_head_dim"] = (values["v_head_dim"]
                                or values["hidden_size"] // values["num_attention_heads"])
    if values.get("model_type") in ("glm4_moe_lite", "youtu"):
        # Glm4MoeLiteConfig's attribute_map and YoutuConfig's __post_init__: head_dim is
        # qk_rope_head_dim whatever config.json says
        values["head_dim"] = values["qk_rope_head_dim"]
    if values.get("model_type") == "glm4_moe_lite" and not values.get("mlp_layer_types"):
        # Glm4MoeLiteConfig's: block 0 dense, the others sparse (first_k_dense_replace unread)
        values["mlp_layer_types"] = dense_prefix_kinds(values["num_hidden_layers"], 1)
    if values.get("model_type") == "exaone_moe":
        values = exaone_moe_block_kinds(values)
    if values.get("model_type") == "flint":
        values = flint_block_kinds(values)
    if values.get("model_type") == "kolibri1" and not values.get("layer_types"):
        # Kolibri1Config's: every fifth block full attention, the others sliding
        values["layer_types"] = ["sliding_attention" if (i + 1) % 5 else "full_attention"
                                 for i in range(values["num_hidden_layers"])]
    if values.get("model_type") == "kolibri1_1":
        values = kolibri1_1_layout(values)
    if values.get("model_type") == "minicpm5_moe":
        # MiniCPM5MoeConfig's __post_init__: the first first_k_dense_replace blocks (1 where
        # config.json gives none; a key it does not keep) dense where it lists no MLP kinds
        if not values.get("mlp_layer_types"):
            values["mlp_layer_types"] = dense_prefix_kinds(
                values["num_hidden_layers"], given.get("first_k_dense_replace", 1))
    if values.get("model_type") == "ergo":
        values = ergo_values(values)
    if values.get("model_type") == "mistral4":
        # Mistral4Config sets it to a query head's whole width whatever config.json says.
        values["head_dim"] = values["qk_nope_head_dim"] + values["qk_rope_head_dim"]
    if values.get("model_type") == "cohere2":
        # Cohere2Config's: without layer_types every sliding_window_pattern-th block (4th) is
        # global.
        if not values.get("layer_types"):
            pattern = values.get("sliding_window_pattern") or 4
            values["layer_types"] = ["sliding_attention" if (i + 1) % pattern else "full_attention"
                                     for i in range(values["num_hidden_layers"])]
    if values.get("model_type") == "cohere2_moe":
        values = cohere2_moe_block_kinds(values)
    if values.get("model_type") == "modernbert-decoder":
        values = modernbert_decoder_values(values)
    if (values.get("model_type") in ("cwm", "granite_swa", "granitemoe_swa")
            and not values.get("layer_types")):
        # CwmConfig's, GraniteSWAConfig's and GraniteMoeSWAConfig's: every fourth block full,
        # from the first (5.17 and 5.25)
        values["layer_types"] = ["full_attention" if i % 4 == 0 else "sliding_attention"
                                 for i in range(values["num_hidden_layers"])]
    if values.get("model_type") == "afmoe" and not values.get("layer_types"):
        # AfmoeConfig's: every global_attn_every_n_layers-th block full, the others sliding
        every = values["global_attn_every_n_layers"]
        values["layer_types"] = ["sliding_attention" if (i + 1) % every else "full_attention"
                                 for i in range(values["num_hidden_layers"])]
    if values.get("model_type") in ("laguna", "mellum"):
        values = laguna_block_kinds(values)
    if values.get("model_type") == "beam":
        values = beam_block_kinds(values)
    if values.get("model_type") == "mimo_v2_flash":
        values = mimo_v2_flash_values(values)
    if values.get("model_type") == "longcat_flash":
        values = longcat_flash_values(values, given)
    if values.get("model_type") == "jetmoe" and "num_attention_heads" not in given:
        # JetMoeConfig's __post_init__: a token's query heads are its experts' KV heads where
        # config.json gives none (a given value is kept, and counts nothing: JetMoeAttention
        # builds its experts' projections of the KV heads' width; its attribute_map reads
        # head_dim as kv_channels)
        values["num_attention_heads"] = (values["num_key_value_heads"]
                                         * values["num_experts_per_tok"])
    if values.get("model_type") == "dots1" and not values.get("layer_types"):
        # Dots1Config's: a window on the blocks from max_window_layers on, where it has one.
        window, start = values["sliding_window"], values["max_window_layers"]
        values["layer_types"] = ["sliding_attention" if window is not None and i >= start
                                 else "full_attention"
                                 for i in range(values["num_hidden_layers"])]
    if values.get("model_type") in GATED_DELTANET_TYPES:
        values["layer_types"] = qwen3_next_layer_types(values)
    if values.get("model_type") == "qwen4_exp_text":
        # Qwen4ExpTextConfig's: the per-layer embeddings' blocks sorted, once each, and their
        # width hidden_size where left out
        values["ple_layer_ids"] = sorted(set(values["ple_layer_ids"] or []))
        values["ple_embed_dim"] = values["ple_embed_dim"] or values["hidden_size"]
    if values.get("model_type") == "zaya" and not values.get("layer_types"):
        values["layer_types"] = ["hybrid"] * values["num_hidden_layers"]  # ZayaConfig's
    if values.get("model_type") == "dory":
        values.update(dory_values(values))
    if values.get("model_type") == "lara_mini" and not values.get("layer_types"):
        values["layer_types"] = lara_mini_layer_types(values["num_hidden_layers"])
    if values.get("model_type") == "olmo_hybrid":
        # OlmoHybridConfig's __post_init__: the Gated DeltaNet's key and value heads the
        # attention's, a key head three quarters of hidden_size over them, a value head twice it
        values["linear_num_key_heads"] = (values["linear_num_key_heads"]
                                          or values["num_attention_heads"])
        values["linear_num_value_heads"] = (values["linear_num_value_heads"]
                                            or values["num_attention_heads"])
        values["linear_key_head_dim"] = (values["linear_key_head_dim"] or int(
            0.75 * values["hidden_size"] / values["linear_num_key_heads"]))
        values["linear_value_head_dim"] = (values["linear_value_head_dim"]
                                           or 2 * values["linear_key_head_dim"])
    if values.get("model_type") == "kimi_linear":
        values = kimi_linear_values(values)
    if values.get("model_type") == "bailing_hybrid":
        values = bailing_hybrid_values(values)
    if values.get("model_type") == "minimax" and not values.get("layer_types"):
        # MiniMaxConfig's __post_init__ (5.17, 5.25)
        values["layer_types"] = ["linear_attention" if i % 2 else "full_attention"
                                 for i in range(values["num_hidden_layers"])]
    if values.get("model_type") == "granitemoehybrid":
        values["layer_types"] = granite_hybrid_layer_types(values)
    if values.get("model_type") == "bamba":
        values["layer_types"] = bamba_layer_types(values)
    if values.get("model_type") == "zamba":
        values = zamba_values(values)
    if values.get("model_type") == "zamba2":
        values = zamba2_values(values)
    if values.get("model_type") == "jamba":
        # JambaConfig's layers_block_type, read as its layer_types
        period, offset = values["attn_layer_period"], values["attn_layer_offset"]
        values["layer_types"] = ["full_attention" if i % period == offset
                                 else "linear_attention"
                                 for i in range(values["num_hidden_layers"])]
    if values.get("model_type") == "lfm2" and not values.get("layer_types"):
        # Lfm2Config's: attention in the blocks full_attn_idxs lists (every block where it
        # lists none), a short convolution in the others
        listed = values.get("full_attn_idxs")
        listed = range(values["num_hidden_layers"]) if listed is None else listed
        values["layer_types"] = ["full_attention" if i in listed else "conv"
                                 for i in range(values["num_hidden_layers"])]
    if values.get("model_type") == "lfm3" and not values.get("layer_types"):
        values["layer_types"] = lfm3_layer_types(values["num_hidden_layers"])
    if values.get("model_type") == "nemotron_h":
        # NemotronHConfig's older names of its Mamba-2 keys, which it reads as the new ones
        values = {**values, **{new: values[old] for old, new in NEMOTRON_H_OLD_KEYS.items()
                               if old in values}}
        # NemotronHConfig's: the blocks' kinds decide how many there are
        values["layer_types"] = nemotron_h_layer_types(values)
        values["num_hidden_layers"] = len(values["layer_types"])
    if values.get("model_type") in GEMMA4_TYPES:
        values = gemma4_values(values)
    if values.get("model_type") == "gemma3n_text" and not values.get("layer_types"):
        # Gemma3nTextConfig's: every fifth block full, the others sliding
        values["layer_types"] = ["full_attention" if (i + 1) % 5 == 0 else "sliding_attention"
                                 for i in range(values["num_hidden_layers"])]
    if values.get("model_type") == "gpt_oss" and not values.get("layer_types"):
        # GptOssConfig's: a sliding block first, then every other block (its windows).
        values["layer_types"] = ["sliding_attention" if i % 2 == 0 else "full_attention"
                                 for i in range(values["num_hidden_layers"])]
    if values.get("model_type") == "llama4_text" and not values.get("layer_types"):
        # Llama4TextConfig's: chunked attention on the blocks that rotate (no_rope_layers 1;
        # without the list, all but every no_rope_layer_interval-th), where a chunk size is set.
        n, interval = values["num_hidden_layers"], values["no_rope_layer_interval"]
        rope = values.get("no_rope_layers") or [int((i + 1) % interval != 0) for i in range(n)]
        chunked = values.get("attention_chunk_size") is not None
        values["layer_types"] = ["chunked_attention" if r and chunked else "full_attention"
                                 for r in rope]
    return SimpleNamespace(**values)


def modernbert_decoder_values(values: dict[str, Any]) -> dict[str, Any]:
    """ModernBertDecoderConfig's __post_init__ (5.17, 5.25): without layer_types every
    global_attn_every_n_layers-th block full attention from the first, the others sliding;
    the window half of local_attention (where it is null or 0 the class makes it -1, which
    transformers' model cannot run: `modernbert_decoder_unbuilt` refuses that, read here as
    None), but where config.json gives sliding_window itself (as a saved config does), which
    the class sets last."""
    if not values.get("layer_types"):
        every = values["global_attn_every_n_layers"]
        values["layer_types"] = ["sliding_attention" if i % every else "full_attention"
                                 for i in range(values["num_hidden_layers"])]
    if "sliding_window" not in values:
        values["sliding_window"] = (values["local_attention"] // 2 if values["local_attention"]
                                    else None)
    return values


def longcat_flash_values(values: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """A LongCat-Flash config.json's values as transformers 5.25's LongcatFlashConfig reads
    them: its blocks num_layers, or half a num_hidden_layers given (the class's setter, which
    wins where both are given), num_hidden_layers always twice them (its property: the cache's
    entries, two latent attentions a block); the dense MLPs' width ffn_hidden_size (its
    attribute_map's intermediate_size), the experts' expert_ffn_hidden_size."""
    values = dict(values)
    if isinstance(given.get("num_hidden_layers"), int):
        values["num_layers"] = given["num_hidden_layers"] // 2
    values["num_hidden_layers"] = 2 * values["num_layers"]
    for own, llama in (("ffn_hidden_size", "intermediate_size"),
                       ("expert_ffn_hidden_size", "moe_intermediate_size")):
        if llama in given and own not in given:  # (the attribute_map's name given)
            values[own] = given[llama]
        values[llama] = values[own]
    return values


def mimo_v2_flash_window(values: dict[str, Any]) -> dict[str, Any]:
    """A MiMo-V2-Flash config.json's values with its window said once, as transformers 5.25
    reads it (sliding_window_size + 1 where given, else sliding_window, else 129) and 5.17
    then reads it too: 5.17 ignores sliding_window_size and defaults to 128, so the same
    config.json would build another model in each. The window written into sliding_window
    (and sliding_window_size, one less, beside it), which every saved config.json keeps
    (modeling.load_config, config_from_dict); other families' values as they are."""
    if values.get("model_type") != "mimo_v2_flash":
        return values
    size = values.get("sliding_window_size")
    window = size + 1 if isinstance(size, int) else values.get("sliding_window")
    window = MIMO_V2_FLASH_WINDOW if window is None else window
    return {**values, "sliding_window": window, "sliding_window_size": window - 1}


def mimo_v2_flash_values(values: dict[str, Any]) -> dict[str, Any]:
    """A MiMo-V2-Flash config.json's values as MiMoV2FlashConfig reads them (5.17 and 5.25,
    the window as `mimo_v2_flash_window` says it): full attention on block 0 and every sixth
    block and the others sliding where it lists no layer_types, block 0 dense and the others
    sparse where it lists no mlp_layer_types."""
    n = values["num_hidden_layers"]
    values = mimo_v2_flash_window(values)
    if not values.get("layer_types"):
        values["layer_types"] = ["full_attention" if i == 0 or (i + 1) % 6 == 0
                                 else "sliding_attention" for i in range(n)]
    if not values.get("mlp_layer_types"):
        values["mlp_layer_types"] = dense_prefix_kinds(n, 1)
    return values


# Gemma4TextConfig's head_dim of its global blocks where a config.json gives neither
# global_head_dim nor per_layer_config.
GEMMA4_GLOBAL_HEAD_DIM = 512
# The model types of Gemma 4's blocks: its own and Gemma 4 12B's (unified: no per-layer inputs
# or experts), whose config classes read the same values (gemma4_values).
GEMMA4_TYPES = ("gemma4_text", "gemma4_unified_text")


def kimi_linear_values(values: dict[str, Any]) -> dict[str, Any]:
    """KimiLinearConfig's __post_init__ (5.17, 5.25): head_dim is qk_rope_head_dim; the KDA's
    heads, width and taps from config.json's linear_attn_config (num_heads, head_dim,
    short_conv_kernel_size) over the top-level keys; each block's kind from layer_types, else
    from linear_attn_config's kda_layers / full_attn_layers (1-based block numbers), else full
    attention in every fourth block from block 4 (0-based 4, 8, ...); the MLP kinds from
    mlp_layer_types, else the first first_k_dense_replace blocks (1 where left out) dense."""
    linear = values.get("linear_attn_config") or {}
    n = values["num_hidden_layers"]
    values = {**values, "head_dim": values["qk_rope_head_dim"],
              "linear_head_dim": linear.get("head_dim", values["linear_head_dim"]),
              "linear_num_heads": linear.get("num_heads", values["linear_num_heads"]),
              "linear_conv_kernel_dim": linear.get("short_conv_kernel_size",
                                                   values["linear_conv_kernel_dim"])}
    if not values.get("layer_types"):
        if "full_attn_layers" in linear and "kda_layers" in linear:
            kinds: list[Any] = [None] * n
            for block in linear["full_attn_layers"]:
                kinds[block - 1] = "full_attention"
            for block in linear["kda_layers"]:
                kinds[block - 1] = "linear_attention"
        else:
            kinds = ["full_attention" if i and i % 4 == 0 else "linear_attention"
                     for i in range(n)]
        values["layer_types"] = kinds
    if not values.get("mlp_layer_types"):
        dense = values.get("first_k_dense_replace")
        values["mlp_layer_types"] = dense_prefix_kinds(n, 1 if dense is None else dense)
    return values


# A Dots 3 Note sliding block's latent attention as Dots3NoteTextConfig reads it from config.json
# where it gives no per_layer_config: each value from its swa_* key, these by default.
DOTS3_SLIDING = {"num_attention_heads": 64, "num_key_value_heads": 64, "q_lora_rank": 1024,
                 "kv_lora_rank": 1024, "head_dim": 256, "qk_nope_head_dim": 192,
                 "v_head_dim": 128}


def dots3_values(values: dict[str, Any]) -> dict[str, Any]:
    """A Dots 3 Note config.json's values as Dots3NoteTextConfig's __post_init__ reads them (5.24,
    5.25), for the counts: the MLP kinds (mlp_layer_types, else dense before
    first_k_dense_replace, 1 by default, and where moe_layer_freq says), the shared experts'
    width (moe_shared_expert_intermediate_size, its published name), the window
    (sliding_window_size, 512 by default), each block's attention kind (layer_types, else
    blocks 0, 1 and every 4th from 1 "indexed_attention", the others "sliding_attention", all
    full where use_sliding_window is false; use_dsa false names the indexed ones
    "full_attention", which hold no indexer) and each block's latent overrides by index
    (per_layer_config, else every sliding block's from the swa_* keys: DOTS3_SLIDING)."""
    values = dict(values)
    n = values["num_hidden_layers"]
    first, freq = values.get("first_k_dense_replace", 1), values.get("moe_layer_freq", 1)
    if not values.get("mlp_layer_types"):
        values["mlp_layer_types"] = [
            "sparse" if i >= first and (bool(freq[i]) if isinstance(freq, list)
                                        else i % freq == 0) else "dense" for i in range(n)]
    values["shared_experts_intermediate_size"] = values.get(
        "moe_shared_expert_intermediate_size", values["shared_experts_intermediate_size"])
    if values.get("sliding_window") is None:
        values["sliding_window"] = values.get("sliding_window_size", 512)
    use_dsa = values.get("use_dsa", None if "per_layer_config" in values else True)
    if not values.get("layer_types"):
        full = "full_attention" if use_dsa is False else "indexed_attention"
        windowed = values.get("use_sliding_window", True)
        values["layer_types"] = [full if not windowed or i < 2 or i % 4 == 1
                                 else "sliding_attention" for i in range(n)]
    if use_dsa is not None:  # (the legacy name of an indexed block, or the other way)
        old, new = (("indexed_attention", "full_attention") if use_dsa is False
                    else ("full_attention", "indexed_attention"))
        values["layer_types"] = [new if kind == old else kind for kind in values["layer_types"]]
    overrides = values.get("per_layer_config")
    if isinstance(overrides, dict):
        layers = {int(index): dict(o) for index, o in overrides.items()}
    else:
        sliding = {key: values.get(f"swa_{key}", value) for key, value in DOTS3_SLIDING.items()}
        sliding["qk_rope_head_dim"] = values.get(
            "swa_qk_rope_head_dim", sliding["head_dim"] - sliding["qk_nope_head_dim"])
        layers = {i: dict(sliding) for i, kind in enumerate(values["layer_types"])
                  if kind == "sliding_attention"}
    values["per_layer_config"] = layers
    return values


def bailing_hybrid_values(values: dict[str, Any]) -> dict[str, Any]:
    """BailingHybridConfig's __post_init__ (5.25): the KDA's heads the attention's, its head
    width head_dim and its taps short_conv_kernel_size (where config.json gives no
    linear_num_heads / linear_head_dim / linear_conv_kernel_dim, as the published one gives
    none and a saved one gives all), then head_dim qk_rope_head_dim; each block's kind from
    layer_types, else latent attention in the last block of every layer_group_size; the MLP
    kinds from mlp_layer_types, else the first first_k_dense_replace blocks dense."""
    n = values["num_hidden_layers"]
    values = {**values, "head_dim": values["qk_rope_head_dim"],
              "linear_head_dim": values.get("linear_head_dim") or values["head_dim"],
              "linear_num_heads": (values.get("linear_num_heads")
                                   or values["num_attention_heads"]),
              "linear_conv_kernel_dim": (values.get("linear_conv_kernel_dim")
                                         or values["short_conv_kernel_size"])}
    if not values.get("layer_types"):
        group = values["layer_group_size"]
        values["layer_types"] = ["full_attention" if (i + 1) % group == 0
                                 else "linear_attention" for i in range(n)]
    if not values.get("mlp_layer_types"):
        values["mlp_layer_types"] = dense_prefix_kinds(n, values["first_k_dense_replace"])
    return values


def gemma4_layer_types(values: dict[str, Any]) -> list[str]:
    """A Gemma 4 config.json's block kinds as Gemma4TextConfig makes them: its layer_types, or
    every sixth block global where it gives none; the last block global whatever they say
    (the class forces it so, with a warning)."""
    kinds = values.get("layer_types")
    if not isinstance(kinds, list):
        blocks = values.get("num_hidden_layers")
        kinds = ["sliding_attention" if (i + 1) % 6 else "full_attention"
                 for i in range(blocks if isinstance(blocks, int) else 0)]
    return [*kinds[:-1], "full_attention"] if kinds else kinds


def gemma4_values(values: dict[str, Any]) -> dict[str, Any]:
    """A Gemma 4 config.json's values as Gemma4TextConfig reads them, for the counts: its
    block kinds (`gemma4_layer_types`), each block's overrides by index (`per_layer_config`,
    or where it gives none each global block's head_dim of global_head_dim and, with
    attention_k_eq_v, KV heads of num_global_key_value_heads), and the experts a token is
    routed to under the name the counts read (`top_k_experts`)."""
    values = {**values, "layer_types": gemma4_layer_types(values)}
    overrides = values.get("per_layer_config")
    if isinstance(overrides, dict):
        layers = {int(index): dict(o) for index, o in overrides.items()}
    else:
        override = {"head_dim": values.get("global_head_dim") or GEMMA4_GLOBAL_HEAD_DIM}
        if values.get("attention_k_eq_v") and values.get("num_global_key_value_heads"):
            override["num_key_value_heads"] = values["num_global_key_value_heads"]
        layers = {i: dict(override) for i, kind in enumerate(values["layer_types"])
                  if kind == "full_attention"}
    values["per_layer_config"] = layers
    values.setdefault("num_experts_per_tok", values.get("top_k_experts"))
    return values


OPTIONAL_SHAPE_KEYS = ("num_key_value_heads", "head_dim", "ffn_hidden_size", "num_kv_heads")


# GPTNeoConfig's defaults of its block kinds and local window (gpt-neo-1.3B's).
GPT_NEO_ATTENTION_TYPES = [[["global", "local"], 12]]
GPT_NEO_WINDOW = 256


def gpt_neo_attention_layers(values: dict[str, Any]) -> list:
    """A GPT-Neo config's kind of each block, as GPTNeoConfig expands `attention_types`
    ([[kinds, repeats], ...]: the kinds listed, the list repeated) into attention_layers."""
    types = values.get("attention_types") or GPT_NEO_ATTENTION_TYPES
    return [kind for kinds, repeats in types for _ in range(repeats) for kind in kinds]


def zamba_values(values: dict[str, Any]) -> dict[str, Any]:
    """A Zamba config.json's values as ZambaConfig's __post_init__ reads them (5.17 and 5.25):
    attention_hidden_size 2 x hidden and head_dim (attention_head_dim) 2 x hidden / heads
    where null; the blocks' kinds layers_block_type's, "mamba" read as "linear_attention",
    or, where it gives none, two Mamba blocks, a hybrid one, then a hybrid one wherever the
    index past those three is attn_layer_offset modulo attn_layer_period."""
    values = dict(values)
    d, heads = values["hidden_size"], values["num_attention_heads"]
    values["attention_hidden_size"] = values.get("attention_hidden_size") or 2 * d
    values["head_dim"] = values.get("head_dim") or 2 * d // heads
    values["layer_types"] = ["linear_attention" if kind == "mamba" else kind
                             for kind in zamba_block_kinds(values)]
    return values


# Zamba2Config's kinds where a config.json gives no layers_block_type (5.17 and 5.25): 54
# blocks, a Mamba-2 one, seven runs of five Mamba-2 blocks and a hybrid one, then 4 Mamba-2, a
# hybrid, 3 Mamba-2, a hybrid and 2 Mamba-2 (Zamba2-2.7B's)
ZAMBA2_DEFAULT_KINDS = (["mamba"] + (["mamba"] * 5 + ["hybrid"]) * 7 + ["mamba"] * 4
                        + ["hybrid"] + ["mamba"] * 3 + ["hybrid"] + ["mamba"] * 2)


def zamba2_values(values: dict[str, Any]) -> dict[str, Any]:
    """A Zamba2 config.json's values as Zamba2Config's __post_init__ reads them (5.17 and
    5.25): intermediate_size 4 x hidden where null, attention_hidden_size 2 x hidden and
    head_dim (attention_head_dim) 2 x hidden / heads where config.json gives none (a saved value
    is set over the derived one), the blocks' kinds layers_block_type's ("mamba" read as
    "linear_attention") or ZAMBA2_DEFAULT_KINDS."""
    values = dict(values)
    d, heads = values["hidden_size"], values["num_attention_heads"]
    values["intermediate_size"] = values.get("intermediate_size") or 4 * d
    values["attention_hidden_size"] = values.get("attention_hidden_size") or 2 * d
    values["head_dim"] = values.get("head_dim") or 2 * d // heads
    kinds = values.get("layer_types")
    values["layer_types"] = ["linear_attention" if kind == "mamba" else kind
                             for kind in (ZAMBA2_DEFAULT_KINDS if kinds is None else kinds)]
    return values


def zamba_block_kinds(values: dict[str, Any]) -> list[str]:
    """A Zamba config.json's block kinds as ZambaConfig reads them: layers_block_type's (read
    as layer_types), or, where it gives none, two Mamba blocks, a hybrid one, then a hybrid one
    wherever the index past those three is attn_layer_offset modulo attn_layer_period (three
    kinds however few the blocks, as ZambaConfig derives them)."""
    if (kinds := values.get("layer_types")) is not None:
        return list(kinds)
    period, offset = values["attn_layer_period"], values["attn_layer_offset"]
    return ["mamba", "mamba", "hybrid"] + ["hybrid" if i % period == offset else "mamba"
                                           for i in range(values["num_hidden_layers"] - 3)]


def xlstm_sizes(values: dict[str, Any]) -> tuple[int, int, int, int]:
    """(hidden_size, embedding_dim, num_hidden_layers, num_blocks) as xLSTMConfig resolves an
    xLSTM config's values (5.17, 5.25): hidden_size and num_hidden_layers as given, their
    defaults (4096, 32) where left out and embedding_dim's / num_blocks' where null; those two
    theirs where null. xLSTMModel builds its embeddings embedding_dim wide and num_blocks
    blocks, everything else and xLSTMCache reads hidden_size and num_hidden_layers."""
    def pair(own: str, alias: str, default: int) -> tuple[int, int]:
        value = values[own] if own in values else default
        value = values.get(alias) if value is None else value
        return value, values.get(alias) if values.get(alias) is not None else value

    return (*pair("hidden_size", "embedding_dim", 4096),
            *pair("num_hidden_layers", "num_blocks", 32))


def axk1_mlp_kinds(values: dict[str, Any]) -> list[str]:
    """An A.X K1 config's MLP kinds as AXK1Config derives them in transformers 5.25 (A.X
    K2's as AXK2Config does, in 5.24 and 5.25): its
    mlp_layer_types, else block i sparse where i >= first_k_dense_replace (1 by default) and
    i is a multiple of moe_layer_freq (1 by default)."""
    if values.get("mlp_layer_types"):
        return list(values["mlp_layer_types"])
    first = values.get("first_k_dense_replace", 1)
    freq = values.get("moe_layer_freq", 1)
    return ["sparse" if i >= first and i % freq == 0 else "dense"
            for i in range(values["num_hidden_layers"])]


def without_null_shapes(values: dict[str, Any]) -> dict[str, Any]:
    """`values` without the optional shape keys set to null, which mean what leaving them out
    means: the family's class default (Gemma's head_dim is 256, not hidden_size / heads) or
    what the class derives. transformers 5's configs refuse a null for most families (a
    validation traceback when the model is built), so the loader and the counts both read a
    config.json through this and agree on its shapes."""
    return {key: value for key, value in values.items()
            if not (key in OPTIONAL_SHAPE_KEYS and value is None)}


def with_partial_rotary(values: dict[str, Any]) -> dict[str, Any]:
    """`values` (a config.json's) with the rotated part of each head that its family's
    `rotary_dim_key` gives in dimensions (MiniMax-M2's `rotary_dim`: 64 of head_dim 128) also
    given as the `partial_rotary_factor` transformers' rotary modules read, where `values` name
    no factor: transformers 5.25's MiniMaxM2Config converts it so itself, 5.17's ignores it and
    rotates the whole of each head, another model than the published one."""
    model_type = values.get("model_type")
    key = FAMILIES[model_type].rotary_dim_key if model_type in FAMILIES else None
    if key is None or values.get(key) is None:
        return values
    rope = values.get("rope_parameters") or values.get("rope_scaling")
    if "partial_rotary_factor" in values or (isinstance(rope, dict)
                                             and "partial_rotary_factor" in rope):
        return values
    head = values.get("head_dim") or CONFIG_DEFAULTS[model_type]["head_dim"]
    return {**values, "partial_rotary_factor": values[key] / head}


def with_boolean_flags(values: dict[str, Any]) -> dict[str, Any]:
    """`values` (a config.json's) with Llama 4's `attn_temperature_tuning` given as a number
    read as the boolean it means: Llama-4-Scout's published config.json gives 4, which the
    transformers that wrote it (4.51) took as true (Llama4TextAttention tests only its truth);
    5.17's and 5.25's Llama4TextConfig refuse any value but a boolean."""
    value = values.get("attn_temperature_tuning")
    if values.get("model_type") != "llama4_text" or isinstance(value, bool) or not isinstance(
            value, (int, float)):
        return values
    return {**values, "attn_temperature_tuning": bool(value)}


# Model types whose config.json transformers reads with another type's config class, whose
# saves write the class's type: read as that type, its family's (every model-type-keyed table
# and check then applies). AI Sweden's GPT-SW3: "gpt-sw3" is GPT2Config's (AutoConfig's own
# alias, in 5.17 and 5.25), built as GPT2LMHeadModel.
READ_AS_TYPE = {"gpt-sw3": "gpt2"}


def as_class_type(values: dict[str, Any]) -> dict[str, Any]:
    """Config values with a model type transformers reads with another type's class
    (`READ_AS_TYPE`) given as that type; others as they are."""
    if (model_type := values.get("model_type")) in READ_AS_TYPE:
        return {**values, "model_type": READ_AS_TYPE[model_type]}
    return values


# The families of Gated DeltaNet blocks beside full-attention ones (gated but OLMo Hybrid's),
# by model_type: what messages call such a model.
GATED_DELTANET_TYPES = {"qwen3_next": "Qwen3-Next", "qwen3_5_text": "Qwen3.5",
                        "qwen3_5_moe_text": "Qwen3.5-MoE", "olmo_hybrid": "OLMo Hybrid",
                        "qwen4_exp_text": "Qwen4-Exp"}


def qwen3_next_layer_types(values: dict[str, Any]) -> Any:
    """A Qwen3-Next or Qwen3.5 config.json's block kinds: its layer_types, or as
    Qwen3NextConfig (and Qwen3.5's text configs) derive them where it gives none (Qwen3-Next's
    published one gives full_attention_interval alone): every interval-th block (4th) full
    attention, the others Gated DeltaNet. OlmoHybridConfig has no interval (every 4th block)
    and makes the last block full attention where that leaves none (fewer than 4 blocks)."""
    if values.get("layer_types"):
        return values["layer_types"]
    interval = values.get("full_attention_interval") or 4
    defaults = CONFIG_DEFAULTS[values.get("model_type") or "qwen3_next"]
    blocks = values.get("num_hidden_layers", defaults["num_hidden_layers"])
    kinds = ["linear_attention" if (i + 1) % interval else "full_attention"
             for i in range(blocks if isinstance(blocks, int) else 0)]
    if values.get("model_type") == "olmo_hybrid" and kinds and "full_attention" not in kinds:
        kinds[-1] = "full_attention"
    return kinds


# LaraMiniConfig's block kinds where a config.json gives none (5.24, 5.25): the released
# period of five, cycled.
LARA_MINI_PERIOD = ("linear_attention", "sliding_attention", "linear_attention",
                    "full_attention", "sliding_attention")


DORY_SECTIONS = ("n_input_layers", "n_recurrent_layers", "n_output_layers")


def dory_values(values: dict[str, Any]) -> dict[str, Any]:
    """A Dory config.json's block values as DoryConfig reads them: where its layer_types list
    each block twice (an attention and an "mlp" entry, as released and as DoryConfig.to_dict
    writes them), the kinds of the attention entries and num_hidden_layers and the three
    section sizes halved (the defaults too, as the class halves whatever it holds); without
    layer_types a sliding_attention block but every fourth; n_recurrent_layers, where null,
    the blocks the other two sections leave."""
    kinds = values.get("layer_types")
    out = {key: values.get(key) for key in ("num_hidden_layers", *DORY_SECTIONS)}
    if kinds is not None and "mlp" in kinds:
        kinds = kinds[::2]
        out = {key: None if value is None else value // 2 for key, value in out.items()}
    if kinds is None:
        kinds = ["full_attention" if (i + 1) % 4 == 0 else "sliding_attention"
                 for i in range(out["num_hidden_layers"])]
    if out["n_recurrent_layers"] is None:
        out["n_recurrent_layers"] = (out["num_hidden_layers"] - out["n_input_layers"]
                                     - out["n_output_layers"])
    return {**out, "layer_types": kinds}


def lara_mini_layer_types(blocks: int) -> list[str]:
    """A Lara Mini config.json's block kinds as LaraMiniConfig derives them where it gives no
    layer_types: LARA_MINI_PERIOD over the blocks."""
    return [LARA_MINI_PERIOD[i % len(LARA_MINI_PERIOD)] for i in range(blocks)]


# The block kinds Granite 4.0's published config.json files name by their older names
# (`layer_types`, or `layers_block_type` as GraniteMoeHybridConfig's attribute_map reads it),
# as transformers' config (5.17 and 5.25) renames them.
GRANITE_HYBRID_KINDS = {"mamba": "linear_attention", "attention": "full_attention"}


def granite_hybrid_layer_types(values: dict[str, Any]) -> Any:
    """A Granite 4.0 config.json's block kinds under transformers' names: its layer_types (or
    layers_block_type) renamed, or, where it gives none, a Mamba-2 mixer in every block, as
    GraniteMoeHybridConfig derives them."""
    kinds = values.get("layer_types") or values.get("layers_block_type")
    if isinstance(kinds, list):
        return [GRANITE_HYBRID_KINDS.get(kind, kind) for kind in kinds]
    blocks = values.get("num_hidden_layers")
    return ["linear_attention"] * (blocks if isinstance(blocks, int) else 0)


def bamba_layer_types(values: dict[str, Any]) -> list[str]:
    """A Bamba config.json's block kinds as BambaConfig derives its layers_block_type: attention
    ("full_attention") in the blocks attn_layer_indices lists, a Mamba-2 mixer
    ("linear_attention") in every other one (every block where it lists none)."""
    listed = values.get("attn_layer_indices") or []
    blocks = values.get("num_hidden_layers")
    return ["full_attention" if i in listed else "linear_attention"
            for i in range(blocks if isinstance(blocks, int) else 0)]


def lfm3_layer_types(blocks: int) -> list[str]:
    """Lfm3Config's block kinds where a config gives none: of every four blocks, the third full
    attention, the first windowed attention (but block 0), the others short convolutions."""
    return ["full_attention" if i % 4 == 2 else "sliding_attention" if i % 4 == 0 and i > 0
            else "conv" for i in range(blocks)]
