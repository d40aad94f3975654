"""HParams dashboard: the three summaries TensorBoard's hparams plugin reads.

Each is a ``Value`` whose ``metadata.plugin_data`` (plugin ``hparams``) carries an
``HParamsPluginData`` and whose tensor is the plugin's empty float tensor of shape [0]:

* ``_hparams_/experiment``: ``Experiment`` naming the hparams (type and discrete domain) and
  the metrics (scalar tags of the session's run) to show;
* ``_hparams_/session_start_info``: ``SessionStartInfo`` with this run's hparam values;
* ``_hparams_/session_end_info``: ``SessionEndInfo(STATUS_SUCCESS)``.

The plugin treats every run holding a ``session_start_info`` as one session and reads the
last value of each metric tag from that run's scalars. It keeps only the first metadata per
tag and run, so a run shows the first hparams written to it.

Values (``hparam``):

* ``bool`` (and NumPy/torch/JAX bool scalars) → ``bool_value`` (torch writes ``1.0``/``0.0``);
* other real numbers, and one-element numeric arrays/tensors → ``number_value``;
* ``str`` → ``string_value``;
* ``None`` → left out (the dashboard shows an empty cell), as torch does;
* anything else → ``string_value`` of ``str(value)``; arrays with more than one element
  become ``str(value.tolist())``, e.g. ``"[64, 128]"``.

Nested mappings flatten to ``outer/inner`` names, as ``SummaryWriter.log`` flattens metrics
(and as Lightning's TensorBoard logger flattens hparams).
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from tblog import _convert
from tblog.summary import _wire

PLUGIN_NAME = "hparams"
EXPERIMENT_TAG = "_hparams_/experiment"
SESSION_START_INFO_TAG = "_hparams_/session_start_info"
SESSION_END_INFO_TAG = "_hparams_/session_end_info"
_DATA_CLASS_TENSOR = 2

# The plugin's NULL_TENSOR: dtype DT_FLOAT, tensor_shape { dim { size: 0 } }.
_NULL_TENSOR_FIELD = _wire.field_bytes(b"\x42", b"\x08\x01\x12\x02\x12\x00")

BOOL, NUMBER, STRING = "bool", "number", "string"
_DATA_TYPES = {STRING: 1, BOOL: 2, NUMBER: 3}  # hparams DataType


class HParam(NamedTuple):
    """One hparam value as the plugin stores it."""

    kind: str  # BOOL, NUMBER or STRING
    value: bool | float | str


def flatten(mapping: Mapping[Any, Any], name: str) -> dict[str, Any]:
    """``{"a": {"b": 1}}`` → ``{"a/b": 1}``; keys must be non-empty str and unique after."""
    if not isinstance(mapping, Mapping):
        raise TypeError(f"{name} must be a dict; got {_convert.describe(mapping)}")
    out: dict[str, Any] = {}
    _flatten_into(mapping, "", name, out)
    return out


def _flatten_into(mapping: Mapping[Any, Any], prefix: str, name: str, out: dict[str, Any]) -> None:
    for key, value in mapping.items():
        if not isinstance(key, str) or not key:
            where = f" under {prefix[:-1]!r}" if prefix else ""
            raise TypeError(f"{name} keys must be non-empty str; got {_convert.describe(key)}{where}")
        if not key.isascii():
            _convert.text(key, f"{name} key under {prefix[:-1]!r}" if prefix else f"{name} key")
        full = prefix + key
        if isinstance(value, Mapping):
            _flatten_into(value, full + "/", name, out)
        elif full in out:
            raise ValueError(f"{name} has {full!r} twice after flattening nested dicts to 'a/b' names")
        else:
            out[full] = value


def _is_array(value: Any) -> bool:
    if isinstance(value, (np.ndarray, np.generic)):
        return True
    module = type(value).__module__.partition(".")[0]
    return module in ("torch", "jax", "jaxlib") and hasattr(value, "shape")


def hparam(value: Any) -> HParam | None:
    """An hparam value as the plugin stores it (see the module notes); None for ``None``."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return HParam(BOOL, bool(value))
    if isinstance(value, str):
        return HParam(STRING, value)
    if isinstance(value, numbers.Real) and not _is_array(value):
        try:
            return HParam(NUMBER, float(value))
        except OverflowError:
            return HParam(STRING, str(value))
    if _is_array(value):
        # Read in the caller: hparams are logged once, off the training loop's hot path.
        array = _convert.array(value, "hparam")
        if array.size == 1 and array.dtype.kind == "b":
            return HParam(BOOL, bool(array.reshape(())))
        if array.size == 1 and array.dtype.kind in "iuf":
            return HParam(NUMBER, float(array.reshape(())))
        if array.ndim == 0:
            return HParam(STRING, str(array.item()))
        return HParam(STRING, str(array.tolist()))
    return HParam(STRING, str(value))


