"""Install with ``pip install -e .[test]`` here, or in Colab from the repository URL.

Requirement ranges are floors, never pins: Colab's preinstalled CUDA builds of torch,
torchvision, timm and OpenCV satisfy them, so they are never reinstalled there. Only an
albumentations older than 2.0 would be upgraded (pure Python; it does not touch torch).
"""

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(r'__version__ = "([^"]+)"', (HERE / "colab_utils" / "__init__.py").read_text())[1]

CORE = [
    "torch>=2.3",
    "numpy>=1.26",
    "pytorch-argus>=1.1",
    "hydra-core>=1.3.2",
    "omegaconf>=2.3",
    "pyyaml>=6",
    "tqdm>=4.66",
    "matplotlib>=3.7",
]
VISION = [
    "torchvision>=0.18",
    "timm>=1.0.3",
    "albumentations>=2.0",  # per-sample seeding and applied-transform records are 2.x APIs
    "opencv-python-headless>=4.8",
]
SOCCERNET = ["SoccerNet>=0.2.0", "huggingface_hub>=0.23"]
TRACKING = ["kloppy>=3.15", "pandas>=2.0"]
FAMILIES = {
    "calibration": VISION + SOCCERNET,
    "homography": VISION + SOCCERNET + ["kornia>=0.7"],
    "ball3d": VISION + ["pytorch-tcn>=1.1"],
    "reid": VISION + SOCCERNET + ["torchreid>=0.2.5", "pytorch-metric-learning>=2.5", "gdown", "tensorboard"],
    "detr": VISION + SOCCERNET + ["transformers>=5.0", "torchmetrics>=1.4", "faster-coco-eval>=1.6"],
    "baller2vec": TRACKING,
    "gnn": TRACKING + ["torch-geometric>=2.5", "scipy>=1.11", "scikit-learn>=1.3"],
    "logging": ["wandb>=0.17", "tensorboard>=2.15"],
}
FAMILIES["all"] = sorted({req for reqs in FAMILIES.values() for req in reqs})
TEST_TOOLS = [
    "pytest>=8",
    "pytest-xdist>=3.5",
    "ruff>=0.5",
    "papermill>=2.6",
    "nbformat>=5.9",
    "ipykernel>=6.29",
    "psutil>=5.9",
    "imageio-ffmpeg>=0.5",  # an ffmpeg for the H.264 video tests (Colab has its own)
]
# The test suite installs the families whose models have landed, not every family.
TESTED_FAMILIES = ["calibration", "homography", "ball3d", "reid", "detr", "baller2vec", "gnn", "logging"]

setup(
    name="colab_utils",
    version=VERSION,
    description="Crash-safe Colab training for football (soccer) vision models",
    long_description=(HERE / "README.md").read_text() if (HERE / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["colab_utils", "colab_utils.*"]) + ["colab_utils.configs"],
    package_dir={"colab_utils.configs": "configs"},
    package_data={"colab_utils.configs": ["*.yaml"]},
    install_requires=CORE,
    extras_require={
        **FAMILIES,
        "test": sorted({req for fam in TESTED_FAMILIES for req in FAMILIES[fam]}) + TEST_TOOLS,
    },
    entry_points={"console_scripts": ["colab-utils = colab_utils.cli:main"]},
)
