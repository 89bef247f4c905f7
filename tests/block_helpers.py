"""Test helpers for block-removal tests: insert a block into a loaded LLaMA model (keeping its
config consistent); check that the blocks a prune kept are the loaded weights, exactly; the
state dict of a model's kept blocks, renumbered; a width-pruned model's weights sliced by hand."""
import copy

import torch

from prunebench import projections
from prunebench.modeling import published_state


def insert_block(model, at: int, block):
    """`model` with `block` inserted at index `at` (later blocks shift up by one)."""
    layers = list(model.model.layers)
    layers.insert(at, block)
    model.model.layers = torch.nn.ModuleList(layers)
    for i, layer in enumerate(layers):
        layer.self_attn.layer_idx = i  # the KV cache is indexed by layer_idx
    model.config.num_hidden_layers = len(layers)
    if getattr(model.config, "layer_types", None):
        model.config.layer_types = [model.config.layer_types[0]] * len(layers)
    return model


def assert_kept_blocks_exact(model, dense: dict, removed: list[int], n_blocks: int) -> None:
    """Every block `model` kept (of `n_blocks`, `removed` gone) is still float32 and equal, bit
    for bit, to its tensors in `dense` (the state dict before the prune)."""
    kept = [b for b in range(n_blocks) if b not in removed]
    for new, old in enumerate(kept):
        for name, tensor in model.model.layers[new].state_dict().items():
            assert tensor.dtype == torch.float32
            assert torch.equal(tensor, dense[f"model.layers.{old}.{name}"]), (old, name)


def kept_blocks_state(model, keep: list[int], blocks: str = "model.layers.") -> dict:
    """`model`'s state dict without the blocks not in `keep`, the kept ones renumbered in
    order: the weights of a model of those blocks alone. `blocks`: the names' prefix of the
    blocks (OPT's `model.decoder.layers.`). As transformers' class holds them (GPT-2's Conv1D
    weights [in, out]: published_state)."""
    state = {}
    for key, tensor in published_state(model).items():
        if key.startswith(blocks):
            block, rest = key.removeprefix(blocks).split(".", 1)
            if int(block) not in keep:
                continue
            key = f"{blocks}{keep.index(int(block))}.{rest}"
        state[key] = tensor
    return state


def sliced_state(state: dict, rows: dict, columns: dict) -> dict:
    """`state` with the blocks' tensors of each part `rows` names (a module's own last name:
    q_proj, input_linear, ...) cut to those rows, its weight and bias alike, and the weights
    of each part `columns` names cut to those columns (their biases, over the outputs, whole):
    a width-pruned model's weights as a test chooses them itself."""
    out = {}
    for key, tensor in state.items():
        part = key.rsplit(".", 2)[-2] if key.startswith("model.layers.") else None
        if part in rows:
            tensor = tensor[rows[part]]
        elif part in columns and key.endswith("weight"):
            tensor = tensor[:, columns[part]]
        out[key] = tensor
    return out


def prune_every_block_uniformly(model, gone: list[int], head_dim: int) -> tuple:
    """Remove KV group 0 (with the query heads it serves: two here) and the MLP channels
    `gone` from every block of `model`, through prunebench's surgery. Returns the state dict
    before, the kept query rows, the kept key / value rows and the kept channels, for a test
    to slice the expected weights by hand (`sliced_state`)."""
    from prunebench.methods import surgery

    original = copy.deepcopy(model.state_dict())
    width = projections.mlp_width(projections.block_mlp(model.model.layers[0]))
    for block in range(len(model.model.layers)):
        surgery.remove_kv_groups(model, block, [0])
        surgery.remove_channels(model, block, gone)
    q_rows = list(range(2 * head_dim, 4 * head_dim))
    kv_rows = list(range(head_dim, 2 * head_dim))
    return original, q_rows, kv_rows, [c for c in range(width) if c not in gone]


def kept_kinds_model(model, keep: list[int]):
    """transformers' own model (`model`'s class) of `model`'s blocks `keep` (renumbered): a
    config of that depth whose layer_types are the kept blocks' own, given those tensors (the
    buffers its checkpoint saves too)."""
    config = copy.deepcopy(model.config)
    config.num_hidden_layers = len(keep)
    config.layer_types = [config.layer_types[i] for i in keep]
    kept = type(model)(config).eval()
    kept.load_state_dict(kept_blocks_state(model, keep), strict=True)
    return kept
