"""Generators that write the real on-disk formats of the datasets, from known ground truth."""
