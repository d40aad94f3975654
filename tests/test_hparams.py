"""add_hparams: read back through TensorBoard's hparams plugin (its /experiment and /session_groups)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import tensorboard_plugin

import tblog

EXPERIMENT, START, END = "_hparams_/experiment", "_hparams_/session_start_info", "_hparams_/session_end_info"
ALL_STATUSES = ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"]


def _hparams_api(logdir: Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(experiment, {session group name: group}) as the hparams plugin's HTTP routes answer."""
    from tensorboard.plugins.hparams import hparams_plugin

    plugin = tensorboard_plugin(hparams_plugin.HParamsPlugin, logdir)

    def post(route: str, body: dict[str, Any]) -> dict[str, Any]:
        response = plugin.request(route, method="POST", data=json.dumps(body))
        assert response.status_code == 200, response.get_data(as_text=True)
        result: dict[str, Any] = json.loads(response.get_data(as_text=True))
        return result

    experiment = post("/experiment", {"experimentName": ""})
    groups = post(
        "/session_groups",
        {"experimentName": "", "allowedStatuses": ALL_STATUSES, "startIndex": 0, "sliceSize": 1000},
    )
    return experiment, {group["name"]: group for group in groups.get("sessionGroups", [])}


def _metrics(group: dict[str, Any]) -> dict[str, tuple[float, int]]:
    """{metric tag: (value, step)} of a session group."""
    return {m["name"]["tag"]: (m["value"], int(m["trainingStep"])) for m in group.get("metricValues", [])}


