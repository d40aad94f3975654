"""Keras adapter: a TensorBoard callback and a model's conceptual graph, on any backend.

Import it explicitly (``import tblog.adapters.keras``); ``import tblog`` never loads Keras.
:class:`TensorBoard` is a drop-in for ``keras.callbacks.TensorBoard`` (same options, same
``train/`` and ``validation/`` layout and tags) that needs no TensorFlow, so it works on the
JAX and PyTorch backends too.

:func:`add_graph` writes the model's JSON as TensorBoard's Keras ("conceptual") graph: a
string tensor under tag ``keras`` with plugin ``graph_keras_model``, which the Graphs dashboard
lists as the run's conceptual graph and draws one node per layer (class as ``keras_class``),
edges from the layers' inbound nodes, nested models as name scopes.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

import keras
import numpy as np

from tblog import _convert, _rank
from tblog.summary import _wire
from tblog.summary.tensor import tensor_value

__all__ = ["TensorBoard", "add_graph", "keras_graph_value"]

PLUGIN_NAME = "graph_keras_model"
# Keras's callback bins weights as tf.summary.histogram does by default: 30 equal-width
# buckets from the smallest value to the largest (TensorBoard's exponential buckets would
# write ~550 per weight and make the file ~9x larger).
KERAS_HISTOGRAM_BUCKETS = 30
TAG = "keras"
_DATA_CLASS_BLOB_SEQUENCE = 3
# content b"1" is the version TensorBoard's graphs plugin accepts; data class BLOB_SEQUENCE and
# a shape-[1] tensor are what TensorBoard turns TensorFlow's keras_model summary into on load.
_METADATA = _wire.plugin_metadata(PLUGIN_NAME, content=b"1", data_class=_DATA_CLASS_BLOB_SEQUENCE)


def keras_graph_value(model_json: str, tag: str = TAG) -> bytes:
    """An encoded ``Summary.Value``: ``model_json`` as a shape-[1] string tensor, Keras graph plugin."""
    return tensor_value(tag, np.array([model_json], dtype=object), _METADATA)


def _model_json(model: Any) -> str:
    """``model.to_json()`` after checking that it describes a built layer graph."""
    if not isinstance(model, keras.Model):
        raise TypeError(
            "model: expected a Keras 3 keras.Model (Sequential or Functional); "
            f"got {_convert.describe(model)}"
        )
    if not model.built:
        raise ValueError(
            f"model: Keras model {model.name!r} is not built (no inputs yet); build it first: "
            "give it a keras.Input, call model.build(input_shape), or call it on a batch"
        )
    model_json = model.to_json()
    config = json.loads(model_json).get("config") or {}
    if not isinstance(config.get("layers"), list) or "name" not in config:
        raise TypeError(
            f"model: {type(model).__name__} is a subclassed keras.Model, whose config lists no "
            "layer graph; only Sequential and Functional models have a conceptual graph"
        )
    return model_json


def add_graph(writer: Any, model: Any, step: Any = 0, walltime: float | None = None) -> None:
    """Log ``model``'s conceptual graph (its layers and their connections) to ``writer``'s run.

    ``model``: a built Sequential or Functional Keras 3 model, on any backend. View it in the
    Graphs dashboard: pick the run, then tag ``keras`` ("Conceptual graph").

    Example::

        import tblog.adapters.keras as tbkeras

        tbkeras.add_graph(writer, model)

    Raises:
        TypeError: ``writer`` is not a tblog SummaryWriter, or ``model`` is not a Sequential or
            Functional ``keras.Model``.
        ValueError: ``model`` is not built yet; nothing is written and the writer stays usable.
    """
    if getattr(writer, "_events", None) is None or not hasattr(writer, "_put_values"):
        raise TypeError(f"writer: expected a tblog.SummaryWriter, got {_convert.describe(writer)}")
    model_json = _model_json(model)
    step, wall = writer._step_and_wall(step, walltime)
    writer._put_values([keras_graph_value(model_json)], step, wall)


# ----- the callback ------------------------------------------------------------------------


def _check_freq(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name}: expected a non-negative int; got {_convert.describe(value)}")
    return value


def _profile_is_off(profile_batch: Any) -> bool:
    """``profile_batch`` as Keras accepts it (int, "a,b" or a pair), and whether it is 0."""
    if isinstance(profile_batch, str):
        try:
            profile_batch = [int(part) for part in profile_batch.split(",")]
        except ValueError:
            profile_batch = None
    if isinstance(profile_batch, (list, tuple)) and len(profile_batch) == 1:
        profile_batch = profile_batch[0]
    if isinstance(profile_batch, int) and not isinstance(profile_batch, bool):
        bounds: tuple[Any, ...] = (profile_batch, profile_batch)
    elif isinstance(profile_batch, (list, tuple)) and len(profile_batch) == 2:
        bounds = tuple(profile_batch)
    else:
        bounds = ()
    if (
        not bounds
        or not all(isinstance(b, int) and not isinstance(b, bool) for b in bounds)
        or bounds[0] < 0
        or bounds[1] < bounds[0]
    ):
        raise ValueError(
            "profile_batch: expected a non-negative int or a pair of positive ints "
            f"(start, stop); got {_convert.describe(profile_batch)}"
        )
    return bounds == (0, 0)


def _weight_image(weight: np.ndarray) -> np.ndarray | None:
    """A weight as Keras's callback shows it: an [N, H, W, 1] image batch, or None."""
    w = np.squeeze(weight)
    if w.ndim == 1:  # bias
        w = w.reshape(1, w.shape[0], 1, 1)
    elif w.ndim == 2:  # dense kernel, wide side horizontal
        if w.shape[0] > w.shape[1]:
            w = w.T
        w = w.reshape(1, w.shape[0], w.shape[1], 1)
    elif w.ndim == 3:  # conv kernel: one image per channel
        if keras.backend.image_data_format() == "channels_last":
            w = np.transpose(w, (2, 0, 1))
        w = w.reshape(w.shape[0], w.shape[1], w.shape[2], 1)
    if w.ndim == 4 and w.shape[-1] in (1, 3, 4):
        return np.asarray(w)
    return None


