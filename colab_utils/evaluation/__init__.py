"""Per-model metrics and result pictures, kept apart from the tasks that use them."""
