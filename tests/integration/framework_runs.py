"""A framework's tiny training job, run twice, and what TensorBoard reads from each.

The same script runs in two fresh processes: once as the framework ships (its own writer,
torch's or tensorboardX's ``SummaryWriter``) and once with ``tblog.patch()`` first, the
one-line switch the README gives. TensorBoard's plugin event multiplexer (what the
TensorBoard server reads with, legacy summaries migrated to tensors) loads each log
directory, and ``assert_same`` compares the two: runs, tags per dashboard, steps, scalar
values (float32 tolerance), text, the graph's operators by name scope, and the hparams'
names and values.

Where tblog differs from torch on purpose, the comparison normalises, and says so:

* torch's ``add_hparams`` writes into a sub-run named ``str(time.time())``; tblog writes into
  the writer's own run by default. Hparams are compared over the whole log directory, and a
  sub-run that holds nothing but hparams is not counted as a run.
* The time-stamped part of a run name (torch's sub-runs) reads ``<time>``.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TBLOG_SWITCH = "import tblog\ntblog.patch()\n"
_TIMEOUT_SECS = 900
_HPARAMS_PLUGIN = "hparams"
_TIME_RUN = re.compile(r"^\d{9,}\.\d+_*$")  # str(time.time()), tblog adds "_" on a clash


@dataclass
class Run:
    """What TensorBoard shows for one run."""

    scalars: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    steps: dict[tuple[str, str], list[int]] = field(default_factory=dict)  # (plugin, tag) -> steps
    text: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    hparams: dict[str, Any] = field(default_factory=dict)
    metrics: set[str] = field(default_factory=set)
    graph_ops: set[tuple[str, str]] = field(default_factory=set)  # (name scope, op) of op nodes

    def holds_only_hparams(self) -> bool:
        return not (self.scalars or self.steps or self.text or self.graph_ops)


@dataclass
class JobResult:
    logdir: Path
    stdout: str
    stderr: str


def run_job(
    workdir: Path,
    script: str,
    *,
    use_tblog: bool,
    env: dict[str, str] | None = None,
    switch: str = TBLOG_SWITCH,
) -> JobResult:
    """Run ``script`` (which writes under ``os.environ["LOGDIR"]``) in a fresh process, in
    ``workdir/tblog`` or ``workdir/reference``; it must exit 0 with no traceback."""
    name = "tblog" if use_tblog else "reference"
    cwd = workdir / name
    cwd.mkdir(parents=True)
    code = (switch if use_tblog else "") + textwrap.dedent(script)
    (cwd / "job.py").write_text(code)
    logdir = cwd / "logs"
    proc = subprocess.run(
        [sys.executable, "job.py"],
        cwd=cwd,
        env={
            **os.environ,
            "LOGDIR": "logs",  # relative: paths the framework logs (as text) match between the runs
            "PYTHONHASHSEED": "0",
            "CUDA_VISIBLE_DEVICES": "",
            "HF_HUB_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
            **(env or {}),
        },
        capture_output=True,
        text=True,
        timeout=_TIMEOUT_SECS,
    )
    failed = proc.returncode != 0 or "Traceback" in proc.stderr
    assert not failed, f"{name} run exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    return JobResult(logdir, proc.stdout, proc.stderr)


def run_both(
    tmp_path: Path, script: str, *, env: dict[str, str] | None = None, switch: str = TBLOG_SWITCH
) -> tuple[dict[str, Run], dict[str, Run]]:
    """The job with the framework's own writer, then with tblog: what TensorBoard reads of each."""
    reference = run_job(tmp_path, script, use_tblog=False, env=env)
    candidate = run_job(tmp_path, script, use_tblog=True, env=env, switch=switch)
    # Else a patch() that missed the framework's writer would compare it with itself.
    assert writers(candidate.logdir) == {"tblog"}, writers(candidate.logdir)
    assert "tblog" not in writers(reference.logdir), writers(reference.logdir)
    return read_logdir(reference.logdir), read_logdir(candidate.logdir)


def writers(logdir: Path) -> set[str]:
    """``source_metadata.writer`` of the first event of every event file under ``logdir``:
    tblog names itself, torch's writer tensorboard's ``event_file_writer``, tensorboardX none."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    found = set()
    for path in sorted(logdir.rglob("events.out.tfevents.*")):
        first = next(iter(EventFileLoader(os.fspath(path)).Load()))
        found.add(first.source_metadata.writer)
    return found


def read_logdir(logdir: Path) -> dict[str, Run]:
    """Every run under ``logdir`` as TensorBoard's server reads it, keyed by normalised name."""
    from tensorboard.backend.event_processing import plugin_event_multiplexer as pem
    from tensorboard.util import tensor_util

    mux = pem.EventMultiplexer(tensor_size_guidance={"scalars": 0, "histograms": 0, "images": 0, "text": 0})
    mux.AddRunsFromDirectory(os.fspath(logdir))
    mux.Reload()
    runs: dict[str, Run] = {}
    for run_name, tags in mux.Runs().items():
        run = runs.setdefault(_normalised(run_name), Run())
        if tags.get("graph"):
            run.graph_ops |= _scoped_ops(mux.Graph(run_name))
        for tag in tags.get("tensors", []):
            plugin = mux.SummaryMetadata(run_name, tag).plugin_data.plugin_name
            events = mux.Tensors(run_name, tag)
            if plugin == "scalars":
                points = [(e.step, float(tensor_util.make_ndarray(e.tensor_proto).item())) for e in events]
                run.scalars.setdefault(tag, []).extend(points)
            elif plugin == "text":
                texts = [(e.step, _text(tensor_util.make_ndarray(e.tensor_proto))) for e in events]
                run.text.setdefault(tag, []).extend(texts)
            elif plugin != _HPARAMS_PLUGIN:
                run.steps.setdefault((plugin, tag), []).extend(e.step for e in events)
        for content in mux.PluginRunToTagToContent(_HPARAMS_PLUGIN).get(run_name, {}).values():
            _read_hparams(content, run)
    return runs


