"""gnn: roles, formations and the phase of play from tracking, with GAT per frame and a BiLSTM per track."""

TASK = "task:Gnn"
PREDICTOR = "predictor:Tactics"
EXTRAS = "gnn"
TRAIN_ORDER = 7
BENCH = "bench:BENCH"
