"""The pruning methods. `registry` names them (torch-free, read on every workflow parse); each
method is one module with `prune(model, calibration, target_params, **params)` and `plan(...)`.

- depth (whole blocks removed): `depth` (what the family shares, and the PPL criterion),
  `depth_taylor` (Taylor+), `depth_mag` (Mag+, data-free), `sleb`, `shortgpt`,
  `depth_angular` (a run of consecutive blocks)
- width (heads and MLP channels removed in every block): `llm_pruner`, `flap`, `wanda_sp`, and
  `surgery`, the tensor surgery they share

This file imports nothing, so that importing the registry stays cheap.
"""
