"""add_audio: WAV clips read back with TensorBoard (EventAccumulator, the audio plugin's data)."""

from __future__ import annotations

import io
import math
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tblog
from tblog.summary import audio as audio_summary

RATE = 8000


def _tone(n: int = 800, freq: float = 440.0, amp: float = 0.8, dtype: Any = np.float32) -> np.ndarray:
    t = np.arange(n) / RATE
    return (amp * np.sin(2 * np.pi * freq * t)).astype(dtype)


def _pcm(samples: np.ndarray) -> np.ndarray:
    """What the WAV must hold: clipped to [-1, 1], times 32767, truncated toward zero."""
    return (np.clip(samples, -1, 1) * 32767).astype(np.int16)


def _decode(wav_bytes: bytes) -> tuple[np.ndarray, int, int]:
    """(frames as int16 of shape (L, C), channels, sample rate) via the stdlib wave module."""
    with wave.open(io.BytesIO(wav_bytes), "rb") as reader:
        assert reader.getsampwidth() == 2
        channels, rate = reader.getnchannels(), reader.getframerate()
        frames = reader.readframes(reader.getnframes())
    return np.frombuffer(frames, "<i2").reshape(-1, channels), channels, rate


def test_mono_clip_round_trips_through_event_accumulator(tmp_path: Path, event_accumulator: Any) -> None:
    """A mono float clip comes back as a WAV with the same int16 samples, rate, step and time."""
    clip = _tone()
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_audio("sound/mono", clip, 7, sample_rate=RATE, walltime=1.7e9)
    (event,) = event_accumulator(tmp_path).Audio("sound/mono")
    assert (event.step, event.wall_time) == (7, 1.7e9)
    assert (event.sample_rate, event.length_frames, event.content_type) == (RATE, 800, "audio/wav")
    frames, channels, rate = _decode(event.encoded_audio_string)
    assert (channels, rate) == (1, RATE)
    np.testing.assert_array_equal(frames[:, 0], _pcm(clip))


@pytest.mark.parametrize("layout", ["channels_first", "channels_last"])
def test_stereo_clip_keeps_both_channels(tmp_path: Path, event_accumulator: Any, layout: str) -> None:
    """(2, L) and (L, 2) clips give a 2-channel WAV whose channels are the two inputs."""
    left, right = _tone(600, 440.0), _tone(600, 660.0, amp=0.3)
    clip = np.stack([left, right]) if layout == "channels_first" else np.stack([left, right], axis=1)
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_audio("stereo", clip, sample_rate=RATE)
    (event,) = event_accumulator(tmp_path).Audio("stereo")
    frames, channels, rate = _decode(event.encoded_audio_string)
    assert (channels, rate, event.length_frames) == (2, RATE, 600)
    np.testing.assert_array_equal(frames[:, 0], _pcm(left))
    np.testing.assert_array_equal(frames[:, 1], _pcm(right))


@pytest.mark.parametrize(
    ("shape", "channels"),
    [((500,), 1), ((1, 500), 1), ((500, 1), 1), ((1, 1, 500), 1), ((1, 500, 1), 1), ((1, 2, 500), 2)],
)
def test_accepted_shapes(
    tmp_path: Path, event_accumulator: Any, shape: tuple[int, ...], channels: int
) -> None:
    """Mono as (L,), (1, L), (L, 1) and with extra size-1 axes (torch squeezes them); stereo too."""
    clip = np.linspace(-1, 1, math.prod(shape), dtype=np.float32).reshape(shape)
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_audio("a", clip, sample_rate=RATE)
    (event,) = event_accumulator(tmp_path).Audio("a")
    frames, got_channels, _ = _decode(event.encoded_audio_string)
    assert got_channels == channels
    assert event.length_frames == 500
    expected = clip.reshape(channels, 500).T if channels == 2 else clip.reshape(500, 1)
    np.testing.assert_array_equal(frames, _pcm(expected))


