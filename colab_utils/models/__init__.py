"""Networks (plain torch modules) used by the tasks."""
