"""What a resumed run reports about settings that differ from the saved run's."""

import json

from gen_jax.config import DataConfig, ExperimentConfig, OptimConfig, TrainConfig, save_json
from gen_jax.models import GANConfig, VAEConfig
from gen_jax.train._resume import config_changes, describe_changes, schedule_change


def cfg(steps=20, model=None, data=None, train=None, **optim):
    return ExperimentConfig(model=model or VAEConfig(), data=data or DataConfig(),
                            optim=OptimConfig(**optim),
                            train=TrainConfig(steps=steps, **(train or {})))


def test_schedule_change_is_silent_when_the_schedule_does_not_depend_on_the_length(tmp_path):
    saved = tmp_path / "config.json"
    assert schedule_change(cfg(30, schedule="cosine"), saved) is None  # nothing saved yet
    save_json(cfg(20, schedule="cosine"), "vae", saved)
    assert "decays over 20 steps with train.steps=30" in schedule_change(
        cfg(30, schedule="cosine"), saved)
    assert schedule_change(cfg(20, schedule="cosine"), saved) is None  # same length
    assert schedule_change(cfg(30), saved) is None  # constant
    assert schedule_change(cfg(30, schedule="cosine", decay_steps=20), saved) is None


def test_schedule_change_names_the_length_the_saved_schedule_decayed_over(tmp_path):
    # A 40-step run that decayed over 20 steps, resumed as 60 without decay_steps: the new
    # schedule decays over 60, and keeping the old one takes --optim.decay_steps 20.
    saved = tmp_path / "config.json"
    save_json(cfg(40, schedule="cosine", decay_steps=20), "vae", saved)
    line = schedule_change(cfg(60, schedule="cosine"), saved)
    assert "decays over 20 steps with train.steps=60" in line
    assert line.endswith("pass --optim.decay_steps 20 to keep the old schedule")
    assert config_changes(cfg(60, schedule="cosine"), "vae", saved) == []  # said once
    assert schedule_change(cfg(20, schedule="cosine"), saved) is None  # 20 steps: the same
    assert config_changes(cfg(60, schedule="cosine", decay_steps=50), "vae", saved) == [
        "optim.decay_steps 20 -> 50"]


def test_config_changes_names_what_changes_training_and_nothing_else(tmp_path):
    saved = tmp_path / "config.json"
    assert config_changes(cfg(), "vae", saved) == []  # nothing saved yet
    save_json(cfg(model=VAEConfig(latent_dim=4)), "vae", saved)
    assert config_changes(cfg(model=VAEConfig(latent_dim=4)), "vae", saved) == []
    # Where it reads and writes, how often it reports, and its length are not changes.
    run_only = cfg(40, model=VAEConfig(latent_dim=4), data=DataConfig(data_dir="/elsewhere"),
                   train={"workdir": "other", "log_every": 7, "checkpoint_every": 9,
                          "strategy": "pmap", "progress": False})
    assert config_changes(run_only, "vae", saved) == []
    changed = cfg(model=VAEConfig(latent_dim=8), data=DataConfig(batch_size=64),
                  train={"seed": 3}, learning_rate=5e-4, grad_clip_norm=1.0)
    assert config_changes(changed, "vae", saved) == [
        "data.batch_size 128 -> 64", "model.latent_dim 4 -> 8", "optim.grad_clip_norm unset -> 1.0",
        "optim.learning_rate 0.001 -> 0.0005", "train.seed 0 -> 3"]
    assert config_changes(cfg(model=VAEConfig(latent_dim=4)), "iwae", saved) == [
        'model_name "vae" -> "iwae"']


def test_config_changes_compares_the_decay_length_a_schedule_uses(tmp_path):
    saved = tmp_path / "config.json"
    save_json(cfg(20, schedule="cosine"), "vae", saved)
    # Unset decays over the saved run's 20 steps: pinning it to 20 is the same schedule.
    assert config_changes(cfg(40, schedule="cosine", decay_steps=20), "vae", saved) == []
    assert config_changes(cfg(40, schedule="cosine", decay_steps=30), "vae", saved) == [
        "optim.decay_steps 20 -> 30"]
    save_json(cfg(20), "vae", saved)  # constant: decay_steps has no effect
    assert config_changes(cfg(20, decay_steps=30), "vae", saved) == []
    assert config_changes(cfg(20, schedule="cosine", decay_steps=30), "vae", saved) == [
        "optim.decay_steps 20 -> 30", 'optim.schedule "constant" -> "cosine"']


def test_config_changes_counts_fields_an_older_run_did_not_record_as_their_defaults(tmp_path):
    saved = tmp_path / "config.json"
    save_json(cfg(), "vae", saved)
    old = json.loads(saved.read_text())
    del old["optim"]["grad_clip_norm"]
    saved.write_text(json.dumps(old))
    assert config_changes(cfg(), "vae", saved) == []
    assert config_changes(cfg(grad_clip_norm=1.0), "vae", saved) == [
        "optim.grad_clip_norm unset -> 1.0"]


def test_sampling_and_fresh_start_settings_are_not_changes_of_training(tmp_path):
    saved = tmp_path / "config.json"
    save_json(ExperimentConfig(model=GANConfig()), "gan", saved)
    assert config_changes(ExperimentConfig(model=GANConfig(standing_stats=4)), "gan", saved) == []
    assert config_changes(ExperimentConfig(model=GANConfig(g_steps=2)), "gan", saved) == [
        "model.g_steps 1 -> 2"]


def test_an_unreadable_saved_config_is_nothing_to_compare(tmp_path):
    saved = tmp_path / "config.json"
    saved.write_text("{not json")
    assert config_changes(cfg(), "vae", saved) == []
    assert schedule_change(cfg(30, schedule="cosine"), saved) is None


def test_describe_changes_names_the_first_few_and_counts_the_rest():
    assert describe_changes(["a 1 -> 2"]) == "a 1 -> 2"
    many = [f"f{i} 0 -> 1" for i in range(9)]
    assert describe_changes(many) == ", ".join(many[:6]) + " and 3 more"
