"""tblog.adapters.keras.TensorBoard: Keras's callback layout on the JAX and torch backends."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

# The backend is fixed when keras is first imported: JAX in this process, torch in a child.
os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")

import tblog  # noqa: E402
from tblog.adapters.keras import TensorBoard  # noqa: E402

pytestmark = pytest.mark.framework

N, VAL = 256, 0.2
TRAIN_STEPS = 7  # ceil(256 * 0.8 / 32) batches per epoch
# Named layers: Keras numbers unnamed ones per process (dense, dense_1, dense_2, ...).
WEIGHTS = ["mnist/hidden/kernel", "mnist/hidden/bias", "mnist/logits/kernel", "mnist/logits/bias"]

# What keras.callbacks.TensorBoard (keras/src/callbacks/tensorboard.py) writes for this fit:
# _log_epoch_metrics: train logs + learning rate as epoch_<name> in train/, val_ logs without
# the prefix in validation/; _log_weights: "<weight.path>/histogram" in train/;
# _write_keras_model_summary: tensor "keras" in train/; on_test_end:
# evaluation_<name>_vs_iterations in validation/.
KERAS_TRAIN_SCALARS = {"epoch_loss", "epoch_accuracy", "epoch_learning_rate"}
KERAS_VAL_SCALARS = {
    "epoch_loss",
    "epoch_accuracy",
    "evaluation_loss_vs_iterations",
    "evaluation_accuracy_vs_iterations",
}
KERAS_HISTOGRAMS = {f"{w}/histogram" for w in WEIGHTS}

FIT_SCRIPT = """
import sys
import numpy as np
import keras
from tblog.adapters.keras import TensorBoard

rng = np.random.default_rng(0)
x = rng.random((256, 28, 28), dtype=np.float32)
y = rng.integers(0, 10, 256)
model = keras.models.Sequential([
    keras.Input((28, 28), name="image"),
    keras.layers.Flatten(name="flat"),
    keras.layers.Dense(128, activation="relu", name="hidden"),
    keras.layers.Dropout(0.2, name="drop"),
    keras.layers.Dense(10, activation="softmax", name="logits"),
], name="mnist")
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
tb_callback = TensorBoard(log_dir=sys.argv[1], histogram_freq=1)
model.fit(x, y, epochs=2, validation_split=0.2, batch_size=32, callbacks=[tb_callback], verbose=0)
"""


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.random((N, 28, 28), dtype=np.float32), rng.integers(0, 10, N)


def _model(**compile_kwargs: Any) -> Any:
    model = keras.models.Sequential(
        [
            keras.Input((28, 28), name="image"),
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(128, activation="relu", name="hidden"),
            keras.layers.Dropout(0.2, name="drop"),
            keras.layers.Dense(10, activation="softmax", name="logits"),
        ],
        name="mnist",
    )
    model.compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        **compile_kwargs,
    )
    return model


def _fit(model: Any, cb: Any, **kwargs: Any) -> None:
    x, y = _data()
    kwargs.setdefault("epochs", 2)
    model.fit(x, y, validation_split=VAL, batch_size=32, callbacks=[cb], verbose=0, **kwargs)


def _steps(acc: Any, tag: str) -> list[int]:
    return [s.step for s in acc.Scalars(tag)]


def _check_tutorial_layout(event_accumulator: Any, logdir: Any) -> None:
    assert sorted(os.listdir(logdir)) == ["train", "validation"]
    train = event_accumulator(os.path.join(logdir, "train"))
    val = event_accumulator(os.path.join(logdir, "validation"))
    assert set(train.Tags()["scalars"]) == KERAS_TRAIN_SCALARS
    assert set(val.Tags()["scalars"]) == KERAS_VAL_SCALARS
    assert set(train.Tags()["histograms"]) == KERAS_HISTOGRAMS
    assert train.Tags()["tensors"] == ["keras"]
    for tag in KERAS_TRAIN_SCALARS:
        assert _steps(train, tag) == [0, 1], tag
    for tag in ("epoch_loss", "epoch_accuracy"):
        assert _steps(val, tag) == [0, 1], tag
    assert _steps(val, "evaluation_loss_vs_iterations") == [TRAIN_STEPS, 2 * TRAIN_STEPS]
    assert [s.value for s in train.Scalars("epoch_learning_rate")] == pytest.approx([1e-3] * 2)
    for tag in KERAS_HISTOGRAMS:
        events = train.Histograms(tag)
        assert [e.step for e in events] == [0, 1], tag
    kernel = train.Histograms("mnist/hidden/kernel/histogram")[-1].histogram_value
    assert kernel.num == 28 * 28 * 128
    # Keras's own callback: tf.summary.histogram's default of 30 equal-width buckets (here as
    # torch's layout writes them: the leading edge as an empty bucket, then the 30 buckets)
    edges = np.linspace(kernel.min, kernel.max, 31)
    assert list(kernel.bucket_limit) == pytest.approx(edges.tolist(), rel=1e-6)
    assert kernel.bucket[0] == 0 and sum(kernel.bucket) == kernel.num
    assert all(np.isfinite(v) for v in (kernel.min, kernel.max, kernel.sum))


def test_tutorial_fit_jax(tmp_path: Any, event_accumulator: Any) -> None:
    """The tutorial's fit on JAX writes Keras's train/validation layout: scalars, histograms, graph."""
    cb = TensorBoard(log_dir=str(tmp_path), histogram_freq=1)
    assert cb.async_safe is True
    _fit(_model(), cb)
    _check_tutorial_layout(event_accumulator, tmp_path)


def test_jax_backend_writes_the_op_graph(tmp_path: Any, event_accumulator: Any) -> None:
    """On JAX, write_graph also writes the forward pass's op graph (Keras on TensorFlow writes
    its train step's): the Graphs dashboard's op graph, with the model's matmuls and inputs."""
    _fit(_model(), TensorBoard(log_dir=str(tmp_path)), epochs=1)
    graph = event_accumulator(tmp_path / "train").Graph()
    ops = {node.op for node in graph.node}
    assert {"dot_general", "Placeholder"} <= ops, ops
    inputs = [node for node in graph.node if node.op == "Placeholder"]
    shapes = [[d.size for d in node.attr["_output_shapes"].list.shape[0].dim] for node in inputs]
    assert [1, 28, 28] in shapes and [784, 128] in shapes, shapes  # the batch, a kernel


