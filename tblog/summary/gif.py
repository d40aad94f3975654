"""tblog's own animated-GIF encoder (GIF89a): NumPy for the colours, a small LZW coder.

Used by ``add_video``; no moviepy, no Pillow. What it writes:

* one **global palette** for the whole clip, so colours do not flicker between frames:
  - gray frames: the 256 gray levels (lossless);
  - colour frames with at most 256 distinct colours: exactly those colours (lossless);
  - otherwise a **median cut** over a 5-bit-per-channel colour histogram of all frames
    (each box split at the weighted median of its widest channel, the box with the largest
    squared error first; a palette entry is the exact mean colour of its pixels). No
    dithering: it would make flat areas noisy and the LZW stream larger.
  - RGBA frames: the alpha channel is dropped (GIF has only on/off transparency).
* every frame in full, each with a Graphic Control Extension carrying the frame delay, and
  the NETSCAPE2.0 extension that makes the clip loop (forever by default).
* LZW with GIF's variable code width (up to 12 bits) and a clear code when the table is
  full. The coder loops in Python over the pixels (about 0.1 us each); the rest is NumPy.
"""

from __future__ import annotations

import struct

import numpy as np

_MAX_CODES = 4096
_MAX_SIDE = 65535


def delay_centiseconds(fps: float) -> int:
    """GIF frame delay for ``fps``, in the format's 1/100 s units.

    At least 2: browsers play a delay of 0 or 1 as 10 (so 100 fps would play at 10 fps);
    50 fps is therefore the fastest a GIF plays everywhere.
    """
    delay = 100.0 / fps  # inf for a subnormal fps: round() would raise
    return 0xFFFF if delay >= 0xFFFF else max(round(delay), 2)


# ----- colours ------------------------------------------------------------------------------