def _infos(experiment: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {info["name"]: info for info in experiment.get("hparamInfos", [])}


@pytest.mark.tensorboard
def test_default_writes_into_the_writers_own_run_linked_to_its_scalars(tmp_path: Path) -> None:
    """Each writer's hparams are its own run's session; metrics come from that run's scalars."""
    for run, lr in (("a", 0.1), ("b", 0.01)):
        with tblog.SummaryWriter(tmp_path / run) as writer:
            for step in range(20):
                writer.add_scalar("loss", lr * (20 - step), step)
            writer.add_hparams(
                {"lr": lr, "opt": "adam"}, {"loss": None, "hparam/acc": 1 - lr}, global_step=19
            )
    assert all(name.startswith("events.out.tfevents.") for name in os.listdir(tmp_path / "a"))  # no sub-run
    experiment, groups = _hparams_api(tmp_path)
    assert sorted(groups) == ["a", "b"]
    for run, lr in (("a", 0.1), ("b", 0.01)):
        group = groups[run]
        assert group["hparams"] == {"lr": lr, "opt": "adam"}
        assert [s["name"] for s in group["sessions"]] == [run]
        assert group["sessions"][0]["status"] == "STATUS_SUCCESS"
        metrics = _metrics(group)
        assert metrics["loss"] == (pytest.approx(lr, rel=1e-6), 19)  # the run's last loss scalar
        assert metrics["hparam/acc"] == (pytest.approx(1 - lr, rel=1e-6), 19)
    assert {m["name"]["tag"] for m in experiment["metricInfos"]} == {"loss", "hparam/acc"}


@pytest.mark.tensorboard
def test_value_types_nesting_and_conversion_rules(tmp_path: Path) -> None:
    """bool/number/str keep their type, nested dicts flatten to a/b, None is left out, others str()."""
    hparams = {
        "flag": True,
        "lr": 3e-4,
        "layers": 4,
        "name": "resnet",
        "np_float": np.float32(0.5),
        "np_int": np.int64(7),
        "np_bool": np.bool_(False),
        "one_element": np.array([2.5]),
        "sizes": [64, 128],
        "grid": np.array([[1, 2], [3, 4]]),
        "path": Path("data/train"),
        "nothing": None,
        "optim": {"name": "adam", "betas": {"b1": 0.9}},
    }
    with tblog.SummaryWriter(tmp_path / "run") as writer:
        writer.add_hparams(hparams, {"m": 1.0})
    experiment, groups = _hparams_api(tmp_path)
    assert groups["run"]["hparams"] == {
        "flag": True,
        "lr": 3e-4,
        "layers": 4,
        "name": "resnet",
        "np_float": 0.5,
        "np_int": 7,
        "np_bool": False,
        "one_element": 2.5,
        "sizes": "[64, 128]",
        "grid": "[[1, 2], [3, 4]]",
        "path": str(Path("data/train")),
        "optim/name": "adam",
        "optim/betas/b1": 0.9,
    }
    types = {name: info["type"] for name, info in _infos(experiment).items()}
    assert types == {
        "flag": "DATA_TYPE_BOOL",
        "np_bool": "DATA_TYPE_BOOL",
        "lr": "DATA_TYPE_FLOAT64",
        "layers": "DATA_TYPE_FLOAT64",
        "np_float": "DATA_TYPE_FLOAT64",
        "np_int": "DATA_TYPE_FLOAT64",
        "one_element": "DATA_TYPE_FLOAT64",
        "optim/betas/b1": "DATA_TYPE_FLOAT64",
        "name": "DATA_TYPE_STRING",
        "sizes": "DATA_TYPE_STRING",
        "grid": "DATA_TYPE_STRING",
        "path": "DATA_TYPE_STRING",
        "optim/name": "DATA_TYPE_STRING",
    }


@pytest.mark.tensorboard
def test_hparam_domain_discrete_is_the_filter_domain(tmp_path: Path) -> None:
    """hparam_domain_discrete lists each hparam's possible values in the experiment, nested too."""
    with tblog.SummaryWriter(tmp_path / "run") as writer:
        writer.add_hparams(
            {"lr": 0.1, "opt": {"name": "sgd"}, "bn": True},
            {"acc": 0.5},
            hparam_domain_discrete={
                "lr": [0.1, 1, 0.001],
                "opt": {"name": ["sgd", "adam"]},
                "bn": [True, False],
            },
        )
    experiment, _ = _hparams_api(tmp_path)
    infos = _infos(experiment)
    assert infos["lr"]["domainDiscrete"] == [0.1, 1.0, 0.001]
    assert infos["opt/name"]["domainDiscrete"] == ["sgd", "adam"]
    assert infos["bn"]["domainDiscrete"] == [True, False]


@pytest.mark.tensorboard
def test_run_name_writes_a_sub_run_like_torch(tmp_path: Path, event_accumulator: Any) -> None:
    """run_name puts hparams and metric scalars into <log_dir>/<run_name>, as torch lays them out."""
    with tblog.SummaryWriter(tmp_path / "exp") as writer:
        writer.add_scalar("loss", 1.0, 0)
        writer.add_hparams({"lr": 0.5}, {"hparam/acc": 0.75}, run_name="trial/1", global_step=3)
    _, groups = _hparams_api(tmp_path)
    assert list(groups) == ["exp/trial/1"]
    assert groups["exp/trial/1"]["hparams"] == {"lr": 0.5}
    assert _metrics(groups["exp/trial/1"]) == {"hparam/acc": (0.75, 3)}
    main = event_accumulator(tmp_path / "exp")
    assert main.Tags()["tensors"] == []
    sub = event_accumulator(tmp_path / "exp" / "trial" / "1")
    assert sorted(sub.Tags()["tensors"]) == sorted([EXPERIMENT, START, END])
    assert [(s.step, s.value) for s in sub.Scalars("hparam/acc")] == [(3, 0.75)]


@pytest.mark.tensorboard
def test_separate_run_and_repeated_calls_get_timestamped_sub_runs(tmp_path: Path) -> None:
    """separate_run=True, and every call after the first, go to str(time.time()) sub-runs (torch's name)."""
    with tblog.SummaryWriter(tmp_path / "exp") as writer:
        writer.add_hparams({"lr": 0.0}, {"acc": 0.0}, separate_run=True)
        for i in range(1, 4):  # torch's documented loop: one call per trial
            writer.add_hparams({"lr": 0.1 * i}, {"acc": 10.0 * i})
    _, groups = _hparams_api(tmp_path)
    assert len(groups) == 4
    own = groups.pop("exp")
    assert own["hparams"] == {"lr": 0.1}
    assert _metrics(own) == {"acc": (10.0, 0)}
    for name in groups:
        assert math.isfinite(float(name.removeprefix("exp/")))
    assert sorted(g["hparams"]["lr"] for g in groups.values()) == pytest.approx([0.0, 0.2, 0.3])
    assert sorted(_metrics(g)["acc"][0] for g in groups.values()) == [0.0, 20.0, 30.0]


@pytest.mark.tensorboard
def test_call_shapes_frameworks_use(tmp_path: Path) -> None:
    """What frameworks pass: empty metrics, repeatedly (Hugging Face, Accelerate), positional
    arguments, run_name "." (the writer's own run, as os.path.join makes it in torch) and a
    run_name with "./" and "//" parts (dropped, as the OS drops them)."""
    with tblog.SummaryWriter(tmp_path / "a") as writer:
        writer.add_hparams({"lr": 0.1, "model": "bert"}, metric_dict={})
        writer.add_hparams({"lr": 0.2}, {})
    with tblog.SummaryWriter(tmp_path / "b") as writer:
        writer.add_hparams({"lr": 0.3}, {"acc": 0.5}, None, ".")
        writer.add_hparams({"lr": 0.4}, {"acc": 0.6}, None, "./trial//1/", 7)
    _, groups = _hparams_api(tmp_path)
    timestamped = [name for name in groups if name.startswith("a/") and math.isfinite(float(name[2:]))]
    assert sorted(groups) == sorted(["a", *timestamped, "b", "b/trial/1"]) and len(timestamped) == 1
    assert groups["a"]["hparams"] == {"lr": 0.1, "model": "bert"}
    assert groups[timestamped[0]]["hparams"] == {"lr": 0.2}
    assert groups["b"]["hparams"] == {"lr": 0.3} and _metrics(groups["b"]) == {"acc": (0.5, 0)}
    assert _metrics(groups["b/trial/1"]) == {"acc": (pytest.approx(0.6), 7)}


@pytest.mark.tensorboard
@pytest.mark.framework
def test_separate_hparams_runs_is_torchs_layout(tmp_path: Path) -> None:
    """SummaryWriter(separate_hparams_runs=True) lays hparams out as torch's writer does:
    every call without run_name in its own str(time.time()) sub-run, none in the writer's run."""
    torch_tensorboard = pytest.importorskip("torch.utils.tensorboard")

    def layout(root: Path) -> list[str]:
        names = sorted(os.path.relpath(d, root) for d, _, files in os.walk(root) if files)
        return ["<time>" if name[0].isdigit() else name for name in names]

    for name, maker in (("tblog", tblog.SummaryWriter), ("torch", torch_tensorboard.SummaryWriter)):
        kwargs = {"separate_hparams_runs": True} if name == "tblog" else {}
        writer = maker(tmp_path / name, **kwargs)
        writer.add_scalar("loss", 1.0, 0)
        writer.add_hparams({"lr": 0.1}, {})
        writer.add_hparams({"lr": 0.2}, {"acc": 0.5})
        writer.close()
    assert layout(tmp_path / "tblog") == layout(tmp_path / "torch") == [".", "<time>", "<time>"]
    _, groups = _hparams_api(tmp_path / "tblog")
    assert sorted(g["hparams"]["lr"] for g in groups.values()) == [0.1, 0.2]
    with pytest.raises(TypeError, match="separate_hparams_runs"):
        tblog.SummaryWriter(tmp_path / "bad", separate_hparams_runs="yes")  # type: ignore[arg-type]


@pytest.mark.tensorboard
def test_plugin_data_parses_with_tensorboards_metadata_module(tmp_path: Path, event_accumulator: Any) -> None:
    """The three tags carry HParamsPluginData that tensorboard's hparams metadata module parses."""
    from tensorboard.plugins.hparams import api_pb2, metadata
    from tensorboard.util import tensor_util

    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_hparams({"lr": 0.1, "bn": False, "opt": "adam"}, {"acc": 0.9}, global_step=5)
    acc = event_accumulator(tmp_path)
    content = acc.PluginTagToContent(metadata.PLUGIN_NAME)
    assert sorted(content) == sorted([EXPERIMENT, START, END])
    experiment = metadata.parse_experiment_plugin_data(content[EXPERIMENT])
    assert [(h.name, h.type) for h in experiment.hparam_infos] == [
        ("lr", api_pb2.DATA_TYPE_FLOAT64),
        ("bn", api_pb2.DATA_TYPE_BOOL),
        ("opt", api_pb2.DATA_TYPE_STRING),
    ]
    assert [m.name.tag for m in experiment.metric_infos] == ["acc"]
    start = metadata.parse_session_start_info_plugin_data(content[START])
    assert start.hparams["lr"].number_value == 0.1
    assert start.hparams["bn"].bool_value is False and start.hparams["bn"].HasField("bool_value")
    assert start.hparams["opt"].string_value == "adam"
    end = metadata.parse_session_end_info_plugin_data(content[END])
    assert end.status == api_pb2.STATUS_SUCCESS
    for tag in (EXPERIMENT, START, END):
        (event,) = acc.Tensors(tag)
        assert event.step == 5
        assert tensor_util.make_ndarray(event.tensor_proto).shape == (0,)
    assert [(s.step, s.value) for s in acc.Scalars("acc")] == [(5, pytest.approx(0.9))]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"hparam_dict": [("lr", 0.1)]}, TypeError, "hparam_dict must be a dict"),
        ({"hparam_dict": None}, TypeError, "hparam_dict must be a dict"),
        ({"metric_dict": 0.5}, TypeError, "metric_dict must be a dict"),
        ({"metric_dict": {"acc": "high"}}, TypeError, r"metric_dict\['acc'\]"),
        ({"metric_dict": {"acc": [0.1, 0.2]}}, TypeError, r"metric_dict\['acc'\]"),
        ({"metric_dict": {"acc": np.array([0.1, 0.2])}}, ValueError, r"metric_dict\['acc'\]"),
        ({"metric_dict": {"a": {"b": "x"}}}, TypeError, r"metric_dict\['a/b'\]"),
        ({"metric_dict": {1: 0.5}}, TypeError, "metric_dict keys must be non-empty str"),
        ({"hparam_dict": {"": 1}}, TypeError, "hparam_dict keys must be non-empty str"),
        ({"hparam_dict": {("a",): 1}}, TypeError, "hparam_dict keys"),
        ({"hparam_dict": {"a/b": 1, "a": {"b": 2}}}, ValueError, "'a/b' twice"),
        ({"hparam_domain_discrete": {"nope": [1]}}, ValueError, "names no hparam"),
        ({"hparam_domain_discrete": {"lr": 0.1}}, TypeError, "must be a list"),
        ({"hparam_domain_discrete": {"lr": ["0.1"]}}, TypeError, r"type of hparam_dict\['lr'\]"),
        ({"hparam_domain_discrete": {"opt": [1, 2]}}, TypeError, r"type of hparam_dict\['opt'\]"),
        ({"hparam_domain_discrete": {"gone": [None]}}, ValueError, "is None"),
        ({"hparam_domain_discrete": ["lr"]}, TypeError, "hparam_domain_discrete must be a dict"),
        ({"run_name": "../escape"}, ValueError, "run_name"),
        ({"run_name": "/abs/path"}, ValueError, "run_name"),
        ({"run_name": "a/../b"}, ValueError, "run_name"),
        ({"run_name": 3}, TypeError, "run_name"),
        ({"separate_run": "yes"}, TypeError, "separate_run"),
        ({"global_step": "x"}, TypeError, "global_step"),
    ],
)
def test_bad_input_raises_and_writer_stays_usable(
    tmp_path: Path, event_accumulator: Any, kwargs: dict[str, Any], error: type, match: str
) -> None:
    """Bad input raises naming the argument and writes nothing; the next good call still goes to the run."""
    call: dict[str, Any] = {
        "hparam_dict": {"lr": 0.1, "opt": "adam", "gone": None},
        "metric_dict": {"acc": 0.5},
        **kwargs,
    }
    with tblog.SummaryWriter(tmp_path) as writer:
        with pytest.raises(error, match=match):
            writer.add_hparams(**call)
        writer.add_hparams({"lr": 0.2}, {"acc": 0.7})
    assert [name for name in os.listdir(tmp_path) if not name.startswith("events.out")] == []
    acc = event_accumulator(tmp_path)
    assert sorted(acc.Tags()["tensors"]) == sorted([EXPERIMENT, START, END])
    assert [s.value for s in acc.Scalars("acc")] == [pytest.approx(0.7)]


