"""Crash-safe Colab training for football vision models.

The notebook steps, in order::

    rt = colab_utils.setup()                                   # where am I, Drive, profile
    cfg = colab_utils.load_config("sportlight_hrnet57", rt.profile, runtime=rt)
    colab_utils.prepare_data(cfg)                              # download / generate, verify
    colab_utils.train(cfg, rt)                                 # resumes by itself
    colab_utils.evaluate(cfg)                                  # metrics + picture
    colab_utils.export(cfg)                                    # portable .pth to your computer
"""

__version__ = "0.1.0"

from colab_utils.config import load_config
from colab_utils.engine.trainer import train
from colab_utils.export import export
from colab_utils.pipeline import evaluate, prepare_data
from colab_utils.runtime import setup

__all__ = ["__version__", "evaluate", "export", "load_config", "prepare_data", "setup", "train"]
