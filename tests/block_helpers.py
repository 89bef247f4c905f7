"""Test helper: insert a block into a loaded LLaMA model, keeping its config consistent."""
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
