"""Provide a base model: build the tiny default, download from the hub, or initialise randomly."""
from pathlib import Path

from prunebench import logs
from prunebench.hub import parse_source

log = logs.setup(snakemake.log[0])
source = parse_source(snakemake.params.source)
out_dir = Path(snakemake.output[0])

if source.kind == "tiny":
    from prunebench.tiny import build_tiny

    build_tiny(out_dir, Path(snakemake.input.train_text).parent, **snakemake.params.tiny)
elif source.kind == "hf":
    import os

    from prunebench.hub import download
    from prunebench.modeling import write_manifest

    # A fixed staging folder, kept when a download breaks off, so a rerun resumes it; the
    # checkpoint appears under its real name only once complete.
    staging = out_dir.parent / f".{out_dir.name}.download"
    download(source.name, source.revision, staging)
    write_manifest(staging, {"source": snakemake.params.source})
    os.replace(staging, out_dir)
else:
    from prunebench.modeling import save_random_model
    from prunebench.tiny import train_tokenizer

    # A stand-in tokenizer (the embedded text's) so calibration and evaluation can run too.
    text = Path(snakemake.input.train_text).read_text(encoding="utf-8")
    save_random_model(source.name, out_dir, tokenizer=train_tokenizer(text))
log.info("model ready at %s", out_dir)
