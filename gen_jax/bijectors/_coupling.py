"""Coupling layers that transform only the active part of the event.

distrax's ``MaskedCoupling`` evaluates the inner bijector on every coordinate and masks the result;
these layers gather the active coordinates first, so a spline coupling does half the work
(W2 in BENCHMARKS.md). The conditioner is any callable, typically a closure over a Flax apply::

    net = MLPConditioner(out_shape=(392, 2), hidden=(1024, 1024))
    layer = AffineCoupling(half_mask(784), lambda h: net.apply(params, h))
"""

from __future__ import annotations

from collections.abc import Callable

import distrax
import jax
import numpy as np

from ._masks import partition
from ._transformers import AffineTransformer, SplineTransformer, Transformer

Conditioner = Callable[..., jax.Array]


class Coupling(distrax.Bijector):
    """``y_active = f(x_active; conditioner(x_passive[, context]))``, ``y_passive = x_passive``.

    The event is ``mask.shape`` (``event_ndims = mask.ndim``); see :class:`Partition` for what the
    conditioner receives and must return (a trailing axis of ``transformer.num_params``).
    """

    def __init__(
        self,
        mask: np.ndarray,
        conditioner: Conditioner,
        transformer: Transformer,
        *,
        context: jax.Array | None = None,
    ):
        """Initializes the coupling.

        Args:
          mask: concrete boolean array of the event's shape; ``True`` = passive (unchanged).
          conditioner: ``h -> params`` (or ``(h, context) -> params`` when ``context`` is given),
            with ``params [..., *params_shape, transformer.num_params]``: per active coordinate for
            a mask over the last axis only (half or channel masks), else over the whole event.
          transformer: the elementwise map, e.g. :class:`AffineTransformer`.
          context: ``[..., context_dim]`` conditioning input passed to the conditioner.
        """
        self._partition = partition(mask)
        self._conditioner = conditioner
        self._transformer = transformer
        self._context = context
        super().__init__(event_ndims_in=self._partition.event_ndims)

    @property
    def partition(self):
        """The static passive/active split."""
        return self._partition

    def _params(self, x: jax.Array) -> jax.Array:
        h = self._partition.conditioner_input(x)
        out = self._conditioner(h) if self._context is None else self._conditioner(
            h, self._context)
        return self._partition.active_params(out, self._transformer.num_params)

    def _apply(self, x: jax.Array, direction: str) -> tuple[jax.Array, jax.Array]:
        self._check_forward_input_shape(x)
        part = self._partition
        if x.shape[x.ndim - part.event_ndims:] != part.event_shape:
            raise ValueError(f"{self.name} expects events of shape {part.event_shape}, "
                             f"got inputs of shape {x.shape}")
        batch_shape = x.shape[: x.ndim - part.event_ndims]
        transform = getattr(self._transformer, direction)
        y_active, log_det = transform(part.active(x), self._params(x))
        return part.merge(x, y_active), part.sum_active(log_det, batch_shape)

    def forward_and_log_det(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Computes ``y = f(x)`` and ``log|det J_f(x)|`` (``[batch]``)."""
        return self._apply(x, "forward")

    def inverse_and_log_det(self, y: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Computes ``x = f^{-1}(y)`` and ``log|det J_{f^{-1}}(y)|``; the passive part of ``y``
        equals that of ``x``, so the same conditioner output is recomputed from ``y``."""
        return self._apply(y, "inverse")


class AffineCoupling(Coupling):
    """RealNVP affine coupling: ``y_a = x_a * exp(s) + t`` with ``(t, s_raw) = conditioner(x_p)``
    and the log-scale soft-clamped, ``s = bound * tanh(s_raw / bound)``.

    The conditioner returns ``[..., *params_shape, 2]`` (shift, raw log-scale).
    """

    def __init__(
        self,
        mask: np.ndarray,
        conditioner: Conditioner,
        *,
        log_scale_bound: float | None = 3.0,
        context: jax.Array | None = None,
    ):
        """Args: see :class:`Coupling`; ``log_scale_bound`` as in :class:`AffineTransformer`."""
        super().__init__(mask, conditioner, AffineTransformer(log_scale_bound), context=context)


class SplineCoupling(Coupling):
    """Neural-spline coupling: a K-bin rational-quadratic spline on ``[-B, B]`` per active
    coordinate, linear tails outside (see :class:`SplineTransformer`).

    The conditioner returns ``[..., *params_shape, spline_num_params(num_bins, boundary_slopes)]``
    (``3K - 1`` with the default identity tails).
    """

    def __init__(
        self,
        mask: np.ndarray,
        conditioner: Conditioner,
        *,
        num_bins: int = 8,
        tail_bound: float = 5.0,
        boundary_slopes: str = "identity",
        min_bin_size: float = 1e-4,
        min_knot_slope: float = 1e-4,
        context: jax.Array | None = None,
    ):
        """Args: see :class:`Coupling` and :class:`SplineTransformer`."""
        transformer = SplineTransformer(num_bins, tail_bound, boundary_slopes, min_bin_size,
                                        min_knot_slope)
        super().__init__(mask, conditioner, transformer, context=context)