def _scoped_ops(graph: Any) -> set[tuple[str, str]]:
    """(name scope, op) of the operator nodes: what the Graphs dashboard groups by. (A set:
    torch writes an op with several outputs as one node per output, tblog as one node.)"""
    skip = {"IO Node", "prim::GetAttr"}
    return {(node.name.rsplit("/", 1)[0], node.op) for node in graph.node if node.op not in skip}


def _normalised(run_name: str) -> str:
    parts = [("<time>" if _TIME_RUN.match(part) else part) for part in run_name.split("/")]
    return "/".join(parts)


def _text(array: Any) -> str:
    values = array.flatten().tolist()
    return "\n".join(v.decode() if isinstance(v, bytes) else str(v) for v in values)


def _read_hparams(content: bytes, run: Run) -> None:
    from tensorboard.plugins.hparams import plugin_data_pb2

    data = plugin_data_pb2.HParamsPluginData.FromString(content)
    kind = data.WhichOneof("data")
    if kind == "session_start_info":
        for name, value in data.session_start_info.hparams.items():
            which = value.WhichOneof("kind")
            run.hparams[name] = getattr(value, which) if which else None
    elif kind == "experiment":
        run.metrics.update(m.name.tag for m in data.experiment.metric_infos)


def assert_same(
    reference: dict[str, Run],
    candidate: dict[str, Run],
    *,
    timing_tags: tuple[str, ...] = (),
    hparams_compare: str = "exact",
) -> None:
    """tblog's log directory shows what the framework's own writer's shows.

    ``timing_tags``: scalar tags (regular expressions) whose values are wall-clock timings,
    compared by their steps only. ``hparams_compare="exact"`` compares values exactly;
    ``"as-text"`` compares ``str()`` of each, for frameworks whose values differ only in
    torch writing bools as 1.0/0.0.
    """
    ref_hparams, cand_hparams = _all_hparams(reference), _all_hparams(candidate)
    if hparams_compare == "as-text":
        ref_hparams = {k: _loose(v) for k, v in ref_hparams.items()}
        cand_hparams = {k: _loose(v) for k, v in cand_hparams.items()}
    assert cand_hparams == ref_hparams, _diff("hparams", ref_hparams, cand_hparams)
    ref_metrics = set().union(*(r.metrics for r in reference.values()))
    cand_metrics = set().union(*(r.metrics for r in candidate.values()))
    assert cand_metrics == ref_metrics, ("hparams metrics", ref_metrics, cand_metrics)

    ref_runs, cand_runs = _counted(reference), _counted(candidate)
    assert sorted(cand_runs) == sorted(ref_runs), ("runs", sorted(ref_runs), sorted(cand_runs))
    timing = [re.compile(pattern) for pattern in timing_tags]
    for name, ref in ref_runs.items():
        cand = cand_runs[name]
        where = f"run {name!r}"
        assert sorted(cand.scalars) == sorted(ref.scalars), _diff(
            f"{where} scalar tags", ref.scalars, cand.scalars
        )
        for tag, ref_points in ref.scalars.items():
            cand_points = cand.scalars[tag]
            assert [s for s, _ in cand_points] == [s for s, _ in ref_points], (where, tag, "steps")
            if any(p.fullmatch(tag) for p in timing):
                continue
            for (step, want), (_, got) in zip(ref_points, cand_points, strict=True):
                assert _close(want, got), (where, tag, step, want, got)
        assert sorted(cand.steps) == sorted(ref.steps), _diff(f"{where} tags", ref.steps, cand.steps)
        for key, ref_steps in ref.steps.items():
            assert cand.steps[key] == ref_steps, (where, key, ref_steps, cand.steps[key])
        assert cand.text == ref.text, (where, "text", ref.text, cand.text)
        missing, extra = ref.graph_ops - cand.graph_ops, cand.graph_ops - ref.graph_ops
        assert not (missing or extra), (
            where,
            "graph (scope, op) only in reference",
            missing,
            "only in tblog",
            extra,
        )


def _counted(runs: dict[str, Run]) -> dict[str, Run]:
    return {name: run for name, run in runs.items() if not run.holds_only_hparams()}


def _all_hparams(runs: dict[str, Run]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for run in runs.values():
        merged.update(run.hparams)
    return merged


def _loose(value: Any) -> str:
    if isinstance(value, bool):
        value = float(value)
    return str(value)


def _close(want: float, got: float) -> bool:
    if math.isnan(want) or math.isnan(got):
        return math.isnan(want) and math.isnan(got)
    return math.isclose(want, got, rel_tol=1e-6, abs_tol=1e-7)


def _diff(what: str, ref: Any, cand: Any) -> str:
    ref_keys, cand_keys = set(ref), set(cand)
    only_ref, only_cand = sorted(ref_keys - cand_keys), sorted(cand_keys - ref_keys)
    return f"{what}: only in reference {only_ref}, only in tblog {only_cand}"
