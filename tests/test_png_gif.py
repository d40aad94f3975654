"""tblog's own PNG and GIF encoders, decoded by Pillow and by small spec-following decoders here."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tblog.summary import gif, png

RNG = np.random.default_rng(1234)


# ----- reference decoders (written from the PNG and GIF89a specifications) ------------------


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body), f"bad CRC in {kind!r}"
        chunks.append((kind, body))
        pos += 12 + length
    return chunks


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def _decode_png(data: bytes) -> tuple[np.ndarray, list[int]]:
    """(pixels (H, W, C), filter type of each row) of an 8-bit non-interlaced PNG."""
    chunks = _png_chunks(data)
    assert chunks[0][0] == b"IHDR" and chunks[-1] == (b"IEND", b"")
    width, height, depth, color, comp, filt, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (depth, comp, filt, interlace) == (8, 0, 0, 0)
    channels = {0: 1, 4: 2, 2: 3, 6: 4}[color]
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = width * channels
    assert len(raw) == height * (stride + 1)
    rows: list[bytearray] = []
    kinds = []
    prior = bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        kinds.append(kind)
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b, c = prior[i], (prior[i - channels] if i >= channels else 0)
            pred = (0, a, b, (a + b) // 2, _paeth(a, b, c))[kind]
            line[i] = (line[i] + pred) & 0xFF
        rows.append(line)
        prior = line
    return np.frombuffer(b"".join(rows), np.uint8).reshape(height, width, channels), kinds


def _lzw_decode(data: bytes, min_code_size: int) -> list[int]:
    """GIF LZW decoder with the browsers' rule: widen once the next free code hits 2**width."""
    clear, end = 1 << min_code_size, (1 << min_code_size) + 1
    bits = int.from_bytes(data, "little")
    total_bits = len(data) * 8
    pos, width = 0, min_code_size + 1
    table: list[list[int]] = []
    out: list[int] = []
    previous: list[int] | None = None

    def reset() -> None:
        table[:] = [[i] for i in range(clear)] + [[], []]

    reset()
    while pos + width <= total_bits:
        code = (bits >> pos) & ((1 << width) - 1)
        pos += width
        if code == clear:
            reset()
            width, previous = min_code_size + 1, None
            continue
        if code == end:
            return out
        if previous is None:
            entry = table[code]
        else:
            if code < len(table):
                entry = table[code]
            else:
                assert code == len(table), f"code {code} beyond table of {len(table)}"
                entry = previous + previous[:1]
            if len(table) < 4096:
                table.append(previous + entry[:1])
                if len(table) == (1 << width) and width < 12:
                    width += 1
        out.extend(entry)
        previous = entry
    raise AssertionError("no end-of-information code")


def _parse_gif(data: bytes) -> dict[str, Any]:
    """Logical screen, global palette, loop count, and each frame's delay and index stream."""
    assert data[:6] == b"GIF89a" and data[-1:] == b"\x3b"
    width, height, packed, _, _ = struct.unpack("<HHBBB", data[6:13])
    assert packed & 0x80
    palette = np.frombuffer(data[13 : 13 + 3 * (2 << (packed & 7))], np.uint8).reshape(-1, 3)
    pos = 13 + palette.size
    info: dict[str, Any] = {"size": (width, height), "palette": palette, "frames": [], "delays": []}
    while data[pos] != 0x3B:
        if data[pos] == 0x21:  # extension
            label = data[pos + 1]
            pos += 2
            blocks = []
            while data[pos]:
                blocks.append(data[pos + 1 : pos + 1 + data[pos]])
                pos += 1 + data[pos]
            pos += 1
            if label == 0xF9:
                info["delays"].append(struct.unpack("<H", blocks[0][1:3])[0])
            elif label == 0xFF and blocks[0] == b"NETSCAPE2.0":
                info["loop"] = struct.unpack("<H", blocks[1][1:3])[0]
        else:
            assert data[pos] == 0x2C
            left, top, w, h, flags = struct.unpack("<HHHHB", data[pos + 1 : pos + 10])
            assert (left, top, w, h, flags) == (0, 0, width, height, 0)
            min_code_size = data[pos + 10]
            pos += 11
            stream = bytearray()
            while data[pos]:
                stream += data[pos + 1 : pos + 1 + data[pos]]
                pos += 1 + data[pos]
            pos += 1
            indices = _lzw_decode(bytes(stream), min_code_size)
            assert len(indices) == width * height
            info["frames"].append(np.array(indices, np.uint8).reshape(height, width))
    return info


def _expected_rgb(frames: np.ndarray) -> np.ndarray:
    return np.repeat(frames, 3, axis=-1) if frames.shape[-1] == 1 else frames[..., :3]


# ----- PNG ----------------------------------------------------------------------------------


