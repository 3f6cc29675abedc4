"""int8 inference through OpenVINO (issue 22, item 5).

A model folder may hold an int8 variant of its network (``int8.xml`` + ``int8.bin``, made by
``scripts/quantize_model.py`` and recorded with its agreement in the model card). On the
engine's one-batch-per-core plan it runs the shipped lung model 1.8–1.9× as fast as the
frozen fp32 graph with 99.67 % of its test-split answers (bench/quantize.py); ONNX Runtime's
int8 was slower than fp32 on this network, so OpenVINO is what is kept. The variant takes
channels-last batches as they are (its graph starts with the transpose), one infer request
per model thread, each on its own CPU stream.

Opt-in for now (``PATHODESK_INT8=1``): on the lung test split it keeps 99.67 % of the answers,
but on tissue the model was not trained for (the CMU H&E sample) its probabilities stray
further from fp32's, so analyses keep fp32 by default until the variant's effect on whole
slides has been measured beyond the mosaics.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import numpy as np
import torch

log = logging.getLogger(__name__)


def int8_enabled() -> bool:
    return os.environ.get("PATHODESK_INT8", "0") == "1"


class Int8Model:
    """Called like the frozen fp32 module: a normalised NCHW batch in, logits out."""

    def __init__(self, path: Path, cores: int) -> None:
        import openvino as ov

        options = {"INFERENCE_NUM_THREADS": cores, "NUM_STREAMS": cores, "INFERENCE_PRECISION_HINT": "f32"}
        self._compiled = ov.Core().compile_model(str(path), "CPU", options)
        self._local = threading.local()

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self._compiled.create_infer_request()
        nhwc = np.ascontiguousarray(batch.permute(0, 2, 3, 1).numpy())  # channels-last: no copy
        logits = request.infer({0: nhwc}, share_inputs=True)[0]  # read in place, not copied
        return torch.from_numpy(np.array(logits))  # copied: the request reuses its buffer


def load_int8(path: Path | None, cores: int) -> Int8Model | None:
    """The variant compiled for this machine; None when there is none, it is not turned on,
    or OpenVINO cannot run it here (the fp32 graph then serves, as before)."""
    if path is None or not int8_enabled():
        return None
    try:
        return Int8Model(path, cores)
    except Exception as exc:  # no OpenVINO, an unsupported CPU, a damaged file
        log.warning("int8 variant %s not used: %s", path.name, type(exc).__name__)
        return None
