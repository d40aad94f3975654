"""Rank awareness: by default only global rank 0 writes; ``per_rank=True`` gives each rank a run."""

from __future__ import annotations

import json
import os
import pickle
import socket
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _distributed_worker import STEPS, exercise, writer_threads

import tblog

REPO = Path(__file__).resolve().parent.parent
WORKER = Path(__file__).resolve().parent / "_distributed_worker.py"
TIMEOUT = 180


@pytest.fixture(autouse=True)
def _no_launcher_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sets RANK itself, if at all."""
    monkeypatch.delenv("RANK", raising=False)


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _event_files(root: Path) -> list[Path]:
    return [p for p in _files(root) if p.name.startswith("events.out.tfevents.")]


def _pid(event_file: Path) -> int:
    """The writer's process id, from ``events.out.tfevents.<time>.<host>.<pid>.tblog<n>``."""
    return int(event_file.name.split(".")[-2])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run_ranks(kind: str, per_rank_args: list[dict[str, Any]], env: dict[str, str]) -> list[dict[str, Any]]:
    """Start one worker process per rank, wait for all (bounded), return what each printed."""
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), kind, json.dumps(args)],
            cwd=REPO,
            env={**{k: v for k, v in os.environ.items() if k != "RANK"}, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in per_rank_args
    ]
    outputs = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=TIMEOUT)
            assert proc.returncode == 0, f"rank exited with {proc.returncode}:\n{err[-4000:]}"
            outputs.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return outputs


def _check_rank_run(acc: Any, rank: int) -> None:
    """Every event ``exercise(writer, rank)`` logs is in the run, with that rank's values."""
    loss = acc.Scalars("loss")
    assert [(e.step, e.value) for e in loss] == [(s, 100.0 * rank + s) for s in range(STEPS)]
    assert [e.value for e in acc.Scalars("acc")] == [0.5 + rank]
    assert [e.value for e in acc.Scalars("hp/metric")] == [float(rank)]
    tags = acc.Tags()
    assert {"weights", "raw"} <= set(tags["histograms"])
    assert {"img", "imgs", "boxes", "video"} <= set(tags["images"])
    assert "sound" in tags["audio"]
    expected_tensors = {"who/text_summary", "pr", "pr_raw", "tensor", "new_style", "mesh_VERTEX"}
    assert expected_tensors <= set(tags["tensors"])
    text = acc.Tensors("who/text_summary")[0].tensor_proto.string_val[0]
    assert text == f"rank {rank}".encode()


def _log_everything_and_close(writer: tblog.SummaryWriter) -> None:
    exercise(writer, writer.rank)
    writer.flush()
    writer.close()


# ----- detection and options (no framework) ------------------------------------------------


def test_single_process_is_rank_zero_and_writes(tmp_path: Path) -> None:
    """Outside a distributed job the writer is rank 0 and writes as before."""
    with tblog.SummaryWriter(tmp_path) as writer:
        assert (writer.rank, writer.per_rank, writer.is_writing) == (0, False, True)
        writer.add_scalar("x", 1.0, 0)
    assert len(_event_files(tmp_path)) == 1


def test_rank_from_environment_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """RANK=1 (as torchrun sets it) without any framework: the whole API runs and nothing is
    created — no directory, no file, no thread."""
    monkeypatch.setenv("RANK", "1")
    log_dir = tmp_path / "run"
    threads_before = writer_threads()
    writer = tblog.SummaryWriter(log_dir)
    assert (writer.rank, writer.is_writing, writer.log_dir) == (1, False, str(log_dir))
    assert writer_threads() == threads_before
    _log_everything_and_close(writer)
    assert writer_threads() == threads_before
    assert not log_dir.exists()
    assert list(tmp_path.iterdir()) == []


def test_rank_zero_from_environment_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, event_accumulator: Any
) -> None:
    """RANK=0 writes: everything exercise() logs is read back by TensorBoard."""
    monkeypatch.setenv("RANK", "0")
    writer = tblog.SummaryWriter(tmp_path)
    assert (writer.rank, writer.is_writing) == (0, True)
    _log_everything_and_close(writer)
    _check_rank_run(event_accumulator(tmp_path), 0)
    assert (tmp_path / "projector_config.pbtxt").is_file()
    assert (tmp_path / "plugins" / "profile").is_dir()


