"""tblog.adapters.torch: the optimizer tracker (track) and watch(), read back with TensorBoard."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tblog  # noqa: E402
import tblog.adapters.torch as tbtorch  # noqa: E402
from tblog.summary.histogram import tensorflow_edges  # noqa: E402

pytestmark = pytest.mark.framework

STEPS = 50
BATCH = 16


def _model() -> Any:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))


def _data() -> tuple[Any, Any]:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(STEPS, BATCH, 8, generator=g)
    y = x.sum(dim=2, keepdim=True) * 0.5
    return x, y


def _optimizer(model: Any, kind: str) -> tuple[Any, Any]:
    if kind == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    else:
        opt = torch.optim.SGD(
            [{"params": model[0].parameters()}, {"params": model[2].parameters(), "lr": 0.05}],
            lr=0.1,
            momentum=0.9,
        )
    return opt, torch.optim.lr_scheduler.StepLR(opt, step_size=7, gamma=0.5)


def _train(model: Any, opt: Any, sched: Any, on_step: Any = None) -> list[float]:
    """Plain loop; ``on_step(i)`` runs after backward, before ``opt.step()``."""
    x, y = _data()
    losses = []
    for i in range(STEPS):
        loss = torch.nn.functional.mse_loss(model(x[i]), y[i])
        opt.zero_grad()
        loss.backward()
        if on_step is not None:
            on_step(i)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
    return losses


@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_track_logs_every_tag_at_every_log_step_with_right_values(
    tmp_path: Path, event_accumulator: Any, kind: str
) -> None:
    """track(): lr per group is the scheduler's, grad_norm is clip_grad_norm_(inf); 5 points per tag."""
    model = _model()
    opt, sched = _optimizer(model, kind)
    expected_lr: dict[int, list[float]] = {}
    expected_norm: dict[int, float] = {}

    def before_step(i: int) -> None:
        if (i + 1) % 10 == 0:
            expected_lr[i + 1] = [g["lr"] for g in opt.param_groups]
            params = [p for g in opt.param_groups for p in g["params"]]
            expected_norm[i + 1] = float(torch.nn.utils.clip_grad_norm_(params, max_norm=math.inf))

    with (
        tblog.SummaryWriter(tmp_path) as writer,
        tbtorch.track(opt, writer, log_every=10, batch_size=BATCH) as tracker,
    ):
        _train(model, opt, sched, before_step)
        assert tracker.step == STEPS
    acc = event_accumulator(tmp_path)
    groups = len(opt.param_groups)
    tags = {f"train/lr/group{i}" for i in range(groups)} | {
        "train/grad_norm",
        "train/step_time",
        "train/samples_per_sec",
    }
    assert set(acc.Tags()["scalars"]) == tags
    steps = [10, 20, 30, 40, 50]
    for tag in tags:
        assert [e.step for e in acc.Scalars(tag)] == steps, tag
    for i in range(groups):
        got = [e.value for e in acc.Scalars(f"train/lr/group{i}")]
        assert got == pytest.approx([expected_lr[s][i] for s in steps], rel=1e-6)
    got = [e.value for e in acc.Scalars("train/grad_norm")]
    assert got == pytest.approx([expected_norm[s] for s in steps], rel=1e-5)
    for e in acc.Scalars("train/step_time"):
        assert 0 < e.value < 60
    for t, s in zip(acc.Scalars("train/step_time"), acc.Scalars("train/samples_per_sec"), strict=True):
        assert s.value == pytest.approx(BATCH / t.value, rel=1e-5)


