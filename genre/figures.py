"""The figures a run logs: what the network sees, its learning curves, and its test report (the
confusion matrix; for tagging, each tag's ROC-AUC and PR-AUC). Built headless (Agg), returned
closed, for ``mlflow.log_figure``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib
import numpy as np
import pandas as pd

matplotlib.use("Agg")  # runs headless, in worker processes too
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

PER_GENRE = 3  # example spectrograms per genre (or tag) in the inputs figure


def inputs_figure(
    images: Mapping[str, np.ndarray],
    frequencies: Sequence[float],
    seconds_per_frame: float,
    title: str,
    unit: str,
) -> plt.Figure:
    """A grid of spectrograms, one row per genre (``images[genre]``: ``[n, freq, time]``), as
    the network's spectrogram layer makes them, with axes in seconds and Hz and one colour scale
    for all, in ``unit``."""
    rows, cols = len(images), max(len(v) for v in images.values())
    # Constrained layout keeps the title, the row labels and the colour bar clear of each other.
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(2.6 * cols + 1.6, 1.6 * rows + 1.0),
        squeeze=False,
        sharey=True,
        layout="constrained",
    )
    values = np.concatenate([stack.ravel() for stack in images.values()])
    low, high = np.percentile(values, [1, 99.9]) if values.size else (0.0, 1.0)
    ticks = np.linspace(0, len(frequencies) - 1, 4).round().astype(int)
    shown = None
    for r, (genre, stack) in enumerate(images.items()):
        for c in range(cols):
            ax = axes[r, c]
            if c >= len(stack):
                ax.axis("off")
                continue
            image = stack[c]
            extent = (0.0, image.shape[1] * seconds_per_frame, -0.5, image.shape[0] - 0.5)
            shown = ax.imshow(
                image, origin="lower", aspect="auto", cmap="magma", extent=extent,
                vmin=low, vmax=high,
            )  # fmt: skip
            ax.set_yticks(ticks, [f"{frequencies[t]:.0f}" for t in ticks], fontsize=7)
            ax.tick_params(axis="x", labelsize=7)
            if c == 0:
                ax.set_ylabel(f"{genre}\nHz", fontsize=8)
            if r == rows - 1:
                ax.set_xlabel("seconds", fontsize=8)
    if shown is not None:
        fig.colorbar(shown, ax=axes, label=unit, fraction=0.025, aspect=40, shrink=0.6)
    fig.suptitle(title, fontsize=9)
    plt.close(fig)
    return fig


def learning_curves_figure(
    curves: Mapping[str, Sequence[tuple[int, float]]], objective: str, title: str
) -> plt.Figure:
    """Training and validation loss, and the objective, per epoch (``curves[name]``: ``(epoch,
    value)`` pairs), the best epoch of the objective marked."""
    fig, (loss_ax, score_ax) = plt.subplots(1, 2, figsize=(9, 3.4))
    for name in ("train/loss", "val/loss"):
        if curves.get(name):
            epochs, values = zip(*curves[name], strict=True)
            loss_ax.plot(epochs, values, marker=".", label=name)
    for ax in (loss_ax, score_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("loss")
    loss_ax.legend(fontsize=8)
    if curves.get(objective):
        epochs, values = zip(*curves[objective], strict=True)
        score_ax.plot(epochs, values, marker=".", color="tab:green", label=objective)
        best = int(np.argmax(values))
        score_ax.scatter([epochs[best]], [values[best]], color="black", zorder=3, label="best")
        score_ax.legend(fontsize=8)
    score_ax.set_xlabel("epoch")
    score_ax.set_ylabel(objective)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    plt.close(fig)
    return fig


def confusion_figure(matrix: np.ndarray, genres: list[str]) -> plt.Figure:
    """Row-normalised (recall per true genre) with the raw counts written in each cell."""
    recall = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    size = 1.0 + 0.6 * len(genres)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    image = ax.imshow(recall, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(genres)), genres, rotation=45, ha="right")
    ax.set_yticks(range(len(genres)), genres)
    ax.set_xlabel("predicted genre")
    ax.set_ylabel("true genre")
    for (i, j), count in np.ndenumerate(matrix):
        if count:
            colour = "white" if recall[i, j] > 0.6 else "black"
            ax.text(j, i, str(count), ha="center", va="center", color=colour, fontsize=8)
    fig.colorbar(image, ax=ax, label="share of the true genre's test clips")
    ax.set_title(f"Test confusion matrix ({matrix.sum()} clips)")
    fig.tight_layout()
    plt.close(fig)
    return fig


def tag_scores_figure(table: pd.DataFrame) -> plt.Figure:
    """Each tag's test ROC-AUC and PR-AUC as bars (``table``: ``tag``, ``roc_auc``, ``pr_auc``,
    ``frequency``), best PR-AUC on top, with each chance level: 0.5 for ROC-AUC, the tag's
    frequency in the test split for PR-AUC (what a random ranking scores)."""
    table = table.sort_values("pr_auc")
    y = np.arange(len(table))
    fig, ax = plt.subplots(figsize=(7.5, 1.2 + 0.28 * len(table)))
    ax.barh(y + 0.2, table["roc_auc"], height=0.4, color="tab:blue", label="ROC-AUC")
    ax.barh(y - 0.2, table["pr_auc"], height=0.4, color="tab:orange", label="PR-AUC")
    ax.scatter(table["frequency"], y - 0.2, marker="|", s=120, color="black", zorder=3)
    ax.axvline(0.5, color="tab:blue", linestyle=":", linewidth=1)
    ax.set_yticks(y, table["tag"], fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("score (|: the tag's frequency, PR-AUC's chance level; dotted: ROC-AUC's)")
    ax.legend(fontsize=8, loc="lower right")
    macro = f"macro ROC-AUC {table['roc_auc'].mean():.3f}, PR-AUC {table['pr_auc'].mean():.3f}"
    ax.set_title(f"Test scores per tag ({macro})", fontsize=9)
    fig.tight_layout()
    plt.close(fig)
    return fig
