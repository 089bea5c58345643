"""bort shows its own progress; the libraries' own bars and load reports are noise next to it."""


def quiet_libraries() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
