"""LoRA recovery settings: the study's defaults, and a config's `lora:` section checked over them.

No torch here: the workflow resolves these settings when it parses the config.
The study's recovery: peft LoRA with r 8, alpha 16, dropout 0.05 on q, k, v, o, gate, up and down
projections; Alpaca-cleaned with 2000 records held out; prompts masked from the loss; cut at 256
tokens; 2 epochs, lr 1e-4 with 100 warm-up steps, batch 64 of micro-batches of 4; fp16 on GPU.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from prunebench import PrunebenchError
from prunebench.checkpoint.param_count import (PACKED_PARTS, family, is_moe,
                                               sparse_mlp_blocks)

# Prompt templates of the instruction records (prunebench.instructions formats them).
TEMPLATES: dict[str, dict[str, str]] = {
    "alpaca": {
        "with_input": ("Below is an instruction that describes a task, paired with an input that "
                       "provides further context. Write a response that appropriately completes "
                       "the request.\n\n### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n"
                       "### Response:\n"),
        "no_input": ("Below is an instruction that describes a task. Write a response that "
                     "appropriately completes the request.\n\n### Instruction:\n{instruction}\n\n"
                     "### Response:\n"),
    },
    "plain": {
        "with_input": "{instruction} {input}",
        "no_input": "{instruction}",
    },
}
# What joins a template's prompt and the response into the text the model learns from: the
# Alpaca prompt ends with a newline; the plain one is followed by a space.
RESPONSE_SEPARATORS: dict[str, str] = {"alpaca": "", "plain": " "}


TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def packed_target_problems(targets: list[str],
                           packed: Iterable[str] = tuple(PACKED_PARTS)) -> list[str]:
    """Targets that name some parts of a module of `packed` (the model's packed modules) but
    not all (Phi-3's qkv_proj is q_proj, k_proj and v_proj at once): its one adapter would
    change the unnamed parts too."""
    problems = []
    for module in packed:
        parts = PACKED_PARTS[module]
        named = [p for p in parts if p in targets]
        if named and len(named) < len(parts):
            problems.append(
                f"lora.target_modules names {named} but not "
                f"{[p for p in parts if p not in named]}: this model packs {', '.join(parts)} "
                f"into one {module}, whose adapter changes all of them; name all of "
                f"{list(parts)} or none")
    return problems

MLP_TARGETS = ("gate_proj", "up_proj", "down_proj")
# Mixtures of experts whose every block holds dense MLPs of linear layers under LLaMA's MLP
# names beside its experts, which the MLP targets adapt (the experts, fused 3D parameters,
# none): LongCat-Flash's two `mlps.0` and `mlps.1` a block (LongcatFlashMLP, one after each of
# its attentions, beside the shortcut MoE `mlp`).
DENSE_MLPS_BESIDE_EXPERTS = ("longcat_flash",)


def ungated_target_problem(config, targets: list[str]) -> str | None:
    """gate_proj named for a model whose MLP has no gate (Arcee, Nemotron, Starcoder2, Phi,
    Apertus: `Family.ungated_mlp`), or None. The study's targets, every one of TARGETS (the
    default), mean every projection a block has, which in an ungated MLP are up_proj and
    down_proj: they stand. A shorter list that names gate_proj asks for an adapter on a
    projection the model does not have, which would otherwise be left out without a word:
    refused, with the list to write. Said by the LoRA job (lora.lora_target_names) and at the
    workflow's start (plan.checks.packed_lora_target_problems)."""
    if (not family(config).ungated_mlp or "gate_proj" not in targets
            or all(t in targets for t in TARGETS)):
        return None
    kept = [t for t in TARGETS if t in targets and t != "gate_proj"]
    return (f"lora.target_modules names gate_proj, but {family(config).model_class}'s MLP has no "
            "gate (it computes down_proj(act(up_proj(x)))): take gate_proj out"
            f"{f' ({kept})' if kept else ', naming up_proj for its MLP'}, or keep the default "
            "(all seven), which adapts every projection the model has")


def expert_target_problem(config, targets: list[str]) -> str | None:
    """MLP targets on a mixture of experts, or None: its experts' gate, up and down
    projections are fused 3D parameters (`mlp.experts.gate_up_proj`, `mlp.experts.down_proj`),
    no linear layer an adapter can wrap, so the MLP targets would adapt none of its experts
    (only Qwen3-MoE's and Qwen2-MoE's dense blocks, and Qwen2-MoE's shared expert) while the
    settings said every block's MLP. Not where every block holds dense MLPs beside its
    experts (DENSE_MLPS_BESIDE_EXPERTS: LongCat-Flash's), which the MLP targets adapt. Targets
    naming some of the parts of one of its attention's own modules (`own_target_problem`) are
    refused first, and JetMoE's query and output targets (`attention_expert_target_problem`).
    Said by the LoRA job (lora.lora_target_names) and at the workflow's start
    (plan.checks.moe_problems)."""
    if problem := own_target_problem(config, targets):
        return problem
    if family(config).attention_experts:
        return attention_expert_target_problem(config, targets)
    if getattr(config, "model_type", None) == "inkling2_text" and targets:
        # (Inkling 2: none of its linear layers has LLaMA's names as a block's own)
        return (f"lora.target_modules names {targets}, which {family(config).model_class} "
                "does not hold as linear layers an adapter can wrap under those names: its "
                "attention's projections are modules of their own around a linear layer "
                "(q_proj.linear; k_proj.linear and v_proj.linear beside their short "
                "convolutions; o_proj.linear beside its gate, o_proj.gate_proj), and its "
                "experts are fused 3D parameters, so a +lora recovery has nothing of those "
                "names to adapt: take +lora out of its variants")
    named = [t for t in targets if t in MLP_TARGETS]
    if (not (named and is_moe(config) and any(sparse_mlp_blocks(config)))
            or getattr(config, "model_type", None) in DENSE_MLPS_BESIDE_EXPERTS):
        return None
    attention = [t for t in targets if t not in MLP_TARGETS] or ["q_proj", "k_proj", "v_proj",
                                                                 "o_proj"]
    return (f"lora.target_modules names {named}, but {family(config).model_class} holds its "
            "experts' projections as fused 3D parameters, not linear layers an adapter can "
            f"wrap: set lora.target_modules to the attention projections ({attention})")


# JetMoE's targets (JetMoeAttention): its keys and values, one kv_proj every attention expert
# reads (OWN_TARGETS).
ATTENTION_EXPERT_TARGETS = ("k_proj", "v_proj")


def attention_expert_target_problem(config, targets: list[str]) -> str | None:
    """JetMoE's targets other than k_proj and v_proj, or None: its queries and attention
    outputs are its attention experts' (`self_attention.experts.input_linear` /
    `output_linear`, each a 3D parameter of a query or output projection an expert), and its
    MLP's gate, up and down projections its MLP experts' alike: no linear layer peft's LoRA
    wraps. (peft adapts a 3D parameter only through `target_parameters`, whose wrapper refuses
    any lora.dropout, the study's 0.05 among them, and reads the tensor as [experts, in, out],
    where JetMoE's hold [experts, out, in]; prunebench adapts no family's experts.)"""
    fused = [t for t in targets if t not in ATTENTION_EXPERT_TARGETS]
    if not fused:
        return None
    return (f"lora.target_modules names {fused}, which {family(config).model_class} holds as "
            "its experts' fused 3D parameters, not linear layers an adapter can wrap: its "
            "attention's query and output projections are its attention experts' "
            "(self_attention.experts), its MLP's projections its MLP experts'; set "
            f"lora.target_modules to {list(ATTENTION_EXPERT_TARGETS)} (the one kv_proj of "
            "keys and values every attention expert reads)")


# Multi-head latent attention's linear layers (DeepseekV3Attention's, and every family's of
# `Family.latent_attention`: DeepSeek-V2 / V3 / V3.2, Kimi, Mistral 4, GLM-4.7-Flash, MiniCPM3,
# Youtu...), each with the targets it needs all of, so that a target adapts what it names in
# every family: q_proj the query path, where q_lora_rank is set q_a_proj (hidden ->
# q_lora_rank) and q_b_proj (-> the heads), else the one q_proj (LLaMA's name: adapted as
# LLaMA's, as A.X K2's q_gate_proj is, projections.OWN_NAMES); k_proj and v_proj together
# kv_a_proj_with_mqa (hidden -> the latent of keys and values, and the rotated key every head
# shares) and kv_b_proj (the latent -> each head's unrotated key and its value): each makes
# keys and values both, so an adapter there changes both (named together or not at all, as a
# packed module's parts); o_proj its o_proj. An indexer's projections (DeepSeek-V3.2's,
# GLM-5's: `self_attn.indexer`, choosing keys) and an attention's output gate (HY-V4's
# gate_proj, Dots 3 Note's g_proj) are no target's.
LATENT_QUERY_TARGETS: dict[str, tuple[str, ...]] = {"q_a_proj": ("q_proj",),
                                                     "q_b_proj": ("q_proj",)}
LATENT_TARGETS: dict[str, tuple[str, ...]] = {
    **LATENT_QUERY_TARGETS,
    "kv_a_proj_with_mqa": ("k_proj", "v_proj"), "kv_b_proj": ("k_proj", "v_proj")}
# Other families whose attention names its linear layers otherwise than LLaMA's: the linear
# layers of a block's attention that LoRA's targets adapt, each with the targets it needs all
# of (lora.lora_target_names reads these before the names). DeepSeek-V4's
# (DeepseekV4Attention): q_proj its query path, q_a_proj and q_b_proj as latent attention's;
# k_proj and v_proj its kv_proj, one key-value head read as keys and as values; o_proj its
# o_b_proj (the groups' outputs -> hidden). Its o_a_proj (DeepseekV4GroupedLinear, an
# nn.Linear of one group's rows applied to every group, block-diagonal) is none: peft wraps it
# as a plain Linear whose adapter reads each group's input and gives all groups' outputs (a
# shape error wherever o_groups > 1). Its compressor's and indexer's projections (their own
# kv_proj, gate_proj, q_b_proj, weights_proj: float32 in a float16 model) are no target's, as
# DeepSeek-V3.2's indexer is not. JetMoE's (JetMoeAttention, a block's `self_attention`):
# k_proj and v_proj its kv_proj, [keys; values] every attention expert reads; its queries and
# outputs are its attention experts' 3D parameters (attention_expert_target_problem).
OWN_TARGETS: dict[str, dict[str, tuple[str, ...]]] = {
    "deepseek_v4": {**LATENT_QUERY_TARGETS,
                    "kv_proj": ("k_proj", "v_proj"), "o_b_proj": ("o_proj",)},
    "jetmoe": {"kv_proj": ATTENTION_EXPERT_TARGETS},
}


def own_targets(config) -> dict[str, tuple[str, ...]]:
    """The attention's linear layers of `config`'s family that LoRA's targets adapt by a table
    (OWN_TARGETS, LATENT_TARGETS), each with the targets it needs; {} where every one is
    adapted by LLaMA's name."""
    own = OWN_TARGETS.get(getattr(config, "model_type", None))
    if own is None and family(config).latent_attention:
        return LATENT_TARGETS
    return own or {}


def own_target_problem(config, targets: list[str]) -> str | None:
    """Targets naming some of the parts one of `own_targets`' modules needs (k_proj without
    v_proj: DeepSeek-V4's kv_proj, JetMoE's, latent attention's kv_a_proj_with_mqa and
    kv_b_proj are both), or None: its one adapter would change the unnamed part too."""
    own = own_targets(config)
    for parts in dict.fromkeys(own.values()):
        named = [p for p in parts if p in targets]
        if named and len(named) < len(parts):
            modules = " and one ".join(m for m, p in own.items() if p == parts)
            return (f"lora.target_modules names {named} but not "
                    f"{[p for p in parts if p not in named]}: {family(config).model_class} "
                    f"reads one {modules} as {' and '.join(parts)}, whose adapter changes all "
                    f"of them; name all of {list(parts)} or none")
    return None


# The study's recovery settings. `eval_every`: None = validate at the end of every epoch, N =
# every N optimizer steps. `amp`: auto = float16 autocast on CUDA (the study), none on CPU.
DEFAULTS: dict[str, Any] = {
    "r": 8,
    "alpha": 16,
    "dropout": 0.05,
    "target_modules": list(TARGETS),
    "epochs": 2,
    "lr": 1e-4,
    "weight_decay": 0.0,
    "warmup_steps": 100,
    "max_grad_norm": 1.0,
    "batch_size": 64,
    "micro_batch_size": 4,
    "max_length": 256,
    "template": "alpaca",
    "eval_every": None,
    "log_every": 10,
    "amp": "auto",
    "gradient_checkpointing": False,
    "seed": 42,
    # n_recall: sentence-completion records among the embedded ones (None: a quarter).
    "data": {"source": "alpaca", "val_size": 2000, "max_train": None, "seed": 42,
             "n_recall": None},
}
AMP = ("auto", "none", "float16", "bfloat16")
# Settings a config may give but that have no default: left out, a section has no such key, so
# the settings (the lora rule's params) of every config without it stay as they were.
# `save_every`: N = only the evaluations at multiples of N steps are candidates for the adapter
# kept (the HF Trainer's `save_steps` with `load_best_model_at_end`, the study's 200); left out,
# every evaluation and the base model (step 0) are.
# `keep`: "best" (the same as left out) = the candidate with the lowest validation loss;
# "last" = the adapter of the last step, whatever the validations say: what the study's run
# kept (its Trainer's load_best_model_at_end matched none of the saved adapter's names and
# loaded nothing; docs/fidelity.md).
# `loss_weighting`: "tokens" (the same as left out) = the loss is the mean over a batch's
# scored tokens; "batch_means" = the study's HF Trainer's mean of micro-batch means (and, in
# validation, of its batches of 8: prunebench.lora.backward_batch, validation_loss).
OPTIONAL = ("save_every", "keep", "loss_weighting")
KEEP = ("best", "last")
LOSS_WEIGHTINGS = ("tokens", "batch_means")
# `data.split`, no default either: how the records are split into training and validation.
# "shuffle" (the same as left out) = Python's `random.Random(data.seed).shuffle`, the first
# val_size held out; "train_test_split" = the `datasets` library's
# `Dataset.train_test_split(test_size=val_size, shuffle=True, seed=data.seed)`, which the
# study's recovery script calls (with seed 42): the same held-out records, so the same
# records trained on (prunebench.instructions.split_records).
DATA_OPTIONAL = ("split",)
SPLITS = ("shuffle", "train_test_split")


# --------------------------------------------------------------------------- settings

def resolve_settings(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The study's defaults with `overrides` (the config's `lora:` section) on top, checked."""
    # An optional setting given as null is one left out: the settings (the lora rule's params)
    # are then those of a config without it.
    overrides = {k: v for k, v in (overrides or {}).items() if not (k in OPTIONAL and v is None)}
    known = {*DEFAULTS, *OPTIONAL}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise PrunebenchError(f"unknown lora setting(s) {unknown}: known are {sorted(known)}")
    data = dict(DEFAULTS["data"])
    data_over = {k: v for k, v in (overrides.pop("data", None) or {}).items()
                 if not (k in DATA_OPTIONAL and v is None)}
    unknown = sorted(set(data_over) - {*data, *DATA_OPTIONAL})
    if unknown:
        raise PrunebenchError(f"unknown lora.data setting(s) {unknown}: known are "
                              f"{sorted({*data, *DATA_OPTIONAL})}")
    data.update(data_over)
    settings = {**copy.deepcopy(DEFAULTS), **overrides, "data": data}
    _check(settings)
    # Adapters go on the named projections in the model's module order, whatever the list's
    # (lora.lora_target_names): a list in another order, or naming one twice, is the same
    # recovery, and so gets the same settings (the lora rule's params: nothing reruns).
    settings["target_modules"] = [t for t in TARGETS if t in settings["target_modules"]]
    return settings


def split_problem(n_records: int, val_size: int) -> str | None:
    """Why `n_records` instruction records cannot give a validation split of `val_size` and
    something to train on, or None."""
    if n_records <= val_size:
        return (f"only {n_records} instruction records for a validation split of {val_size}: "
                "lower lora.data.val_size or use more data")
    return None


# The settings untrained_problem reads.
UNTRAINED_KEYS = ("batch_size", "epochs", "warmup_steps", "data")


def untrained_problem(n_train: int, s: dict[str, Any]) -> str | None:
    """Why a recovery on `n_train` training records with settings `s` would train nothing, or
    None: records that fill at most one batch in a single epoch make one optimizer step, and a
    warm-up gives the first step a learning rate of 0 (the linear schedule starts there,
    lora._lr_factor), so the adapters stay zero and the base model (step 0) is kept as the
    recovered one. Checked with the config where lora.data.max_train bounds the records, and
    on the records before the model loads."""
    batch, epochs, warmup = int(s["batch_size"]), int(s["epochs"]), s["warmup_steps"]
    if n_train > batch or epochs != 1 or warmup <= 0:
        return None
    more = ("raise lora.data.max_train" if s["data"].get("max_train") is not None
            else "lower lora.data.val_size, or use more data")
    return (f"{n_train} training record(s) fill one batch of lora.batch_size={batch} "
            f"in lora.epochs=1, one optimizer step, and lora.warmup_steps={warmup} starts "
            "its learning rate at 0: nothing would train, and the base model (step 0) would be "
            f"kept as the recovered one: train on more than {batch} records ({more}), or set "
            "lora.epochs to 2 or more, or lora.warmup_steps to 0")


def _check(s: dict[str, Any]) -> None:
    # Types first (`prunebench recover --setting dropout=abc` reaches here without a schema).
    for key in ("dropout", "weight_decay", "max_grad_norm", "warmup_steps"):
        if isinstance(s[key], bool) or not isinstance(s[key], (int, float)):
            raise PrunebenchError(f"lora.{key}={s[key]!r}: must be a number")
    if not isinstance(s["gradient_checkpointing"], bool):
        raise PrunebenchError(f"lora.gradient_checkpointing={s['gradient_checkpointing']!r}: "
                              "must be true or false")
    bad = [t for t in s["target_modules"] if t not in TARGETS]
    if bad or not s["target_modules"]:
        raise PrunebenchError(f"lora.target_modules {s['target_modules']}: unknown or empty "
                              f"({bad}); choose among {list(TARGETS)}")
    positive = {"r": s["r"], "alpha": s["alpha"], "epochs": s["epochs"], "lr": s["lr"],
                "batch_size": s["batch_size"], "micro_batch_size": s["micro_batch_size"],
                "max_length": s["max_length"], "log_every": s["log_every"]}
    for key, value in positive.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            raise PrunebenchError(f"lora.{key}={value!r}: must be a positive number")
    for key in ("r", "batch_size", "micro_batch_size", "max_length", "epochs"):
        if int(s[key]) != s[key]:
            raise PrunebenchError(f"lora.{key}={s[key]!r}: must be a whole number")
    if not 0 <= s["dropout"] < 1:
        raise PrunebenchError(f"lora.dropout={s['dropout']}: must be in [0, 1)")
    if s["batch_size"] % s["micro_batch_size"]:
        raise PrunebenchError(f"lora.batch_size={s['batch_size']} is not a multiple of "
                              f"micro_batch_size={s['micro_batch_size']}: gradients are "
                              "accumulated over whole micro-batches")
    if s["warmup_steps"] < 0 or s["weight_decay"] < 0 or s["max_grad_norm"] < 0:
        raise PrunebenchError("lora.warmup_steps, weight_decay and max_grad_norm must be >= 0 "
                              "(max_grad_norm 0 turns clipping off)")
    if s["eval_every"] is not None and (int(s["eval_every"]) != s["eval_every"] or s["eval_every"] < 1):
        raise PrunebenchError(f"lora.eval_every={s['eval_every']!r}: a positive step count, or "
                              "null to validate at the end of every epoch")
    save_every = s.get("save_every")
    if save_every is not None:
        if isinstance(save_every, bool) or not isinstance(save_every, int) or save_every < 1:
            raise PrunebenchError(f"lora.save_every={save_every!r}: a positive step count, or "
                                  "leave it out to choose among every evaluation")
        if s["eval_every"] is None or save_every % int(s["eval_every"]):
            raise PrunebenchError(
                f"lora.save_every={save_every} needs evaluations at its steps: set "
                f"lora.eval_every to a divisor of it (now {s['eval_every']}; the study: "
                "eval_every 100, save_every 200)")
    keep = s.get("keep")
    if keep is not None and keep not in KEEP:
        raise PrunebenchError(f"lora.keep={keep!r}: choose one of {list(KEEP)} (best: the adapter "
                              "with the lowest validation loss; last: the last step's)")
    weighting = s.get("loss_weighting")
    if weighting is not None and weighting not in LOSS_WEIGHTINGS:
        raise PrunebenchError(f"lora.loss_weighting={weighting!r}: choose one of "
                              f"{list(LOSS_WEIGHTINGS)} (tokens: the mean over a batch's "
                              "response tokens; batch_means: the study's mean of micro-batch "
                              "means)")
    if keep == "last" and save_every is not None:
        raise PrunebenchError("lora.save_every chooses among validations, which lora.keep: last "
                              "does not do: leave one of them out")
    if s["template"] not in TEMPLATES:
        raise PrunebenchError(f"lora.template={s['template']!r}: choose one of {sorted(TEMPLATES)}")
    if s["amp"] not in AMP:
        raise PrunebenchError(f"lora.amp={s['amp']!r}: choose one of {list(AMP)}")
    if s["data"]["source"] not in ("embedded", "alpaca"):
        raise PrunebenchError(f"lora.data.source={s['data']['source']!r}: use 'embedded' or "
                              "'alpaca'")
    split = s["data"].get("split")
    if split is not None and split not in SPLITS:
        raise PrunebenchError(f"lora.data.split={split!r}: choose one of {list(SPLITS)} "
                              "(shuffle: Python's seeded shuffle; train_test_split: the "
                              "`datasets` library's, as the study's recovery)")
    # The schema's bounds, for callers that do not go through it (`prunebench recover`): a
    # negative max_train would slice records off the end instead of being refused.
    for key, least, may_be_null in (("val_size", 1, False), ("max_train", 1, True),
                                    ("n_recall", 0, True), ("seed", 0, False)):
        value = s["data"].get(key)
        if value is None and may_be_null:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise PrunebenchError(f"lora.data.{key}={value!r}: must be a whole number >= {least}"
                                  + (", or null" if may_be_null else ""))
    if s["data"].get("max_train") is not None:  # the most records it trains on, known now
        problem = untrained_problem(s["data"]["max_train"], s)
        if problem:
            raise PrunebenchError(problem)