def test_explicit_rank_overrides_detection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``rank=`` wins over the environment, both ways."""
    monkeypatch.setenv("RANK", "1")
    with tblog.SummaryWriter(tmp_path / "forced", rank=0) as writer:
        writer.add_scalar("x", 1.0, 0)
    assert writer.rank == 0 and len(_event_files(tmp_path / "forced")) == 1
    monkeypatch.setenv("RANK", "0")
    with tblog.SummaryWriter(tmp_path / "silenced", rank=np.int64(2)) as writer:
        writer.add_scalar("x", 1.0, 0)
    assert (writer.rank, writer.is_writing) == (2, False)
    assert not (tmp_path / "silenced").exists()


def test_per_rank_writes_its_own_run(tmp_path: Path, event_accumulator: Any) -> None:
    """``per_rank=True``: rank 3 writes everything into ``<log_dir>/rank_3``, projector files too."""
    writer = tblog.SummaryWriter(tmp_path, rank=3, per_rank=True)
    assert (writer.is_writing, writer.log_dir, writer.get_logdir()) == (True, *[str(tmp_path / "rank_3")] * 2)
    _log_everything_and_close(writer)
    assert [p.name for p in tmp_path.iterdir()] == ["rank_3"]
    _check_rank_run(event_accumulator(tmp_path / "rank_3"), 3)
    assert (tmp_path / "rank_3" / "projector_config.pbtxt").is_file()


@pytest.mark.parametrize(
    ("options", "error", "words"),
    [
        ({"rank": -1}, ValueError, ["rank", ">= 0", "-1"]),
        ({"rank": "x"}, TypeError, ["rank", "int", "str", "'x'"]),
        ({"rank": 1.0}, TypeError, ["rank", "int", "float"]),
        ({"rank": True}, TypeError, ["rank", "bool"]),
        ({"per_rank": "yes"}, TypeError, ["per_rank", "bool", "str"]),
        ({"per_rank": 1}, TypeError, ["per_rank", "bool", "int"]),
    ],
)
def test_bad_rank_options(tmp_path: Path, options: dict[str, Any], error: type, words: list[str]) -> None:
    """Bad ``rank``/``per_rank`` values are refused naming the argument, what was expected and what came."""
    with pytest.raises(error) as info:
        tblog.SummaryWriter(tmp_path, **options)
    for word in words:
        assert word in str(info.value)
    assert not tmp_path.joinpath("rank_1").exists() and list(tmp_path.iterdir()) == []


def test_bad_rank_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A RANK that is not a rank is an error naming the variable; ``rank=`` sidesteps it."""
    monkeypatch.setenv("RANK", "two")
    with pytest.raises(ValueError, match=r"RANK.*'two'.*rank="):
        tblog.SummaryWriter(tmp_path)
    with tblog.SummaryWriter(tmp_path, rank=0) as writer:
        assert writer.is_writing


BAD_CALLS = {
    "add_scalar tag": lambda w: w.add_scalar("", 1.0),
    "add_scalar value": lambda w: w.add_scalar("x", "one"),
    "add_scalar step": lambda w: w.add_scalar("x", 1.0, "ten"),
    "log": lambda w: w.log({"a": {"b": 1.0}, "a/b": 2.0}),
    "add_scalars": lambda w: w.add_scalars("x", [1.0]),
    "add_text": lambda w: w.add_text("x", 3),
    "add_histogram empty": lambda w: w.add_histogram("x", np.zeros(0)),
    "add_histogram bins": lambda w: w.add_histogram("x", np.ones(3), bins="nope"),
    "add_histogram_raw": lambda w: w.add_histogram_raw("x", 0, 1, 2, 1, 1, [1.0], [1, 2]),
    "add_image shape": lambda w: w.add_image("x", np.zeros((2, 4, 4))),
    "add_images formats": lambda w: w.add_images("x", np.zeros((2, 3, 4, 4)), dataformats="NCH"),
    "add_image_with_boxes": lambda w: w.add_image_with_boxes("x", np.zeros((3, 4, 4)), np.zeros((1, 3))),
    "add_video": lambda w: w.add_video("x", np.zeros((1, 2, 3, 4))),
    "add_audio": lambda w: w.add_audio("x", np.zeros(10), sample_rate=0),
    "add_pr_curve": lambda w: w.add_pr_curve("x", np.zeros(3), np.zeros(4)),
    "add_pr_curve_raw": lambda w: w.add_pr_curve_raw("x", [1], [1], [1], [1], [1], [1, 1]),
    "add_mesh": lambda w: w.add_mesh("x", np.zeros((1, 3, 2))),
    "add_tensor": lambda w: w.add_tensor("x", object()),
    "add_hparams": lambda w: w.add_hparams({"lr": 0.1}, {"m": "high"}),
    "add_custom_scalars": lambda w: w.add_custom_scalars({"c": {"t": ["Bar", ["x"]]}}),
    "add_embedding": lambda w: w.add_embedding(np.zeros(3)),
    "add_embedding tag": lambda w: w.add_embedding(np.zeros((2, 2)), tag="../out"),
    "add_graph": lambda w: w.add_graph(42),
}


