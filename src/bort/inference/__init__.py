"""Inference: latency measurement, fast CPU paths (int8, bf16, ONNX Runtime), parity, the bench."""