def _images() -> dict[str, np.ndarray]:
    y, x = np.mgrid[0:48, 0:40]
    gradient = np.stack([x * 5, y * 5, x + y], axis=-1).astype(np.uint8)
    return {
        "gradient": gradient,  # Up or Sub; low entropy: default zlib strategy
        "noisy": np.clip(gradient + RNG.normal(0, 6, gradient.shape), 0, 255).astype(np.uint8),  # Z_RLE
        "noise": RNG.integers(0, 256, (48, 40, 3), dtype=np.uint8),  # stored
        "flat": np.full((48, 40, 3), 200, np.uint8),
        "columns": np.tile(RNG.integers(0, 256, (1, 40, 3), dtype=np.uint8), (48, 1, 1)),  # Up
        "rows": np.tile(RNG.integers(0, 256, (48, 1, 3), dtype=np.uint8), (1, 40, 1)),  # Sub
    }


@pytest.mark.parametrize("name", list(_images()))
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_png_decodes_to_the_same_pixels(name: str, channels: int) -> None:
    """Every colour type and every filter/zlib path gives back the exact pixels (reference decoder)."""
    base = _images()[name]
    pixels = np.concatenate([base, base[..., :1]], axis=-1)[..., :channels]
    pixels = np.ascontiguousarray(pixels)
    decoded, kinds = _decode_png(png.encode_png(pixels))
    np.testing.assert_array_equal(decoded, pixels)
    assert len(set(kinds)) == 1 and kinds[0] in (0, 1, 2)


def test_png_picks_the_filter_that_fits() -> None:
    """Constant columns get Up, constant rows get Sub, and noise is stored, not deflated."""
    images = _images()
    assert _decode_png(png.encode_png(images["columns"]))[1][0] == 2
    assert _decode_png(png.encode_png(images["rows"]))[1][0] == 1
    noise = png.encode_png(images["noise"])
    idat = next(body for kind, body in _png_chunks(noise) if kind == b"IDAT")
    assert len(idat) >= images["noise"].size  # stored blocks: no smaller than the raw rows
    assert len(png.encode_png(images["flat"])) < 200


@pytest.mark.parametrize("shape", [(1, 1), (1, 7, 3), (9, 1, 4), (2, 3, 1), (300, 5, 3)])
def test_png_odd_shapes(shape: tuple[int, ...]) -> None:
    """1-pixel, 1-row, 1-column and 2-D (gray) images round-trip."""
    pixels = RNG.integers(0, 256, shape, dtype=np.uint8)
    decoded, _ = _decode_png(png.encode_png(pixels))
    np.testing.assert_array_equal(decoded, pixels.reshape(decoded.shape))


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(
        np.uint8,
        st.tuples(st.integers(1, 24), st.integers(1, 24), st.sampled_from([1, 2, 3, 4])),
        elements=st.integers(0, 255),
    )
)
def test_png_round_trip_property(pixels: np.ndarray) -> None:
    """Any uint8 image of 1-4 channels decodes to itself (reference decoder and Pillow)."""
    data = png.encode_png(pixels)
    np.testing.assert_array_equal(_decode_png(data)[0], pixels)
    image_module = pytest.importorskip("PIL.Image")
    back = np.asarray(image_module.open(io.BytesIO(data)))
    np.testing.assert_array_equal(back.reshape(pixels.shape), pixels)


@pytest.mark.parametrize("channels,mode", [(1, "L"), (2, "LA"), (3, "RGB"), (4, "RGBA")])
def test_png_pillow_reads_mode_and_pixels(channels: int, mode: str) -> None:
    """Pillow opens each colour type with the matching mode and the same pixels."""
    image_module = pytest.importorskip("PIL.Image")
    pixels = RNG.integers(0, 256, (33, 17, channels), dtype=np.uint8)
    image = image_module.open(io.BytesIO(png.encode_png(pixels)))
    assert (image.format, image.mode, image.size) == ("PNG", mode, (17, 33))
    np.testing.assert_array_equal(np.asarray(image).reshape(pixels.shape), pixels)


@pytest.mark.parametrize(
    "pixels,error",
    [
        (np.zeros((4, 4, 3), np.float32), TypeError),
        (np.zeros((4, 4, 5), np.uint8), ValueError),
        (np.zeros((4,), np.uint8), ValueError),
        (np.zeros((0, 4, 3), np.uint8), ValueError),
    ],
)
def test_png_rejects_what_it_cannot_encode(pixels: np.ndarray, error: type[Exception]) -> None:
    """Non-uint8, 5 channels, 1-D and empty arrays are refused with a clear error."""
    with pytest.raises(error, match="encode_png|PNG"):
        png.encode_png(pixels)


# ----- GIF ----------------------------------------------------------------------------------


def _few_colour_frames(colours: int, shape: tuple[int, int, int], runs: bool = False) -> np.ndarray:
    palette = RNG.integers(0, 256, (colours, 3), dtype=np.uint8)
    if runs:
        index = np.repeat(RNG.integers(0, colours, (*shape[:2], 1)), shape[2], axis=2)
    else:
        index = RNG.integers(0, colours, shape)
    return palette[index]


