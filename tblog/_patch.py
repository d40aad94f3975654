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

from tblog.writer import SummaryWriter

_active: list[Patch] = []  # patches not undone yet

# The modules that define a SummaryWriter to replace, imported by patch() where installed.
_SOURCES = (
    "torch.utils.tensorboard",
    "torch.utils.tensorboard.writer",
    "tensorboardX",
    "tensorboardX.writer",
)


class Patch:
    """What ``tblog.patch()`` replaced; ``undo()`` (or leaving the ``with`` block) restores it."""

    def __init__(self, replaced: list[tuple[ModuleType, str, Any]], writer_class: type) -> None:
        self.replaced = replaced
        self.writer_class = writer_class  # what the names now resolve to

    @property
    def modules(self) -> list[str]:
        """The modules whose ``SummaryWriter`` (or other name bound to it) now is tblog's."""
        return sorted({module.__name__ for module, _, _ in self.replaced})

    def undo(self) -> None:
        """Put every replaced name back, as it was. Idempotent."""
        replaced, self.replaced = self.replaced, []
        if self in _active:
            _active.remove(self)
        for module, name, original in reversed(replaced):
            if getattr(module, name, None) is self.writer_class:
                setattr(module, name, original)

    def __enter__(self) -> Patch:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.undo()


def patch(*, separate_hparams_runs: bool = False) -> Patch:
    """Make ``torch.utils.tensorboard.SummaryWriter`` and ``tensorboardX.SummaryWriter``
    resolve to ``tblog.SummaryWriter`` in this process, also in modules that imported the
    name already. Call it before the framework creates its writer::

        import tblog
        tblog.patch()  # or: with tblog.patch(): trainer.fit(...)

    ``separate_hparams_runs=True``: the writers the framework creates put each
    ``add_hparams`` call in its own ``<log_dir>/<time.time()>`` sub-run, as torch's writer
    does (for tools that expect that layout); by default tblog's own-run layout.

    Imports torch's and tensorboardX's writer modules where they are installed (torch's needs
    the ``tensorboard`` package). Returns a ``Patch`` whose ``undo()`` restores the names it
    replaced; a module first imported while the patch is in place keeps tblog's class. A
    second ``patch()`` with the other ``separate_hparams_runs`` raises RuntimeError.
    """
    if not isinstance(separate_hparams_runs, bool):
        raise TypeError(f"separate_hparams_runs must be a bool; got {type(separate_hparams_runs).__name__}")
    writer_class = _TorchHparamsLayoutWriter if separate_hparams_runs else SummaryWriter
    for active in _active:
        if active.writer_class is not writer_class:
            raise RuntimeError(
                "tblog.patch() is already in place with separate_hparams_runs="
                f"{not separate_hparams_runs}; undo() it before patching with {separate_hparams_runs}"
            )
    originals: list[Any] = []
    for name in _SOURCES:
        module = _import_if_installed(name)
        original = getattr(module, "SummaryWriter", None) if module is not None else None
        if (
            isinstance(original, type)
            and not issubclass(original, SummaryWriter)  # a patch already in place stays
            and original not in originals
        ):
            originals.append(original)
    wanted = {id(original) for original in originals}
    replaced: list[tuple[ModuleType, str, Any]] = []
    for module in list(sys.modules.values()):
        if not isinstance(module, ModuleType) or module.__name__.startswith("tblog"):
            continue
        for name, value in list(vars(module).items()):
            if id(value) in wanted:
                setattr(module, name, writer_class)
                replaced.append((module, name, value))
    done = Patch(replaced, writer_class)
    _active.append(done)
    return done


class _TorchHparamsLayoutWriter(SummaryWriter):
    """``tblog.SummaryWriter`` with ``separate_hparams_runs=True`` by default: what
    ``tblog.patch(separate_hparams_runs=True)`` puts in place of torch's writer."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("separate_hparams_runs", True)
        super().__init__(*args, **kwargs)


def _import_if_installed(name: str) -> ModuleType | None:
    try:
        if importlib.util.find_spec(name.split(".")[0]) is None:
            return None
        return importlib.import_module(name)
    except ImportError:  # torch without the tensorboard package, say
        return None
