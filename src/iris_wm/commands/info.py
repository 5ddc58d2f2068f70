"""``iris info``: versions, the device ``auto`` picks, the agent and environment kinds, and which
optional parts are installed."""

from __future__ import annotations

import argparse
import platform
import re
from importlib import metadata

DEVELOPMENT_EXTRAS = ("dev",)  # tools for working on iris-wm, not parts of it


def optional_parts() -> dict[str, list[str]]:
    """extra -> the distributions it installs, as the installed package's metadata (pyproject.toml) says."""
    try:
        requirements = metadata.requires("iris-wm") or []
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return {}
    parts: dict[str, list[str]] = {}
    for requirement in requirements:
        extra = re.search(r"""extra\s*==\s*["']([^"']+)["']""", requirement)
        if extra and extra.group(1) not in DEVELOPMENT_EXTRAS:
            parts.setdefault(extra.group(1), []).append(re.match(r"[A-Za-z0-9_.\-]+", requirement).group(0))
    return parts


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # no options


def version_of(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def run(args: argparse.Namespace) -> int:
    import torch

    from iris_wm import __version__
    from iris_wm.agents import AGENT_KINDS
    from iris_wm.devices import resolve_device
    from iris_wm.envs import ENV_KINDS
    from iris_wm.models.lpips import VGG16_FILE

    device = resolve_device("auto")
    gpu = f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""
    vgg16 = __import__("pathlib").Path(torch.hub.get_dir()) / "checkpoints" / VGG16_FILE
    print(f"iris-wm      {__version__}")
    print(f"python       {platform.python_version()}")
    print(f"torch        {torch.__version__} ({torch.get_num_threads()} CPU threads)")
    print(f"device auto  {device}{gpu}")
    print(f"LPIPS VGG16  {vgg16 if vgg16.is_file() else 'not in the torch hub cache (downloaded on first use)'}")
    print("agent kinds:")
    for name, kind in AGENT_KINDS.records().items():
        authors = ", imports the authors' checkpoints" if kind.original else ""
        print(f"  {name:<12} {kind.description}{authors}; tested at temperature {kind.eval_temperature}")
    print("environment kinds:")
    for name, kind in ENV_KINDS.records().items():
        print(f"  {name:<12} {kind.description}")
    print("optional parts:")
    for extra, distributions in optional_parts().items():
        versions = {name: version_of(name) for name in distributions}
        missing = [name for name, version in versions.items() if version is None]
        state = (", ".join(f"{n} {v}" for n, v in versions.items()) if not missing
                 else f"not installed: pip install 'iris-wm[{extra}]'")
        print(f"  {extra:<8} {state}")
    return 0
