"""Report files the classification stages write, whole or not at all."""
import contextlib
from pathlib import Path

from hsvae.analysis.metrics import accuracy
from hsvae.core.atomic import atomic_live, write_json
from hsvae.data.splits import class_names


@contextlib.contextmanager
def write_classification(out: Path, splits, data_dir):
    """Yield (live, record): train with the DVCLive logger `live`, then record(predictions per
    split). The folder (curves, confusion matrix) and test.json appear only if all succeeded;
    the stage then writes its provenance record."""
    names, accuracies = class_names(data_dir), {}

    def record(predictions):
        for split in ("valid", "test"):
            accuracies[f"{split}_accuracy"] = accuracy(splits[split].labels, predictions[split])
        live.log_sklearn_plot("confusion_matrix", [names[i] for i in splits["test"].labels],
                              [names[i] for i in predictions["test"]], name="confusion_matrix.json")

    with atomic_live(out) as live:
        yield live, record
        if not accuracies:
            raise RuntimeError("write_classification: no predictions were recorded")
    write_json(out / "test.json", accuracies)
