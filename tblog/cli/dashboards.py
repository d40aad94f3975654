"""Which TensorBoard dashboard shows each summary value, and the number of a scalar one."""

from __future__ import annotations

from typing import Any

from tblog.read.values import scalar

# Dashboards in the order TensorBoard lists them; tags of other plugins come after these.
DASHBOARDS = (
    "scalars",
    "histograms",
    "images",
    "audio",
    "text",
    "pr_curves",
    "hparams",
    "mesh",
    "graphs",
    "custom_scalars",
    "tensors",
)
_PLUGIN_DASHBOARD = {
    "scalars": "scalars",
    "histograms": "histograms",
    "images": "images",
    "audio": "audio",
    "text": "text",
    "pr_curves": "pr_curves",
    "hparams": "hparams",
    "mesh": "mesh",
    "custom_scalars": "custom_scalars",
    "graph_keras_model": "graphs",
    "tensor": "tensors",
    "": "tensors",
}
_LEGACY_DASHBOARD = {"simple_value": "scalars", "histo": "histograms", "image": "images", "audio": "audio"}


class TagKinds:
    """Per run: which dashboard each tag belongs to, by the first metadata seen for it
    (TensorBoard keeps a tag's first ``SummaryMetadata``; later values may omit it)."""

    def __init__(self) -> None:
        self._plugin: dict[str, str] = {}

    def dashboard(self, value: Any) -> str:
        """The dashboard that shows this ``Summary.Value``."""
        plugin = self._plugin.setdefault(value.tag, value.metadata.plugin_data.plugin_name)
        kind = value.WhichOneof("value")
        if kind in _LEGACY_DASHBOARD:
            return _LEGACY_DASHBOARD[kind]
        if value.tag == "custom_scalars__config__":
            return "custom_scalars"
        return _PLUGIN_DASHBOARD.get(plugin, plugin)

    def scalar(self, value: Any) -> float | None:
        """The number of a scalar value by ``tblog.read``'s rule, else None (also for a tensor
        whose values do not match its shape: the command lists its tag without a value)."""
        plugin = self._plugin.setdefault(value.tag, value.metadata.plugin_data.plugin_name)
        try:
            return scalar(value, plugin)
        except ValueError:
            return None


def event_dashboards(event: Any) -> list[tuple[str, str]]:
    """(dashboard, tag) pairs for an event that is not a summary (graphs), else []."""
    what = event.WhichOneof("what")
    if what == "graph_def":
        return [("graphs", "(graph)")]
    if what == "meta_graph_def":
        return [("graphs", "(meta graph)")]
    if what == "tagged_run_metadata":
        return [("graphs", event.tagged_run_metadata.tag)]
    return []
