# prunebench: prune LLaMA-family models and measure what each variant buys at generation time.
# Stages live in workflow/rules/, one file each; the library in src/prunebench/ does the work.
from snakemake.utils import min_version, validate

min_version("8.20")


# No `configfile:` here on purpose: the default profile names config/config.yaml, and a
# `--configfile` on the command line replaces it instead of being merged into it.
validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/calibration.smk"
include: "workflow/rules/prune.smk"
include: "workflow/rules/lora.smk"
include: "workflow/rules/benchmark.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/aggregate.smk"


rule all:
    input:
        all_targets(),
    default_target: True