def test_repeating_a_run_name_warns(tmp_path: Path) -> None:
    """A second call with the same run_name warns: TensorBoard would show only the first."""
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_hparams({"lr": 0.1}, {"acc": 0.5}, run_name="t")
        with pytest.warns(UserWarning, match="only the first"):
            writer.add_hparams({"lr": 0.2}, {"acc": 0.6}, run_name="t")


@pytest.mark.framework
@pytest.mark.tensorboard
def test_parity_with_torch_utils_tensorboard(tmp_path: Path, event_accumulator: Any) -> None:
    """With run_name, torch and tblog write the same sub-run, tags, steps, hparams and metrics."""
    torch = pytest.importorskip("torch")
    from tensorboard.backend.event_processing import plugin_event_accumulator
    from tensorboard.plugins.hparams import metadata
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    hparams = {"lr": 0.01, "bsize": 32, "opt": "adam", "dropout": torch.tensor([0.25])}
    metric_values = {"hparam/accuracy": 0.93, "hparam/loss": 0.2}
    domain = {"opt": ["adam", "sgd"]}
    for writer_class, run in ((TorchWriter, "torch"), (tblog.SummaryWriter, "tblog")):
        with writer_class(str(tmp_path / run)) as writer:
            writer.add_hparams(hparams, metric_values, domain, run_name="trial", global_step=4)
    ours = event_accumulator(tmp_path / "tblog" / "trial")
    theirs = event_accumulator(tmp_path / "torch" / "trial")
    assert sorted(ours.Tags()["scalars"]) == sorted(theirs.Tags()["scalars"]) == sorted(metric_values)
    for tag in metric_values:
        assert [(s.step, s.value) for s in ours.Scalars(tag)] == [
            (s.step, s.value) for s in theirs.Scalars(tag)
        ]
    mine = ours.PluginTagToContent(metadata.PLUGIN_NAME)
    ref = theirs.PluginTagToContent(metadata.PLUGIN_NAME)
    assert sorted(mine) == sorted(ref) == sorted([EXPERIMENT, START, END])
    for parse, tag in (
        (metadata.parse_experiment_plugin_data, EXPERIMENT),
        (metadata.parse_session_start_info_plugin_data, START),
    ):
        a, b = parse(mine[tag]), parse(ref[tag])
        if tag == START:
            a.ClearField("start_time_secs")  # torch leaves the session's time unset
        assert a == b, tag
    assert metadata.parse_session_end_info_plugin_data(mine[END]).status == (
        metadata.parse_session_end_info_plugin_data(ref[END]).status
    )
    for run in ("tblog", "torch"):  # the plugin accumulator gives torch's tensor-less values one
        plugin_acc = plugin_event_accumulator.EventAccumulator(str(tmp_path / run / "trial"))
        plugin_acc.Reload()
        for tag in (EXPERIMENT, START, END):
            assert [e.step for e in plugin_acc.Tensors(tag)] == [4], (run, tag)
    _, groups = _hparams_api(tmp_path)
    assert groups["tblog/trial"]["hparams"] == groups["torch/trial"]["hparams"]
    assert _metrics(groups["tblog/trial"]) == _metrics(groups["torch/trial"])


@pytest.mark.framework
@pytest.mark.tensorboard
def test_torch_values_as_hparams_and_metrics(tmp_path: Path) -> None:
    """One-element tensors become numbers or bools; tensor metric values are logged as scalars."""
    torch = pytest.importorskip("torch")
    with tblog.SummaryWriter(tmp_path / "run") as writer:
        writer.add_hparams(
            {"lr": torch.tensor([0.5]), "flag": torch.tensor(True), "shape": torch.tensor([2, 3])},
            {"acc": torch.tensor(0.875)},
        )
    experiment, groups = _hparams_api(tmp_path)
    assert groups["run"]["hparams"] == {"lr": 0.5, "flag": True, "shape": "[2, 3]"}
    assert _metrics(groups["run"]) == {"acc": (0.875, 0)}
    assert _infos(experiment)["flag"]["type"] == "DATA_TYPE_BOOL"
