"""What a checkpoint is beyond its weights: its shape and exact parameter count (`param_count`,
`architectures` for known models), its manifest of hashes (`integrity`), the one-time conversion
of pickle-only weights (`pickle_convert`) and its placement over devices (`device_map`). Loading
and saving the model itself is `prunebench.modeling`."""
