"""Facts about the machine and the installed packages, for the benchmark reports."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata as md
import os
import platform
import subprocess
from collections.abc import Iterable


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (or what platform knows)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def usable_cores() -> int | None:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count()


def package_versions(packages: Iterable[str]) -> dict[str, str | None]:
    """Installed version of each package, None where it is not installed."""
    versions: dict[str, str | None] = {}
    for package in packages:
        try:
            versions[package] = md.version(package)
        except md.PackageNotFoundError:
            versions[package] = None
    return versions


_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def git_commit() -> str | None:
    """The short commit of the checkout, marked when tblog's code has uncommitted changes."""
    commit = _git("rev-parse", "--short", "HEAD")
    if commit and _git("status", "--porcelain", "--", "tblog", "adapters", "pyproject.toml"):
        commit += " + uncommitted changes in tblog/"
    return commit


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", _REPO, *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return (done.stdout.strip() or None) if done.returncode == 0 else None


def machine_info(packages: Iterable[str], **extra: object) -> dict:
    """The facts every benchmark report starts with; ``extra`` adds keys of its own."""
    return {
        "date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": usable_cores(),
        "loadavg_start": os.getloadavg(),
        "os": platform.platform(),
        "python": platform.python_version(),
        **extra,
        "packages": package_versions(packages),
        "git_commit": git_commit(),
    }
