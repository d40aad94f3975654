"""Custom scalars: layouts read back through TensorBoard's custom_scalars plugin (its /layout route)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import tensorboard_plugin

import tblog

CONFIG_TAG = "custom_scalars__config__"

# torch's docstring example
TORCH_LAYOUT = {
    "Taiwan": {"twse": ["Multiline", ["twse/0050", "twse/2330"]]},
    "USA": {
        "dow": ["Margin", ["dow/aaa", "dow/bbb", "dow/ccc"]],
        "nasdaq": ["Margin", ["nasdaq/aaa", "nasdaq/bbb", "nasdaq/ccc"]],
    },
}


def _plugin_layout(logdir: Path) -> dict[str, Any]:
    """The merged layout as TensorBoard's custom_scalars plugin serves it at /layout."""
    from tensorboard.plugins.custom_scalar import custom_scalars_plugin

    response = tensorboard_plugin(custom_scalars_plugin.CustomScalarsPlugin, logdir).request("/layout")
    assert response.status_code == 200, response.get_data(as_text=True)
    result: dict[str, Any] = json.loads(response.get_data(as_text=True))
    return result


def _as_torch_dict(layout_json: dict[str, Any]) -> dict[str, dict[str, list[Any]]]:
    """The plugin's JSON layout back in torch's dict form (order kept)."""
    out: dict[str, dict[str, list[Any]]] = {}
    for category in layout_json.get("category", []):
        charts = out.setdefault(category["title"], {})
        for chart in category.get("chart", []):
            if "margin" in chart:
                (series,) = chart["margin"]["series"]
                charts[chart["title"]] = ["Margin", [series["value"], series["lower"], series["upper"]]]
            else:
                charts[chart["title"]] = ["Multiline", chart["multiline"]["tag"]]
    return out


@pytest.mark.tensorboard
def test_torch_example_layout_through_the_plugin(tmp_path: Path) -> None:
    """torch's documented layout comes back from the plugin's /layout route, in order."""
    with tblog.SummaryWriter(tmp_path / "run") as writer:
        writer.add_custom_scalars(TORCH_LAYOUT)
    layout = _plugin_layout(tmp_path)
    assert _as_torch_dict(layout) == TORCH_LAYOUT
    assert list(_as_torch_dict(layout)) == ["Taiwan", "USA"]
    assert [c["title"] for c in layout["category"][1]["chart"]] == ["dow", "nasdaq"]


@pytest.mark.tensorboard
def test_layout_tensor_parses_with_tensorboards_layout_proto(tmp_path: Path, event_accumulator: Any) -> None:
    """The config tag holds a scalar string tensor of a Layout that tensorboard's layout_pb2 parses."""
    from tensorboard.plugins.custom_scalar import layout_pb2
    from tensorboard.util import tensor_util

    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_custom_scalars({"losses": {"all": ["Multiline", [r"loss/.*", "val_loss"]]}})
    acc = event_accumulator(tmp_path)
    assert list(acc.PluginTagToContent("custom_scalars")) == [CONFIG_TAG]
    (event,) = acc.Tensors(CONFIG_TAG)
    assert event.step == 0
    array = tensor_util.make_ndarray(event.tensor_proto)
    assert array.shape == ()
    layout = layout_pb2.Layout.FromString(array.item())
    (category,) = layout.category
    assert category.title == "losses"
    (chart,) = category.chart
    assert chart.title == "all"
    assert list(chart.multiline.tag) == [r"loss/.*", "val_loss"]


@pytest.mark.tensorboard
def test_chart_helpers_use_torch_defaults_and_add_up(tmp_path: Path) -> None:
    """Helper calls add charts (torch would keep only the last); same category+title replaces."""
    with tblog.SummaryWriter(tmp_path / "run") as writer:
        writer.add_custom_scalars_multilinechart(["loss/train", "loss/val"])
        writer.add_custom_scalars_marginchart(
            ["acc/mean", "acc/low", "acc/high"], category="acc", title="band"
        )
        writer.add_custom_scalars_multilinechart(["lr"], category="opt", title="lr")
        writer.add_custom_scalars({"opt": {"lr": ["Multiline", ["lr/.*"]], "mom": ["Multiline", ["mom"]]}})
    assert _as_torch_dict(_plugin_layout(tmp_path)) == {
        "default": {"untitled": ["Multiline", ["loss/train", "loss/val"]]},
        "acc": {"band": ["Margin", ["acc/mean", "acc/low", "acc/high"]]},
        "opt": {"lr": ["Multiline", ["lr/.*"]], "mom": ["Multiline", ["mom"]]},
    }


@pytest.mark.tensorboard
def test_multiline_chart_regex_selects_the_runs_scalars(tmp_path: Path) -> None:
    """The plugin's /scalars route finds the logged tags that a multiline chart's regex matches."""
    from tensorboard.plugins.custom_scalar import custom_scalars_plugin
    from tensorboard.plugins.scalar import scalars_plugin

    with tblog.SummaryWriter(tmp_path / "run") as writer:
        for step in range(3):
            writer.add_scalar("loss/train", 1.0 / (step + 1), step)
            writer.add_scalar("loss/val", 2.0 / (step + 1), step)
            writer.add_scalar("acc", 0.5, step)
        writer.add_custom_scalars_multilinechart([r"loss/.*"], title="losses")
    plugin = tensorboard_plugin(
        custom_scalars_plugin.CustomScalarsPlugin, tmp_path, with_plugins=(scalars_plugin.ScalarsPlugin,)
    )
    response = plugin.request("/scalars", run="run", tag=r"loss/.*")
    assert response.status_code == 200, response.get_data(as_text=True)
    body = json.loads(response.get_data(as_text=True))
    series = body["tag_to_events"]
    assert sorted(series) == ["loss/train", "loss/val"]
    assert [point[2] for point in series["loss/val"]] == pytest.approx([2.0, 1.0, 2.0 / 3])


