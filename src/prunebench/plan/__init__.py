"""From a config to the plan of cells, without torch or transformers (Snakemake imports these on
every parse, a dry run included, and `prunebench plan` sizes whole configs with them).

- `checks`: the config checked before any job, one line per problem
- `variants`: a config resolved into variants and each one's settings (the one merge that the
  workflow, `prunebench plan` and the tests call)
- `sizes`: target sizes (`4.9B`, `0.8`) to parameter counts
- `jobsize`: memory and runtime requests per rule, grown with the base model
- `lora_settings`: the study's LoRA settings and the config's `lora:` section over them
"""
