"""Probability paths and couplings of conditional flow matching, as pure functions."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def expand(t: jax.Array, x: jax.Array) -> jax.Array:
    """``t`` ``[B]`` broadcast against ``x`` ``[B, ...]``."""
    return t.reshape(t.shape + (1,) * (x.ndim - 1))


def interpolate(path: str, x0: jax.Array, x1: jax.Array, t: jax.Array,
                sigma_min: float = 0.0) -> tuple[jax.Array, jax.Array]:
    """``(x_t, u_t)``: the point of the conditional path from noise ``x0`` to data ``x1`` at
    ``t`` ``[B]`` and its velocity ``d x_t / dt``."""
    tt = expand(t, x0)
    if path == "rectified":
        return tt * x1 + (1 - tt) * x0, x1 - x0
    if path == "gaussian":
        return tt * x1 + (1 - (1 - sigma_min) * tt) * x0, x1 - (1 - sigma_min) * x0
    raise ValueError(f"unknown path {path!r}; use rectified or gaussian")


def ot_plan(x0: jax.Array, x1: jax.Array, epsilon: float) -> jax.Array:
    """``[B, B]`` entropic optimal-transport plan between the two minibatches (squared
    Euclidean cost, uniform marginals; ott-jax's Sinkhorn with ``epsilon`` relative to the
    mean cost)."""
    from ott.geometry import pointcloud  # noqa: PLC0415  (ott loads only for OT couplings)
    from ott.problems.linear import linear_problem  # noqa: PLC0415
    from ott.solvers.linear import sinkhorn  # noqa: PLC0415

    a = jax.lax.stop_gradient(x0.reshape(x0.shape[0], -1))
    b = jax.lax.stop_gradient(x1.reshape(x1.shape[0], -1))
    geom = pointcloud.PointCloud(a, b, epsilon=epsilon, relative_epsilon="mean")
    return sinkhorn.Sinkhorn()(linear_problem.LinearProblem(geom)).matrix


def exact_assignment(x0: jax.Array, x1: jax.Array) -> jax.Array:
    """``[B]`` the permutation ``j`` that pairs ``x0[i]`` with ``x1[j[i]]`` at the least total
    squared distance: the exact minibatch OT plan (uniform marginals, equal sizes), solved by
    scipy's ``linear_sum_assignment`` on the host (a few milliseconds for B = 256)."""
    a = jax.lax.stop_gradient(x0.reshape(x0.shape[0], -1))
    b = jax.lax.stop_gradient(x1.reshape(x1.shape[0], -1))
    cost = jnp.sum(a**2, 1)[:, None] + jnp.sum(b**2, 1)[None] - 2 * a @ b.T

    def solve(c):
        from scipy.optimize import linear_sum_assignment  # noqa: PLC0415

        return linear_sum_assignment(np.asarray(c, np.float64))[1].astype(np.int32)

    return jax.pure_callback(solve, jax.ShapeDtypeStruct((x0.shape[0],), jnp.int32), cost)


def ot_pairs(key: jax.Array, x0: jax.Array, x1: jax.Array,
             epsilon: float) -> tuple[jax.Array, jax.Array]:
    """Minibatch OT coupling (OT-CFM): ``B`` index pairs ``(i, j)`` ``[B]`` each; pair
    ``x0[i]`` with ``x1[j]`` (and ``x1``'s labels with ``j``).

    ``epsilon = 0``: the exact assignment (:func:`exact_assignment`, torchcfm's default
    ``exact`` plan); ``epsilon > 0``: pairs drawn from the entropic plan (:func:`ot_plan`,
    with replacement, as torchcfm's ``OTPlanSampler`` does), which runs on the device but needs
    more Sinkhorn iterations the smaller ``epsilon`` is.
    """
    if epsilon == 0:
        return jnp.arange(x0.shape[0]), exact_assignment(x0, x1)
    plan = ot_plan(x0, x1, epsilon)
    n = x0.shape[0]
    flat = jax.random.categorical(key, jnp.log(jnp.maximum(plan.reshape(-1), 1e-30)),
                                  shape=(n,))
    return flat // n, flat % n
