"""How a result was made: versions, device, seed and the cell's config, recorded in every file."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import socket
from importlib import metadata
from typing import Any

import torch

PACKAGES = ("prunebench", "torch", "transformers", "accelerate", "safetensors", "snakemake",
            "datasets", "lm_eval", "peft")


def package_versions() -> dict[str, str | None]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name.replace("_", "-"))
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def device_info(device: torch.device | str | None = None) -> dict[str, Any]:
    device = torch.device(device) if device is not None else None
    info: dict[str, Any] = {
        "device": str(device) if device is not None else None,
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda_available": torch.cuda.is_available(),
        "cuda_version": torch.version.cuda,
    }
    if torch.cuda.is_available() and (device is None or device.type == "cuda"):
        index = device.index if device is not None and device.index is not None else 0
        props = torch.cuda.get_device_properties(index)
        info.update(gpu_name=props.name, gpu_memory_bytes=props.total_memory,
                    gpu_capability=f"{props.major}.{props.minor}",
                    driver_version=_nvidia_driver_version())
    return info


def _nvidia_driver_version() -> str | None:
    try:
        import subprocess

        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 else None
    except (OSError, IndexError, Exception):  # noqa: BLE001 - provenance must never fail a job
        return None


def provenance(*, device=None, seed: int | None = None, cell: dict[str, Any] | None = None) -> dict[str, Any]:
    """The provenance block every result file carries."""
    return {
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": package_versions(),
        **device_info(device),
        "seed": seed,
        "cell": cell or {},
    }