def _read_metadata(path: str) -> tuple[list[Any], list[str] | None]:
    """A Projector metadata TSV: one label per line, or a header line and rows of columns."""
    with open(path, encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f if line.strip()]
    if lines and "\t" in lines[0]:
        return [line.split("\t") for line in lines[1:]], lines[0].split("\t")
    return list(lines), None


def _add_jax_op_graph(writer: Any, model: Any) -> None:
    """The model's forward pass as JAX ops, for the Graphs dashboard's op graph.

    Keras's callback on TensorFlow writes the ops of its train step; on JAX the forward pass
    ``model.stateless_call`` is traced (never run) at batch size 1, with the model's
    variables as the ``input/0/...`` (trainable) and ``input/1/...`` placeholders."""
    import importlib

    import jax

    tbjax = importlib.import_module("tblog.adapters.jax")  # by name: mypy sees adapters/ as its own tree

    example = [
        jax.ShapeDtypeStruct(tuple(1 if size is None else size for size in tensor.shape), tensor.dtype)
        for tensor in model.inputs
    ]

    def forward(trainable: Any, non_trainable: Any, *inputs: Any) -> Any:
        outputs, _ = model.stateless_call(
            trainable, non_trainable, inputs[0] if len(inputs) == 1 else list(inputs)
        )
        return outputs

    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    tbjax.add_graph(writer, forward, trainable, non_trainable, *example)


