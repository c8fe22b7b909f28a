"""DP-GAN's private discriminator step on a CPU: the engine's step for the default MLP GAN
(maxout discriminator 200-200-200 x 5 pieces) on MNIST-shaped data, expected batch 256 (352
rows of Poisson capacity), 15 timed steps after one warm-up; prints the median.

    python benchmarks/dp_gan_step.py LABEL
"""
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from gen_jax import models, optim
from gen_jax.config import OptimConfig
from gen_jax.data import DatasetInfo
from gen_jax.train import TrainState, make_train_step

MNIST = DatasetInfo("mnist", (28, 28, 1), 10, 256)
cfg = models.GANConfig()
model = models.build("gan", cfg, MNIST)
model.check_privacy()
B = 352
batch = {"x": jnp.asarray(np.random.default_rng(0).uniform(size=(B, 28, 28, 1)), jnp.float32),
         "weight": jnp.asarray((np.arange(B) < 256).astype(np.float32))}
v = jax.jit(model.init)(jax.random.PRNGKey(0), {"x": batch["x"][:8]})
state = TrainState.create(params=v["params"], batch_stats=v.get("batch_stats"),
                          tx=model.make_optimizer(OptimConfig(), 100), rng=jax.random.PRNGKey(1))
settings = optim.DPSettings(clip_norm=1.0, noise_multiplier=1.0, expected_batch=256.0)
step = jax.jit(make_train_step(model, lambda b, k: b, privacy=settings))
s, m = step(state, batch)
jax.block_until_ready(s)
ts = []
for _ in range(15):
    t = time.perf_counter()
    s, m = step(s, batch)
    jax.block_until_ready(s)
    ts.append(time.perf_counter() - t)
print(sys.argv[1], "median ms", round(1000 * statistics.median(ts), 1))
