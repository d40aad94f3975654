"""A JAX training loop with tblog.adapters.jax: ``log_step``, ``scalar`` in jit, ``add_graph``.

Linear regression with a jitted SGD step. ``log_step`` logs the step's metrics every 10
steps and parameter histograms every 50, without waiting for the device; ``scalar`` logs
the gradient norm from inside ``jax.jit`` at every step; ``add_graph`` puts the loss's
jaxpr in the Graphs dashboard.

    python examples/jax_loop.py --logdir runs/jax_loop
"""

from __future__ import annotations

import argparse
from typing import Any

import jax
import jax.numpy as jnp

import tblog.adapters.jax as tbjax
from tblog import SummaryWriter

STEPS, LR = 100, 0.1


def loss_fn(params: dict[str, jax.Array], x: jax.Array, y: jax.Array) -> jax.Array:
    pred = x @ params["w"] + params["b"]
    return jnp.mean((pred - y) ** 2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logdir", default="runs/jax_loop", help="run directory to write")
    args = parser.parse_args(argv)

    kx, kn = jax.random.split(jax.random.PRNGKey(0))
    x = jax.random.normal(kx, (256, 4))
    y = x @ jnp.array([1.0, -2.0, 0.5, 3.0]) + 0.7 + 0.1 * jax.random.normal(kn, (256,))
    state: dict[str, Any] = {"params": {"w": jnp.zeros(4), "b": jnp.zeros(())}, "step": jnp.array(0)}

    with SummaryWriter(args.logdir) as writer:

        @jax.jit
        def train_step(state: dict[str, Any], batch: tuple[jax.Array, jax.Array]) -> Any:
            loss, grads = jax.value_and_grad(loss_fn)(state["params"], *batch)
            grad_norm = jnp.sqrt(sum(jnp.sum(g**2) for g in jax.tree_util.tree_leaves(grads)))
            tbjax.scalar(writer, "inner/grad_norm", grad_norm, state["step"])  # from inside jit
            params = jax.tree_util.tree_map(lambda p, g: p - LR * g, state["params"], grads)
            return {"params": params, "step": state["step"] + 1}, {"loss": loss, "bias": params["b"]}

        tbjax.add_graph(writer, loss_fn, state["params"], x, y)
        step = tbjax.log_step(train_step, writer, every=10, histograms_every=50, params=lambda s: s["params"])
        for _ in range(STEPS):
            state, metrics = step(state, (x, y))  # loss, bias at steps 0, 10, ..., 90
        tbjax.flush(writer)  # wait for the in-jit callbacks before the writer closes

    print(f"tensorboard --logdir {args.logdir}")


if __name__ == "__main__":
    main()
