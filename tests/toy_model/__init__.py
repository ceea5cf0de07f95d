"""A model package kept outside the library, as a user's eighth model would be: the engine tests'
toy classifier. Registered by these constants alone (see colab_utils.registry); no library file
names it."""

TASK = "task:ToyTask"
PREDICTOR = "predictor:ToyPredictor"
