"""LoRA recovery: fine-tune a (pruned) checkpoint with low-rank adapters, keep the adapter with
the lowest validation loss, merge it and save a normal checkpoint.

The study's recovery settings are `prunebench.plan.lora_settings.DEFAULTS`; every key can be
overridden (the embedded default config runs a short CPU version).

Works on every checkpoint the pipeline makes: depth-pruned (fewer blocks), width-pruned (per-
block shapes, output biases) and blocks left with no heads, whose attention (`ZeroHeadAttention`)
has no q/k/v and an o_proj with no inputs: adapters go on the non-empty projections only.
The merged model is a plain model of its family (`LlamaForCausalLM`, `Qwen2ForCausalLM`, ...:
every supported family names its projections the same) saved by `modeling.save_model`, so
loading it never needs peft.

A recovered variant is named `<base variant>+lora` (`depth_ppl-0.8+lora`, `dense+lora`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import signal
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from prunebench import PrunebenchError, ResourceError, projections
from prunebench.checkpoint.param_count import (PACKED_PARTS, context_key, context_length,
                                               cross_attention_blocks)
from prunebench.atomic import atomic_path, delete_at_successful_exit, is_disk_full
from prunebench.instructions import IGNORE_INDEX, collate, encode_records, split_records
from prunebench.logs import Terminated
from prunebench.oom import first_line, is_out_of_memory, out_of_memory_error
from prunebench.plan.lora_settings import (DEFAULTS, TARGETS,  # noqa: F401
                                           expert_target_problem, own_targets,
                                           packed_target_problems, resolve_settings,
                                           ungated_target_problem, untrained_problem)

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- adapters

def lora_target_names(model: nn.Module, targets: list[str]) -> tuple[list[str], list[str]]:
    """(full names of the linear layers that get an adapter, names skipped as empty).

    Names are given to peft in full: a suffix list would also match a zero-head block's o_proj,
    which has no inputs, so an adapter there could never learn anything. A module packing
    several of the targets' parts (Phi-3's qkv_proj: q_proj, k_proj, v_proj; Phi-3's and
    GLM's gate_up_proj: gate_proj, up_proj) gets one adapter when all its parts are targets;
    naming some of them only is refused, since its adapter would change the others too. An
    ungated MLP (Arcee, Nemotron, Starcoder2, Phi, Apertus) has no gate_proj: the default
    targets adapt its up_proj and down_proj, and a shorter list naming gate_proj is refused.
    The targets are LLaMA's names in every family: a module its family names otherwise is
    adapted as the part it is (projections.OWN_NAMES: up_proj is Starcoder2's c_fc and Phi's
    fc1, down_proj their c_proj and fc2, o_proj Phi's attention `dense`). A family whose
    attention names its linear layers otherwise has them adapted by the targets each needs
    (plan.lora_settings.own_targets): latent attention's q_proj its q_a_proj and q_b_proj,
    k_proj and v_proj together its kv_a_proj_with_mqa and kv_b_proj; DeepSeek-V4's k_proj and
    v_proj together its kv_proj, o_proj its o_b_proj; JetMoE's k_proj and v_proj its kv_proj.
    The MLP targets of a mixture of experts are refused (its experts are fused 3D parameters),
    but in LongCat-Flash, whose blocks hold two dense MLPs beside the experts (`mlps.0`,
    `mlps.1`): they adapt those (plan.lora_settings.DENSE_MLPS_BESIDE_EXPERTS). A Llama 3.2
    Vision model's cross-attention blocks, which no text forward runs, get none
    (param_count.text_blocks: an adapter there would never learn, and merge as nothing).
    """
    refuse_expert_targets(model, targets)
    # (by LLaMA's part names: Granite 4.0's input_linear is a packed gate_up_proj; of linear
    # layers only: ZAYA's qkv_proj is a module holding q_proj and k_proj apart)
    names = {projections.llama_name(name) for name, module in model.named_modules()
             if isinstance(module, nn.Linear)}
    if problems := packed_target_problems(targets, sorted(names & PACKED_PARTS.keys())):
        raise PrunebenchError(problems[0])
    chosen, skipped = [], []
    config = getattr(model, "config", None)
    own = own_targets(config) if config is not None else {}
    unrun = {id(m) for block in (cross_attention_blocks(config) if config is not None else [])
             for m in projections.decoder(model).layers[block].modules()}
    for name, module in model.named_modules():
        if id(module) in unrun:  # (a Llama 3.2 Vision cross-attention block's: not on text)
            continue
        path, _, last = name.rpartition(".")
        outer, _, owner = path.rpartition(".")
        if owner.isdigit():  # (LongCat-Flash's two attentions a block: self_attn.0, self_attn.1)
            owner = outer.rpartition(".")[2]
        if last in own and projections.ATTENTION_OWNERS.get(owner, owner) == "self_attn":
            parts = own[last]  # (an attention's own linear layer, by the targets it needs)
        else:
            part = projections.llama_name(name)
            parts = PACKED_PARTS.get(part, (part,))
        if isinstance(module, nn.Linear) and parts and all(p in targets for p in parts):
            (chosen if module.in_features and module.out_features else skipped).append(name)
    if not chosen:
        raise PrunebenchError(f"the model has no non-empty {list(targets)} projections to adapt: "
                              "check lora.target_modules")
    return chosen, skipped


def refuse_expert_targets(model: nn.Module, targets: list[str]) -> None:
    """Refuse MLP targets on a mixture of experts (plan.lora_settings.expert_target_problem),
    and gate_proj named for an ungated MLP (ungated_target_problem)."""
    config = getattr(model, "config", None)
    if config is not None and (problem := expert_target_problem(config, targets)
                               or ungated_target_problem(config, targets)):
        raise PrunebenchError(problem)


def attach_lora(model: nn.Module, settings: dict[str, Any]):
    """Wrap `model` in a peft model with adapters on the chosen projections (seeded init)."""
    from peft import LoraConfig, get_peft_model

    names, skipped = lora_target_names(model, settings["target_modules"])
    if skipped:
        log.info("no adapter on %d empty projection(s): %s", len(skipped), skipped[:8])
    config = LoraConfig(r=int(settings["r"]), lora_alpha=settings["alpha"],
                        lora_dropout=settings["dropout"], target_modules=names, bias="none",
                        task_type="CAUSAL_LM")
    torch.manual_seed(settings["seed"])  # lora_A's random init
    with warnings.catch_warnings():  # peft calls a transformers property deprecated in 5.x
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
        peft_model = get_peft_model(model, config)
    return peft_model, names, skipped


def trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


# --------------------------------------------------------------------------- training

def response_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    """(summed cross-entropy of the scored tokens, their count); -100 labels are not scored."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                   use_cache=False).logits
    labels = batch["labels"][:, 1:]
    loss = F.cross_entropy(logits[:, :-1].float().reshape(-1, logits.shape[-1]),
                           labels.reshape(-1), ignore_index=IGNORE_INDEX, reduction="sum")
    return loss, int((labels != IGNORE_INDEX).sum())


class _ValidationCut(Exception):
    """A SIGTERM came before or during a validation: it is left to the resumed run."""


# lora.loss_weighting: "tokens", the mean over a batch's scored tokens (prunebench's default);
# "batch_means", the study's HF Trainer's: the mean of its micro-batches' own token means in
# training, and in validation the mean of its batches' means weighted by their record counts
# (its evaluation loop repeats each batch's loss once per record): plan.lora_settings'
# LOSS_WEIGHTINGS.

# The HF Trainer's default per_device_eval_batch_size, which the study's run kept.
STUDY_EVAL_BATCH = 8


def backward_batch(model: nn.Module, micro_batches: list[dict[str, torch.Tensor]],
                   weighting: str, scaler, device: torch.device,
                   amp: torch.dtype | None) -> tuple[float, float]:
    """Accumulate the gradient of one batch's loss, micro-batch by micro-batch, weighted as
    `weighting` says (above); returns (its loss, its weight in a window's mean): under
    "tokens" the summed loss and the token count, under "batch_means" the batch's loss and 1.
    Under "batch_means" a micro-batch without a scored token adds a loss of 0 and still counts
    in the mean (the study's Trainer got NaN from it, and under float16 skipped the update)."""
    counts = [int((mb["labels"][:, 1:] != IGNORE_INDEX).sum()) for mb in micro_batches]
    total_tokens = sum(counts)
    batch_loss = 0.0
    for mb, count in zip(micro_batches, counts):
        mb = {k: v.to(device) for k, v in mb.items()}
        with _autocast(device, amp):
            loss, _ = response_loss(model, mb)
        if weighting == "tokens":
            divisor = max(total_tokens, 1)
        else:
            divisor = max(count, 1) * len(micro_batches)
        scaler.scale(loss / divisor).backward()
        batch_loss += float(loss.detach()) / (1 if weighting == "tokens" else divisor)
    return batch_loss, float(total_tokens if weighting == "tokens" else 1)


@torch.no_grad()
def validation_loss(model: nn.Module, examples: list[dict], micro_batch: int, pad_id: int,
                    device: torch.device, amp: torch.dtype | None = None, stop=None,
                    weighting: str = "tokens", group: int = STUDY_EVAL_BATCH) -> float:
    """The validation loss, dropout off, computed `micro_batch` records at a time: the mean
    loss per scored (response) token over the records, or under "batch_means" (above) the
    mean of the token means of `group` records at a time, each weighted by its record
    count (a group whose prompts fill max_length has no mean and is left out, as the "tokens"
    loss leaves its records out; counted as 0 it lowered the loss reported). With `stop` (a
    _StopAtStepEnd), a SIGTERM cuts it short (_ValidationCut): a validation of 2000 records
    of a 13B model may outlast a batch system's grace period."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    step = max(len(examples), 1) if weighting == "tokens" else group  # records per mean
    try:
        for g in range(0, len(examples), step):
            records = examples[g:g + step]
            summed, tokens = 0.0, 0
            for i in range(0, len(records), micro_batch):
                if stop is not None and stop.requested:
                    raise _ValidationCut()
                batch = {k: v.to(device)
                         for k, v in collate(records[i:i + micro_batch], pad_id).items()}
                with _autocast(device, amp):
                    loss, n = response_loss(model, batch)
                summed, tokens = summed + float(loss), tokens + n
            if weighting == "tokens":
                total, count = total + summed, count + tokens
            elif tokens:  # a group without a scored token has no mean: it is left out
                total, count = total + summed / tokens * len(records), count + len(records)
    finally:
        model.train(was_training)
    return total / max(count, 1)


def _autocast(device: torch.device, amp: torch.dtype | None):
    if amp is None:
        return torch.autocast(device.type, enabled=False)
    return torch.autocast(device.type, dtype=amp)


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


def _amp_dtype(setting: str, device: torch.device,
               base_dtype: torch.dtype | None = None) -> torch.dtype | None:
    """The autocast dtype of lora.amp. `auto`: none on a CPU; on CUDA the study's float16, but
    bfloat16 for a base stored in bfloat16 (Qwen2.5, Llama-3: trained in it, their activations
    may overflow float16) where the GPU computes in it (Ampere and later; torch emulates it,
    slowly, on older ones)."""
    if setting == "auto":
        if device.type != "cuda":
            return None
        from prunebench.modeling import computes_bfloat16

        if base_dtype == torch.bfloat16 and computes_bfloat16(device):
            return torch.bfloat16
        return torch.float16
    return {"none": None, "float16": torch.float16, "bfloat16": torch.bfloat16}[setting]


def _optimizer_step(scaler, opt: torch.optim.Optimizer) -> bool:
    """Step `opt` through the loss scaler; False when the scaler skipped the update (its
    gradients were not finite, so it lowered the scale), as accelerate tells the HF Trainer
    (`optimizer_step_was_skipped`: the scale went down). A disabled scaler never skips."""
    before = scaler.get_scale()
    scaler.step(opt)
    scaler.update()
    return scaler.get_scale() >= before


def _lr_factor(step: int, warmup: int, total: int) -> float:
    """Linear warm-up from 0, then linear decay to 0 at the last step: the factor of optimizer
    step `step` (0-based) under transformers' `get_linear_schedule_with_warmup`, the study's
    Trainer's schedule (its first step has learning rate 0)."""
    if step < warmup:
        return step / max(1, warmup)
    return max(0.0, (total - step) / max(1, total - warmup))


# --------------------------------------------------------------------------- resuming

# How often a recovery saves its progress (seconds of training between saves): a pre-empted
# or killed job then resumes at the last save instead of at step 0 (the study's recovery of a
# 7B model takes hours). A save of a 7B model's adapters and optimizer state takes seconds.
SAVE_EVERY_VARIABLE = "PRUNEBENCH_LORA_SAVE_EVERY_S"
SAVE_EVERY_S = 600.0
# Bumped when the saved progress changes meaning: older files are then started over.
PROGRESS_FORMAT = 1


def progress_path_for(out_dir: str | Path) -> Path:
    """Where the recovery into `out_dir` keeps its progress: beside it, hidden (the output
    folder itself appears only when the model is saved)."""
    out_dir = Path(out_dir)
    return out_dir.with_name(f".{out_dir.name}.lora-unfinished.safetensors")


def _save_every_s() -> float:
    value = os.environ.get(SAVE_EVERY_VARIABLE)
    try:
        return SAVE_EVERY_S if value is None else float(value)
    except ValueError:
        raise PrunebenchError(f"{SAVE_EVERY_VARIABLE}={value!r}: give seconds, e.g. 600") from None


class _StopAtStepEnd:
    """SIGTERM while training (a batch system's pre-emption or time limit, which leave a grace
    period before SIGKILL) ends the step under way, saves the progress there and then stops as
    SIGTERM stops any job (logs.Terminated): the rerun resumes at that step, not at the last
    timed save, up to SAVE_EVERY_S earlier. A second SIGTERM stops at once. Only the main
    thread may handle signals: elsewhere SIGTERM is left as it is."""

    def __enter__(self) -> _StopAtStepEnd:
        self.requested = False
        self._installed = threading.current_thread() is threading.main_thread()
        if self._installed:
            self._before = signal.signal(signal.SIGTERM, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise Terminated()
        self.requested = True
        log.warning("SIGTERM: the progress is saved at the end of this step, then the recovery "
                    "stops (a second SIGTERM stops it at once)")

    def __exit__(self, *exc) -> None:
        if self._installed:  # a handler set from C reads as None: the default instead
            signal.signal(signal.SIGTERM, signal.SIG_DFL if self._before is None
                          else self._before)


def _save_progress(path: Path, fingerprint: str, at: dict[str, Any], peft_model: nn.Module,
                   opt: torch.optim.Optimizer, scaler, shuffle: torch.Generator,
                   best_state: dict[str, torch.Tensor]) -> None:
    """Everything the loop needs to go on exactly as if it had not stopped, at a step's end:
    the adapters, the optimizer's and scaler's state, the random generators (dropout, the
    epoch's shuffle), the best adapter so far and the history. One safetensors file (tensors,
    and the rest as JSON in its metadata), written atomically: a job killed while saving
    keeps the previous save."""
    from safetensors.torch import save_file

    tensors = {f"trainable/{n}": p.detach().cpu().contiguous()
               for n, p in peft_model.named_parameters() if p.requires_grad}
    tensors.update({f"best/{n}": t.cpu().contiguous() for n, t in best_state.items()})
    for index, state in opt.state_dict()["state"].items():
        tensors.update({f"optimizer/{index}/{k}": v.detach().cpu().contiguous()
                        for k, v in state.items()})
    tensors["rng/torch"] = torch.get_rng_state()
    tensors["rng/shuffle"] = shuffle.get_state()
    if torch.cuda.is_available() and any(p.is_cuda for p in peft_model.parameters()):
        tensors["rng/cuda"] = torch.cuda.get_rng_state()
    meta = {"format": PROGRESS_FORMAT, "fingerprint": fingerprint, "scaler": scaler.state_dict(),
            **at}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"progress": json.dumps(meta)})


