"""Per-step overhead of tblog's framework adapters on a small model, against peers.

    python benchmarks/adapters.py [--quick] [--repeats N] [--frameworks torch,jax,keras]
                                  [--out benchmarks/results]

Each (framework, configuration, repeat) runs in a fresh subprocess of this same file
(``--child FRAMEWORK CONFIG``), so imports, background writer threads and compile caches
never leak between configurations. Runs are interleaved round-robin (repeat -> configuration)
so machine noise hits every configuration alike. The reported number is the median over
repeats. See the "Adapter overhead" section of benchmarks/README.md.

Small model everywhere: MLP 784-128(ReLU)-10 on synthetic data (fixed seed), batch 64, Adam.

* torch: 300 optimizer steps; the first 20 are warm-up and not timed; one intra-op thread
  (``torch.set_num_threads(1)``: with its default thread count a tiny model on a small,
  busy machine is dominated by thread contention, 2-20x slower and very noisy).
* jax: the same MLP, ``jax.grad`` + ``optax.adam``, the step ``jax.jit``-ed; 300 steps,
  the first 20 (compile) not timed; ``jax.block_until_ready`` on the state before the timer
  stops (asynchronous dispatch).
* keras (``KERAS_BACKEND=jax``): ``Sequential([Flatten, Dense(128, relu), Dense(10)])``,
  ``fit`` for 4 epochs of 100 steps; the first epoch (compile) is not timed.

Per-step time of a run = timed loop wall time / timed steps (a mean, so the steps that log
count with their real weight; a per-step median would ignore every logged step when logging
happens every 10th step). ``close()`` of the writer is timed separately and not included.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from _machine import machine_info  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

BATCH = 64
LOG_EVERY = 10
PACKAGES = ["tblog", "torch", "jax", "jaxlib", "optax", "keras", "tensorboardX", "numpy", "tensorflow"]

# framework -> [(config id, description)]
CONFIGS: dict[str, list[tuple[str, str]]] = {
    "torch": [
        ("none", "no logging"),
        ("track", "tblog `track(opt, w, log_every=10, batch_size=64)` + `tracker.log('loss', loss)`"),
        ("track_watch", "tblog `track` + loss as above + `watch(model, w, log='all', log_freq=100)`"),
        (
            "tbx_manual",
            "tensorboardX: every 10 steps `add_scalar` of `loss.item()`, lr, "
            "`clip_grad_norm_(params, inf).item()`",
        ),
    ],
    "jax": [
        ("none", "no logging"),
        ("log_step", "tblog `log_step(jit(step), w, every=10)` (metrics: loss, grad_norm)"),
        (
            "clu_manual",
            "CLU-style manual: every 10 steps `jax.device_get(metrics)`, "
            "then tensorboardX `add_scalar` per metric",
        ),
    ],
    "keras": [
        ("none", "no callback"),
        ("tb_epoch", "tblog `TensorBoard(update_freq='epoch')`"),
        ("tb_10_hist", "tblog `TensorBoard(update_freq=10, histogram_freq=1)`"),
        ("keras_tb", "Keras's own `keras.callbacks.TensorBoard(update_freq='epoch')`"),
    ],
}


# --------------------------------------------------------------------------- children


def _data(n: int, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 784)).astype(np.float32)
    y = rng.integers(0, 10, size=n).astype(np.int32)
    return x, y


def child_torch(config: str, steps: int, warmup: int, log_dir: str) -> dict:
    import torch

    torch.set_num_threads(1)  # 2 intra-op threads on a shared 2-core box: 2-20x slower, noisy
    torch.manual_seed(0)
    x_np, y_np = _data(BATCH * 10)
    xs = torch.from_numpy(x_np).view(10, BATCH, 784)
    ys = torch.from_numpy(y_np).long().view(10, BATCH)
    model = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    params = list(model.parameters())

    writer = tracker = handle = None
    if config in ("track", "track_watch"):
        import tblog
        import tblog.adapters.torch as tbtorch

        writer = tblog.SummaryWriter(log_dir)
        tracker = tbtorch.track(opt, writer, log_every=LOG_EVERY, batch_size=BATCH)
        if config == "track_watch":
            handle = tbtorch.watch(model, writer, log="all", log_freq=100)
    elif config == "tbx_manual":
        import tensorboardX

        writer = tensorboardX.SummaryWriter(log_dir)
    elif config != "none":
        raise ValueError(config)

    model.train()
    t0 = 0
    for i in range(steps):
        if i == warmup:
            t0 = time.perf_counter_ns()
        x, y = xs[i % 10], ys[i % 10]
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        if config == "tbx_manual" and (i + 1) % LOG_EVERY == 0:
            gn = torch.nn.utils.clip_grad_norm_(params, float("inf")).item()
            opt.step()
            writer.add_scalar("train/loss", loss.item(), i + 1)
            writer.add_scalar("train/lr/group0", opt.param_groups[0]["lr"], i + 1)
            writer.add_scalar("train/grad_norm", gn, i + 1)
        else:
            opt.step()
        if tracker is not None:
            tracker.log("loss", loss)
    t1 = time.perf_counter_ns()
    c0 = time.perf_counter_ns()
    if handle is not None:
        handle.remove()
    if tracker is not None:
        tracker.remove()
    if writer is not None:
        writer.close()
    c1 = time.perf_counter_ns()
    return {"loop_ns": t1 - t0, "timed_steps": steps - warmup, "close_ns": c1 - c0}


def child_jax(config: str, steps: int, warmup: int, log_dir: str) -> dict:
    import jax
    import jax.numpy as jnp
    import optax

    x_np, y_np = _data(BATCH * 10)
    xs = jnp.asarray(x_np).reshape(10, BATCH, 784)
    ys = jnp.asarray(y_np).reshape(10, BATCH)
    batches = [(xs[k], ys[k]) for k in range(10)]
    k1, k2 = jax.random.split(jax.random.PRNGKey(0))
    params = {
        "dense1": {"w": jax.random.normal(k1, (784, 128)) * (1 / 28.0), "b": jnp.zeros(128)},
        "dense2": {"w": jax.random.normal(k2, (128, 10)) * (1 / 128**0.5), "b": jnp.zeros(10)},
    }
    tx = optax.adam(1e-3)
    state = (params, tx.init(params))

    def loss_fn(p, x, y):
        h = jax.nn.relu(x @ p["dense1"]["w"] + p["dense1"]["b"])
        logits = h @ p["dense2"]["w"] + p["dense2"]["b"]
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    @jax.jit
    def train_step(state, batch):
        p, opt_state = state
        loss, grads = jax.value_and_grad(loss_fn)(p, *batch)
        updates, opt_state = tx.update(grads, opt_state, p)
        p = optax.apply_updates(p, updates)
        return (p, opt_state), {"loss": loss, "grad_norm": optax.global_norm(grads)}

    writer = None
    step = train_step
    if config == "log_step":
        import tblog
        import tblog.adapters.jax as tbjax

        writer = tblog.SummaryWriter(log_dir)
        step = tbjax.log_step(train_step, writer, every=LOG_EVERY)
    elif config == "clu_manual":
        import tensorboardX

        writer = tensorboardX.SummaryWriter(log_dir)
    elif config != "none":
        raise ValueError(config)

    t0 = 0
    for i in range(steps):
        if i == warmup:
            jax.block_until_ready(state)
            t0 = time.perf_counter_ns()
        state, metrics = step(state, batches[i % 10])
        if config == "clu_manual" and i % LOG_EVERY == 0:
            host = jax.device_get(metrics)
            for name, value in host.items():
                writer.add_scalar(name, float(value), i)
    jax.block_until_ready(state)
    t1 = time.perf_counter_ns()
    c0 = time.perf_counter_ns()
    if writer is not None:
        writer.close()
    c1 = time.perf_counter_ns()
    return {"loop_ns": t1 - t0, "timed_steps": steps - warmup, "close_ns": c1 - c0}


def child_keras(config: str, epochs: int, steps_per_epoch: int, log_dir: str) -> dict:
    os.environ.setdefault("KERAS_BACKEND", "jax")
    if config == "keras_tb" and importlib.util.find_spec("tensorflow") is None:
        return {"na": "needs TensorFlow (not installed): keras.callbacks.TensorBoard imports tf.summary"}
    import keras

    keras.utils.set_random_seed(0)
    x, y = _data(BATCH * steps_per_epoch)
    x = x.reshape(-1, 28, 28)
    model = keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )

    class Timer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.marks: list[int] = []

        def on_epoch_begin(self, epoch, logs=None):
            self.marks.append(time.perf_counter_ns())

        def on_train_end(self, logs=None):
            self.marks.append(time.perf_counter_ns())

    callbacks: list = []
    if config == "tb_epoch":
        import tblog.adapters.keras as tbkeras

        callbacks.append(tbkeras.TensorBoard(log_dir=log_dir, update_freq="epoch"))
    elif config == "tb_10_hist":
        import tblog.adapters.keras as tbkeras

        callbacks.append(tbkeras.TensorBoard(log_dir=log_dir, update_freq=10, histogram_freq=1))
    elif config == "keras_tb":
        callbacks.append(keras.callbacks.TensorBoard(log_dir=log_dir, update_freq="epoch"))
    elif config != "none":
        raise ValueError(config)
    timer = Timer()  # last: its marks include the other callbacks' epoch-end work
    model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        shuffle=False,
        verbose=0,
        callbacks=[*callbacks, timer],
    )
    # marks: begin of epoch 0..epochs-1, then train end; epoch 0 (compile) not timed.
    loop_ns = timer.marks[-1] - timer.marks[1]
    return {"loop_ns": loop_ns, "timed_steps": (epochs - 1) * steps_per_epoch, "close_ns": 0}


def child_main(framework: str, config: str, quick: bool) -> None:
    log_dir = tempfile.mkdtemp(prefix=f"tblog-adapters-{framework}-{config}-")
    try:
        if framework == "torch":
            res = child_torch(config, 100 if quick else 300, 20, log_dir)
        elif framework == "jax":
            res = child_jax(config, 100 if quick else 300, 20, log_dir)
        elif framework == "keras":
            res = child_keras(config, 2 if quick else 4, 50 if quick else 100, log_dir)
        else:
            raise ValueError(framework)
        if "na" not in res:
            files = [os.path.join(d, f) for d, _, fs in os.walk(log_dir) for f in fs if "tfevents" in f]
            res["events"] = sum(os.path.getsize(f) for f in files)
    finally:
        shutil.rmtree(log_dir, ignore_errors=True)
    print("RESULT " + json.dumps(res))


# --------------------------------------------------------------------------- parent


def run_child(python: str, framework: str, config: str, quick: bool) -> dict:
    cmd = [python, os.path.abspath(__file__), "--child", framework, config]
    if quick:
        cmd.append("--quick")
    env = dict(os.environ)
    if framework == "keras":
        env["KERAS_BACKEND"] = "jax"
    env.setdefault("JAX_PLATFORMS", "cpu")
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    tail = (p.stderr or p.stdout).strip().splitlines()[-3:]
    return {"error": f"exit {p.returncode}: " + " | ".join(tail)}


def fmt_table(framework: str, cells: dict[str, list[dict]]) -> list[str]:
    base_runs = [r for r in cells["none"] if "loop_ns" in r]
    base = statistics.median(r["loop_ns"] / r["timed_steps"] / 1e3 for r in base_runs) if base_runs else None
    out = [
        "| configuration | µs/step (median) | spread | overhead µs/step | overhead % "
        "| close() ms | event bytes |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for config, desc in CONFIGS[framework]:
        runs = cells[config]
        na = [r["na"] for r in runs if "na" in r]
        errs = [r["error"] for r in runs if "error" in r]
        if na:
            out.append(f"| {desc} | n/a: {na[0]} | | | | | |")
            continue
        if errs:
            out.append(f"| {desc} | FAILED: {errs[0]} | | | | | |")
            continue
        per = [r["loop_ns"] / r["timed_steps"] / 1e3 for r in runs]
        med = statistics.median(per)
        spread = f"±{(max(per) - min(per)) / 2 / med * 100:.0f}%" if len(per) > 1 else "—"
        close = statistics.median(r["close_ns"] for r in runs) / 1e6
        events = statistics.median(r["events"] for r in runs)
        if config == "none" or base is None:
            ov, pct = "—", "—"
        else:
            ov, pct = f"{med - base:+.1f}", f"{(med - base) / base * 100:+.1f}%"
        close_s = f"{close:.1f}" if framework != "keras" else "—"
        out.append(f"| {desc} | {med:.1f} | {spread} | {ov} | {pct} | {close_s} | {events:,.0f} |")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="1 repeat, fewer steps (smoke test)")
    ap.add_argument("--repeats", type=int, default=None, help="default 3 (1 with --quick)")
    ap.add_argument("--frameworks", default="torch,jax,keras")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--child", nargs=2, metavar=("FRAMEWORK", "CONFIG"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child_main(args.child[0], args.child[1], args.quick)
        return 0

    repeats = args.repeats or (1 if args.quick else 3)
    frameworks = [f for f in args.frameworks.split(",") if f]
    info = machine_info(PACKAGES)
    results: dict[str, dict[str, list[dict]]] = {f: {c: [] for c, _ in CONFIGS[f]} for f in frameworks}
    t_start = time.perf_counter()
    for rep in range(repeats):
        for fw in frameworks:
            for config, _ in CONFIGS[fw]:
                res = run_child(args.python, fw, config, args.quick)
                results[fw][config].append(res)
                shown = (
                    f"{res['loop_ns'] / res['timed_steps'] / 1e3:.1f} µs/step"
                    if "loop_ns" in res
                    else res.get("na") or res.get("error")
                )
                print(f"[{rep + 1}/{repeats}] {fw:6s} {config:12s} {shown}", flush=True)

    lines = [
        "# Adapter overhead: per-step cost of logging on a small model",
        "",
        f"Generated by `python benchmarks/adapters.py{' --quick' if args.quick else ''}` "
        f"({repeats} repeat{'s' if repeats > 1 else ''}, {time.perf_counter() - t_start:.0f} s). "
        "Model: MLP 784-128-10, batch 64, Adam, synthetic data. "
        "µs/step = timed loop wall time / timed steps in one run (warm-up excluded), median over repeats; "
        "spread = ±half (max − min) / median; overhead is against the framework's no-logging row. "
        "`close()` (flushing whatever the writer deferred) is not in the loop time. "
        "See benchmarks/README.md (Adapter overhead).",
        "",
    ]
    steps = "100 steps, first 20 untimed" if args.quick else "300 steps, first 20 untimed"
    kepochs = "2 epochs × 50 steps" if args.quick else "4 epochs × 100 steps"
    titles = {
        "torch": f"## PyTorch (CPU; {steps}; logging every 10 steps)",
        "jax": f"## JAX (CPU; jitted step; {steps}; logging every 10 steps)",
        "keras": f"## Keras 3, JAX backend ({kepochs}; first epoch untimed)",
    }
    for fw in frameworks:
        lines += [titles[fw], "", *fmt_table(fw, results[fw]), ""]
    pk = info["packages"]
    lines += [
        "## Machine",
        "",
        f"- Date: {info['date_utc']}",
        f"- CPU: {info['cpu']}; cores: {info['cores']} ({info['cores_usable']} usable)",
        "- Load average at start: " + ", ".join(f"{x:.2f}" for x in info["loadavg_start"]),
        "- Load average at end: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()),
        f"- OS: {info['os']}",
        f"- Python: {info['python']}",
        "- Packages: " + ", ".join(f"{k} {v or 'not installed'}" for k, v in pk.items()),
        f"- tblog commit: {info['git_commit']}",
        "",
    ]
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "adapters.md")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))
    print(f"wrote {path}")
    bad = any("error" in r for fw in results.values() for runs in fw.values() for r in runs)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
