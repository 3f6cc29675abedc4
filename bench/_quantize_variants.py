"""The shipped tile model through int8 and bf16 runtimes (issue 22, item 5).

Runs in the bench's own virtual environment (OpenVINO, NNCF, ONNX Runtime: not project
dependencies), so it imports nothing of PathoDesk: the weights come as a state dict of the
same timm network, the tiles as normalised NCHW arrays. Each variant runs one batch per
core, as PathoDesk's engine does, and its test-split probabilities are saved for agreement.

    python _quantize_variants.py JOB.json   ->   one JSON line; probabilities in JOB's "out"
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import timm
import torch

Run = Callable[[np.ndarray], np.ndarray]  # a batch of normalised NCHW -> logits


def openvino_variants(
    model: torch.nn.Module, calibration: np.ndarray, cores: int
) -> dict[str, Callable[[], Run]]:
    import nncf
    import openvino as ov

    core = ov.Core()
    converted = ov.convert_model(model, example_input=torch.zeros(1, *calibration.shape[1:]))
    quantised = nncf.quantize(
        converted,
        nncf.Dataset([calibration[i : i + 1] for i in range(len(calibration))]),
        subset_size=len(calibration),
        preset=nncf.QuantizationPreset.MIXED,
    )

    def compiled(graph: object, precision: str) -> Callable[[], Run]:
        def make() -> Run:  # one infer request per thread, on its own stream
            network = core.compile_model(
                graph,
                "CPU",
                {"INFERENCE_NUM_THREADS": cores, "NUM_STREAMS": cores, "INFERENCE_PRECISION_HINT": precision},
            )
            local = threading.local()

            def run(batch: np.ndarray) -> np.ndarray:
                if not hasattr(local, "request"):
                    local.request = network.create_infer_request()
                return np.asarray(local.request.infer({0: batch})[0])

            return run

        return make

    return {
        "openvino fp32": compiled(converted, "f32"),
        "openvino bf16": compiled(converted, "bf16"),
        "openvino int8 (NNCF, mixed preset)": compiled(quantised, "f32"),
    }


def onnxruntime_variants(
    model: torch.nn.Module, calibration: np.ndarray, scratch: Path
) -> dict[str, Callable[[], Run]]:
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    plain, prepared, quantised = (scratch / name for name in ("fp32.onnx", "pre.onnx", "int8.onnx"))
    example = torch.from_numpy(calibration[:2])
    torch.onnx.export(
        model,
        (example,),
        str(plain),
        input_names=["x"],
        dynamic_axes={"x": {0: "n"}},
        opset_version=17,
        dynamo=False,
    )
    quant_pre_process(str(plain), str(prepared))

    class Batches(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter({"x": calibration[i : i + 16]} for i in range(0, len(calibration), 16))

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.batches, None)

    quantize_static(
        str(prepared),
        str(quantised),
        Batches(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
    )

    def session(path: Path) -> Callable[[], Run]:
        def make() -> Run:
            local = threading.local()

            def run(batch: np.ndarray) -> np.ndarray:
                if not hasattr(local, "session"):
                    options = ort.SessionOptions()
                    options.intra_op_num_threads = 1  # one batch per core
                    local.session = ort.InferenceSession(
                        str(path), options, providers=["CPUExecutionProvider"]
                    )
                return np.asarray(local.session.run(None, {"x": batch})[0])

            return run

        return make

    return {
        "onnxruntime fp32": session(plain),
        "onnxruntime int8 (static, QDQ, per channel)": session(quantised),
    }


def throughput(run: Run, batches: list[np.ndarray], cores: int, repeats: int) -> tuple[float, np.ndarray]:
    """Tiles/s (best of ``repeats``) with one batch per core, and the logits of all batches."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(cores) as pool:
        list(pool.map(run, batches[: 2 * cores]))  # warm-up: each thread's first call
        best, logits = 0.0, []
        for _ in range(repeats):
            started = time.perf_counter()
            logits = list(pool.map(run, batches))
            best = max(best, sum(len(b) for b in batches) / (time.perf_counter() - started))
    return best, np.concatenate(logits)


def main() -> None:
    job = json.loads(Path(sys.argv[1]).read_text())
    cores = job["threads"]
    torch.set_num_threads(cores)
    model = timm.create_model(job["arch"], pretrained=False, num_classes=job["classes"])
    model.load_state_dict(torch.load(job["weights"], map_location="cpu"))
    model.eval()
    calibration, test = np.load(job["calibration"]), np.load(job["test"])
    batches = [np.ascontiguousarray(test[i : i + job["batch"]]) for i in range(0, len(test), job["batch"])]
    variants = openvino_variants(model, calibration, cores) | onnxruntime_variants(
        model, calibration, Path(job["scratch"])
    )
    rates, logits = {}, {}
    for name, make in variants.items():
        rates[name], logits[name] = throughput(make(), batches, cores, job["repeats"])
    np.savez(job["out"], **{name: values for name, values in logits.items()})
    print(json.dumps({"tiles_per_s": rates, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