def test_track_counts_every_step_and_log_uses_the_step(tmp_path: Path, event_accumulator: Any) -> None:
    """track(): start_step offsets the count; no batch_size, no throughput; log() only on log steps."""
    model = _model()
    opt, sched = _optimizer(model, "sgd")
    x, y = _data()
    with tblog.SummaryWriter(tmp_path) as writer:
        tracker = tbtorch.track(opt, writer, log_every=4, prefix="", start_step=100)
        logged = []
        for i in range(12):
            loss = torch.nn.functional.mse_loss(model(x[i]), y[i])
            opt.zero_grad()
            loss.backward()
            opt.step()
            logged.append(tracker.log("loss", loss))
        tracker.remove()
        assert tracker.step == 112
    assert logged == [False, False, False, True] * 3
    acc = event_accumulator(tmp_path)
    assert set(acc.Tags()["scalars"]) == {"lr/group0", "lr/group1", "grad_norm", "step_time", "loss"}
    assert [e.step for e in acc.Scalars("loss")] == [104, 108, 112]
    assert [e.step for e in acc.Scalars("step_time")] == [104, 108, 112]


@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_track_and_watch_leave_training_identical_and_remove_cleanly(tmp_path: Path, kind: str) -> None:
    """Same seed: bit-identical params and losses with track+watch attached, removed, and never attached."""

    def run(attach: bool, remove_early: bool = False) -> tuple[list[float], list[Any]]:
        model = _model()
        opt, sched = _optimizer(model, kind)
        if not attach:
            return _train(model, opt, sched), [p.detach().clone() for p in model.parameters()]
        with tblog.SummaryWriter(tmp_path / f"{attach}{remove_early}") as writer:
            tracker = tbtorch.track(opt, writer, log_every=3, batch_size=BATCH)
            handle = tbtorch.watch(model, writer, log="all", log_freq=5)
            if remove_early:
                tracker.remove()
                handle.remove()
                assert not opt._optimizer_step_pre_hooks and not opt._optimizer_step_post_hooks
                assert not model._forward_pre_hooks
            losses = _train(model, opt, sched)
            tracker.remove()
            handle.remove()
            tracker.remove()  # idempotent
        return losses, [p.detach().clone() for p in model.parameters()]

    base_losses, base_params = run(False)
    for remove_early in (False, True):
        losses, params = run(True, remove_early)
        assert losses == base_losses
        for a, b in zip(params, base_params, strict=True):
            assert torch.equal(a, b)


def test_watch_logs_histograms_with_numel_counts_and_norms(tmp_path: Path, event_accumulator: Any) -> None:
    """watch(log='all'): histograms per parameter and gradient, counts == numel, norms, steps = forwards."""
    model = _model()
    opt, sched = _optimizer(model, "adam")
    seen: dict[int, dict[str, Any]] = {}
    x, y = _data()
    with (
        tblog.SummaryWriter(tmp_path) as writer,
        tbtorch.watch(model, writer, log="all", log_freq=10) as handle,
    ):
        for i in range(STEPS):
            if (i + 1) % 10 == 0:
                seen[i + 1] = {f"parameters/{n}": p.detach().clone() for n, p in model.named_parameters()}
            loss = torch.nn.functional.mse_loss(model(x[i]), y[i])
            opt.zero_grad()
            loss.backward()
            if (i + 1) % 10 == 0:
                seen[i + 1].update({f"gradients/{n}": p.grad.clone() for n, p in model.named_parameters()})
            opt.step()
            sched.step()
        model.eval()
        model(x[0])  # eval passes are not counted
        assert handle.step == STEPS
    acc = event_accumulator(tmp_path)
    names = [n for n, _ in model.named_parameters()]
    hist_tags = {f"{k}/{n}" for k in ("parameters", "gradients") for n in names}
    assert set(acc.Tags()["histograms"]) == hist_tags
    assert set(acc.Tags()["scalars"]) == {f"{k}_norm/{n}" for k in ("parameters", "gradients") for n in names}
    edges = tensorflow_edges()
    for tag in hist_tags:
        events = acc.Histograms(tag)
        assert [e.step for e in events] == [10, 20, 30, 40, 50]
        norms = acc.Scalars(tag.replace("/", "_norm/", 1))
        for e, norm in zip(events, norms, strict=True):
            values = seen[e.step][tag].double().numpy().reshape(-1)
            h = e.histogram_value
            assert h.num == values.size == sum(h.bucket)
            assert h.min == values.min() and h.max == values.max()
            assert h.sum == pytest.approx(values.sum(), rel=1e-9, abs=1e-12)
            assert h.sum_squares == pytest.approx(values.dot(values), rel=1e-9)
            counts, _ = np.histogram(values, edges)
            nonzero = np.flatnonzero(counts)
            assert list(h.bucket)[1:] == counts[nonzero[0] : nonzero[-1] + 1].tolist()
            assert norm.value == pytest.approx(float(np.linalg.norm(values)), rel=1e-6)


