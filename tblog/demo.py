"""A small, real training run logged with tblog: ``python -m tblog.demo [--logdir runs/demo]``.

A two-layer MLP, written in NumPy alone, learns to tell two interleaved spirals apart.
The data is generated from a fixed seed, so every run is the same and nothing is downloaded.

Each TensorBoard dashboard the demo fills is one :class:`Section`: it gets the writer at the
start of the run, after every step and at the end. To show another dashboard, write a new
subclass and add it to :data:`SECTIONS`.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tblog import SummaryWriter
from tblog._progress import Progress, progress_enabled

Array = npt.NDArray[np.float64]

DEFAULT_LOGDIR = "runs/demo"


@dataclass(frozen=True)
class Config:
    """Everything that decides the run."""

    steps: int = 500
    batch_size: int = 64
    hidden: int = 64
    learning_rate: float = 0.5
    momentum: float = 0.9
    weight_decay: float = 1e-4
    samples: int = 1200
    val_fraction: float = 0.25
    noise: float = 0.25
    eval_every: int = 10
    seed: int = 0


# --------------------------------------------------------------------------- data and model


def make_spirals(n: int, noise: float, rng: np.random.Generator) -> tuple[Array, Array]:
    """``n`` points on two interleaved spirals; labels 0 and 1."""
    half = n // 2
    t = np.sqrt(rng.uniform(0.0, 1.0, half)) * 3.0 * np.pi
    arm = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / (3.0 * np.pi)
    x = np.concatenate([arm, -arm]) + rng.normal(0.0, noise / (3.0 * np.pi), (2 * half, 2))
    y = np.concatenate([np.zeros(half), np.ones(half)])
    order = rng.permutation(2 * half)
    return x[order], y[order]


def _sigmoid(z: Array) -> Array:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


@dataclass
class MLP:
    """2 → hidden → 1, tanh hidden layer, logistic output, SGD with momentum."""

    params: dict[str, Array]
    velocity: dict[str, Array] = field(default_factory=dict)

    @classmethod
    def create(cls, hidden: int, rng: np.random.Generator) -> MLP:
        params = {
            "w1": rng.normal(0.0, 1.0, (2, hidden)) * np.sqrt(1.0 / 2.0),
            "b1": np.zeros(hidden),
            "w2": rng.normal(0.0, 1.0, (hidden, 1)) * np.sqrt(1.0 / hidden),
            "b2": np.zeros(1),
        }
        return cls(params, {k: np.zeros_like(v) for k, v in params.items()})

    def predict(self, x: Array) -> Array:
        """Probability of class 1 for each row of ``x``."""
        h = np.tanh(x @ self.params["w1"] + self.params["b1"])
        return _sigmoid(h @ self.params["w2"] + self.params["b2"])[:, 0]

    def loss_and_grads(self, x: Array, y: Array) -> tuple[float, dict[str, Array]]:
        """Mean binary cross-entropy on (x, y) and its gradient for every parameter."""
        p = self.params
        h = np.tanh(x @ p["w1"] + p["b1"])
        prob = _sigmoid(h @ p["w2"] + p["b2"])[:, 0]
        eps = 1e-12
        loss = -np.mean(y * np.log(prob + eps) + (1.0 - y) * np.log(1.0 - prob + eps))
        d_logit = ((prob - y) / len(y))[:, None]
        d_h = (d_logit @ p["w2"].T) * (1.0 - h**2)
        grads = {
            "w1": x.T @ d_h,
            "b1": d_h.sum(axis=0),
            "w2": h.T @ d_logit,
            "b2": d_logit.sum(axis=0),
        }
        return float(loss), grads

    def update(self, grads: dict[str, Array], lr: float, momentum: float, decay: float) -> None:
        for name, g in grads.items():
            v = self.velocity[name]
            v *= momentum
            v -= lr * (g + decay * self.params[name])
            self.params[name] += v


def evaluate(model: MLP, x: Array, y: Array) -> tuple[float, float]:
    """(loss, accuracy) of ``model`` on the whole of (x, y)."""
    loss, _ = model.loss_and_grads(x, y)
    accuracy = float(np.mean((model.predict(x) > 0.5) == (y > 0.5)))
    return loss, accuracy


# --------------------------------------------------------------------------- the run


@dataclass
class Run:
    """What the sections can look at: the config, data, model and the latest numbers."""

    config: Config
    model: MLP
    x_train: Array
    y_train: Array
    x_val: Array
    y_val: Array
    step: int = 0
    learning_rate: float = 0.0
    train_loss: float = float("nan")
    train_accuracy: float = float("nan")
    grad_norm: float = float("nan")
    val_loss: float | None = None  # set on the steps where the run evaluated
    val_accuracy: float | None = None
    seconds: float = 0.0


class Section:
    """One TensorBoard dashboard's share of the logging. Override what you need."""

    def start(self, writer: SummaryWriter, run: Run) -> None:
        """Called once, before the first step."""

    def step(self, writer: SummaryWriter, run: Run) -> None:
        """Called after every training step (``run.step`` counts from 1)."""

    def end(self, writer: SummaryWriter, run: Run) -> None:
        """Called once, after the last step."""


