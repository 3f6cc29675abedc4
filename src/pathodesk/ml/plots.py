"""Pictures of a training run (curves, the test confusion matrix) as PNG bytes, in the
reader's language: each function takes the translator ``_`` of the page asking for it
(English when none) and classes by their display names (``ml.model_pictures`` reads them
from a model's folder).

Drawn on ``Figure`` objects, never through pyplot's global state, so server threads may
draw at the same time; matplotlib is imported with the first picture, not with the server.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

Words = Callable[[str], str]
Row = dict[str, float]
DPI = 110


def english(message: str) -> str:
    return message


def training_curves(history: Sequence[Row], best_epoch: int, _: Words = english) -> bytes:
    """Loss and accuracy per epoch, training against validation."""
    figure = _figure((9, 3.4))
    loss_axis, accuracy_axis = figure.subplots(1, 2)
    epochs = [row["epoch"] for row in history]
    loss_axis.plot(epochs, [r["train_loss"] for r in history], label=_("training"))
    loss_axis.plot(epochs, [r["val_loss"] for r in history], label=_("validation"))
    loss_axis.set(xlabel=_("epoch"), ylabel=_("cross-entropy"), title=_("loss"))
    accuracy_axis.plot(epochs, [r["train_accuracy"] for r in history], label=_("training"))
    accuracy_axis.plot(
        epochs, [r["val_balanced_accuracy"] for r in history], label=_("validation (balanced)")
    )
    accuracy_axis.set(xlabel=_("epoch"), ylabel=_("accuracy"), title=_("accuracy"), ylim=(0, 1.02))
    _mark_best(best_epoch, (loss_axis, accuracy_axis), _)
    return _png(figure)


def superres_curves(history: Sequence[Row], best_epoch: int, _: Words = english) -> bytes:
    """A super-resolution run: its pixel loss per epoch and the validation PSNR it was chosen by."""
    figure = _figure((9, 3.4))
    loss_axis, psnr_axis = figure.subplots(1, 2)
    epochs = [row["epoch"] for row in history]
    loss_axis.plot(epochs, [r["train_l1"] for r in history], label=_("training"))
    loss_axis.set(xlabel=_("epoch"), ylabel=_("mean absolute error"), title=_("pixel loss"))
    psnr_axis.plot(epochs, [r["val_psnr"] for r in history], label=_("validation"))
    psnr_axis.set(xlabel=_("epoch"), ylabel=_("PSNR (dB)"), title=_("validation PSNR"))
    _mark_best(best_epoch, (loss_axis, psnr_axis), _)
    return _png(figure)


def step_loss_curve(history: Sequence[Row], _: Words = english) -> bytes:
    """A run counted in steps (the cascade's low-power model): each step's loss, faint, and
    its running mean over about a twentieth of the run."""
    figure = _figure((6, 3.4))
    axis = figure.subplots()
    steps = np.asarray([row["step"] for row in history])
    losses = np.asarray([row["loss"] for row in history])
    axis.plot(steps, losses, color="tab:blue", alpha=0.25, linewidth=0.6)
    window = max(1, len(losses) // 20)
    if len(losses) >= window:
        mean = np.convolve(losses, np.ones(window) / window, mode="valid")
        axis.plot(steps[window - 1 :], mean, color="tab:blue", label=_("running mean"))
        axis.legend(fontsize=8)
    axis.set(xlabel=_("training step"), ylabel=_("cross-entropy"), title=_("loss"))
    return _png(figure)


def confusion_picture(
    matrix: Sequence[Sequence[int]], class_names: Sequence[str], title: str, _: Words = english
) -> bytes:
    """Counts of the test images per true class (rows) and predicted class (columns); the
    caller gives the class names and the title in the reader's language."""
    size = max(3.2, 1.1 * len(class_names) + 1.5)
    figure = _figure((size, size))
    axis = figure.subplots()
    axis.imshow(np.asarray(matrix), cmap="Blues")
    axis.set(
        xticks=range(len(class_names)),
        yticks=range(len(class_names)),
        xticklabels=class_names,
        yticklabels=class_names,
        xlabel=_("predicted class"),
        ylabel=_("true class"),
        title=title,
    )
    peak = max((max(row) for row in matrix), default=0)
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            colour = "white" if value > peak / 2 else "black"
            axis.text(j, i, str(value), ha="center", va="center", color=colour)
    for label in axis.get_xticklabels():
        label.set(rotation=30, ha="right")
    return _png(figure)


def _figure(size: tuple[float, float]) -> Figure:
    import matplotlib
    from matplotlib.figure import Figure

    # Chinese labels fall back, glyph by glyph, to the CJK font `make setup` installs
    matplotlib.rcParams["font.family"] = ["DejaVu Sans", "Noto Sans CJK SC"]
    return Figure(figsize=size)


def _mark_best(best_epoch: int, axes: Sequence[Axes], _: Words) -> None:
    """The chosen epoch marked; whole epochs on the axis (a 2-epoch run showed 1.2, 1.4 …)."""
    from matplotlib.ticker import MaxNLocator

    for axis in axes:
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.axvline(
            best_epoch, color="grey", linestyle=":", label=_("best epoch %(epoch)s") % {"epoch": best_epoch}
        )
        axis.legend(fontsize=8)


def _png(figure: Figure) -> bytes:
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()