# The suffix a saved progress of another recovery is set aside under (one kept, the latest).
OTHER_SETTINGS = ".other-settings"


def _load_progress(path: Path | None, fingerprint: str) -> tuple[dict, dict] | None:
    """(metadata, tensors) of a saved progress of this same recovery, or None when there is
    none, or it belongs to other settings, data, base model, device or versions (set aside as
    `<name>.other-settings`), or
    it is damaged (set aside as `<name>.damaged`). A file the disk fails to read is no damage:
    ResourceError, and the file stays for the retry (a shared file system's hiccup must not
    throw hours of training away)."""
    if path is None or not path.exists():
        return None
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as saved:
            meta = json.loads((saved.metadata() or {})["progress"])
            tensors = {k: saved.get_tensor(k) for k in saved.keys()}
    except OSError as err:
        raise ResourceError(f"cannot read the saved LoRA progress {path} ({err}): it is kept "
                            "for the next attempt; check the file system") from None
    except (SafetensorError, KeyError, ValueError, TypeError) as err:
        damaged = path.with_name(f"{path.name}.damaged")
        os.replace(path, damaged)
        log.warning("the saved LoRA progress %s is damaged (%s): starting over (it is kept as "
                    "%s)", path, err, damaged.name)
        return None
    if meta.get("format") != PROGRESS_FORMAT or meta.get("fingerprint") != fingerprint:
        # Set aside, not deleted: a recovery rerun with a mistyped option would otherwise throw
        # away hours of the one it meant to resume.
        other = path.with_name(f"{path.name}{OTHER_SETTINGS}")
        os.replace(path, other)
        log.warning("the saved LoRA progress %s is of other settings, data, base model, device "
                    "or package versions: starting over. It is kept as %s (at step %s): to "
                    "resume it instead, stop this, move it back to %s and rerun with the "
                    "settings it was made with; delete it when it is not wanted", path,
                    other.name, meta.get("step"), path.name)
        return None
    return meta, tensors