def test_out_of_range_amplitudes_are_clipped_with_a_warning(tmp_path: Path, event_accumulator: Any) -> None:
    """Samples beyond ±1 become ±32767, as torch clips them, and a UserWarning says so."""
    clip = np.array([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.5])
    with tblog.SummaryWriter(tmp_path) as writer, pytest.warns(UserWarning, match="clipped"):
        writer.add_audio("loud", clip, sample_rate=RATE)
    (event,) = event_accumulator(tmp_path).Audio("loud")
    frames, _, _ = _decode(event.encoded_audio_string)
    assert frames[:, 0].tolist() == [-32767, -32767, -16383, 0, 16383, 32767, 32767]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int8, np.int64, np.bool_])
def test_real_dtypes_are_amplitudes(tmp_path: Path, event_accumulator: Any, dtype: Any) -> None:
    """Every real dtype is read as amplitudes in [-1, 1] (ints and bools as their values)."""
    values = [0, 1, 0, 1] if dtype is np.bool_ else [-1, 0, 1, 0]
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_audio("d", np.array(values, dtype=dtype), sample_rate=RATE)
    frames, _, _ = _decode(event_accumulator(tmp_path).Audio("d")[0].encoded_audio_string)
    assert frames[:, 0].tolist() == [v * 32767 for v in values]


def test_list_input_and_float_sample_rate(tmp_path: Path, event_accumulator: Any) -> None:
    """A Python list is a clip; a float sample rate is rounded to whole Hz, as ``wave`` does."""
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_audio("l", [0.0, 0.25, -0.25], sample_rate=22050.4)
    (event,) = event_accumulator(tmp_path).Audio("l")
    frames, _, rate = _decode(event.encoded_audio_string)
    assert rate == 22050 and event.sample_rate == 22050
    assert frames[:, 0].tolist() == [0, 8191, -8191]


def test_clip_is_copied_at_call_time(tmp_path: Path, event_accumulator: Any) -> None:
    """Changing the array after add_audio does not change what was logged (encoding is deferred)."""
    clip = _tone()
    expected = _pcm(clip)
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_audio("c", clip, sample_rate=RATE)
        clip[:] = 0.0
    frames, _, _ = _decode(event_accumulator(tmp_path).Audio("c")[0].encoded_audio_string)
    np.testing.assert_array_equal(frames[:, 0], expected)


def test_many_steps_keep_order(tmp_path: Path, event_accumulator: Any) -> None:
    """Clips logged at several steps all come back, in order, each with its own content."""
    with tblog.SummaryWriter(tmp_path) as writer:
        for step in range(5):
            writer.add_audio("s", np.full(10, step / 10), step, sample_rate=RATE)
    events = event_accumulator(tmp_path).Audio("s")
    assert [e.step for e in events] == list(range(5))
    for step, event in enumerate(events):
        frames, _, _ = _decode(event.encoded_audio_string)
        assert set(frames[:, 0].tolist()) == {int(step / 10 * 32767)}


@pytest.mark.tensorboard
def test_audio_plugin_data_provider_serves_the_wav(tmp_path: Path) -> None:
    """TensorBoard's data provider lists the tag under the audio plugin and serves the WAV blob."""
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
    from tensorboard.plugins.audio import metadata

    clip = np.stack([_tone(300), -_tone(300)])
    with tblog.SummaryWriter(tmp_path / "run") as writer:
        writer.add_audio("voice", clip, 3, sample_rate=16000)
    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(tmp_path))
    multiplexer.Reload()
    provider = data_provider.MultiplexerDataProvider(multiplexer, str(tmp_path))
    ctx = context.RequestContext()
    listing = provider.list_blob_sequences(ctx, experiment_id="", plugin_name=metadata.PLUGIN_NAME)
    series = listing["run"]["voice"]
    assert series.max_step == 3
    plugin_data = metadata.parse_plugin_metadata(series.plugin_content)
    assert plugin_data.encoding == metadata.Encoding.Value("WAV")
    data = provider.read_blob_sequences(
        ctx, experiment_id="", plugin_name=metadata.PLUGIN_NAME, downsample=10
    )
    (datum,) = data["run"]["voice"]
    assert datum.step == 3
    wav_bytes = provider.read_blob(ctx, blob_key=datum.values[0].blob_key)
    frames, channels, rate = _decode(wav_bytes)
    assert (channels, rate) == (2, 16000)
    np.testing.assert_array_equal(frames, _pcm(clip.T))


