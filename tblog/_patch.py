"""``tblog.patch()``: make torch's and tensorboardX's ``SummaryWriter`` resolve to tblog's.

Most people do not create a writer themselves: their framework does, by the name it imported
from ``torch.utils.tensorboard`` or ``tensorboardX``. Some bind that name when they are
imported (Stable-Baselines3's logger does ``from torch.utils.tensorboard import
SummaryWriter`` at its top), so replacing the attribute of torch's module is not enough: every
loaded module's global that *is* one of those classes is replaced too. ``undo()`` puts back
exactly what was replaced.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType, TracebackType
from typing import Any

# The modules that define a SummaryWriter to replace, imported by patch() where installed.
_SOURCES = (
    "torch.utils.tensorboard",
    "torch.utils.tensorboard.writer",
    "tensorboardX",
    "tensorboardX.writer",
)


class Patch:
    """What ``tblog.patch()`` replaced; ``undo()`` (or leaving the ``with`` block) restores it."""

    def __init__(self, replaced: list[tuple[ModuleType, str, Any]]) -> None:
        self.replaced = replaced

    @property
    def modules(self) -> list[str]:
        """The modules whose ``SummaryWriter`` (or other name bound to it) now is tblog's."""
        return sorted({module.__name__ for module, _, _ in self.replaced})

    def undo(self) -> None:
        """Put every replaced name back, as it was. Idempotent."""
        from tblog.writer import SummaryWriter

        replaced, self.replaced = self.replaced, []
        for module, name, original in reversed(replaced):
            if getattr(module, name, None) is SummaryWriter:
                setattr(module, name, original)

    def __enter__(self) -> Patch:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.undo()


def patch() -> Patch:
    """Make ``torch.utils.tensorboard.SummaryWriter`` and ``tensorboardX.SummaryWriter``
    resolve to ``tblog.SummaryWriter`` in this process, also in modules that imported the
    name already. Call it before the framework creates its writer::

        import tblog
        tblog.patch()  # or: with tblog.patch(): trainer.fit(...)

    Imports torch's and tensorboardX's writer modules where they are installed (torch's needs
    the ``tensorboard`` package). Returns a ``Patch`` whose ``undo()`` restores the originals.
    """
    from tblog.writer import SummaryWriter

    originals: list[Any] = []
    for name in _SOURCES:
        module = _import_if_installed(name)
        original = getattr(module, "SummaryWriter", None) if module is not None else None
        if isinstance(original, type) and original is not SummaryWriter and original not in originals:
            originals.append(original)
    wanted = {id(original) for original in originals}
    replaced: list[tuple[ModuleType, str, Any]] = []
    for module in list(sys.modules.values()):
        if not isinstance(module, ModuleType) or module.__name__.startswith("tblog"):
            continue
        for name, value in list(vars(module).items()):
            if id(value) in wanted:
                setattr(module, name, SummaryWriter)
                replaced.append((module, name, value))
    return Patch(replaced)


def _import_if_installed(name: str) -> ModuleType | None:
    try:
        if importlib.util.find_spec(name.split(".")[0]) is None:
            return None
        return importlib.import_module(name)
    except ImportError:  # torch without the tensorboard package, say
        return None