def test_no_op_graph_without_write_graph(tmp_path: Any, event_accumulator: Any) -> None:
    _fit(_model(), TensorBoard(log_dir=str(tmp_path), write_graph=False), epochs=1)
    assert not event_accumulator(tmp_path / "train").Tags()["graph"]


def test_tutorial_fit_torch_backend(tmp_path: Any, event_accumulator: Any) -> None:
    """The same fit on the torch backend (own process, KERAS_BACKEND=torch) writes the same layout."""
    pytest.importorskip("torch")
    env = dict(os.environ, KERAS_BACKEND="torch")
    proc = subprocess.run(
        [sys.executable, "-c", FIT_SCRIPT, str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    _check_tutorial_layout(event_accumulator, tmp_path)


def test_update_freq_batches_and_images(tmp_path: Any, event_accumulator: Any) -> None:
    """update_freq=3 logs batch_<metric> every 3rd global step; write_images/steps_per_second too."""
    cb = TensorBoard(
        str(tmp_path), histogram_freq=1, write_images=True, update_freq=3,
        write_steps_per_second=True,
    )  # fmt: skip
    _fit(_model(), cb)
    train = event_accumulator(tmp_path / "train")
    expected = [s for s in range(1, 2 * TRAIN_STEPS + 1) if s % 3 == 0]
    for tag in ("batch_loss", "batch_accuracy", "batch_steps_per_second"):
        assert _steps(train, tag) == expected, tag
    assert _steps(train, "epoch_steps_per_second") == [0, 1]
    assert all(s.value > 0 for s in train.Scalars("batch_steps_per_second"))
    assert set(train.Tags()["images"]) == {f"{w}/image" for w in WEIGHTS}
    kernel = train.Images("mnist/hidden/kernel/image")[-1]
    assert (kernel.height, kernel.width) == (128, 784)  # transposed: wide side horizontal
    bias = train.Images("mnist/logits/bias/image")[-1]
    assert (bias.height, bias.width) == (10, 1)


def test_update_freq_batch_with_steps_per_execution(tmp_path: Any, event_accumulator: Any) -> None:
    """With steps_per_execution=2, batch summaries land on optimizer steps 2, 4, ... (and the last)."""
    cb = TensorBoard(str(tmp_path), update_freq="batch")
    _fit(_model(steps_per_execution=2), cb, epochs=1)
    train = event_accumulator(tmp_path / "train")
    logged = _steps(train, "batch_loss")
    assert logged == sorted(set(logged))
    assert logged[:3] == [2, 4, 6]
    assert logged[-1] == TRAIN_STEPS
    val = event_accumulator(tmp_path / "validation")
    assert _steps(val, "evaluation_loss_vs_iterations") == [TRAIN_STEPS]


def test_repeated_fit_continues_steps(tmp_path: Any, event_accumulator: Any) -> None:
    """A second fit with initial_epoch continues epochs and batch steps instead of restarting."""
    model = _model()
    cb = TensorBoard(str(tmp_path), update_freq=1)
    _fit(model, cb, epochs=2)
    _fit(model, cb, epochs=4, initial_epoch=2)
    train = event_accumulator(tmp_path / "train")
    assert _steps(train, "epoch_loss") == [0, 1, 2, 3]
    assert _steps(train, "batch_loss") == list(range(1, 4 * TRAIN_STEPS + 1))
    assert train.Tags()["tensors"] == ["keras"]
    val = event_accumulator(tmp_path / "validation")
    assert _steps(val, "evaluation_loss_vs_iterations") == [TRAIN_STEPS * k for k in (1, 2, 3, 4)]


def test_initial_epoch_resume_fresh_optimizer(tmp_path: Any, event_accumulator: Any) -> None:
    """Resuming at initial_epoch=3 with a fresh optimizer puts batch steps after epoch 2's."""
    cb = TensorBoard(str(tmp_path), update_freq=1)
    _fit(_model(), cb, epochs=4, initial_epoch=3)
    train = event_accumulator(tmp_path / "train")
    assert _steps(train, "epoch_loss") == [3]
    assert _steps(train, "batch_loss") == list(range(3 * TRAIN_STEPS + 1, 4 * TRAIN_STEPS + 1))


def test_existing_writer_gets_sub_runs(tmp_path: Any, event_accumulator: Any) -> None:
    """writer= puts train/ and validation/ under the writer's log_dir and leaves it open."""
    with tblog.SummaryWriter(tmp_path / "run") as writer:
        cb = TensorBoard(writer=writer)
        _fit(_model(), cb, epochs=1)
        writer.add_scalar("after", 1.0, 0)
    assert cb.log_dir == str(tmp_path / "run")
    train = event_accumulator(tmp_path / "run" / "train")
    assert _steps(train, "epoch_loss") == [0]
    assert _steps(event_accumulator(tmp_path / "run" / "validation"), "epoch_loss") == [0]
    assert _steps(event_accumulator(tmp_path / "run"), "after") == [0]


def test_embeddings_freq(tmp_path: Any) -> None:
    """embeddings_freq saves each Embedding layer's matrix for the Projector in train/."""
    labels = tmp_path / "labels.tsv"
    labels.write_text("".join(f"w{i}\n" for i in range(20)))
    model = keras.models.Sequential(
        [
            keras.Input((4,), dtype="int32", name="ids"),
            keras.layers.Embedding(20, 3, name="emb"),
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(1, name="out"),
        ],
        name="embed_model",
    )
    model.compile("sgd", "mse")
    cb = TensorBoard(str(tmp_path / "logs"), embeddings_freq=1, embeddings_metadata=str(labels))
    x = np.random.default_rng(0).integers(0, 20, (16, 4))
    model.fit(x, np.zeros((16, 1)), epochs=2, callbacks=[cb], verbose=0)
    config = (tmp_path / "logs" / "train" / "projector_config.pbtxt").read_text()
    assert config.count("embeddings {") == 2
    tensors = np.loadtxt(tmp_path / "logs" / "train" / "00001" / "emb" / "tensors.tsv")
    np.testing.assert_allclose(tensors, keras.ops.convert_to_numpy(model.layers[0].embeddings))
    meta = (tmp_path / "logs" / "train" / "00001" / "emb" / "metadata.tsv").read_text().split()
    assert meta == [f"w{i}" for i in range(20)]


def test_bad_arguments() -> None:
    """Bad options raise clear errors at construction; profiling is refused explicitly."""
    with pytest.raises(NotImplementedError, match="profile_batch"):
        TensorBoard(profile_batch=2)
    with pytest.raises(NotImplementedError, match="profile_batch"):
        TensorBoard(profile_batch=(2, 4))
    with pytest.raises(ValueError, match="profile_batch"):
        TensorBoard(profile_batch=-1)
    with pytest.raises(ValueError, match="update_freq"):
        TensorBoard(update_freq="step")
    with pytest.raises(ValueError, match="update_freq"):
        TensorBoard(update_freq=0)
    with pytest.raises(ValueError, match="histogram_freq"):
        TensorBoard(histogram_freq=-1)
    with pytest.raises(TypeError, match="writer"):
        TensorBoard(writer="logs")
    with pytest.raises(TypeError, match="log_dir"):
        TensorBoard(log_dir=3)
    with pytest.raises(TypeError, match="embeddings_metadata"):
        TensorBoard(embeddings_metadata=["a"])
    TensorBoard(profile_batch=0)
    TensorBoard(profile_batch="0,0")


KERAS_OWN_FIT_SCRIPT = FIT_SCRIPT.replace(
    "from tblog.adapters.keras import TensorBoard", "from keras.callbacks import TensorBoard"
)


def _plugin_tags(logdir: str) -> dict[str, set[str]]:
    """Tags per plugin, as TensorBoard's own loader sees them (legacy and tensor summaries alike)."""
    from tensorboard.backend.event_processing import plugin_event_accumulator as pea

    acc = pea.EventAccumulator(logdir)
    acc.Reload()
    return {plugin: set(acc.PluginTagToContent(plugin)) for plugin in acc.ActivePlugins()}


@pytest.mark.tensorflow
def test_tensorflow_backend_matches_keras_own_callback(tmp_path: Any, event_accumulator: Any) -> None:
    """On the TensorFlow backend, tblog's callback writes the tutorial layout, and the same runs
    and tags per dashboard as keras.callbacks.TensorBoard itself (which needs TensorFlow)."""
    import importlib.util

    if importlib.util.find_spec("tensorflow") is None:  # only the tf CI job installs it
        pytest.skip("tensorflow is not installed (tests/run.sh tf runs this test)")
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="2")
    for script, logdir in ((FIT_SCRIPT, tmp_path / "tblog"), (KERAS_OWN_FIT_SCRIPT, tmp_path / "keras")):
        proc = subprocess.run(
            [sys.executable, "-c", script, str(logdir)], env=env, capture_output=True, text=True, timeout=600
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
    _check_tutorial_layout(event_accumulator, tmp_path / "tblog")
    assert sorted(os.listdir(tmp_path / "keras")) == ["train", "validation"]
    for run in ("train", "validation"):
        assert _plugin_tags(str(tmp_path / "tblog" / run)) == _plugin_tags(str(tmp_path / "keras" / run)), run
    # the same bucket count: Keras's 30 rows of (left, right, count); tblog's 30 after the leading edge
    tag = "mnist/hidden/kernel/histogram"
    keras_rows = (
        event_accumulator(tmp_path / "keras" / "train").Tensors(tag)[-1].tensor_proto.tensor_shape.dim[0]
    )
    ours = event_accumulator(tmp_path / "tblog" / "train").Histograms(tag)[-1].histogram_value
    assert keras_rows.size == len(ours.bucket) - 1 == 30
