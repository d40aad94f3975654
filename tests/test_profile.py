"""Profiler traces in the run directory: tblog.adapters.torch.profile and tblog.adapters.jax.profile."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")

import tblog  # noqa: E402
import tblog.adapters.jax as tbjax  # noqa: E402
import tblog.adapters.torch as tbtorch  # noqa: E402

pytestmark = pytest.mark.framework


def _files(root: Path, pattern: str) -> list[Path]:
    return sorted((root / "plugins" / "profile").glob(f"*/{pattern}"))


@pytest.mark.filterwarnings("ignore:Warning. Profiler clears events:UserWarning")
def test_torch_profile_writes_gzip_chrome_trace_with_steps(tmp_path: Path) -> None:
    """torch: the active steps land as a gzip Chrome trace in plugins/profile/<ts>/ with ProfilerStep#N."""
    model = torch.nn.Linear(8, 4)
    x = torch.randn(16, 8)
    with tblog.SummaryWriter(tmp_path) as writer:
        with tbtorch.profile(writer, wait=1, warmup=1, active=2, repeat=2) as prof:
            for _ in range(8):
                model(x).sum().backward()
                prof.step()
        writer.add_scalar("after", 1.0, 0)
    traces = _files(tmp_path, "*.pt.trace.json.gz")
    assert len(traces) == 2  # repeat=2: one trace per active window, each in its own run dir
    assert len({t.parent for t in traces}) == 2
    steps = []
    for trace in traces:
        data = json.loads(gzip.decompress(trace.read_bytes()))
        names = {e.get("name", "") for e in data["traceEvents"]}
        steps.append(sorted(n for n in names if n.startswith("ProfilerStep#")))
        assert any("addmm" in n for n in names)
    # wait 1, warmup 1, active 2 twice: steps 2-3 and 6-7 are recorded.
    assert steps == [["ProfilerStep#2", "ProfilerStep#3"], ["ProfilerStep#6", "ProfilerStep#7"]]


def test_torch_profile_bad_arguments(tmp_path: Path) -> None:
    """torch: bad schedule numbers or a non-writer raise clear errors and the writer stays usable."""
    with tblog.SummaryWriter(tmp_path) as writer:
        with pytest.raises(ValueError, match="active: expected an int >= 1"):
            tbtorch.profile(writer, active=0)
        with pytest.raises(TypeError, match="wait: expected an int"):
            tbtorch.profile(writer, wait=1.5)
        with pytest.raises(TypeError, match="schedule and on_trace_ready"):
            tbtorch.profile(writer, schedule=None)
        with pytest.raises(TypeError, match="writer: expected a tblog.SummaryWriter"):
            tbtorch.profile("logs")
        writer.add_scalar("ok", 1.0, 0)
    assert not (tmp_path / "plugins").exists()


def test_jax_profile_writes_xplane_with_step_markers(tmp_path: Path) -> None:
    """jax: the trace is a non-empty xplane.pb in plugins/profile/<ts>/ holding the step annotations."""
    f = jax.jit(lambda a: jnp.tanh(a @ a).sum())
    x = jnp.ones((32, 32))
    with tblog.SummaryWriter(tmp_path) as writer:
        with tbjax.profile(writer, steps=3, name="train_step_marker") as prof:
            done = [int(jax.block_until_ready(f(x + i)) > 0) for i in prof]
        with tbjax.profile(writer) as prof2:
            for i in range(2):
                with prof2.step(10 + i):
                    jax.block_until_ready(f(x))
        writer.add_scalar("after", 1.0, 0)
    assert done == [1, 1, 1]
    planes = _files(tmp_path, "*.xplane.pb")
    assert len(planes) == 2
    data = [p.read_bytes() for p in planes]
    assert all(len(d) > 0 for d in data)
    marked = [d for d in data if b"train_step_marker" in d]
    assert len(marked) == 1 and b"step_num" in marked[0]
    assert any(b"train" in d and b"train_step_marker" not in d for d in data)


def test_jax_profile_bad_arguments(tmp_path: Path) -> None:
    """jax: bad steps or writer raise clear errors before tracing starts; iterating needs steps."""
    with tblog.SummaryWriter(tmp_path) as writer:
        with pytest.raises(ValueError, match="steps: expected a count >= 0"):
            tbjax.profile(writer, steps=-1).__enter__()
        with pytest.raises(TypeError, match="steps: expected an int or an iterable"):
            tbjax.profile(writer, steps=2.5).__enter__()
        with pytest.raises(TypeError, match="writer: expected a tblog.SummaryWriter"):
            tbjax.profile(None).__enter__()
        with tbjax.profile(writer) as prof, pytest.raises(TypeError, match="pass steps="):
            list(prof)
        writer.add_scalar("ok", 1.0, 0)
