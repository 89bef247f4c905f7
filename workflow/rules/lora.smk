# LoRA recovery: `<variant>+lora` fine-tunes the base variant's checkpoint with LoRA on
# instruction data, merges the best adapter and saves a normal checkpoint that the benchmark and
# evaluation rules read like any other variant's (checkpoint_dir, prune_report.json).


rule instructions:
    input:
        unpack(instruction_inputs),
    output:
        layout.INSTRUCTIONS,
    log:
        "logs/instructions/{source}.log",
    wildcard_constraints:
        source=r"embedded|alpaca",
    # a small download or seconds of work: run where Snakemake runs (no queue)
    localrule: True
    conda:
        "../envs/prunebench.yaml"
    params:
        # Only what shapes the records: the split and the training settings live in `lora`.
        settings=lambda wc: (
            {k: v for k, v in lora_settings()["data"].items() if k in ("seed", "n_recall")}
            if wc.source == "embedded"
            else {}
        ),
    script:
        "../scripts/instructions.py"


rule lora:
    input:
        checkpoint=lambda wc: checkpoint_dir(wc.model, wc.base),
        report=fill(layout.PRUNE_REPORT, variant="{base}"),
        data=instruction_file(),
    output:
        checkpoint=directory(fill(layout.CHECKPOINT, variant="{base}+lora")),
        report=fill(layout.PRUNE_REPORT, variant="{base}+lora"),
    log:
        "logs/lora/{model}/{base}+lora.log",
    wildcard_constraints:
        base=r"dense|[a-z0-9_]+-[A-Za-z0-9_.%]+",
    conda:
        "../envs/prunebench.yaml"
    threads: workflow.cores
    resources:
        gpu=GPU_JOB,
        mem_mb=job_mem_mb("lora"),
        runtime=job_runtime("lora"),
    params:
        source=lambda wc: model_source(wc.model),
        # gradient_checkpointing reaches the job from the config (plan.variants.MEMORY_ONLY)
        settings=variants.rerun_settings(config, "lora"),
        device=config["device"],
    script:
        "../scripts/lora.py"