def hparams(hparam_dict: Mapping[Any, Any]) -> dict[str, HParam]:
    """Flatten and convert ``hparam_dict``; ``None`` values are left out."""
    out = {}
    for name, value in flatten(hparam_dict, "hparam_dict").items():
        converted = hparam(value)
        if converted is not None:
            if converted.kind == STRING:  # str(value) of any object may hold a lone surrogate
                _convert.text(str(converted.value), f"hparam_dict[{name!r}]")
            out[name] = converted
    return out


def domains(
    hparam_domain_discrete: Mapping[Any, Any] | None, recorded: Mapping[str, HParam], given: Mapping[str, Any]
) -> dict[str, list[HParam]]:
    """Check and convert ``hparam_domain_discrete`` (as torch: a list of values per hparam).

    Keys are hparam names (nested mappings flatten as ``hparam_dict`` does); each list's
    values must convert to the same type as the hparam's own value (any real number for a
    number hparam).
    """
    if hparam_domain_discrete is None:
        return {}
    out = {}
    for name, values in flatten(hparam_domain_discrete, "hparam_domain_discrete").items():
        where = f"hparam_domain_discrete[{name!r}]"
        if name not in given:
            raise ValueError(f"{where} names no hparam of hparam_dict; its hparams are {sorted(given)}")
        if name not in recorded:
            raise ValueError(f"{where}: hparam_dict[{name!r}] is None, which is not logged")
        if not isinstance(values, (list, tuple)):
            raise TypeError(f"{where} must be a list of values; got {_convert.describe(values)}")
        kind = recorded[name].kind
        converted = []
        for value in values:
            item = hparam(value)
            if item is None or item.kind != kind:
                raise TypeError(
                    f"{where} must hold values of the type of hparam_dict[{name!r}] ({kind}); "
                    f"got {_convert.describe(value)}"
                )
            if item.kind == STRING:
                _convert.text(str(item.value), where)
            converted.append(item)
        out[name] = converted
    return out


def _struct_value(item: HParam) -> Any:
    from google.protobuf import struct_pb2

    if item.kind == BOOL:
        return struct_pb2.Value(bool_value=bool(item.value))
    if item.kind == NUMBER:
        return struct_pb2.Value(number_value=float(item.value))
    return struct_pb2.Value(string_value=str(item.value))


def _value(tag: str, plugin_data: Any) -> bytes:
    metadata = _wire.plugin_metadata(PLUGIN_NAME, plugin_data.SerializeToString(), _DATA_CLASS_TENSOR)
    return _wire.field_str(b"\x0a", tag) + _NULL_TENSOR_FIELD + _wire.field_bytes(b"\x4a", metadata)


def experiment_value(
    recorded: Mapping[str, HParam], domain: Mapping[str, list[HParam]], metric_tags: list[str]
) -> bytes:
    """The encoded ``_hparams_/experiment`` Value."""
    from google.protobuf import struct_pb2

    from tblog.proto import hparams_api_pb2 as api
    from tblog.proto import hparams_plugin_data_pb2 as plugin

    infos = []
    for name, item in recorded.items():
        info = api.HParamInfo(name=name, type=_DATA_TYPES[item.kind])  # type: ignore[arg-type]
        if name in domain:
            info.domain_discrete.CopyFrom(
                struct_pb2.ListValue(values=[_struct_value(d) for d in domain[name]])
            )
        infos.append(info)
    metrics = [api.MetricInfo(name=api.MetricName(tag=tag)) for tag in metric_tags]
    experiment = api.Experiment(hparam_infos=infos, metric_infos=metrics)
    return _value(EXPERIMENT_TAG, plugin.HParamsPluginData(version=0, experiment=experiment))


def session_start_value(recorded: Mapping[str, HParam], start_time_secs: float) -> bytes:
    """The encoded ``_hparams_/session_start_info`` Value."""
    from tblog.proto import hparams_plugin_data_pb2 as plugin

    info = plugin.SessionStartInfo(start_time_secs=start_time_secs)
    for name, item in recorded.items():
        info.hparams[name].CopyFrom(_struct_value(item))
    return _value(SESSION_START_INFO_TAG, plugin.HParamsPluginData(version=0, session_start_info=info))


def session_end_value(end_time_secs: float) -> bytes:
    """The encoded ``_hparams_/session_end_info`` Value, status STATUS_SUCCESS."""
    from tblog.proto import hparams_plugin_data_pb2 as plugin

    info = plugin.SessionEndInfo(status=1, end_time_secs=end_time_secs)  # type: ignore[arg-type]
    return _value(SESSION_END_INFO_TAG, plugin.HParamsPluginData(version=0, session_end_info=info))