class ScalarsSection(Section):
    """The Scalars dashboard: add_scalar, log() with nested dicts, add_scalars."""

    def step(self, writer: SummaryWriter, run: Run) -> None:
        writer.add_scalar("train/loss", run.train_loss, run.step)
        writer.log(
            {
                "train": {"accuracy": run.train_accuracy, "grad_norm": run.grad_norm},
                "optim": {"learning_rate": run.learning_rate},
            },
            run.step,
        )
        if run.val_loss is not None and run.val_accuracy is not None:
            writer.log({"val": {"loss": run.val_loss, "accuracy": run.val_accuracy}}, run.step)
            # One chart, two lines: sub-runs loss_train and loss_val, like torch.
            writer.add_scalars("loss", {"train": run.train_loss, "val": run.val_loss}, run.step)


class TextSection(Section):
    """The Text dashboard: the config as a markdown table, and a result summary."""

    def start(self, writer: SummaryWriter, run: Run) -> None:
        rows = "\n".join(f"| `{k}` | {v} |" for k, v in asdict(run.config).items())
        writer.add_text("config", "| setting | value |\n|---|---|\n" + rows, 0)

    def end(self, writer: SummaryWriter, run: Run) -> None:
        text = (
            f"Two-spiral MLP, {run.config.steps} steps in {run.seconds:.2f} s.\n\n"
            f"* final train loss: **{run.train_loss:.4f}**\n"
            f"* final validation loss: **{run.val_loss:.4f}**, "
            f"accuracy: **{run.val_accuracy:.1%}**\n"
        )
        writer.add_text("summary", text, run.step)


class GraphSection(Section):
    """Graphs: the MLP's forward pass as a GraphDef built by hand (no framework to trace)."""

    def start(self, writer: SummaryWriter, run: Run) -> None:
        from tblog.summary.graph import Node, graph_def

        hidden = run.config.hidden
        batch = run.config.batch_size

        def param(name: str, shape: list[int]) -> Node:
            return Node(f"MLP/{name}", "Parameter", shapes=[shape], dtype="float64")

        def op(name: str, kind: str, inputs: list[str], shape: list[int]) -> Node:
            return Node(f"MLP/{name}", kind, inputs, shapes=[shape], dtype="float64")

        nodes = [
            Node("input/x", "Placeholder", shapes=[[batch, 2]], dtype="float64"),
            param("hidden/w1", [2, hidden]),
            param("hidden/b1", [hidden]),
            op("hidden/matmul", "MatMul", ["input/x", "MLP/hidden/w1"], [batch, hidden]),
            op("hidden/add", "Add", ["MLP/hidden/matmul", "MLP/hidden/b1"], [batch, hidden]),
            op("hidden/tanh", "Tanh", ["MLP/hidden/add"], [batch, hidden]),
            param("output/w2", [hidden, 1]),
            param("output/b2", [1]),
            op("output/matmul", "MatMul", ["MLP/hidden/tanh", "MLP/output/w2"], [batch, 1]),
            op("output/add", "Add", ["MLP/output/matmul", "MLP/output/b2"], [batch, 1]),
            op("output/sigmoid", "Sigmoid", ["MLP/output/add"], [batch, 1]),
            Node("output/probability", "Identity", ["MLP/output/sigmoid"], shapes=[[batch, 1]]),
        ]
        writer.add_graph(graph_def(nodes))