@pytest.mark.parametrize("call", BAD_CALLS.values(), ids=BAD_CALLS.keys())
def test_non_writing_rank_checks_arguments_as_rank_zero(tmp_path: Path, call: Any) -> None:
    """A bad call fails on a rank that does not write exactly as on rank 0 (same error, same
    message), so a bug shows on every rank; the writer stays usable."""
    errors = []
    for rank in (0, 1):
        writer = tblog.SummaryWriter(tmp_path / f"r{rank}", rank=rank)
        with pytest.raises(Exception) as info:  # noqa: B017 - compared below
            call(writer)
        errors.append((type(info.value), str(info.value).replace(f"r{rank}", "r?")))
        writer.add_scalar("after", 1.0, 0)
        writer.close()
    assert errors[0] == errors[1]
    assert not (tmp_path / "r1").exists()


def test_non_writing_rank_copies_and_encodes_nothing(tmp_path: Path) -> None:
    """Logging 16 MB arrays on a rank that does not write allocates almost nothing (no
    snapshot, conversion or encoding); on rank 0 the same calls copy the data."""
    big = np.ones((4, 1024, 1024), np.float32)
    peaks = {}
    for rank in (0, 1):
        writer = tblog.SummaryWriter(tmp_path / f"r{rank}", rank=rank, max_pending_bytes=1 << 30)
        tracemalloc.start()
        try:
            writer.add_image("image", big[:3], 0)
            writer.add_histogram("histogram", big, 0)
            writer.add_tensor("tensor", big, 0)
            writer.add_embedding(big.reshape(-1, 64)[:1000], global_step=0)
            peaks[rank] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        writer.close()
    assert peaks[0] > big.nbytes
    assert peaks[1] < 256 << 10, peaks


