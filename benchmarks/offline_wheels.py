"""Wheels for an offline machine: what a prunebench run needs there and the machine lacks.

GPU nodes are often cut off from PyPI. This resolves the dependency closure of the given
packages (default: snakemake, which GPU images rarely ship) at the versions installed in *this*
environment (the ones the tests passed with), drops every package the target already has, and
downloads each remaining one as a wheel for the target's Python and platform. Where PyPI has only
a source archive, a wheel is built here, and refused unless it is pure Python.

    # on the target:  python3 -m pip list --format=freeze > have.txt   (copy it here)
    python benchmarks/offline_wheels.py --have have.txt --python-version 3.12
    # carry .whl/ to the target, then (benchmarks/gpu_smoke.sh does this itself):
    python3 -m pip install --no-index --no-deps --target .whl/site .whl/*.whl
    export PYTHONPATH=$PWD/.whl/site   # (a folder of your own: not a shared /tmp path)

`--have` takes `pip list --format=freeze` output or one package name per line; a package the
target has is not carried whatever its version (carrying a second version of, say, numpy would
shadow the one its other packages were built against).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name as canonical

# manylinux tags are matched exactly by pip: offer the common glibc baselines of x86-64 Linux.
DEFAULT_PLATFORMS = ["manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux_2_24_x86_64",
                     "manylinux_2_27_x86_64", "manylinux_2_28_x86_64", "manylinux_2_31_x86_64",
                     "manylinux_2_34_x86_64", "manylinux_2_35_x86_64"]


def read_have(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            names.add(canonical(re.split(r"[=<>~!@ ]", line, maxsplit=1)[0]))
    return names


def closure(roots: list[str], python_version: str) -> dict[str, str]:
    """{canonical name: installed version} of the roots and everything they require here,
    with environment markers evaluated for the target's Python version."""
    env = {**default_environment(), "python_version": python_version,
           "python_full_version": f"{python_version}.0", "extra": ""}
    found: dict[str, str] = {}
    todo = list(roots)
    while todo:
        name = canonical(todo.pop())
        if name in found:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise SystemExit(f"{name} is not installed in this environment ({sys.executable}): "
                             "run this script with the project's Python (.venv/bin/python)") from None
        found[name] = dist.version
        for spec in dist.requires or []:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate(env):
                todo.append(req.name)
    return found


def fetch(name: str, version: str, out: Path, python_version: str, platforms: list[str]) -> str:
    """Download (or build, if pure Python) one wheel into `out`; returns how it was got.

    The wheel is made in a scratch folder inside `out` and renamed in only when whole: an
    interrupted fetch leaves no partial wheel that a rerun would take as present (and the
    rename never crosses file systems, as one from /tmp could)."""
    pip = [sys.executable, "-m", "pip"]
    with tempfile.TemporaryDirectory(dir=out, prefix=".fetch-") as scratch:
        download = [*pip, "download", "--quiet", "--no-deps", "--only-binary=:all:",
                    "--python-version", python_version, "--implementation", "cp",
                    *[arg for p in platforms for arg in ("--platform", p)],
                    "-d", scratch, f"{name}=={version}"]
        how = "downloaded"
        if subprocess.run(download, capture_output=True, text=True).returncode != 0:
            build = [*pip, "wheel", "--quiet", "--no-deps", "--no-binary", name, "-w", scratch,
                     f"{name}=={version}"]
            result = subprocess.run(build, capture_output=True, text=True)
            if result.returncode != 0 or not list(Path(scratch).glob("*.whl")):
                raise SystemExit(f"no wheel of {name}=={version} for Python {python_version} "
                                 f"and none could be built:\n{result.stderr[-2000:]}")
            how = "built (pure Python)"
        wheel = next(Path(scratch).glob("*.whl"))
        if how != "downloaded" and not wheel.name.endswith("-none-any.whl"):
            raise SystemExit(f"{name}=={version} has no wheel for the target and builds only a "
                             f"platform-specific one here ({wheel.name}): build it on the target")
        wheel.rename(out / wheel.name)
    return how


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("packages", nargs="*", default=["snakemake"])
    parser.add_argument("--have", type=Path, required=True,
                        help="the target's `pip list --format=freeze`, or one name per line")
    parser.add_argument("--python-version", required=True, help="the target's, e.g. 3.12")
    parser.add_argument("--platform", action="append", dest="platforms",
                        help=f"wheel platform tag (repeatable); default {DEFAULT_PLATFORMS}")
    parser.add_argument("--out", type=Path, default=Path(".whl"))
    args = parser.parse_args(argv)
    have = read_have(args.have)
    needed = {n: v for n, v in closure(args.packages, args.python_version).items()
              if n not in have}
    args.out.mkdir(parents=True, exist_ok=True)
    for name, version in sorted(needed.items()):
        present = [w for w in args.out.glob("*.whl")
                   if canonical(w.name.split("-")[0]) == name]
        if any(w.name.split("-")[1] == version for w in present):
            print(f"{name}=={version}: already in {args.out}")
            continue
        how = fetch(name, version, args.out, args.python_version,
                    args.platforms or DEFAULT_PLATFORMS)
        for stale in present:  # one version of each (two would stop the install), once the
            stale.unlink()     # new one is in
        print(f"{name}=={version}: {how}")
    size = sum(w.stat().st_size for w in args.out.glob("*.whl"))
    print(f"{len(needed)} packages the target lacks, {size / 2**20:.1f} MiB in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