def quantize(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(palette indices (T, H, W) uint8, palette (n, 3) uint8, n <= 256) of uint8 frames.

    ``frames`` has shape (T, H, W, C) with C = 1 (gray), 3 (RGB) or 4 (RGBA, alpha dropped).
    """
    channels = frames.shape[-1]
    if channels == 1:
        levels = np.arange(256, dtype=np.uint8)
        return frames[..., 0], np.stack([levels, levels, levels], axis=1)
    rgb = frames[..., :3].reshape(-1, 3)
    r, g, b = (rgb[:, i].astype(np.int32) for i in range(3))
    bins = ((r >> 3) << 10) | ((g >> 3) << 5) | (b >> 3)
    counts = np.bincount(bins, minlength=1 << 15)
    if np.count_nonzero(counts) <= 256:  # maybe few enough exact colours for a lossless palette
        colours, inverse = np.unique((r << 16) | (g << 8) | b, return_inverse=True)
        if len(colours) <= 256:
            palette = np.stack([colours >> 16, (colours >> 8) & 255, colours & 255], axis=1)
            return inverse.reshape(frames.shape[:-1]).astype(np.uint8), palette.astype(np.uint8)
    lut, palette = _median_cut(bins, counts, r, g, b)
    return lut[bins].reshape(frames.shape[:-1]), palette


def _median_cut(
    bins: np.ndarray, counts: np.ndarray, r: np.ndarray, g: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(bin -> palette index lookup table, palette) of at most 256 colours."""
    present = np.flatnonzero(counts)
    weight = counts[present].astype(np.float64)
    # Exact colour sums per bin, so a palette entry is the true mean of its pixels.
    sums = np.stack([np.bincount(bins, weights=c, minlength=1 << 15)[present] for c in (r, g, b)], axis=1)
    coords = np.stack([present >> 10, (present >> 5) & 31, present & 31], axis=1)
    # Squared error of a box from per-bin moments: sum(w * |mean|^2) - |sum(w * mean)|^2 / sum(w).
    square_sums = (sums * sums).sum(1) / weight

    def sse(members: np.ndarray) -> float:
        total = sums[members].sum(0)
        return float(square_sums[members].sum() - (total @ total) / weight[members].sum())

    boxes = [np.arange(len(present))]
    errors = [sse(boxes[0])]
    while len(boxes) < 256:
        which = int(np.argmax(errors))
        members = boxes[which]
        if errors[which] <= 0.0 or len(members) < 2:
            break
        box_coords = coords[members]
        axis = int(np.argmax(box_coords.max(0) - box_coords.min(0)))
        order = members[np.argsort(box_coords[:, axis], kind="stable")]
        cumulative = np.cumsum(weight[order])
        cut = int(np.searchsorted(cumulative, cumulative[-1] / 2.0)) + 1
        cut = min(max(cut, 1), len(order) - 1)
        # Never split between two bins with the same coordinate on the axis.
        values = coords[order, axis]
        while cut < len(order) and values[cut] == values[cut - 1]:
            cut += 1
        if cut == len(order):
            cut = int(np.searchsorted(values, values[-1]))
        if cut == 0:  # all on one value of the widest axis: cannot happen with >1 bin
            errors[which] = 0.0
            continue
        low, high = order[:cut], order[cut:]
        boxes[which], errors[which] = low, sse(low)
        boxes.append(high)
        errors.append(sse(high))
    lut = np.zeros(1 << 15, np.uint8)
    palette = np.empty((len(boxes), 3), np.uint8)
    for index, members in enumerate(boxes):
        lut[present[members]] = index
        mean = sums[members].sum(0) / weight[members].sum()
        palette[index] = np.clip(np.rint(mean), 0, 255)
    return lut, palette


# ----- LZW ----------------------------------------------------------------------------------


def lzw_codes(indices: bytes, min_code_size: int) -> tuple[list[int], list[int]]:
    """(codes, bit widths) of GIF's LZW for a stream of palette indices."""
    clear = 1 << min_code_size
    first_free = clear + 2
    codes = [clear]
    widths = [min_code_size + 1]
    if not indices:
        codes.append(clear + 1)
        widths.append(min_code_size + 1)
        return codes, widths
    width = min_code_size + 1
    next_code = first_free
    table: dict[int, int] = {}
    get = table.get
    emit_code = codes.append
    emit_width = widths.append
    prefix = indices[0]
    for pixel in indices[1:]:
        key = (prefix << 8) | pixel
        code = get(key)
        if code is not None:
            prefix = code
            continue
        emit_code(prefix)
        emit_width(width)
        if next_code < _MAX_CODES:
            table[key] = next_code
            next_code += 1
            # The decoder adds each entry one code later than we do, so it widens its reads
            # once its next free code reaches 2**width: one code after we reach 2**width + 1.
            if next_code == (1 << width) + 1 and width < 12:
                width += 1
        else:
            emit_code(clear)
            emit_width(width)
            table.clear()
            next_code = first_free
            width = min_code_size + 1
        prefix = pixel
    emit_code(prefix)
    emit_width(width)
    if next_code < _MAX_CODES and next_code == (1 << width) and width < 12:
        width += 1  # the decoder has added one more entry by the time it reads the end code
    emit_code(clear + 1)
    emit_width(width)
    return codes, widths


def _pack_bits(codes: list[int], widths: list[int]) -> bytes:
    """Codes packed least significant bit first, as GIF stores them."""
    code_array = np.asarray(codes, np.uint32)
    width_array = np.asarray(widths, np.uint8)
    bit_index = np.arange(12, dtype=np.uint32)
    bits = ((code_array[:, None] >> bit_index) & 1).astype(np.uint8)
    return np.packbits(bits[bit_index[None, :] < width_array[:, None]], bitorder="little").tobytes()


def _sub_blocks(data: bytes) -> bytes:
    """Data split into GIF sub-blocks (a length byte, then up to 255 bytes), 0-terminated."""
    parts = []
    for start in range(0, len(data), 255):
        chunk = data[start : start + 255]
        parts.append(bytes((len(chunk),)))
        parts.append(chunk)
    parts.append(b"\x00")
    return b"".join(parts)


# ----- file ---------------------------------------------------------------------------------


def encode_gif(frames: np.ndarray, delay_cs: int = 25, loop: int = 0) -> bytes:
    """An animated GIF of uint8 ``frames`` of shape (T, H, W, C), C = 1, 3 or 4.

    ``delay_cs``: time per frame in 1/100 s (see ``delay_centiseconds``); ``loop``: times
    to repeat, 0 = forever.
    """
    if frames.dtype != np.uint8:
        raise TypeError(f"encode_gif needs uint8 frames; got dtype {frames.dtype}")
    if frames.ndim != 4 or frames.shape[-1] not in (1, 3, 4) or 0 in frames.shape:
        raise ValueError(f"encode_gif needs non-empty frames of shape (T, H, W, 1|3|4); got {frames.shape}")
    _, height, width, _ = frames.shape
    if height > _MAX_SIDE or width > _MAX_SIDE:
        raise ValueError(f"GIF sides must be at most {_MAX_SIDE}; got {height}x{width}")
    indices, palette = quantize(frames)
    table_bits = max(1, int(len(palette) - 1).bit_length())  # 2**table_bits entries, >= 2
    colour_table = np.zeros((1 << table_bits, 3), np.uint8)
    colour_table[: len(palette)] = palette
    min_code_size = max(2, table_bits)

    out = [
        b"GIF89a",
        # Logical screen: size; global colour table present, 8-bit colour resolution.
        struct.pack("<HHBBB", width, height, 0x80 | 0x70 | (table_bits - 1), 0, 0),
        colour_table.tobytes(),
        # NETSCAPE2.0 application extension: loop count.
        b"\x21\xff\x0bNETSCAPE2.0\x03\x01" + struct.pack("<H", loop) + b"\x00",
    ]
    # Graphic Control Extension: disposal 1 (leave the frame), no transparency, the delay.
    control = b"\x21\xf9\x04\x04" + struct.pack("<H", delay_cs) + b"\x00\x00"
    descriptor = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0)
    for frame in indices:
        codes, widths = lzw_codes(np.ascontiguousarray(frame).tobytes(), min_code_size)
        out += [control, descriptor, bytes((min_code_size,)), _sub_blocks(_pack_bits(codes, widths))]
    out.append(b"\x3b")
    return b"".join(out)
