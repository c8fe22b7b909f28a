import dataclasses

import pytest

from gen_jax.config import (
    DataConfig,
    ExperimentConfig,
    OptimConfig,
    TrainConfig,
    load_config_file,
    load_json,
    read_model_name,
    save_json,
)
from gen_jax.models import VAEConfig

from .conftest import REPO


def test_json_round_trip_restores_types(tmp_path):
    cfg = ExperimentConfig(
        model=VAEConfig(hidden=(30, 20), latent_dim=7, conditional=True),
        data=DataConfig(name="mnist", binarize=True),
        optim=OptimConfig(ema_decay=0.99, grad_clip_norm=1.0),
        train=TrainConfig(profile_steps=(3, 5), steps=11),
    )
    save_json(cfg, "vae", tmp_path / "c.json")
    back = load_json(tmp_path / "c.json", VAEConfig)
    assert back == cfg
    assert isinstance(back.model.hidden, tuple) and isinstance(back.train.profile_steps, tuple)
    assert read_model_name(tmp_path / "c.json") == "vae"


def test_experiment_files_load():
    cfg = load_config_file(REPO / "experiments" / "iwae_mnist" / "config.py")
    assert cfg.model.hidden == (200, 200) and cfg.model.latent_dim == 50
    assert cfg.data.binarize and cfg.data.name == "mnist"


@pytest.mark.parametrize("make, message", [
    (lambda: TrainConfig(steps=0), "train.steps must be a positive integer"),
    (lambda: TrainConfig(profile_steps=(5, 3)), "train.profile_steps must be START STOP"),
    (lambda: DataConfig(binarize=True, dequantize=True), "exclude each other"),
    (lambda: DataConfig(batch_size=-1), "data.batch_size must be a positive integer"),
    (lambda: OptimConfig(ema_decay=1.0), "optim.ema_decay must be in [0, 1)"),
    (lambda: OptimConfig(learning_rate=0.0), "optim.learning_rate must be positive"),
])
def test_invalid_settings_are_refused(make, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace(")", r"\)")):
        make()


def test_configs_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        TrainConfig().steps = 3


@pytest.mark.parametrize("text, suffix, message", [
    ("root:x:0:0", ".txt", "is not a Python file"),
    ("def config(:\n", ".py", "failed to run: SyntaxError:"),
    ("import not_a_module_anywhere\n", ".py", "failed to run: ModuleNotFoundError: No module"),
])
def test_a_config_file_that_cannot_run_is_a_one_line_error(tmp_path, text, suffix, message):
    path = tmp_path / f"experiment{suffix}"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as err:
        load_config_file(path)
    assert str(err.value).startswith(f"config file {path} ") and "\n" not in str(err.value)