@pytest.mark.framework
@pytest.mark.tensorboard
def test_parity_with_torch_utils_tensorboard(tmp_path: Path, event_accumulator: Any) -> None:
    """torch and tblog write the same tag, step and byte-identical Layout for each method."""
    pytest.importorskip("torch")
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
        ("add_custom_scalars", (TORCH_LAYOUT,), {}),
        ("add_custom_scalars_multilinechart", (["a", "b"],), {}),
        ("add_custom_scalars_marginchart", (["m", "lo", "hi"],), {"category": "c", "title": "t"}),
    ]
    for i, (method, args, kwargs) in enumerate(calls):
        for writer_class, run in ((TorchWriter, "torch"), (tblog.SummaryWriter, "tblog")):
            with writer_class(str(tmp_path / str(i) / run)) as writer:  # one call per writer
                getattr(writer, method)(*args, **kwargs)
        (mine,) = event_accumulator(tmp_path / str(i) / "tblog").Tensors(CONFIG_TAG)
        (ref,) = event_accumulator(tmp_path / str(i) / "torch").Tensors(CONFIG_TAG)
        assert mine.step == ref.step == 0
        assert mine.tensor_proto.string_val == ref.tensor_proto.string_val, method
        assert mine.tensor_proto.dtype == ref.tensor_proto.dtype
        assert mine.tensor_proto.tensor_shape == ref.tensor_proto.tensor_shape


@pytest.mark.parametrize(
    ("method", "args", "error", "match"),
    [
        ("add_custom_scalars", (["Multiline", ["a"]],), TypeError, "layout must be a dict"),
        ("add_custom_scalars", ({"c": ["Multiline", ["a"]]},), TypeError, r"layout\['c'\] must be a dict"),
        ("add_custom_scalars", ({1: {"t": ["Multiline", ["a"]]}},), TypeError, "categories"),
        ("add_custom_scalars", ({"c": {"": ["Multiline", ["a"]]}},), TypeError, "chart titles"),
        ("add_custom_scalars", ({"c": {"t": ["Multiline"]}},), TypeError, r"layout\['c'\]\['t'\] must be"),
        ("add_custom_scalars", ({"c": {"t": "Multiline"}},), TypeError, r"layout\['c'\]\['t'\] must be"),
        ("add_custom_scalars", ({"c": {"t": ["Bars", ["a"]]}},), ValueError, "'Multiline' or 'Margin'"),
        ("add_custom_scalars", ({"c": {"t": ["multiline", ["a"]]}},), ValueError, "'Multiline' or 'Margin'"),
        ("add_custom_scalars", ({"c": {"t": ["Margin", ["a", "b"]]}},), ValueError, "exactly 3 tags"),
        ("add_custom_scalars", ({"c": {"t": ["Margin", ["a", "b", "c", "d"]]}},), ValueError, "exactly 3"),
        ("add_custom_scalars", ({"c": {"t": ["Multiline", "loss"]}},), TypeError, "list of scalar tags"),
        ("add_custom_scalars", ({"c": {"t": ["Multiline", []]}},), ValueError, "at least one tag"),
        ("add_custom_scalars", ({"c": {"t": ["Multiline", ["a", 3]]}},), TypeError, "non-empty str"),
        ("add_custom_scalars", ({"c": {"t": ["Multiline", ["loss/(train"]]}},), ValueError, "regular exp"),
        ("add_custom_scalars_multilinechart", ("loss",), TypeError, "tags must be a list"),
        ("add_custom_scalars_multilinechart", ([],), ValueError, "at least one tag"),
        ("add_custom_scalars_multilinechart", (["a"], 3), TypeError, "category"),
        ("add_custom_scalars_multilinechart", (["a"], "c", ""), TypeError, "title"),
        ("add_custom_scalars_marginchart", (["a", "b"],), ValueError, "exactly 3 tags"),
        ("add_custom_scalars_marginchart", (("a", "b", None),), TypeError, "non-empty str"),
        ("add_custom_scalars_marginchart", (None,), TypeError, "tags must be a list"),
    ],
)
def test_bad_input_raises_and_writer_stays_usable(
    tmp_path: Path, event_accumulator: Any, method: str, args: tuple[Any, ...], error: type, match: str
) -> None:
    """Bad layouts raise naming the part at fault, log nothing, and leave the layout as it was."""
    from tensorboard.plugins.custom_scalar import layout_pb2
    from tensorboard.util import tensor_util

    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_custom_scalars_multilinechart(["first"])
        with pytest.raises(error, match=match):
            getattr(writer, method)(*args)
        writer.add_custom_scalars_marginchart(["m", "lo", "hi"], title="second")
    events = event_accumulator(tmp_path).Tensors(CONFIG_TAG)
    assert len(events) == 2
    last = layout_pb2.Layout.FromString(tensor_util.make_ndarray(events[-1].tensor_proto).item())
    assert [c.title for c in last.category] == ["default"]
    assert [chart.title for chart in last.category[0].chart] == ["untitled", "second"]