def test_watch_gradients_only_and_nonfinite_values_left_out(tmp_path: Path, event_accumulator: Any) -> None:
    """watch(log='gradients') logs no parameters; NaN/inf in a gradient are left out, never raised."""
    model = torch.nn.Linear(4, 1, bias=False)
    with tblog.SummaryWriter(tmp_path) as writer:
        handle = tbtorch.watch(model, writer, log_freq=1)
        model(torch.ones(1, 4)).sum().backward()
        model.zero_grad()
        out = model(torch.tensor([[1.0, float("nan"), float("inf"), 2.0]]))
        out.sum().backward()
        handle.remove()
        model(torch.ones(1, 4)).sum().backward()  # removed: nothing more
        writer.add_scalar("after", 1.0, 0)  # no error re-raised from the writer thread
    acc = event_accumulator(tmp_path)
    assert acc.Tags()["histograms"] == ["gradients/weight"]
    first, second = acc.Histograms("gradients/weight")
    assert (first.step, first.histogram_value.num) == (1, 4)
    assert (second.step, second.histogram_value.num) == (2, 2)  # grad = [1, nan, inf, 2]
    assert second.histogram_value.min == 1.0 and second.histogram_value.max == 2.0


def test_bad_inputs_raise_clear_errors(tmp_path: Path) -> None:
    """track/watch reject a non-optimizer, non-module, non-tblog writer, log_every<=0, bad log=."""
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with tblog.SummaryWriter(tmp_path) as writer:
        with pytest.raises(TypeError, match="optimizer: expected a torch.optim.Optimizer"):
            tbtorch.track(model, writer)
        with pytest.raises(TypeError, match="writer: expected a tblog.SummaryWriter"):
            tbtorch.track(opt, object())
        with pytest.raises(ValueError, match="log_every: expected an int >= 1, got 0"):
            tbtorch.track(opt, writer, log_every=0)
        with pytest.raises(TypeError, match="log_every"):
            tbtorch.track(opt, writer, log_every=2.5)
        with pytest.raises(ValueError, match="batch_size"):
            tbtorch.track(opt, writer, batch_size=0)
        with pytest.raises(TypeError, match="prefix"):
            tbtorch.track(opt, writer, prefix=3)
        with pytest.raises(TypeError, match="model: expected a torch.nn.Module"):
            tbtorch.watch(opt, writer)
        with pytest.raises(ValueError, match="log: expected one of"):
            tbtorch.watch(model, writer, log="weights")
        with pytest.raises(ValueError, match="log_freq"):
            tbtorch.watch(model, writer, log_freq=-1)
        assert not opt._optimizer_step_pre_hooks and not model._forward_pre_hooks


def test_watch_histogram_matches_add_histogram(tmp_path: Path, event_accumulator: Any) -> None:
    """The on-device binning of watch() gives the same HistogramProto as writer.add_histogram."""
    model = torch.nn.Linear(64, 32)
    with torch.no_grad():
        model.weight.mul_(1e3)
        model.weight[0, :4] = torch.tensor([0.0, -1e25, 1e-15, 3e21])  # zero, beyond the edges, tiny
    with tblog.SummaryWriter(tmp_path) as writer:
        handle = tbtorch.watch(model, writer, log="parameters", log_freq=1)
        model(torch.ones(1, 64))
        handle.remove()
        writer.add_histogram("core/weight", model.weight.detach(), 1)
    acc = event_accumulator(tmp_path)
    (ours,) = acc.Histograms("parameters/weight")
    (core,) = acc.Histograms("core/weight")
    assert ours.step == core.step == 1
    assert ours.histogram_value == core.histogram_value
