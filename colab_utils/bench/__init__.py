"""``python -m colab_utils bench <model|all>``: will a T4 be fed, and how long is an epoch?

One block per model: the training loader's rate on this machine's cores, the training FLOPs
per item, what a T4 at the engine's assumed efficiency would consume, and the epoch time each
of the two bounds implies. What a model adds (offline data, a real epoch's size, its own
measurements) lives in its package (:class:`colab_utils.bench.spec.ModelBench`); this package
names no model.
"""
