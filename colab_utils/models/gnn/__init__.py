"""gnn: roles, formations and the phase of play from tracking, with GAT per frame and a BiLSTM per track.

Everything that is this model's alone lives in this package; what it shares with other
models is imported from the shared packages. The constants below register it (see
:mod:`colab_utils.registry`).
"""

TASK = "task:Gnn"
PREDICTOR = "predictor:Tactics"
EXTRAS = "gnn"
TRAIN_ORDER = 7
BENCH = "bench:BENCH"
