"""Test helpers for block-removal tests: insert a block into a loaded LLaMA model (keeping its
config consistent); check that the blocks a prune kept are the loaded weights, exactly; the
state dict of a model's kept blocks, renumbered; a width-pruned model's weights sliced by hand;
the sizes a depth method's removals reach by brute force, and the plan of a target among them."""
import copy
import itertools

import torch

from prunebench import PrunebenchError, projections
from prunebench.checkpoint.param_count import count_params, depth_removed_params
from prunebench.methods import registry
from prunebench.methods.sizing import may_remove, within_counts
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


def greedy_rounds(config, removable, scores, mix) -> list[int]:
    """SLEB's rounds (sleb.eliminate) over additive losses: each the least-scored block that
    may go beside those taken and keeps the planned mix in reach (sizing.within_counts)."""
    removed: list[int] = []
    for _ in range(sum(mix)):
        removed.append(min((scores[b], b) for b in removable if b not in removed
                           and may_remove(config, [*removed, b])
                           and within_counts(config, removable, [*removed, b], mix))[1])
    return removed


def removal_sizes(config, removals) -> set[int]:
    """The sizes the model of `config` has without each of the `removals` (none: the dense)."""
    total = count_params(config)
    return {total - depth_removed_params(config, removed) for removed in removals}


def round_sizes(config, removable) -> set[int]:
    """Every size one block a round (SLEB) reaches, each round's removal allowed
    (sizing.may_remove): a search of every order, not the plan's mixes."""
    reached, frontier = set(), {()}
    while frontier:
        reached |= frontier
        frontier = {tuple(sorted({*drop, b})) for drop in frontier for b in removable
                    if b not in drop and may_remove(config, {*drop, b})}
    return removal_sizes(config, [drop for drop in reached
                                  if len(drop) < config.num_hidden_layers])


def run_sizes(config, removable) -> set[int]:
    """Every size one run of consecutive removable blocks that may go (depth_angular's)
    reaches, a block left: every start and length tried, not the plan's mixes."""
    n = config.num_hidden_layers
    return removal_sizes(config, [()] + [
        range(s, s + k) for s in range(n) for k in range(1, n)
        if set(range(s, s + k)) <= set(removable) and may_remove(config, range(s, s + k))])


def allowed_sizes(config, removable) -> set[int]:
    """Every size a removal among `removable` that may go (sizing.may_remove; a one-shot
    criterion's) reaches, a block left, the dense model's too: every subset tried."""
    return removal_sizes(config, [
        drop for k in range(config.num_hidden_layers)
        for drop in itertools.combinations(removable, k) if may_remove(config, drop)])


def nearest_plan(config, method: str, target: int, protect: tuple[int, int],
                 reached: set[int], every: set[int]) -> dict | None:
    """`method`'s plan of `target`, checked against the sizes its removals reach (`reached`,
    brute force, the dense model's among them): one of those nearest the target; refused
    (None) only where the dense model is as near, or the target is below the smallest size any
    removal reaches (`every`: `allowed_sizes`) by more than half the step to the next, or below
    the smallest `method` reaches and nearer a smaller one."""
    dense = count_params(config)
    gaps = {size: abs(size - target) for size in reached}
    nearest = {size for size, gap in gaps.items() if gap == min(gaps.values())}
    smallest, least = min(every), min(reached)
    step = min(size - smallest for size in every if size > smallest)
    below = target < least and any(abs(size - target) < least - target for size in every)
    try:
        plan = registry.method_plan(method)(config, target, protect_first=protect[0],
                                            protect_last=protect[1])
    except PrunebenchError as refusal:
        assert dense in nearest or target < smallest - step / 2 or below, refusal
        assert ("closer to the dense model" if dense in nearest else
                f"is below {smallest:,}, the smallest size a depth prune of" if
                target < smallest - step / 2 else
                f"is below {least:,}, the smallest size a depth prune by {method}") in str(
                    refusal)
        return None
    assert plan["params_after"] in nearest - {dense}, (target, nearest)
    assert not below, (target, least)
    return plan