def test_pickled_writer_keeps_rank_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pickled writer keeps its rank (a data-loader worker of rank 1 does not start writing
    as rank 0) and its per-rank directory (not nested once more)."""
    silent = tblog.SummaryWriter(tmp_path / "shared", rank=1, flush_secs=3)
    copy = pickle.loads(pickle.dumps(silent))
    assert (copy.rank, copy.per_rank, copy.is_writing, copy.log_dir) == (1, False, False, silent.log_dir)
    assert copy._options["flush_secs"] == 3
    copy.add_scalar("x", 1.0, 0)
    copy.close()
    assert not (tmp_path / "shared").exists()

    monkeypatch.setenv("RANK", "5")  # detected once; the copy keeps it even where RANK differs
    own = tblog.SummaryWriter(tmp_path / "mine", per_rank=True)
    monkeypatch.setenv("RANK", "0")
    copy = pickle.loads(pickle.dumps(own))
    assert (copy.rank, copy.per_rank, copy.is_writing) == (5, True, True)
    assert copy.log_dir == own.log_dir == str(tmp_path / "mine" / "rank_5")
    copy.add_scalar("x", 1.0, 0)
    copy.close()
    own.close()
    assert [p.parent.name for p in _event_files(tmp_path / "mine")] == ["rank_5", "rank_5"]


def test_detection_imports_no_framework(tmp_path: Path) -> None:
    """Finding the rank imports neither torch nor jax (it only looks at what is imported)."""
    code = (
        "import sys, tblog\n"
        f"w = tblog.SummaryWriter({str(tmp_path)!r}); w.add_scalar('x', 1.0, 0); w.close()\n"
        "print(sorted(m for m in ('torch', 'jax', 'tensorflow') if m in sys.modules))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "RANK"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=TIMEOUT
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# ----- torch.distributed ---------------------------------------------------------------------


@pytest.mark.framework
@pytest.mark.slow
@pytest.mark.parametrize("per_rank", [False, True], ids=["rank0-only", "per-rank"])
def test_torch_distributed_two_ranks(tmp_path: Path, event_accumulator: Any, per_rank: bool) -> None:
    """Two real gloo ranks run the whole API plus the torch adapters: by default only rank 0's
    complete events exist and rank 1 creates nothing; with per_rank each rank has its own
    complete run."""
    pytest.importorskip("torch.distributed")
    log_dir, probe_dir = tmp_path / "run", tmp_path / "probe"
    env = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port())}
    args = [
        {"rank": r, "log_dir": str(log_dir), "probe_dir": str(probe_dir), "per_rank": per_rank}
        for r in (0, 1)
    ]
    ranks = _run_ranks("torch", args, env)
    pids = [r["pid"] for r in ranks]
    assert [r["rank"] for r in ranks] == [0, 1]  # from torch.distributed: RANK is not set
    assert all(r["sum_of_ranks"] == 1.0 and r["tracked_steps"] == 2 for r in ranks)
    assert not probe_dir.exists()  # rank 1 ran the whole API on a directory of its own
    if not per_rank:
        assert [(r["is_writing"], r["writer_threads"]) for r in ranks] == [(True, 1), (False, 0)]
        assert {_pid(p) for p in _event_files(log_dir)} == {pids[0]}
        assert not any(p.name.startswith("rank_") for p in log_dir.iterdir())
        runs = [(log_dir, 0)]
    else:
        assert all(r["is_writing"] and r["writer_threads"] == 1 for r in ranks)
        assert sorted(p.name for p in log_dir.iterdir()) == ["rank_0", "rank_1"]
        runs = [(log_dir / f"rank_{r}", r) for r in (0, 1)]
    for run, rank in runs:
        assert {_pid(p) for p in _event_files(run)} == {pids[rank]}
        acc = event_accumulator(run)
        _check_rank_run(acc, rank)
        tags = acc.Tags()["scalars"]
        assert {"train/lr/group0", "train/grad_norm", "train/loss"} <= set(tags)
        assert {"gradients_norm/weight", "parameters_norm/bias"} <= set(tags)
        assert [e.value for e in event_accumulator(run / "pair_a").Scalars("pair")] == [float(rank)]
        assert (run / "projector_config.pbtxt").is_file()
        traces = [p.name for p in _files(run / "plugins" / "profile")]
        assert any(n.endswith(".pt.trace.json.gz") for n in traces)
        assert any(n.endswith(".trace.json.gz") and ".pt." not in n for n in traces)


@pytest.mark.framework
def test_torch_adapters_skip_work_on_non_writing_rank(tmp_path: Path) -> None:
    """track, watch and profile on a rank that does not write count steps but log, hook and
    trace nothing; add_graph does not trace the model."""
    torch = pytest.importorskip("torch")
    import tblog.adapters.torch as tbtorch

    writer = tblog.SummaryWriter(tmp_path, rank=1)
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    writer.add_graph(model, torch.ones(1, 4))
    with (
        tbtorch.track(optimizer, writer, log_every=1) as tracker,
        tbtorch.watch(model, writer, log="all", log_freq=1) as handle,
        tbtorch.profile(writer, wait=0, warmup=0, active=1) as prof,
    ):
        assert len(handle._handles) == 1  # the step counter only, no gradient hooks
        for _ in range(3):
            optimizer.zero_grad()
            model(torch.ones(2, 4)).sum().backward()
            optimizer.step()
            assert tracker.log("loss", 1.0) is False
            prof.step()
    assert (tracker.step, handle.step) == (3, 3)
    assert prof.profiler is None  # torch's profiler never started recording
    writer.close()
    assert list(tmp_path.iterdir()) == []


# ----- JAX -----------------------------------------------------------------------------------


@pytest.mark.framework
@pytest.mark.slow
def test_jax_two_processes(tmp_path: Path, event_accumulator: Any) -> None:
    """Two JAX processes (jax.distributed on CPU): a writer made before initialize() leaves
    JAX alone (initialize still works); after it, only process 0 writes, and per_rank gives
    each process its own run."""
    pytest.importorskip("jax")
    port = _free_port()
    args = [
        {
            "rank": r,
            "port": port,
            "before_dir": str(tmp_path / "before"),
            "log_dir": str(tmp_path / "run"),
            "per_rank_dir": str(tmp_path / "per_rank"),
        }
        for r in (0, 1)
    ]
    ranks = _run_ranks("jax", args, {"JAX_PLATFORMS": "cpu"})
    assert [(r["process_index"], r["process_count"]) for r in ranks] == [(0, 2), (1, 2)]
    assert [(r["rank"], r["is_writing"]) for r in ranks] == [(0, True), (1, False)]
    # Before initialize() nothing can know the rank without starting JAX: both say 0.
    assert [r["rank_before_initialize"] for r in ranks] == [0, 0]
    pids = [r["pid"] for r in ranks]
    assert {_pid(p) for p in _event_files(tmp_path / "run")} == {pids[0]}
    loss = event_accumulator(tmp_path / "run").Scalars("loss")
    assert [e.value for e in loss] == [float(s) for s in range(STEPS)]
    for rank in (0, 1):
        run = tmp_path / "per_rank" / f"rank_{rank}"
        assert {_pid(p) for p in _event_files(run)} == {pids[rank]}
        values = [e.value for e in event_accumulator(run).Scalars("loss")]
        assert values == [100.0 * rank + s for s in range(STEPS)]


@pytest.mark.framework
def test_jax_adapter_skips_work_on_non_writing_rank(tmp_path: Path, event_accumulator: Any) -> None:
    """The JAX adapter on a rank that does not write: log_step, scalar/scalars in jit, profile
    and add_graph do nothing and create nothing; with per_rank they log from every process."""
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    import tblog.adapters.jax as tbjax

    def make_step(writer: tblog.SummaryWriter) -> Any:
        def step_fn(state: Any, batch: Any) -> Any:
            tbjax.scalar(writer, "in_jit", state.sum(), 0)
            tbjax.scalars(writer, {"a": state.mean()}, 0)
            return state + batch, {"loss": state.sum()}

        return step_fn

    writer = tblog.SummaryWriter(tmp_path / "silent", rank=1)
    step_fn = make_step(writer)
    logged = tbjax.log_step(jax.jit(step_fn), writer, every=1, histograms_every=1, process_index=0)
    assert logged.writes is False
    state = jnp.zeros(3)
    with tbjax.profile(writer, steps=2) as prof:
        for _ in prof:
            state, _ = logged(state, jnp.ones(3))
    tbjax.add_graph(writer, step_fn, state, state)
    tbjax.close(writer)
    assert list(tmp_path.iterdir()) == []

    writer = tblog.SummaryWriter(tmp_path / "mine", rank=1, per_rank=True)
    logged = tbjax.log_step(jax.jit(make_step(writer)), writer, every=1, process_index=1)
    assert logged.writes is True
    logged(state, jnp.ones(3))
    tbjax.close(writer)
    assert [p.parent.name for p in _event_files(tmp_path / "mine")] == ["rank_1"]
    tags = event_accumulator(tmp_path / "mine" / "rank_1").Tags()["scalars"]
    assert {"in_jit", "a", "loss"} <= set(tags)


@pytest.mark.framework
def test_keras_callback_follows_the_writer_rank(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Keras callback writes nothing (reads no weights) with a writer that does not write,
    writes under ``rank_<n>/`` with a per-rank writer, and on its own follows RANK."""
    monkeypatch.setenv("KERAS_BACKEND", os.environ.get("KERAS_BACKEND", "jax"))
    keras = pytest.importorskip("keras")
    from tblog.adapters.keras import TensorBoard

    x, y = np.ones((8, 3), np.float32), np.ones((8, 1), np.float32)

    def fit(callback: Any) -> None:
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        model.fit(x, y, epochs=1, batch_size=4, verbose=0, validation_data=(x, y), callbacks=[callback])

    fit(TensorBoard(writer=tblog.SummaryWriter(tmp_path / "silent", rank=1), histogram_freq=1))
    monkeypatch.setenv("RANK", "1")
    fit(TensorBoard(tmp_path / "own", histogram_freq=1, update_freq="batch"))
    assert list(tmp_path.iterdir()) == []
    monkeypatch.delenv("RANK")
    fit(TensorBoard(writer=tblog.SummaryWriter(tmp_path / "mine", rank=1, per_rank=True), histogram_freq=1))
    runs = {p.parent.relative_to(tmp_path).as_posix() for p in _event_files(tmp_path)}
    assert runs == {"mine/rank_1", "mine/rank_1/train", "mine/rank_1/validation"}


def test_writer_threads_helper_sees_writers(tmp_path: Path) -> None:
    """The thread count the tests above rely on does see a writing writer's thread."""
    before = writer_threads()
    writer = tblog.SummaryWriter(tmp_path, rank=0)
    assert writer_threads() == before + 1
    writer.close()
    assert writer_threads() == before