@pytest.mark.parametrize("colours", [1, 2, 3, 5, 16, 17, 129, 256])
@pytest.mark.parametrize("runs", [False, True])
def test_gif_with_few_colours_is_lossless(colours: int, runs: bool) -> None:
    """<= 256 colours: exact palette; frames decode (reference decoder) to the input pixels."""
    frames = _few_colour_frames(colours, (3, 70, 90), runs)
    info = _parse_gif(gif.encode_gif(frames, delay_cs=7))
    assert len(info["frames"]) == 3 and info["size"] == (90, 70)
    assert info["delays"] == [7, 7, 7] and info["loop"] == 0
    decoded = np.stack([info["palette"][f] for f in info["frames"]])
    np.testing.assert_array_equal(decoded, frames)


def test_gif_fills_the_lzw_table_and_clears_it() -> None:
    """Noise in 256 colours overflows the 4096-code table many times and still round-trips."""
    frames = _few_colour_frames(256, (2, 200, 200))
    codes, widths = gif.lzw_codes(gif.quantize(frames)[0][0].tobytes(), 8)
    assert codes.count(256) > 5 and max(widths) == 12
    info = _parse_gif(gif.encode_gif(frames))
    np.testing.assert_array_equal(np.stack([info["palette"][f] for f in info["frames"]]), frames)


@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (1, 1, 1, 3), (2, 1, 9, 3), (2, 9, 1, 1), (4, 30, 20, 1)])
def test_gif_tiny_and_gray_frames(shape: tuple[int, ...]) -> None:
    """Single pixels, single rows/columns and gray frames (256-gray palette) are exact."""
    frames = RNG.integers(0, 256, shape, dtype=np.uint8)
    info = _parse_gif(gif.encode_gif(frames))
    decoded = np.stack([info["palette"][f] for f in info["frames"]])
    np.testing.assert_array_equal(decoded, _expected_rgb(frames))


def test_gif_many_colours_use_a_median_cut_palette() -> None:
    """> 256 colours: 256 palette entries, small mean error on smooth frames, bounded on noise."""
    y, x = np.mgrid[0:64, 0:64]
    smooth = np.stack(
        [np.stack([(x * 4 + t * 9) % 256, y * 4, (x + y) * 2], axis=-1) for t in range(6)]
    ).astype(np.uint8)
    noise = RNG.integers(0, 256, (3, 40, 40, 3), dtype=np.uint8)
    for frames, bound in ((smooth, 6.0), (noise, 16.0)):
        index, palette = gif.quantize(frames)
        assert len(palette) == 256 and index.shape == frames.shape[:3]
        error = np.abs(palette[index].astype(int) - frames).mean()
        assert error < bound


def test_gif_rgba_drops_alpha() -> None:
    """RGBA frames are encoded from their RGB channels."""
    frames = _few_colour_frames(9, (2, 10, 12))
    rgba = np.concatenate([frames, RNG.integers(0, 256, (2, 10, 12, 1), dtype=np.uint8)], axis=-1)
    info = _parse_gif(gif.encode_gif(rgba))
    np.testing.assert_array_equal(np.stack([info["palette"][f] for f in info["frames"]]), frames)


def test_gif_pillow_plays_every_frame_with_its_delay() -> None:
    """Pillow reads the frame count, the per-frame duration, the loop flag and exact pixels."""
    image_module = pytest.importorskip("PIL.Image")
    sequence = pytest.importorskip("PIL.ImageSequence")
    frames = _few_colour_frames(40, (5, 24, 31))
    image = image_module.open(io.BytesIO(gif.encode_gif(frames, delay_cs=gif.delay_centiseconds(4))))
    assert (image.format, image.n_frames, image.size) == ("GIF", 5, (31, 24))
    assert image.info["loop"] == 0
    decoded = []
    for frame in sequence.Iterator(image):
        assert frame.info["duration"] == 250
        decoded.append(np.asarray(frame.convert("RGB")))
    np.testing.assert_array_equal(np.stack(decoded), frames)


@pytest.mark.parametrize(
    "fps,delay", [(4, 25), (10, 10), (30, 3), (50, 2), (100, 2), (0.5, 200), (1e-4, 65535)]
)
def test_gif_delay_from_fps(fps: float, delay: int) -> None:
    """fps becomes a delay in 1/100 s, at least 2 (browsers slow 0 and 1 down to 10)."""
    assert gif.delay_centiseconds(fps) == delay


@pytest.mark.parametrize(
    "frames,error",
    [
        (np.zeros((2, 4, 4, 3), np.float32), TypeError),
        (np.zeros((2, 4, 4, 2), np.uint8), ValueError),
        (np.zeros((4, 4, 3), np.uint8), ValueError),
        (np.zeros((0, 4, 4, 3), np.uint8), ValueError),
        (np.zeros((1, 4, 70000, 1), np.uint8), ValueError),
    ],
)
def test_gif_rejects_what_it_cannot_encode(frames: np.ndarray, error: type[Exception]) -> None:
    """Non-uint8, 2 channels, wrong rank, no frames and sides over 65535 are refused."""
    with pytest.raises(error, match="encode_gif|GIF"):
        gif.encode_gif(frames)