class ProfileSection(Section):
    """Profile: the first 20 steps' timing as a trace (TensorBoard's profile plugin, Perfetto)."""

    steps = 20

    def start(self, writer: SummaryWriter, run: Run) -> None:
        from tblog.profile import StepProfiler

        self.profiler = StepProfiler(writer, name="demo")
        self.profiler.next_step(1)

    def step(self, writer: SummaryWriter, run: Run) -> None:
        if run.step < self.steps:
            self.profiler.next_step()
        elif run.step == self.steps:
            self.profiler.write()


class HistogramSection(Section):
    """Histograms and Distributions: every parameter and its gradient, every 25 steps."""

    every = 25

    def step(self, writer: SummaryWriter, run: Run) -> None:
        if run.step % self.every == 0 or run.step == 1:
            for name, value in run.model.params.items():
                writer.add_histogram(f"params/{name}", value, run.step)


class PrCurveSection(Section):
    """PR Curves: validation predictions against labels, at every 100th step."""

    def step(self, writer: SummaryWriter, run: Run) -> None:
        if run.step % 100 == 0 or run.step == run.config.steps:
            writer.add_pr_curve("val/pr", run.y_val, run.model.predict(run.x_val), run.step)


def decision_image(model: MLP, size: int = 96) -> Array:
    """The model's class-1 probability over the input square as an RGB image, HWC in [0, 1]."""
    axis = np.linspace(-1.2, 1.2, size)
    grid = np.stack(np.meshgrid(axis, -axis), axis=-1).reshape(-1, 2)
    prob = model.predict(grid).reshape(size, size)
    return np.stack([prob, 0.25 + 0.5 * prob * (1 - prob), 1.0 - prob], axis=-1)


class ImageSection(Section):
    """Images: the decision boundary as it forms, and the same as a video at the end."""

    every = 50

    def start(self, writer: SummaryWriter, run: Run) -> None:
        self.frames: list[Array] = []

    def step(self, writer: SummaryWriter, run: Run) -> None:
        if run.step % self.every == 0 or run.step == 1:
            image = decision_image(run.model)
            writer.add_image("boundary", image, run.step, dataformats="HWC")
            self.frames.append(image)

    def end(self, writer: SummaryWriter, run: Run) -> None:
        video = np.stack(self.frames).transpose(0, 3, 1, 2)[None]  # N, T, C, H, W
        writer.add_video("boundary_over_time", video, run.step, fps=4)


class AudioSection(Section):
    """Audio: the validation loss curve played as a rising/falling tone (one second)."""

    def start(self, writer: SummaryWriter, run: Run) -> None:
        self.losses: list[float] = []

    def step(self, writer: SummaryWriter, run: Run) -> None:
        self.losses.append(run.train_loss)

    def end(self, writer: SummaryWriter, run: Run) -> None:
        rate = 16000
        t = np.arange(rate) / rate
        loss = np.interp(t, np.linspace(0, 1, len(self.losses)), self.losses)
        pitch = 220.0 + 660.0 * loss / max(self.losses)
        tone = 0.4 * np.sin(2 * np.pi * np.cumsum(pitch) / rate)
        writer.add_audio("loss_as_sound", tone, run.step, sample_rate=rate)


