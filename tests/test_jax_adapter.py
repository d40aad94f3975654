"""tblog.adapters.jax training-step wrapper and in-jit logging, read back by TensorBoard."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")

import tblog  # noqa: E402
import tblog.adapters.jax as tbjax  # noqa: E402

pytestmark = pytest.mark.framework


def _data() -> tuple[Any, Any]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = x @ np.array([1.5, -2.0, 0.5], np.float32) + 0.3
    return jnp.asarray(x), jnp.asarray(y)


def _init() -> dict[str, Any]:
    return {"params": {"w": jnp.zeros((3,), jnp.float32), "b": jnp.zeros((), jnp.float32)}}


@jax.jit
def _train_step(state: dict[str, Any], batch: tuple[Any, Any]) -> tuple[Any, Any]:
    x, y = batch

    def loss_fn(params: dict[str, Any]) -> Any:
        return jnp.mean((x @ params["w"] + params["b"] - y) ** 2)

    loss, grads = jax.value_and_grad(loss_fn)(state["params"])
    params = jax.tree_util.tree_map(lambda p, g: p - 0.1 * g, state["params"], grads)
    gnorm = jnp.sqrt(sum(jnp.sum(g**2) for g in jax.tree_util.tree_leaves(grads)))
    return {"params": params}, {"loss": loss, "grad": {"norm": gnorm}}


def _run(step: Any, n: int = 30) -> list[dict[str, float]]:
    state, batch = _init(), _data()
    returned = []
    for _ in range(n):
        state, metrics = step(state, batch)
        returned.append({"loss": float(metrics["loss"]), "grad/norm": float(metrics["grad"]["norm"])})
    return returned


def test_log_step_jitted_loop(tmp_path: Any, event_accumulator: Any) -> None:
    """A 30-step jitted regression loop logs its metrics pytree every 10 steps, values exact."""
    with tblog.SummaryWriter(tmp_path) as writer:
        step = tbjax.log_step(_train_step, writer, every=10)
        returned = _run(step)
        assert step.step == 30
    acc = event_accumulator(tmp_path)
    assert sorted(acc.Tags()["scalars"]) == ["grad/norm", "loss"]
    for tag in ("loss", "grad/norm"):
        events = acc.Scalars(tag)
        assert [e.step for e in events] == [0, 10, 20]
        expected = [returned[s][tag] for s in (0, 10, 20)]
        assert [e.value for e in events] == pytest.approx(expected, rel=1e-6)
    assert returned[-1]["loss"] < returned[0]["loss"] / 10  # it really trained


def test_log_step_histograms_prefix_start(tmp_path: Any, event_accumulator: Any) -> None:
    """Parameter histograms by path every N steps; prefix and start_step shift tags and steps."""
    with tblog.SummaryWriter(tmp_path) as writer:
        step = tbjax.log_step(
            _train_step,
            writer,
            every=5,
            histograms_every=15,
            params=lambda s: s["params"],
            prefix="train",
            start_step=100,
        )
        state, batch = _init(), _data()
        after = []  # the parameters after each call
        for _ in range(30):
            state, _metrics = step(state, batch)
            after.append(np.asarray(state["params"]["w"]))
    acc = event_accumulator(tmp_path)
    assert sorted(acc.Tags()["scalars"]) == ["train/grad/norm", "train/loss"]
    assert [e.step for e in acc.Scalars("train/loss")] == list(range(100, 130, 5))
    assert sorted(acc.Tags()["histograms"]) == ["params/b", "params/w"]
    hists = acc.Histograms("params/w")
    assert [h.step for h in hists] == [105, 120]
    for hist, call in zip(hists, (5, 20), strict=True):  # each of the new state after the step
        w = after[call]
        value = hist.histogram_value
        assert (value.num, value.min, value.max) == (3, pytest.approx(w.min()), pytest.approx(w.max()))
        assert value.sum == pytest.approx(w.sum(), rel=1e-5)


def test_log_step_does_not_block_on_device(tmp_path: Any, event_accumulator: Any) -> None:
    """The wrapped step returns while its metrics are still being computed on the device."""
    a = jnp.asarray(np.random.default_rng(1).normal(size=(1024, 1024)).astype(np.float32) / 32)

    @jax.jit
    def slow_step(state: Any, m: Any) -> tuple[Any, Any]:
        def body(_i: Any, x: Any) -> Any:
            return jnp.tanh(x @ m)

        x = jax.lax.fori_loop(0, 100, body, state)
        return x, {"loss": jnp.mean(x), "max": jnp.max(x)}

    slow_step(a, a)[0].block_until_ready()  # compile first
    with tblog.SummaryWriter(tmp_path) as writer:
        step = tbjax.log_step(slow_step, writer, every=1)
        state, metrics = step(a, a)
        # Logging happened (step 0 is logged) and did not wait for the device.
        assert not metrics["loss"].is_ready()
        assert not state.is_ready()
        expected = float(metrics["loss"])
    [event] = event_accumulator(tmp_path).Scalars("loss")
    assert (event.step, event.value) == (0, pytest.approx(expected, rel=1e-6))


@pytest.mark.parametrize(
    ("process_index", "all_processes", "writes"),
    [(0, False, True), (1, False, False), (1, True, True), (None, False, True)],
)
def test_log_step_process_gating(
    tmp_path: Any, event_accumulator: Any, process_index: Any, all_processes: bool, writes: bool
) -> None:
    """Only process 0 logs unless all_processes=True; the default reads jax.process_index()."""
    with tblog.SummaryWriter(tmp_path) as writer:
        step = tbjax.log_step(
            _train_step,
            writer,
            every=10,
            process_index=process_index,
            all_processes=all_processes,
        )
        _run(step, 12)
        assert step.step == 12
    tags = event_accumulator(tmp_path).Tags()["scalars"]
    assert sorted(tags) == (["grad/norm", "loss"] if writes else [])


def test_log_step_bad_input(tmp_path: Any) -> None:
    """Bad arguments and bad step outputs raise naming the argument; the writer stays usable."""
    with tblog.SummaryWriter(tmp_path) as writer:
        with pytest.raises(TypeError, match="step_fn"):
            tbjax.log_step(42, writer)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="writer"):
            tbjax.log_step(_train_step, object())
        with pytest.raises(ValueError, match="every"):
            tbjax.log_step(_train_step, writer, every=0)
        with pytest.raises(ValueError, match="histograms_every"):
            tbjax.log_step(_train_step, writer, histograms_every=-1)
        with pytest.raises(TypeError, match="params"):
            tbjax.log_step(_train_step, writer, params=3)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=r"\(state, metrics\)"):
            tbjax.log_step(lambda s, b: s, writer)(1.0, None)
        with pytest.raises(ValueError, match="vec"):
            tbjax.log_step(lambda s, b: (s, {"vec": jnp.ones(3)}), writer)(1.0, None)
        writer.add_scalar("ok", 1.0, 0)


def test_scalar_inside_jit(tmp_path: Any, event_accumulator: Any) -> None:
    """scalar/scalars inside jit log the right values under traced steps, written after flush."""
    writer = tblog.SummaryWriter(tmp_path)

    @jax.jit
    def loop(x: Any) -> Any:
        def body(i: Any, x: Any) -> Any:
            x = x * 0.5 + 1.0
            tbjax.scalar(writer, "x", x, i)
            tbjax.scalars(writer, {"a": x * 2, "b": {"c": i}}, i * 10, prefix="m")
            return x

        return jax.lax.fori_loop(0, 8, body, x)

    loop(jnp.float32(0.0))
    tbjax.flush(writer)
    acc = event_accumulator(tmp_path)
    expected, x = [], 0.0
    for _ in range(8):
        x = x * 0.5 + 1.0
        expected.append(x)
    xs = acc.Scalars("x")
    assert [e.step for e in xs] == list(range(8))
    assert [e.value for e in xs] == pytest.approx(expected)
    assert [e.step for e in acc.Scalars("m/a")] == list(range(0, 80, 10))
    assert [e.value for e in acc.Scalars("m/a")] == pytest.approx([2 * v for v in expected])
    assert [e.value for e in acc.Scalars("m/b/c")] == list(range(8))
    tbjax.close(writer)


def test_scalar_outside_jit_and_errors(tmp_path: Any, event_accumulator: Any) -> None:
    """scalar works eagerly too; vmap, non-scalar values and bad tags raise clear errors."""
    with tblog.SummaryWriter(tmp_path) as writer:
        tbjax.scalar(writer, "eager", jnp.float32(2.5), 3)
        with pytest.raises(ValueError, match="vmap"):
            jax.vmap(lambda v: tbjax.scalar(writer, "v", v, 0))(jnp.ones(4))
        with pytest.raises(ValueError, match="value must hold exactly one element"):
            jax.jit(lambda v: tbjax.scalar(writer, "v", v, 0))(jnp.ones(4))
        with pytest.raises(TypeError, match="tag"):
            tbjax.scalar(writer, 5, 1.0, 0)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="writer"):
            tbjax.scalar(object(), "t", 1.0, 0)
        tbjax.flush(writer)
    [event] = event_accumulator(tmp_path).Scalars("eager")
    assert (event.step, event.value) == (3, 2.5)


def test_log_step_with_optax(tmp_path: Any, event_accumulator: Any) -> None:
    """With an optax optimizer state, params= picks the parameters; histograms cover only them."""
    optax = pytest.importorskip("optax")
    opt = optax.adam(0.05)
    x, y = _data()
    params = _init()["params"]

    @jax.jit
    def step_fn(state: Any, batch: Any) -> tuple[Any, Any]:
        params, opt_state = state
        bx, by = batch

        def loss_fn(p: Any) -> Any:
            return jnp.mean((bx @ p["w"] + p["b"] - by) ** 2)

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = opt.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), {"loss": loss}

    with tblog.SummaryWriter(tmp_path) as writer:
        step = tbjax.log_step(step_fn, writer, every=3, histograms_every=10, params=lambda s: s[0])
        state = (params, opt.init(params))
        losses = []
        for _ in range(30):
            state, metrics = step(state, (x, y))
            losses.append(float(metrics["loss"]))
    acc = event_accumulator(tmp_path)
    events = acc.Scalars("loss")
    assert [e.step for e in events] == list(range(0, 30, 3))
    assert [e.value for e in events] == pytest.approx(losses[::3], rel=1e-6)
    assert sorted(acc.Tags()["histograms"]) == ["params/b", "params/w"]
    assert [h.step for h in acc.Histograms("params/b")] == [0, 10, 20]
    assert losses[-1] < losses[0]