def _fits(tensors: dict[str, torch.Tensor], peft_model: nn.Module,
          opt: torch.optim.Optimizer) -> str | None:
    """Why a saved progress does not fit this model and optimizer, or None: checked before
    anything is changed, so a misfit starts over instead of failing every retry."""
    params = [p for p in peft_model.parameters() if p.requires_grad]
    for name, param in peft_model.named_parameters():
        if param.requires_grad:
            saved = tensors.get(f"trainable/{name}")
            if saved is None or saved.shape != param.shape:
                return f"adapter {name} missing or of another shape"
    for key, value in tensors.items():
        if key.startswith("optimizer/"):
            _, index, name = key.split("/", 2)
            if not index.isdigit() or int(index) >= len(params):
                return f"optimizer state {key} has no parameter"
            if name.startswith("exp_avg") and value.shape != params[int(index)].shape:
                return f"optimizer state {key} is of another shape"
    if not {"rng/torch", "rng/shuffle"} <= set(tensors):
        return "random generator states missing"
    return None


def _restore_progress(tensors: dict[str, torch.Tensor], meta: dict, peft_model: nn.Module,
                      opt: torch.optim.Optimizer, scaler,
                      shuffle: torch.Generator) -> dict[str, torch.Tensor]:
    """Put a saved progress back into the model, optimizer and generators; its best adapter."""
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if param.requires_grad:
                param.copy_(tensors[f"trainable/{name}"])
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer/"):
            _, index, name = key.split("/", 2)
            state.setdefault(int(index), {})[name] = value
    saved = opt.state_dict()
    saved["state"] = state
    opt.load_state_dict(saved)  # moves the state to the parameters' device
    if meta["scaler"]:
        scaler.load_state_dict(meta["scaler"])
    torch.set_rng_state(tensors["rng/torch"])
    shuffle.set_state(tensors["rng/shuffle"])
    if "rng/cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng/cuda"])
    return {k.removeprefix("best/"): v for k, v in tensors.items() if k.startswith("best/")}