class HParamsSection(Section):
    """HParams: the config against the final metrics, linked to this run's scalars."""

    def end(self, writer: SummaryWriter, run: Run) -> None:
        hparams = {k: v for k, v in asdict(run.config).items() if k != "seed"}
        writer.add_hparams(
            hparams,
            {"val/loss": None, "val/accuracy": None, "hparam/seconds": run.seconds},
            global_step=run.step,
        )


class CustomScalarsSection(Section):
    """Custom Scalars: train and validation loss on one chart, accuracy on another."""

    def start(self, writer: SummaryWriter, run: Run) -> None:
        writer.add_custom_scalars(
            {
                "training": {
                    "loss": ["Multiline", ["train/loss", "val/loss"]],
                    "accuracy": ["Multiline", [r".*/accuracy"]],
                }
            }
        )


class MeshSection(Section):
    """Mesh: the spirals as a 3-D point cloud, height = predicted probability."""

    def end(self, writer: SummaryWriter, run: Run) -> None:
        prob = run.model.predict(run.x_val)
        points = np.column_stack([run.x_val, prob - 0.5])[None].astype(np.float32)
        colors = np.column_stack([prob, np.zeros_like(prob), 1.0 - prob])[None]
        writer.add_mesh("spirals", points, colors=(255 * colors).astype(np.uint8), global_step=run.step)


class EmbeddingSection(Section):
    """Projector: the hidden-layer activations of the validation points, with their labels."""

    def end(self, writer: SummaryWriter, run: Run) -> None:
        hidden = np.tanh(run.x_val @ run.model.params["w1"] + run.model.params["b1"])
        prob = run.model.predict(run.x_val)
        labels = [[f"arm {int(y)}", f"{p:.2f}"] for y, p in zip(run.y_val, prob, strict=True)]
        thumbs = np.zeros((len(hidden), 3, 8, 8))
        thumbs[:, 0] = run.y_val[:, None, None]
        thumbs[:, 2] = 1.0 - run.y_val[:, None, None]
        writer.add_embedding(
            hidden,
            metadata=labels,
            metadata_header=["arm", "p(arm 1)"],
            label_img=thumbs,
            global_step=run.step,
            tag="hidden_layer",
        )


class TensorSection(Section):
    """A raw tensor: the first layer's weights at the end."""

    def end(self, writer: SummaryWriter, run: Run) -> None:
        writer.add_tensor("params/w1_raw", run.model.params["w1"].astype(np.float32), run.step)


class ProgressSection(Section):
    """No dashboard: moves a progress bar (tblog._progress) on stderr as the run trains."""

    def __init__(self, bar: Progress) -> None:
        self.bar = bar

    def step(self, writer: SummaryWriter, run: Run) -> None:
        self.bar.advance()


SECTIONS: list[Section] = [
    ScalarsSection(),
    TextSection(),
    HistogramSection(),
    PrCurveSection(),
    ImageSection(),
    AudioSection(),
    HParamsSection(),
    CustomScalarsSection(),
    MeshSection(),
    EmbeddingSection(),
    TensorSection(),
    GraphSection(),
    ProfileSection(),
]


