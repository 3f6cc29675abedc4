"""Classification metrics in the shape of API.md's ``models evaluate``."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, f1_score


def classification_metrics(truth: np.ndarray, predicted: np.ndarray, labels: list[str]) -> dict[str, object]:
    indices = list(range(len(labels)))
    f1 = f1_score(truth, predicted, labels=indices, average=None, zero_division=0)
    present = sorted(set(truth.tolist()))
    balanced = float(balanced_accuracy_score(truth, predicted)) if len(present) > 0 else 0.0
    return {
        "accuracy": round(float(np.mean(truth == predicted)) if len(truth) else 0.0, 4),
        "balanced_accuracy": round(balanced, 4),
        "labels": labels,
        "per_class_f1": {label: round(float(value), 4) for label, value in zip(labels, f1, strict=True)},
        "confusion_matrix": confusion_matrix(truth, predicted, labels=indices).tolist(),
        "count": len(truth),
    }
