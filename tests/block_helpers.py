"""Test helpers for block-removal tests: insert a block into a loaded LLaMA model (keeping its
config consistent); check that the blocks a prune kept are the loaded weights, exactly; the
state dict of a model's kept blocks, renumbered."""
import torch


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


def kept_blocks_state(model, keep: list[int]) -> dict:
    """`model`'s state dict without the blocks not in `keep`, the kept ones renumbered in
    order: the weights of a model of those blocks alone."""
    state = {}
    for key, tensor in model.state_dict().items():
        if key.startswith("model.layers."):
            block, rest = key.removeprefix("model.layers.").split(".", 1)
            if int(block) not in keep:
                continue
            key = f"model.layers.{keep.index(int(block))}.{rest}"
        state[key] = tensor
    return state