def test_wav_bytes_equal_the_stdlib_wave_module() -> None:
    """tblog's hand-written WAV header and data are byte-identical to what ``wave`` writes."""
    pcm = _pcm(np.stack([_tone(101), _tone(101, 300.0)], axis=1))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(2)
        writer.setsampwidth(2)
        writer.setframerate(RATE)
        writer.writeframes(pcm.tobytes())
    assert audio_summary.wav(pcm, RATE) == buffer.getvalue()


def test_value_bytes_equal_protobuf_serialization() -> None:
    """The hand-encoded Summary.Value equals protobuf's serialization of the same message."""
    from tblog.proto import audio_plugin_data_pb2, summary_pb2

    wav_bytes = audio_summary.wav(_pcm(_tone(50)).reshape(-1, 1), RATE)
    expected = summary_pb2.Summary.Value(
        tag="t/x",
        audio=summary_pb2.Summary.Audio(
            sample_rate=RATE,
            num_channels=1,
            length_frames=50,
            encoded_audio_string=wav_bytes,
            content_type="audio/wav",
        ),
        metadata=summary_pb2.SummaryMetadata(
            plugin_data=summary_pb2.SummaryMetadata.PluginData(
                plugin_name="audio",
                content=audio_plugin_data_pb2.AudioPluginData(encoding=11).SerializeToString(),
            )
        ),
    )
    assert audio_summary.audio_value("t/x", wav_bytes, RATE, 1, 50) == expected.SerializeToString()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"sample_rate": 0}, ValueError, "sample_rate"),
        ({"sample_rate": -8000}, ValueError, "sample_rate"),
        ({"sample_rate": math.nan}, ValueError, "sample_rate"),
        ({"sample_rate": math.inf}, ValueError, "sample_rate"),
        ({"sample_rate": "44100"}, TypeError, "sample_rate"),
        ({"sample_rate": True}, TypeError, "sample_rate"),
        ({"sample_rate": None}, TypeError, "sample_rate"),
        ({"snd_tensor": np.zeros((3, 100))}, ValueError, r"snd_tensor.*1 or 2 channels.*\(3, 100\)"),
        ({"snd_tensor": np.zeros((4, 5, 6))}, ValueError, r"snd_tensor.*\(4, 5, 6\)"),
        ({"snd_tensor": np.float32(0.5)}, ValueError, r"snd_tensor.*shape \(\)"),
        ({"snd_tensor": np.zeros(0)}, ValueError, "snd_tensor must not be empty"),
        ({"snd_tensor": np.zeros((2, 0))}, ValueError, "snd_tensor must not be empty"),
        ({"snd_tensor": np.zeros((0, 2))}, ValueError, "snd_tensor must not be empty"),
        ({"snd_tensor": np.array(["a", "b"])}, TypeError, "snd_tensor must hold real numbers"),
        ({"snd_tensor": np.zeros(4, np.complex64)}, TypeError, "snd_tensor must hold real numbers"),
        ({"snd_tensor": None}, TypeError, "snd_tensor"),
        ({"snd_tensor": [[0.1, 0.2], [0.3]]}, TypeError, "snd_tensor"),
        ({"snd_tensor": np.array([0.1, math.nan])}, ValueError, "snd_tensor must hold finite"),
        ({"snd_tensor": np.array([0.1, -math.inf])}, ValueError, "snd_tensor must hold finite"),
        ({"tag": ""}, ValueError, "tag"),
        ({"tag": 3}, TypeError, "tag"),
        ({"global_step": "x"}, TypeError, "global_step"),
        ({"walltime": "now"}, TypeError, "walltime"),
    ],
)
def test_bad_input_raises_and_writer_stays_usable(
    tmp_path: Path, event_accumulator: Any, kwargs: dict[str, Any], error: type, match: str
) -> None:
    """Bad input raises naming the argument, logs nothing, and the next good clip is logged."""
    call: dict[str, Any] = {"tag": "bad", "snd_tensor": _tone(10), "sample_rate": RATE, **kwargs}
    with tblog.SummaryWriter(tmp_path) as writer:
        with pytest.raises(error, match=match):
            writer.add_audio(**call)
        writer.add_audio("good", _tone(10), 1, sample_rate=RATE)
    acc = event_accumulator(tmp_path)
    assert acc.Tags()["audio"] == ["good"]
    assert len(acc.Audio("good")) == 1