class TensorBoard(keras.callbacks.Callback):
    """Drop-in for ``keras.callbacks.TensorBoard`` on every Keras 3 backend, without TensorFlow.

    Writes Keras's layout with tblog writers: under ``log_dir``, run ``train/`` gets
    ``epoch_<metric>`` (step: the epoch), ``epoch_learning_rate``, ``epoch_steps_per_second``
    (with ``write_steps_per_second``), ``batch_<metric>`` and ``batch_steps_per_second`` (with
    ``update_freq`` "batch" or N), weight histograms ``<weight.path>/histogram`` (30
    equal-width buckets, as Keras) and images ``<weight.path>/image`` (every
    ``histogram_freq`` epochs, ``write_images``) and the conceptual graph (tag ``keras``,
    ``write_graph``; on the JAX backend also the op graph of the forward pass, traced at
    batch size 1); run ``validation/`` gets
    ``epoch_<metric>`` of the ``val_`` metrics and ``evaluation_<metric>_vs_iterations``
    (step: the optimizer's iteration count).

    Steps of batch summaries count optimizer steps over the model's life, so they go on where
    the previous ``fit`` (or the restored optimizer, or ``initial_epoch`` × steps per epoch)
    left off, and with ``steps_per_execution=k`` they advance by k per logged execution.
    (Keras's own callback restarts them at 1 on every ``fit``.)

    ``async_safe``: Keras keeps dispatching batch ends on its worker thread; this callback
    never reads a device value in a batch hook (values go to the writer as they come).

    ``writer``: an existing tblog ``SummaryWriter``; the runs then go to ``train/`` and
    ``validation/`` under its ``log_dir`` (``log_dir`` is ignored). The callback opens its own
    writers for these sub-runs and closes them at the end of ``fit``; ``writer`` stays open.

    ``embeddings_freq``: every that many epochs, each ``Embedding`` layer's matrix is saved for
    the Projector with ``add_embedding`` in ``train/`` (tag: the layer name; labels from
    ``embeddings_metadata``: one TSV file for all layers or a dict layer name → file).
    Distributed training: only the process of global rank 0 writes (the rank found as
    ``SummaryWriter`` finds it, when ``fit`` starts), or, with ``writer``, each process
    whose ``writer`` writes (``per_rank=True``: into ``<log_dir>/rank_<n>/train``, ...).
    Elsewhere the callback reads no weights and writes nothing.

    ``profile_batch``: profiling is not implemented; a non-zero value raises
    NotImplementedError (use ``tblog.profile`` instead).
    """

    async_safe = True

    def __init__(
        self,
        log_dir: Any = "logs",
        histogram_freq: int = 0,
        write_graph: bool = True,
        write_images: bool = False,
        write_steps_per_second: bool = False,
        update_freq: Any = "epoch",
        profile_batch: Any = 0,
        embeddings_freq: int = 0,
        embeddings_metadata: Any = None,
        *,
        writer: Any = None,
    ) -> None:
        super().__init__()
        if writer is not None:
            if getattr(writer, "_events", None) is None or not hasattr(writer, "log_dir"):
                raise TypeError(f"writer: expected a tblog.SummaryWriter; got {_convert.describe(writer)}")
            log_dir = writer.log_dir
            self._active: bool | None = bool(getattr(writer, "is_writing", True))
            self._rank: int = getattr(writer, "rank", 0)
        else:
            self._active = None  # decided on first use, by when the process group is up
            self._rank = 0
        if writer is None and not isinstance(log_dir, (str, os.PathLike)):
            raise TypeError(f"log_dir: expected a str or path; got {_convert.describe(log_dir)}")
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = _check_freq(histogram_freq, "histogram_freq")
        self.write_graph = bool(write_graph)
        self.write_images = bool(write_images)
        self.write_steps_per_second = bool(write_steps_per_second)
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and (
            isinstance(update_freq, bool) or not isinstance(update_freq, int) or update_freq < 1
        ):
            raise ValueError(
                'update_freq: expected "epoch", "batch" or a positive int; '
                f"got {_convert.describe(update_freq)}"
            )
        self.update_freq = update_freq
        if not _profile_is_off(profile_batch):
            raise NotImplementedError(
                f"profile_batch={profile_batch!r}: tblog's Keras callback does not profile; "
                "pass profile_batch=0 and use tblog.profile (StepProfiler) or the backend's "
                "profiler instead"
            )
        self.embeddings_freq = _check_freq(embeddings_freq, "embeddings_freq")
        if embeddings_metadata is not None and not isinstance(embeddings_metadata, (str, dict)):
            raise TypeError(
                "embeddings_metadata: expected a file name or a dict {layer name: file name}; "
                f"got {_convert.describe(embeddings_metadata)}"
            )
        self.embeddings_metadata = embeddings_metadata
        self._train_dir = os.path.join(self.log_dir, "train")
        self._val_dir = os.path.join(self.log_dir, "validation")
        self._writers: dict[str, Any] = {}
        self._lock = threading.RLock()
        self._graph_written = False
        self._base_step = 0  # optimizer steps before the current epoch
        self._epoch_steps = 0  # steps seen in the current epoch
        self._fit_started = False
        self._batch_begin: dict[int, float] = {}
        self._pending: dict[int, tuple[int, Any, float] | None] = {}
        self._epoch_start = 0.0

    # ----- writers -----------------------------------------------------------------------

    def _writer(self, name: str) -> Any:
        with self._lock:
            writer = self._writers.get(name)
            if writer is None:
                from tblog import SummaryWriter

                path = self._train_dir if name == "train" else self._val_dir
                # rank=0: this process writes (see _writes()); a per_rank writer's rank
                # is in its log_dir already.
                rank = 0 if self._writes() else self._rank
                writer = self._writers[name] = SummaryWriter(path, rank=rank)
            return writer

    def _writes(self) -> bool:
        """Whether this process writes: the given writer's say, else global rank 0 only."""
        if self._active is None:
            self._rank = _rank.detect_rank()
            self._active = self._rank == 0
        return self._active

    def _close_writers(self) -> None:
        with self._lock:
            writers, self._writers = self._writers, {}
        for writer in writers.values():
            writer.close()

    # ----- helpers -----------------------------------------------------------------------

    def _iterations(self) -> int | None:
        optimizer = getattr(self.model, "optimizer", None)
        iterations = getattr(optimizer, "iterations", None)
        if iterations is None:
            return None
        return int(keras.ops.convert_to_numpy(iterations))

    def _learning_rates(self) -> dict[str, float]:
        optimizer = getattr(self.model, "optimizer", None)
        optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # LossScaleOptimizer
        if optimizer is not None and hasattr(optimizer, "optimizers"):
            return {
                f"learning_rate_{opt.name}": float(keras.ops.convert_to_numpy(opt.learning_rate))
                for opt in optimizer.optimizers
            }
        if isinstance(optimizer, keras.optimizers.Optimizer):
            return {"learning_rate": float(keras.ops.convert_to_numpy(optimizer.learning_rate))}
        return {}

    def _write_graph(self) -> None:
        if self._graph_written or not self.write_graph or not self._writes():
            return
        if type(self.model).__name__ not in ("Functional", "Sequential") or not self.model.built:
            return  # Keras writes no conceptual graph for subclassed models either
        add_graph(self._writer("train"), self.model, 0)
        if keras.backend.backend() == "jax":
            _add_jax_op_graph(self._writer("train"), self.model)
        self._graph_written = True

    # ----- Keras hooks -------------------------------------------------------------------

    def on_train_begin(self, logs: Any = None) -> None:
        self._base_step = self._iterations() or 0
        self._epoch_steps = 0
        self._fit_started = True
        self._write_graph()

    def on_train_end(self, logs: Any = None) -> None:
        self._close_writers()

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        if self._fit_started:  # first epoch of this fit: resume from initial_epoch
            self._fit_started = False
            steps = (self.params or {}).get("steps")
            if self._base_step == 0 and epoch > 0 and steps:
                self._base_step = epoch * int(steps)
        self._epoch_steps = 0
        self._epoch_start = time.time()

    def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
        if self.update_freq != "epoch":  # runs on the main thread, in batch order
            with self._lock:
                self._pending[batch] = None
                self._batch_begin[batch] = time.time()

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        # Keras may run this on worker threads, several at once and out of order: results wait
        # in ``_pending`` (keyed by the execution's first batch, in begin order) and are
        # written in batch order, so every event file stays sorted by step.
        steps = (self.params or {}).get("steps")
        if steps and batch >= steps:  # the last execution of an epoch can be short
            batch = int(steps) - 1
        with self._lock:
            self._epoch_steps = max(self._epoch_steps, batch + 1)
            if self.update_freq == "epoch":
                return
            first = max((b for b in self._pending if b <= batch), default=batch)
            self._pending[first] = (batch, logs, time.time())
            while self._pending:
                begin, done = next(iter(self._pending.items()))
                if done is None:
                    break
                del self._pending[begin]
                self._write_batch(begin, *done)

    def _write_batch(self, begin: int, end: int, logs: Any, finished: float) -> None:
        """Batch summaries for the execution of batches ``begin..end`` (under the lock)."""
        step = self._base_step + end + 1
        previous = self._base_step + begin
        started = self._batch_begin.pop(begin, None)
        if step // self.update_freq == previous // self.update_freq:
            return  # no multiple of update_freq among the steps of this execution
        writer = self._writer("train")
        if started is not None and self.write_steps_per_second and finished > started:
            writer.add_scalar("batch_steps_per_second", (end + 1 - begin) / (finished - started), step)
        if isinstance(logs, dict):
            for name, value in logs.items():
                writer.add_scalar(f"batch_{name}", value, step)

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        logs = dict(logs or {})
        train_logs = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val_logs = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        train_logs.update(self._learning_rates())
        steps = self._epoch_steps
        if self.write_steps_per_second:
            elapsed = time.time() - self._epoch_start
            train_logs["steps_per_second"] = steps / elapsed if elapsed > 0 else 0.0
        self._base_step += steps
        self._epoch_steps = 0
        self._pending.clear()
        self._batch_begin.clear()
        if not self._writes():
            return
        self._write_graph()
        if train_logs:
            train = self._writer("train")
            for name, value in train_logs.items():
                train.add_scalar(f"epoch_{name}", value, epoch)
        if val_logs:
            val = self._writer("validation")
            for name, value in val_logs.items():
                val.add_scalar(f"epoch_{name}", value, epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)
        if self.embeddings_freq and epoch % self.embeddings_freq == 0:
            self._log_embeddings(epoch)

    def on_test_end(self, logs: Any = None) -> None:
        if not self._writes():
            return
        iterations = self._iterations()
        if iterations is None or not logs:
            return
        val = self._writer("validation")
        for name, value in logs.items():
            val.add_scalar(f"evaluation_{name}_vs_iterations", value, iterations)
        if not self._writers.get("train") and self.model is not None:
            val.flush()  # a standalone evaluate(): no on_train_end will close it

    # ----- weights -----------------------------------------------------------------------

    def _log_weights(self, epoch: int) -> None:
        train = self._writer("train")
        for layer in self.model.layers:
            for weight in layer.weights:
                name = weight.path.replace(":", "_")
                value = keras.ops.convert_to_numpy(weight.value)
                train.add_histogram(f"{name}/histogram", value, epoch, bins=KERAS_HISTOGRAM_BUCKETS)
                if self.write_images:
                    image = _weight_image(value)
                    if image is not None:
                        train.add_images(f"{name}/image", image, epoch, dataformats="NHWC")

    def _log_embeddings(self, epoch: int) -> None:
        train = self._writer("train")
        for layer in self.model.layers:
            if not isinstance(layer, keras.layers.Embedding):
                continue
            path = self.embeddings_metadata
            if isinstance(path, dict):
                path = path.get(layer.name)
            metadata: Any = None
            header = None
            if path is not None:
                metadata, header = _read_metadata(path)
            matrix = keras.ops.convert_to_numpy(layer.embeddings.value)
            train.add_embedding(matrix, metadata, global_step=epoch, tag=layer.name, metadata_header=header)