# --------------------------------------------------------------------------- training loop

def train_lora(model: nn.Module, tokenizer, train_records: list[dict], val_records: list[dict],
               settings: dict[str, Any], device: torch.device,
               progress_path: Path | None = None, fingerprint: str = "",
               saved_dtype: torch.dtype | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """Fine-tune LoRA adapters on `model` (float32 weights, on `device`) and merge the best.

    Returns (the merged plain model, the recovery report). The best adapter is the one with the
    lowest validation loss among the evaluations, step 0 (no adapter, the base model) included,
    so recovery never returns a model worse on the validation split than its base (in float32;
    rounded to a half-precision base's dtype as saved, within that rounding: saved_val_loss). With
    `save_every` only the evaluations at its multiples are candidates, as the study's HF Trainer
    chose among its saves (the base model never, the last step only on a multiple).
    Deterministic on CPU for a given seed, data and thread count.

    With `progress_path`, the progress is saved there every SAVE_EVERY_S seconds of training,
    and a saved progress with the same `fingerprint` (`recovery_fingerprint`) is resumed: on CPU
    the result is bit for bit the one of an uninterrupted run.

    With `saved_dtype` (the dtype the checkpoint will be saved in: the base's), the merged model
    is cast to it and its validation loss measured again (`saved_val_loss`): a float16 weight
    keeps about three significant digits, and the adapter's update to it is small beside it.
    It also decides `amp: auto` on CUDA (bfloat16 autocast for a bfloat16 base, _amp_dtype).
    """
    from prunebench.modeling import base_dropout_off, set_activation_checkpointing

    s = settings
    amp = _amp_dtype(s["amp"], device, saved_dtype)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    train = encode_records(train_records, tokenizer, s["template"], int(s["max_length"]), "train")
    val = encode_records(val_records, tokenizer, s["template"], int(s["max_length"]), "validation")
    micro, batch_size = int(s["micro_batch_size"]), int(s["batch_size"])
    weighting = s.get("loss_weighting") or "tokens"

    def loss_of(net: nn.Module, stop=None) -> float:  # the validation loss, as configured
        return validation_loss(net, val, micro, pad_id, device, amp, stop, weighting=weighting)

    steps_per_epoch = math.ceil(len(train) / batch_size)
    total_steps = int(s["epochs"]) * steps_per_epoch
    eval_every = int(s["eval_every"]) if s["eval_every"] else steps_per_epoch
    keep_every = s.get("save_every")  # the candidates' steps; None: every evaluation's
    warmup = int(s["warmup_steps"])
    if warmup >= total_steps:  # a short run on the study's 100 warm-up steps: a no-op, unsaid
        log.warning("lora.warmup_steps=%d is not below this run's %d optimizer step(s) (%d train "
                    "records, batch %d, %d epoch(s)): the learning rate never reaches lora.lr "
                    "(at most %.0f%% of it), so the adapters barely train: set warmup_steps "
                    "below %d (prunebench recover --warmup-steps), or train on more records",
                    warmup, total_steps, len(train), batch_size, int(s["epochs"]),
                    100 * _lr_factor(total_steps - 1, warmup, total_steps), total_steps)

    deterministic = torch.are_deterministic_algorithms_enabled()
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)
    # The adapters train on the model as it runs in eval mode, as the study's on LLaMA, which
    # has no dropout of its own: a family's own (Seed-OSS's attention and residual dropout,
    # 0.1) is off while training, restored on the model returned; lora.dropout applies alone.
    own_dropout = contextlib.ExitStack()
    own_dropout.enter_context(base_dropout_off(model))
    try:
        model.config.use_cache = False
        if s["gradient_checkpointing"]:
            set_activation_checkpointing(model, True)
        peft_model, names, skipped = attach_lora(model, s)
        peft_model.to(device)
        trainable = [p for p in peft_model.parameters() if p.requires_grad]
        n_trainable = sum(p.numel() for p in trainable)
        log.info("LoRA r=%d on %d projections: %s trainable params; %d train / %d validation "
                 "records, %d steps of %d (micro-batch %d)", s["r"], len(names),
                 f"{n_trainable:,}", len(train), len(val), total_steps, batch_size, micro)
        opt = torch.optim.AdamW(trainable, lr=s["lr"], weight_decay=s["weight_decay"],
                                foreach=False)
        scaler = torch.amp.GradScaler(device.type, enabled=amp == torch.float16)
        shuffle = torch.Generator().manual_seed(int(s["seed"]))

        resumed = _load_progress(progress_path, fingerprint)
        misfit = resumed and _fits(resumed[1], peft_model, opt)
        if misfit:
            log.warning("the saved LoRA progress %s does not fit this model (%s): starting over",
                        progress_path, misfit)
            progress_path.unlink(missing_ok=True)
            resumed = None
        if resumed:
            at, tensors = resumed
            best_state = _restore_progress(tensors, at, peft_model, opt, scaler, shuffle)
            history, best, initial = at["history"], at["best"], at["initial"]
            step, window_loss, window_tokens = at["step"], at["window_loss"], at["window_tokens"]
            # (a save from before skipped updates were counted: as if none had been skipped)
            updates = at.get("updates", step)
            pending_lr = at.get("pending_lr")  # the learning rate of a validation left to run
            resumed_at = [*at.get("resumed_at", []), step]
            log.info("resuming the LoRA recovery at step %d of %d (saved in %s)", step,
                     total_steps, progress_path)
        else:
            initial = loss_of(peft_model)
            if not math.isfinite(initial):
                log.warning("step 0: the base model's validation loss is %s under %s: its "
                            "forward pass overflows; if the adapters' losses are not finite "
                            "either, set lora.amp to bfloat16 (`--setting amp=bfloat16`) or none",
                            initial, "no autocast" if amp is None
                            else f"{_dtype_name(amp)} autocast")
            # With save_every, the base model is no candidate (the HF Trainer never saves it):
            # the first candidate evaluation then always wins over this infinite loss. A base
            # loss that is NaN counts as infinite too: NaN compares as no better than anything,
            # so no adapter could win over it.
            best = {"step": 0, "val_loss": initial if math.isfinite(initial) and not keep_every
                    else math.inf}
            best_state = trainable_state(peft_model)
            history = [{"step": 0, "epoch": 0.0, "train_loss": None, "val_loss": initial,
                        "lr": 0.0}]
            log.info("step 0: validation loss %.4f (the base model)", initial)
            step, window_loss, window_tokens = 0, 0.0, 0
            updates, pending_lr = 0, None
            at, resumed_at = {"epoch": 0, "elapsed_s": 0.0}, []
        save_every = _save_every_s()
        started = time.perf_counter() - at["elapsed_s"]
        last_save = time.monotonic()
        peft_model.train()

        def validate(stop) -> bool:
            """The validation of this step, recorded (the window's train loss, the best
            adapter); False when a SIGTERM cut it short, to be run by the resumed run (the
            adapters it sees are the same: a validation draws no random number)."""
            nonlocal window_loss, window_tokens, best, best_state
            try:
                val_loss = loss_of(peft_model, stop)
            except _ValidationCut:
                log.warning("step %d/%d: SIGTERM: the validation is left to the resumed run",
                            step, total_steps)
                return False
            if not math.isfinite(val_loss):
                log.warning("step %d/%d: validation loss %s: this adapter is no "
                            "candidate; if it stays so, set lora.amp to bfloat16 or "
                            "none", step, total_steps, val_loss)
            history.append({"step": step, "epoch": round(step / steps_per_epoch, 4),
                            "train_loss": window_loss / max(window_tokens, 1),
                            "val_loss": val_loss, "lr": pending_lr})
            window_loss, window_tokens = 0.0, 0
            candidate = keep_every is None or step % keep_every == 0
            improved = candidate and val_loss < best["val_loss"]
            if improved:
                best = {"step": step, "val_loss": val_loss}
                best_state = trainable_state(peft_model)
            log.info("step %d/%d: validation loss %.4f%s", step, total_steps, val_loss,
                     "  (best so far)" if improved else "")
            return True

        def save(epoch: int, next_start: int, order: list[int]) -> None:
            """The progress as it stands, for a resume; a full disk is warned of, not fatal."""
            nonlocal last_save, saved_step
            try:
                _save_progress(progress_path, fingerprint, {
                    "step": step, "epoch": epoch, "next_start": next_start, "order": order,
                    "history": history, "best": best, "initial": initial,
                    "window_loss": window_loss, "window_tokens": window_tokens,
                    "updates": updates, "pending_lr": pending_lr,
                    "elapsed_s": time.perf_counter() - started, "resumed_at": resumed_at},
                    peft_model, opt, scaler, shuffle, best_state)
            except Exception as err:  # noqa: BLE001 - a full disk only, below
                if not (is_disk_full(err) or (err.__cause__ is not None
                                               and is_disk_full(err.__cause__))):
                    raise
                # The save is for a resume; the training is hours of work: it goes on, and a
                # resume starts from the previous save (still whole).
                log.warning("step %d/%d: progress not saved, the disk is full (%s); training "
                            "goes on, a resume would start from the previous save", step,
                            total_steps, first_line(err))
            else:
                saved_step = step
                log.info("step %d/%d: progress saved (%s), for a resume", step, total_steps,
                         progress_path)
            last_save = time.monotonic()

        # The step the saved progress holds (a resumed run's is where it resumed).
        saved_step = step if resumed else None
        # the SIGTERM handler of the loop: as long as it runs, a SIGTERM ends the step first
        with _StopAtStepEnd() as stop:
            if pending_lr is not None:  # the saved progress left this step's validation to run
                if not validate(stop):
                    # still left to run; saved again, so that the next run counts this resume
                    if progress_path is not None:
                        save(at["epoch"], at["next_start"], at["order"])
                    raise Terminated()
                pending_lr = None
            for epoch in range(at["epoch"], int(s["epochs"])):
                if resumed and epoch == at["epoch"]:  # the epoch it stopped in, where it stopped
                    order, first = at["order"], at["next_start"]
                else:
                    order, first = torch.randperm(len(train), generator=shuffle).tolist(), 0
                for start in range(first, len(order), batch_size):
                    batch_ids = order[start:start + batch_size]
                    micro_batches = [collate([train[i] for i in batch_ids[j:j + micro]], pad_id)
                                     for j in range(0, len(batch_ids), micro)]
                    # The schedule counts the updates that ran: the study's HF Trainer steps its
                    # scheduler only after an update the fp16 loss scaler did not skip, so its
                    # schedule lags by the skipped ones (steps, evaluations and saves do not).
                    lr = s["lr"] * _lr_factor(updates, int(s["warmup_steps"]), total_steps)
                    for group in opt.param_groups:
                        group["lr"] = lr
                    opt.zero_grad(set_to_none=True)
                    batch_loss, weight = backward_batch(peft_model, micro_batches, weighting,
                                                        scaler, device, amp)
                    if s["max_grad_norm"]:
                        scaler.unscale_(opt)
                        torch.nn.utils.clip_grad_norm_(trainable, s["max_grad_norm"])
                    updates += _optimizer_step(scaler, opt)
                    step += 1
                    # (the train loss logged: the window's, weighted as the loss is)
                    window_loss, window_tokens = window_loss + batch_loss, window_tokens + weight
                    if step % int(s["log_every"]) == 0:
                        log.info("step %d/%d  train loss %.4f  lr %.2e  %.1f s", step, total_steps,
                                 window_loss / max(window_tokens, 1), lr,
                                 time.perf_counter() - started)
                    # (Without eval_every, eval_every is one epoch's steps: the epoch's last step.)
                    if step % eval_every == 0 or step == total_steps:
                        pending_lr = lr
                        if validate(stop):
                            pending_lr = None
                    stopping = stop.requested
                    if progress_path is not None and (stopping or (
                            step < total_steps and time.monotonic() - last_save >= save_every)):
                        save(epoch, start + batch_size, order)
                    if stopping:
                        raise Terminated()
            if progress_path is not None and saved_step != step:
                # Trained to the end: a job stopped in the merge or its validations resumes
                # there, not at the last timed save (up to SAVE_EVERY_S of training before).
                save(epoch, start + batch_size, order)
        elapsed = time.perf_counter() - started
        if s.get("keep") == "last":
            # The study's run: its Trainer's best-model reload loaded nothing (docs/fidelity.md).
            # The last step is always validated, so its loss is the history's last.
            log.info("lora.keep: last: the adapter of step %d is kept (validation loss %.4f; "
                     "the lowest was %.4f at step %d)", step, history[-1]["val_loss"],
                     best["val_loss"], best["step"])
            best = {"step": step, "val_loss": history[-1]["val_loss"]}
            best_state = trainable_state(peft_model)
        elif keep_every is not None and math.isinf(best["val_loss"]):
            # No evaluation fell on a multiple of save_every (or none there was finite):
            # nothing was a candidate, and the adapter trained to the end is kept, as the HF
            # Trainer keeps its model then.
            log.warning("no finite validation loss at a multiple of lora.save_every=%s in %d "
                        "steps: the adapter of the last step is kept", keep_every, total_steps)
            best = {"step": total_steps, "val_loss": history[-1]["val_loss"]}
            best_state = trainable_state(peft_model)

        # Back to the best adapter, then fold it into the weights: a plain model again.
        with torch.no_grad():
            params = dict(peft_model.named_parameters())
            for name, value in best_state.items():
                params[name].copy_(value)
        merged = peft_model.merge_and_unload()
        if s["gradient_checkpointing"]:
            set_activation_checkpointing(merged, False)
        merged.config.use_cache = True
        leftover = [n for n, _ in merged.named_modules() if "lora_" in n]
        if leftover:
            raise RuntimeError(f"LoRA modules left after merging: {leftover[:5]}")
        merged_val = loss_of(merged)
        saved_val = merged_val
        if saved_dtype is not None and saved_dtype != next(merged.parameters()).dtype:
            # The weights only: a model loaded from the checkpoint keeps its rotary
            # frequencies (buffers, not saved) in float32, which `merged.to` would round.
            for param in merged.parameters():
                param.data = param.data.to(saved_dtype)
            saved_val = loss_of(merged)
        merged.eval()
    finally:
        own_dropout.close()
        torch.use_deterministic_algorithms(deterministic)
    log.info("best validation loss %.4f at step %d (base %.4f); merged model %.4f, %.4f in "
             "%s as saved; %.1f s", best["val_loss"], best["step"], initial, merged_val, saved_val,
             _dtype_name(next(merged.parameters()).dtype), elapsed)
    if best["step"] == 0:  # "step 0 of N kept" alone read as a recovery that had worked
        log.warning("no step of the %d trained lowered the validation loss below the base "
                    "model's (%.4f): the recovered model is the base model unchanged (step 0); "
                    "train on more records, for more epochs (lora.epochs) or at a higher "
                    "lora.lr", total_steps, initial)
    report = {
        "method": "lora",
        "settings": s,
        "train_records": len(train), "val_records": len(val),
        "steps": total_steps, "steps_per_epoch": steps_per_epoch,
        "trainable_params": n_trainable,
        "adapted_modules": len(names), "skipped_empty_modules": skipped,
        "amp": _dtype_name(amp) if amp else None,
        "history": history,
        "initial_val_loss": initial, "best_step": best["step"], "best_val_loss": best["val_loss"],
        "merged_val_loss": merged_val,
        # the merged model's loss in the dtype it is saved in (its weights rounded to it)
        "saved_dtype": _dtype_name(next(merged.parameters()).dtype), "saved_val_loss": saved_val,
        "train_elapsed_s": elapsed,
        # Updates the fp16 loss scaler skipped (gradients not finite); the schedule lags by them.
        "skipped_updates": step - updates,
        # The steps at which a killed recovery was resumed from its saved progress ([]: none).
        "resumed_at_steps": resumed_at,
    }
    return merged, report