@pytest.mark.framework
@pytest.mark.tensorboard
def test_parity_with_torch_utils_tensorboard(tmp_path: Path, event_accumulator: Any) -> None:
    """torch.utils.tensorboard and tblog write the same tags, steps, rates and WAV bytes."""
    torch = pytest.importorskip("torch")
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    clips = {"a/mono": torch.linspace(-1, 1, 777), "b/row": torch.sin(torch.arange(500.0) / 7)[None]}
    for writer_class, run in ((TorchWriter, "torch"), (tblog.SummaryWriter, "tblog")):
        with writer_class(str(tmp_path / run)) as writer:
            for step, (tag, clip) in enumerate(clips.items()):
                writer.add_audio(tag, clip, step, sample_rate=RATE)
    ours, theirs = event_accumulator(tmp_path / "tblog"), event_accumulator(tmp_path / "torch")
    assert ours.Tags()["audio"] == theirs.Tags()["audio"] == list(clips)
    for tag in clips:
        (mine,) = ours.Audio(tag)
        (ref,) = theirs.Audio(tag)
        assert (mine.step, mine.sample_rate, mine.length_frames, mine.content_type) == (
            ref.step,
            ref.sample_rate,
            ref.length_frames,
            ref.content_type,
        )
        assert mine.encoded_audio_string == ref.encoded_audio_string


@pytest.mark.framework
def test_torch_and_jax_inputs(tmp_path: Path, event_accumulator: Any) -> None:
    """torch tensors and JAX arrays log the same samples as the NumPy clip they hold."""
    torch = pytest.importorskip("torch")
    jnp = pytest.importorskip("jax.numpy")
    clip = _tone(256)
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_audio("torch", torch.from_numpy(clip.copy()).reshape(1, -1), sample_rate=RATE)
        writer.add_audio("torch_bf16", torch.from_numpy(clip.copy()).bfloat16(), sample_rate=RATE)
        writer.add_audio("jax", jnp.asarray(np.stack([clip, clip], axis=1)), sample_rate=RATE)
    acc = event_accumulator(tmp_path)
    frames, _, _ = _decode(acc.Audio("torch")[0].encoded_audio_string)
    np.testing.assert_array_equal(frames[:, 0], _pcm(clip))
    frames, _, _ = _decode(acc.Audio("torch_bf16")[0].encoded_audio_string)
    np.testing.assert_allclose(frames[:, 0], _pcm(clip), atol=32767 / 128)
    frames, channels, _ = _decode(acc.Audio("jax")[0].encoded_audio_string)
    assert channels == 2
    np.testing.assert_array_equal(frames, _pcm(np.stack([clip, clip], axis=1)))


@pytest.mark.framework
def test_nan_in_a_jax_clip_is_reported_by_the_next_call(tmp_path: Path, event_accumulator: Any) -> None:
    """A device value is checked on the writer thread: its NaN error comes with the next call."""
    jnp = pytest.importorskip("jax.numpy")
    with tblog.SummaryWriter(tmp_path) as writer:
        writer.add_audio("bad", jnp.array([0.0, jnp.nan]), sample_rate=RATE)
        with pytest.raises(tblog.BackgroundWriteError, match="finite") as info:
            writer.flush()
        assert isinstance(info.value.__cause__, ValueError)
        writer.add_audio("good", jnp.array([0.0, 0.5]), 1, sample_rate=RATE)
    assert event_accumulator(tmp_path).Tags()["audio"] == ["good"]
