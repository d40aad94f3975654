"""Argument types of the ``tblog`` command: each turns one option's text into its value, or
raises ``argparse.ArgumentTypeError`` saying what was expected and what came (exit status 2)."""

from __future__ import annotations

import argparse


def glob(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a glob such as 'train/*', got an empty string")
    return text


def steps(text: str) -> tuple[int | None, int | None]:
    """'MIN:MAX', 'MIN:', ':MAX' or 'N' as an inclusive range."""
    low, sep, high = text.partition(":")
    try:
        first = int(low) if low.strip() else None
        last = (int(high) if high.strip() else None) if sep else first
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected MIN:MAX, MIN:, :MAX or N (integers), got {text!r}"
        ) from None
    if first is None and last is None and not sep:
        raise argparse.ArgumentTypeError(f"expected MIN:MAX, MIN:, :MAX or N (integers), got {text!r}")
    if first is not None and last is not None and first > last:
        raise argparse.ArgumentTypeError(f"the step range {text!r} is empty (MIN > MAX)")
    return first, last


def at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def size(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    try:
        size = int(width), int(height)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected WIDTHxHEIGHT in pixels, e.g. 1000x600, got {text!r}"
        ) from None
    if not (50 <= size[0] <= 20000 and 50 <= size[1] <= 20000):
        raise argparse.ArgumentTypeError(f"expected 50 to 20000 pixels per side, got {text!r}")
    return size


def smoothing(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a smoothing weight in [0, 1), got {text!r}")
    return value


PLOT_SUFFIXES = (".png", ".svg", ".pdf", ".jpg", ".jpeg")


def plot_output(text: str) -> str:
    if not text.lower().endswith(PLOT_SUFFIXES):
        raise argparse.ArgumentTypeError(
            f"expected a file name ending in {', '.join(PLOT_SUFFIXES)}, got {text!r}"
        )
    return text
