"""Crash-safe Colab training for football vision models.

The notebook steps, in order::

    rt = colab_utils.setup()                                   # where am I, Drive, profile
    cfg = colab_utils.load_config("sportlight_hrnet57", rt.profile, runtime=rt)
    colab_utils.prepare_data(cfg)                              # download / generate, verify
    colab_utils.train(cfg, rt)                                 # resumes by itself
    colab_utils.evaluate(cfg)                                  # metrics + picture
    colab_utils.export(cfg)                                    # portable .pth to your computer
    colab_utils.evaluate(cfg, split="test")                    # once, at the end: the honest score

and the whole suite, model after model across sessions: ``colab_utils.train_all("auto")``;
a trained model on your own frames: ``colab_utils.predict("<model>.pth", "frames/")``; shared on the
Hugging Face Hub: ``colab_utils.push_to_hub("<model>.pth", "<user>/<repo>")``; a SoccerNet
calibration challenge submission: ``colab_utils.challenge_submission(cfg)``.

No module of the package may be named after one of these functions: importing a submodule
sets the package attribute of its name, which would replace the function by the module.

The functions are imported on first use, so ``import colab_utils`` stays cheap for the
parts that need no torch (geometry, data downloads).
"""

import importlib
from typing import Any

__version__ = "0.1.0"

_API = {
    "setup": "colab_utils.runtime",
    "load_config": "colab_utils.config",
    "prepare_data": "colab_utils.pipeline",
    "train": "colab_utils.pipeline",
    "evaluate": "colab_utils.pipeline",
    "export": "colab_utils.portable",
    "train_all": "colab_utils.suite",
    "predict": "colab_utils.inference.api",
    "push_to_hub": "colab_utils.hub",
    "challenge_submission": "colab_utils.calibration.submission",
}
__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'colab_utils' has no attribute {name!r}")
