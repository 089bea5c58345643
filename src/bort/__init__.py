"""bort: extract a small, fast BERT from a big one (de Wynter & Perry, 2020), on PyTorch and Hugging Face.

From Python, each stage is a function of its config dataclass that returns a result object
(see :mod:`bort.api`)::

    import bort
    found = bort.search(bort.SearchConfig(teacher="teacher/", corpus=["text/"], out="runs/search"))
    tuned = bort.finetune(bort.FinetuneConfig(model="runs/kd", task="custom", train="train.csv",
                                              dev="dev.csv", out="runs/ft"))

``bort.search``, ``bort.extract``, ``bort.pretrain``, ``bort.finetune`` and ``bort.pipeline`` are
also the packages of those stages: calling one runs the stage. Nothing heavy (torch) is imported until a stage runs.
"""

import importlib
import types

from bort.util.version import VERSION as __version__  # noqa: F401 (pyproject.toml's, read once below)

# The packages that are also functions, and where each function is.
_STAGE_PACKAGES = {"search": "bort.api", "extract": "bort.api", "pretrain": "bort.api", "finetune": "bort.api",
                   "pipeline": "bort.pipeline.runner"}
_FUNCTIONS = ("evaluate", "bench", "export")
_CONFIGS = {"SearchConfig": "bort.search.config", "ExtractConfig": "bort.extract.config",
            "PretrainConfig": "bort.pretrain.config", "FinetuneConfig": "bort.finetune.config",
            "AgoraConfig": "bort.agora.config", "EvaluateConfig": "bort.finetune.config",
            "BenchConfig": "bort.inference.config", "ExportConfig": "bort.inference.config",
            "PipelineConfig": "bort.pipeline.config", "BortError": "bort.errors"}
__all__ = [*_STAGE_PACKAGES, *_FUNCTIONS, *_CONFIGS]


class _StagePackage(types.ModuleType):
    """A stage's package that is also its API function: ``bort.search(config)`` is ``bort.api.search(config)``.

    A package and a function cannot share the name ``bort.search`` otherwise: importing the package
    (as every config import does) binds the name to the module."""

    def __call__(self, config, *args, **kwargs):
        name = self.__name__.rsplit(".", 1)[1]
        return getattr(importlib.import_module(_STAGE_PACKAGES[name]), name)(config, *args, **kwargs)


for _name in _STAGE_PACKAGES:
    importlib.import_module(f"bort.{_name}").__class__ = _StagePackage  # their __init__ files import nothing


def __getattr__(name: str):
    if name in _FUNCTIONS:
        return getattr(importlib.import_module("bort.api"), name)
    if name in _CONFIGS:
        return getattr(importlib.import_module(_CONFIGS[name]), name)
    raise AttributeError(f"module 'bort' has no attribute {name!r}")


del _name
