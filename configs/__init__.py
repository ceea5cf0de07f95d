"""The models' YAML configurations, shipped inside the package as ``colab_utils.configs``."""
