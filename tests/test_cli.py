"""``python -m colab_utils``: the notebook pipeline from a shell, with clear errors."""

from __future__ import annotations

from conftest import CONFIGS


def test_train_evaluate_export_from_the_shell(run_cli, folders):
    common = ("--config-dir", str(CONFIGS), "data.num_workers=0", "logging.progress=false", "train.epochs=1")
    trained = run_cli("train", "toy", "profile=smoke", *common)
    assert trained.returncode == 0, trained.stderr
    assert "toy: profile smoke" in trained.stdout and "train: finished after 12 batches" in trained.stdout
    evaluated = run_cli("evaluate", "toy", "--profile", "smoke", *common)
    assert evaluated.returncode == 0, evaluated.stderr
    assert "weights from best.pth" in evaluated.stdout and "val_accuracy" in evaluated.stdout
    exported = run_cli("export", "toy", "--profile", "smoke", *common, f"export.dir={folders['tmp'] / 'out'}")
    assert exported.returncode == 0, exported.stderr
    assert (folders["tmp"] / "out" / "toy-default-smoke.pth").is_file()  # a smoke run's own folder


def test_config_mistakes_exit_2_with_the_reason(run_cli):
    unknown_key = run_cli("train", "toy", "--config-dir", str(CONFIGS), "train.batchsize=2")
    assert unknown_key.returncode == 2
    assert "Did you mean train.batch_size?" in unknown_key.stderr and "Traceback" not in unknown_key.stderr
    unknown_model = run_cli("train", "toyy", "--config-dir", str(CONFIGS))
    assert unknown_model.returncode == 2 and "Unknown model 'toyy'" in unknown_model.stderr


def test_a_wrong_value_type_exits_2_with_one_error_line(run_cli):
    wrong = run_cli("train", "toy", "--config-dir", str(CONFIGS), "train.batch_size=2.5")
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr
    errors = [line for line in wrong.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "train.batch_size" in errors[0] and "2.5" in errors[0] and "no fractional part" in errors[0]
