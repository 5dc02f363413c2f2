"""What differs between the tasks, and nothing else: the loss, the metrics and the test details.
``GenreTask`` has one genre per clip (softmax, cross-entropy); ``TaggingTask`` many tags per clip
(a sigmoid per tag, binary cross-entropy). The network's head is the same linear layer in both:
``GenreNet(multilabel=...)`` turns its logits into probabilities."""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import Metric, MetricCollection
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
    MultilabelAUROC,
    MultilabelAveragePrecision,
)

# Lightning's sanity check scores two validation batches before training, which may hold no
# clip of some tag; the splits' check makes sure that the whole validation and test splits hold
# every tag, so torchmetrics' warning about a tag without positives says nothing there.
warnings.filterwarnings("ignore", "No positive samples", UserWarning, r"torchmetrics\.")

# How far from 0 (and 1) clip-level probabilities are clamped before their log is taken: a tag's
# probability needs 1e-7, as float32 cannot tell 1 - 1e-8 from 1.
GENRE_EPS, TAG_EPS = 1e-8, 1e-7


class Task(nn.Module):
    """The task's loss on logits (training) and on clip-level probabilities (evaluation), its
    metrics, and the test details behind its report. An ``nn.Module`` so that its loss weights
    follow the LightningModule to the device."""

    multilabel: bool

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def clip_loss(self, probs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def metrics(self, prefix: str) -> MetricCollection:
        raise NotImplementedError

    def test_details(self) -> Metric:
        """A metric whose ``compute()`` after the test epoch feeds the run's test report: summed
        over every DDP process's share of the test clips, like the other metrics."""
        raise NotImplementedError


class GenreTask(Task):
    """One genre per clip: cross-entropy (with optional class weights and label smoothing);
    accuracy, macro-F1 and balanced accuracy; the test confusion matrix."""

    multilabel = False

    def __init__(
        self,
        n_genres: int,
        class_weights: torch.Tensor | None = None,
        label_smoothing: float = 0.0,
    ):
        super().__init__()
        self.n, self.label_smoothing = n_genres, label_smoothing
        self.register_buffer("class_weights", class_weights)

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(
            logits.float(), targets, weight=self.class_weights, label_smoothing=self.label_smoothing
        )

    def clip_loss(self, probs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.nll_loss(torch.log(probs.clamp_min(GENRE_EPS)), targets)

    def metrics(self, prefix: str) -> MetricCollection:
        return MetricCollection(
            {
                "acc": MulticlassAccuracy(self.n, average="micro"),
                "macro_f1": MulticlassF1Score(self.n, average="macro"),
                # Balanced accuracy is the mean per-class recall.
                "balanced_acc": MulticlassAccuracy(self.n, average="macro"),
            },
            prefix=prefix,
        )

    def test_details(self) -> Metric:
        return MulticlassConfusionMatrix(self.n)  # [true genre, predicted genre] counts


class TaggingTask(Task):
    """Many tags per clip: binary cross-entropy per tag (``pos_weight``: each tag's positives
    weighed by its negatives, for rare tags); ROC-AUC and PR-AUC (average precision) over the
    tags, macro (each tag counts alike, the benchmark's) and micro (each clip-tag pair alike);
    per-tag ROC-AUC and PR-AUC on the test split. Exact (``thresholds=None``), as scikit-learn
    computes them."""

    multilabel = True

    def __init__(self, n_tags: int, pos_weight: torch.Tensor | None = None):
        super().__init__()
        self.n = n_tags
        self.register_buffer("pos_weight", pos_weight)

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(
            logits.float(), targets.float(), pos_weight=self.pos_weight
        )

    def clip_loss(self, probs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        # The crops' mean sigmoid is no sigmoid of one logit: the loss is taken on it directly.
        return F.binary_cross_entropy(probs.float().clamp(TAG_EPS, 1 - TAG_EPS), targets.float())

    def metrics(self, prefix: str) -> MetricCollection:
        return MetricCollection(
            {
                "roc_auc": MultilabelAUROC(self.n, average="macro"),
                "pr_auc": MultilabelAveragePrecision(self.n, average="macro"),
                "roc_auc_micro": MultilabelAUROC(self.n, average="micro"),
                "pr_auc_micro": MultilabelAveragePrecision(self.n, average="micro"),
            },
            prefix=prefix,
        )

    def test_details(self) -> Metric:
        return MetricCollection(
            {
                "roc_auc": MultilabelAUROC(self.n, average=None),
                "pr_auc": MultilabelAveragePrecision(self.n, average=None),
                "frequency": TagFrequency(self.n),
            }
        )


class TagFrequency(Metric):
    """Each tag's share of the clips: the PR-AUC a random ranking scores, its chance level."""

    def __init__(self, n_tags: int):
        super().__init__()
        self.add_state("positives", torch.zeros(n_tags), dist_reduce_fx="sum")
        self.add_state("clips", torch.tensor(0.0), dist_reduce_fx="sum")

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        self.positives += target.float().sum(0)
        self.clips += len(target)

    def compute(self) -> torch.Tensor:
        return self.positives / self.clips
