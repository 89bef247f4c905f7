"""Draw calibration windows from a named source with the model's tokenizer."""
from pathlib import Path

from prunebench import logs
from prunebench.data import DEFAULT_SAMPLING, JOINERS, draw_windows, load_rows, save_windows
from prunebench.modeling import require_tokenizer

log = logs.setup(snakemake.log[0])
wc = snakemake.wildcards
tokenizer = require_tokenizer(snakemake.input.model, "drawing calibration windows",
                              snakemake.config.get("trust_remote_code", False))
sampling = wc.sampling.removeprefix("-") or DEFAULT_SAMPLING  # the file name's "-<sampling>"
embedded_dir = Path(snakemake.input.text).parent if wc.source == "embedded" else None
# The joined samplings join the split's rows as the originals do, empty ones included.
rows = load_rows(wc.source, "train", embedded_dir, keep_empty=sampling in JOINERS)
windows = draw_windows(rows, tokenizer, int(wc.n), int(wc.length), int(wc.seed), sampling,
                       source=wc.source)
save_windows(windows, snakemake.output[0],
             {"source": wc.source, "split": "train", "n": wc.n, "length": wc.length,
              "seed": wc.seed, "sampling": sampling})
log.info("%d calibration windows of %d tokens from %s", len(windows), windows.shape[1], wc.source)
