"""The public API: what ``tblog`` exports, and SummaryWriter's drop-in compatibility with torch."""

from __future__ import annotations

import inspect

import pytest

import tblog

# Issue 4 (graphs) brings these; until then they are the only torch methods tblog lacks.
NOT_YET = {"add_onnx_graph"}
# Defaults tblog chooses on purpose (README, "Design notes").
OWN_DEFAULTS = {("__init__", "max_queue"): 1024, ("__init__", "flush_secs"): 10.0}


def test_exported_names() -> None:
    """``tblog`` exports exactly its documented public names."""
    assert sorted(tblog.__all__) == [
        "BackgroundWriteError",
        "SummaryWriter",
        "__version__",
        "flush_on_signals",
        "patch",
        "read",
    ]
    for name in tblog.__all__:
        assert getattr(tblog, name) is not None


def test_read_exported_names() -> None:
    """``tblog.read`` exports exactly its documented public names, and ``import tblog`` does not
    load the reader before ``tblog.read`` is used."""
    import subprocess
    import sys

    import tblog.read

    assert sorted(tblog.read.__all__) == [
        "CorruptRecordWarning",
        "decode_image",
        "event_files",
        "events",
        "histograms",
        "hparams",
        "images",
        "read_events",
        "runs",
        "scalars",
        "tensor_to_numpy",
        "texts",
    ]
    for name in tblog.read.__all__:
        assert getattr(tblog.read, name) is not None
    loaded = "print('tblog.read' in sys.modules)"
    code = f"import sys, tblog; {loaded}; tblog.read.runs; {loaded}"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert proc.stdout.split() == ["False", "True"]


def _positional(function: object) -> list[tuple[str, object]]:
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    parameters = inspect.signature(function).parameters.values()  # type: ignore[arg-type]
    return [(p.name, p.default) for p in parameters if p.kind in kinds]


@pytest.mark.framework
def test_same_methods_and_arguments_as_torch() -> None:
    """Every public method of torch's SummaryWriter exists in tblog with the same argument
    names, order and defaults, so code written for torch runs unchanged."""
    torch_tb = pytest.importorskip("torch.utils.tensorboard")
    theirs = torch_tb.SummaryWriter
    names = [n for n, _ in inspect.getmembers(theirs, inspect.isfunction) if not n.startswith("_")]
    assert set(names) - set(dir(tblog.SummaryWriter)) == NOT_YET
    for name in [*names, "__init__"]:
        if name in NOT_YET:
            continue
        expected = [
            (arg, OWN_DEFAULTS.get((name, arg), default))
            for arg, default in _positional(getattr(theirs, name))
        ]
        assert _positional(getattr(tblog.SummaryWriter, name)) == expected, name
