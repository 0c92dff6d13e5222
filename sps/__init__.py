"""sps: unsupervised person image generation with semantic parsing transformation (CVPR 2019)."""
import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())


def __getattr__(name):  # lazy: `from sps import SPSPipeline` without importing torch-heavy modules eagerly
    if name == "SPSPipeline":
        from .pipeline import SPSPipeline

        return SPSPipeline
    raise AttributeError(name)