def recovery_fingerprint(base_dir, records_sha256: str, settings: dict[str, Any],
                         device: torch.device, base_dtype: torch.dtype | None = None) -> str:
    """What a saved progress must match to be resumed: the settings (but the memory-only
    ones: a recovery stopped out of memory resumes with gradient checkpointing turned on; nor
    `log_every`, which changes what the log says, not what is trained; nor `keep`), the
    records, the base model (its manifest holds its weights' sha256), the package versions,
    and the kind of device with its mixed precision (the scaler's state and a GPU's generator
    mean nothing elsewhere)."""
    from prunebench.modeling import MANIFEST
    from prunebench.plan.variants import MEMORY_ONLY
    from prunebench.provenance import package_versions

    manifest = Path(base_dir) / MANIFEST
    base = (hashlib.sha256(manifest.read_bytes()).hexdigest() if manifest.exists()
            else str(Path(base_dir).resolve()))
    return hashlib.sha256(json.dumps(
        # Those settings at their defaults, not left out: a save made before they stopped
        # counting (with the defaults, as most are) still matches.
        # `keep` only picks among the adapters the training tracks either way (the best and
        # the last): a recovery stopped under one resumes under the other.
        {"settings": {**{k: v for k, v in settings.items() if k != "keep"},
                      **{k: DEFAULTS[k] for k in (*MEMORY_ONLY["lora"], "log_every")}},
         "records": records_sha256, "base": base,
         "versions": package_versions(), "device": device.type,
         "amp": str(_amp_dtype(settings["amp"], device, base_dtype))},
        sort_keys=True, default=str).encode()).hexdigest()