def learning_rate(config: Config, step: int) -> float:
    """Linear warm-up over the first 10% of the steps, then cosine decay to 5%."""
    warmup = max(1, config.steps // 10)
    if step <= warmup:
        return config.learning_rate * step / warmup
    progress = (step - warmup) / max(1, config.steps - warmup)
    return config.learning_rate * (0.05 + 0.95 * 0.5 * (1.0 + np.cos(np.pi * progress)))


def train(writer: SummaryWriter, config: Config, sections: Sequence[Section] = SECTIONS) -> Run:
    """Train the MLP for ``config.steps`` steps, calling every section; returns the final run."""
    rng = np.random.default_rng(config.seed)
    x, y = make_spirals(config.samples, config.noise, rng)
    n_val = int(len(x) * config.val_fraction)
    run = Run(
        config=config,
        model=MLP.create(config.hidden, rng),
        x_train=x[n_val:],
        y_train=y[n_val:],
        x_val=x[:n_val],
        y_val=y[:n_val],
    )
    started = time.perf_counter()
    for section in sections:
        section.start(writer, run)
    for step in range(1, config.steps + 1):
        batch = rng.choice(len(run.x_train), config.batch_size, replace=False)
        xb, yb = run.x_train[batch], run.y_train[batch]
        loss, grads = run.model.loss_and_grads(xb, yb)
        run.step = step
        run.learning_rate = learning_rate(config, step)
        run.model.update(grads, run.learning_rate, config.momentum, config.weight_decay)
        run.train_loss = loss
        run.train_accuracy = float(np.mean((run.model.predict(xb) > 0.5) == (yb > 0.5)))
        run.grad_norm = float(np.sqrt(sum(float(np.sum(g * g)) for g in grads.values())))
        if step % config.eval_every == 0 or step == config.steps:
            run.val_loss, run.val_accuracy = evaluate(run.model, run.x_val, run.y_val)
        else:
            run.val_loss = run.val_accuracy = None
        for section in sections:
            section.step(writer, run)
    run.seconds = time.perf_counter() - started
    for section in sections:
        section.end(writer, run)
    return run


# --------------------------------------------------------------------------- command line


# What a demo run writes besides event files (the embedding projector's files).
_DEMO_FILES = {"projector_config.pbtxt", "tensors.tsv", "metadata.tsv", "sprite.png"}
_DEMO_SUFFIXES = (".trace.json.gz",)  # the profile


def clear_logdir(logdir: Path) -> None:
    """Remove a previous demo run at ``logdir``, refusing to delete anything it did not write."""
    if not logdir.exists():
        return
    if not logdir.is_dir():
        raise SystemExit(f"--logdir {logdir} exists and is not a directory")
    strangers = [
        p
        for p in logdir.rglob("*")
        if p.is_file()
        and not p.name.startswith("events.out.tfevents.")
        and p.name not in _DEMO_FILES
        and not p.name.endswith(_DEMO_SUFFIXES)
    ]
    if strangers:
        raise SystemExit(
            f"--logdir {logdir} holds files that are not TensorBoard event files "
            f"(e.g. {strangers[0]}); refusing to delete it. Pick another --logdir."
        )
    shutil.rmtree(logdir)


def view_command(logdir: str) -> str:
    """The command that shows ``logdir`` in TensorBoard, from where the user is now."""
    if shutil.which("tensorboard") is not None:
        return f"tensorboard --logdir {logdir}"
    beside = Path(sys.executable).parent / "tensorboard"
    if beside.exists():  # installed in this venv, which is not activated
        try:
            shown = f"./{beside.relative_to(Path.cwd())}"  # e.g. ./.venv/bin/tensorboard
        except ValueError:
            shown = str(beside)
        return f"{shown} --logdir {logdir}"
    return f"pip install tensorboard && tensorboard --logdir {logdir}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tblog.demo",
        description="Train a small NumPy MLP and log it to TensorBoard with tblog.",
    )
    parser.add_argument(
        "--logdir",
        default=DEFAULT_LOGDIR,
        help=f"where to write (replaced on every run; default {DEFAULT_LOGDIR})",
    )
    parser.add_argument("--steps", type=int, default=Config.steps, help="training steps")
    parser.add_argument("--seed", type=int, default=Config.seed, help="data and init seed")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps must be at least 1, got {args.steps}")

    config = Config(steps=args.steps, seed=args.seed)
    clear_logdir(Path(args.logdir))
    writer = SummaryWriter(log_dir=args.logdir)
    bar = Progress(config.steps, "training", enabled=progress_enabled(sys.stderr, args.quiet))
    try:
        run = train(writer, config, [*SECTIONS, ProgressSection(bar)])
    finally:
        bar.close()
        writer.close()
    print(
        f"Trained for {config.steps} steps in {run.seconds:.2f} s: "
        f"validation loss {run.val_loss:.4f}, accuracy {run.val_accuracy:.1%}."
    )
    print(f"Wrote TensorBoard logs to {args.logdir}. View them with:")
    print(f"  {view_command(args.logdir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
