"""`import tblog` stays light: no framework and no optional dependency gets imported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# Top-level module names that `import tblog` / `import tblog.adapters` must not load.
OPTIONAL = (
    "torch",
    "jax",
    "jaxlib",
    "tensorflow",
    "keras",
    "PIL",
    "matplotlib",
    "fsspec",
    "pandas",
    "tensorboard",
    "tensorboardX",
)
# What no core module (anything outside tblog.adapters) may import even when imported itself.
FRAMEWORKS = ("torch", "jax", "jaxlib", "tensorflow", "keras")

_PROBE = """
import json, sys, time
t0 = time.perf_counter()
import tblog
t1 = time.perf_counter()
import tblog.adapters
t2 = time.perf_counter()
print(json.dumps({
    "file": tblog.__file__,
    "tblog_s": t1 - t0,
    "adapters_s": t2 - t1,
    "top_level": sorted({name.split(".")[0] for name in sys.modules}),
}))
"""

_WALK = """
import importlib, json, pkgutil, sys
import tblog
names = sorted(
    m.name for m in pkgutil.walk_packages(tblog.__path__, "tblog.")
    if not m.name.startswith("tblog.adapters")
)
errors = {}
for name in names:
    try:
        importlib.import_module(name)
    except Exception as e:
        errors[name] = f"{type(e).__name__}: {e}"
print(json.dumps({
    "modules": names,
    "errors": errors,
    "top_level": sorted({name.split(".")[0] for name in sys.modules}),
}))
"""


def _run(code: str, cwd: Path) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_import_tblog_loads_no_optional_dependency(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A fresh `import tblog, tblog.adapters` loads none of the frameworks or optional extras."""
    result = _run(_PROBE, tmp_path)
    loaded = sorted(set(OPTIONAL) & set(result["top_level"]))
    with capsys.disabled():
        print(
            f"\n[import time] tblog {result['tblog_s'] * 1000:.1f} ms, "
            f"tblog.adapters {result['adapters_s'] * 1000:.1f} ms"
        )
    assert loaded == [], f"import tblog loaded {loaded}"


def test_core_submodules_import_no_framework(tmp_path: Path) -> None:
    """Every module of tblog outside tblog.adapters imports cleanly and loads no framework."""
    result = _run(_WALK, tmp_path)
    assert result["errors"] == {}
    loaded = sorted(set(FRAMEWORKS) & set(result["top_level"]))
    assert loaded == [], f"importing {result['modules']} loaded {loaded}"
