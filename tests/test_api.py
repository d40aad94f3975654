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