def recover_checkpoint(base_dir, out_dir, records: list[dict], settings: dict[str, Any],
                       device: str = "auto", trust_remote_code: bool = False,
                       progress_path: str | Path | None = None,
                       keep_progress: bool = False) -> dict[str, Any]:
    """Load the checkpoint at base_dir, recover it with LoRA on `records` (split here into train
    and validation with the data seed), save the merged model to out_dir atomically.

    The training's progress is saved beside out_dir (`progress_path_for`), or at
    `progress_path`, so a killed recovery started again with the same base, records, settings,
    device kind and package versions resumes where it last saved. It is removed when the
    process ends well, not when the model is saved: the caller's report is written after this
    returns, and a failure there then resumes from the last save instead of step 0; with
    `keep_progress`, it is the caller's to remove once its files are written."""
    from prunebench.atomic import require_free_space
    from prunebench.modeling import (cast_floating, check_param_count, config_dtype,
                                     count_params, load_config,
                                     load_model, require_tokenizer, resolve_device, save_model,
                                     saved_dtype)

    s = resolve_settings(settings)
    # The data is checked before anything is loaded, so bad input fails fast.
    train, val = split_records(records, int(s["data"]["val_size"]), int(s["data"]["seed"]),
                               s["data"].get("max_train"), s["data"].get("split"))
    if problem := untrained_problem(len(train), s):
        raise PrunebenchError(problem)
    base_config = load_config(base_dir)
    context = context_length(base_config)  # (MPT's max_seq_len: its ALiBi table's rows)
    if context and int(s["max_length"]) > context:
        # Longer records would train the adapters at positions the model never saw (its
        # rotary embedding extrapolated), which no error reports later.
        raise PrunebenchError(f"lora.max_length={s['max_length']} is above the context of "
                              f"{base_dir} ({context_key(base_config)} {context}): set "
                              f"lora.max_length to {context} or less")
    dev = resolve_device(device)
    tokenizer = require_tokenizer(base_dir, "LoRA recovery", trust_remote_code)
    # What was trained on, whatever the file it came from: a hub dataset revised later (Alpaca
    # is fetched at its newest commit, which the instructions job's log names) gives other
    # records, and this digest says so.
    records_sha256 = hashlib.sha256(json.dumps(records, sort_keys=True,
                                               ensure_ascii=False).encode()).hexdigest()
    progress = Path(progress_path) if progress_path else progress_path_for(out_dir)
    # The merged model is saved in the dtype the base stores its weights in (LoRA adds none),
    # which also chooses lora.amp: auto's precision.
    base_dtype = saved_dtype(Path(base_dir), base_config)
    fingerprint = recovery_fingerprint(base_dir, records_sha256, s, dev, base_dtype)
    require_free_space(out_dir, count_params(base_config) * base_dtype.itemsize,
                       f"LoRA recovery of {base_dir}")
    started = time.perf_counter()
    model = load_model(base_dir, device=dev, dtype=torch.float32)  # explains its own OOM
    try:
        merged, report = train_lora(model, tokenizer, train, val, s, dev, progress, fingerprint,
                                    saved_dtype=base_dtype)
    except Exception as exc:  # noqa: BLE001 - only allocation failures are translated
        if not is_out_of_memory(exc):
            raise
        # LoRA loads the whole model on one device (no device map), in float32: what is left
        # to lower is the activations' memory.
        checkpointing = ("" if s["gradient_checkpointing"]
                         else "set lora.gradient_checkpointing: true, ")
        raise out_of_memory_error(exc)(
            f"out of memory in LoRA recovery of {base_dir} on {dev} ({first_line(exc)}): lower "
            f"lora.micro_batch_size (now {s['micro_batch_size']}; lora.batch_size stays the "
            f"effective batch), {checkpointing}lower lora.max_length (now {s['max_length']}), "
            "or run it on a device with more memory (changed settings start a saved recovery "
            "over)") from None
    check_param_count(merged, "LoRA recovery (merged)")  # merging adds no parameters
    save_model(cast_floating(merged, config_dtype(merged.config)), tokenizer, out_dir,
               extra_manifest={"lora": {"base": str(base_dir), "best_step": report["best_step"],
                                        "best_val_loss": report["best_val_loss"]}})
    if not keep_progress:
        delete_at_successful_exit(progress)
    report.update(elapsed_s=time.perf_counter() - started, device=str(dev),
                  records=len(records), records_sha256=records_sha256)
    return report
