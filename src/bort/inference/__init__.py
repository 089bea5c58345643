"""Inference: latency measurement, fast CPU paths (int8, bf16, torch.compile, ONNX Runtime), parity, the bench,
export and the loader of what export writes (``bort.inference.load``)."""


def load(directory, threads=None):
    """Run a directory written by ``bort export --auto`` / ``--path``: see :func:`bort.inference.loader.load`."""
    from bort.inference.loader import load as _load

    return _load(directory, threads)
