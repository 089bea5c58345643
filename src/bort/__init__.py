"""bort: extract a small, fast BERT from a big one (de Wynter & Perry, 2020), on PyTorch and Hugging Face."""

__version__ = "0.1.0"
