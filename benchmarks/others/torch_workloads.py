"""W1-W3 and W6 (flow) in the PyTorch flow libraries nflows, zuko and normflows (CPU torch).

Each step is the plain PyTorch loop those libraries document: ``loss = -flow.log_prob(x).mean()``,
``loss.backward()``, ``torch.optim.Adam.step()`` (eager mode, ``torch.set_num_threads`` = the
cores this process may use). Differences from BENCHMARKS.md, all elementwise (no effect on the
matmul sizes), are listed per library:

* nflows 0.14: affine scale ``sigmoid(raw + 2) + 1e-3`` (not a tanh-bounded log-scale); W1/W2
  alternate explicit half masks (no reversal needed); W3 is ``MaskedAffineAutoregressiveTransform``
  (MADE 8-512-512-16, ``num_blocks=1`` without residual blocks) with ``ReversePermutation``.
* zuko 1.6: ``GeneralCouplingTransform`` with explicit half masks and zuko's MLP; affine
  log-scale soft-clipped ``s / (1 + |s| / 6.91)`` (``MonotonicAffineTransform``, bound
  ``-log(1e-3)``); spline ``MonotonicRQSTransform`` (bound 5, identity tails, 3K - 1
  parameters); W3 is ``zuko.flows.MAF`` (orders reversed between layers).
* normflows 1.7: W1 ``AffineCouplingBlock`` with ``scale_map='exp'`` (unbounded: normflows has no
  tanh map) and ``Permute(mode='swap')`` between layers; W2 ``CoupledRationalQuadraticSpline``,
  whose conditioner is a ``ResidualNet`` (1 -> 128, one residual block of two 128 x 128 layers,
  128 -> 23: one hidden layer more than W2's MLP); W3 ``MaskedAffineAutoregressive`` (plain
  MADE 8-512-512-16) with ``Permute(mode='swap')`` (swap halves, not a reversal: the same cost).
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch import nn

from gen_jax.bench import Workload

LIBRARIES = ("nflows", "zuko", "normflows")


def set_threads(n: int | None = None) -> int:
    """Sets torch's intra-op threads: ``n``, or the cores this process may use (as XLA does).

    On an oversubscribed machine (load above the core count) torch's OpenMP threads can wait
    on each other for a whole time slice at every barrier; one thread is then much faster.
    """
    if n is None:
        n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    torch.set_num_threads(n)
    return n


class _MLP(nn.Module):
    """Linear + ReLU stack; ``forward(x, context=None)`` as nflows calls its conditioners."""

    def __init__(self, sizes: list[int]):
        super().__init__()
        layers: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:], strict=True):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.net = nn.Sequential(*layers[:-1])

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        del context
        return self.net(x)


def _mlp(sizes: list[int]) -> _MLP:
    return _MLP(sizes)


def _half_mask(dim: int, i: int) -> torch.Tensor:
    """True on the first half for even layers, on the second half for odd ones."""
    first = torch.arange(dim) < dim // 2
    return first if i % 2 == 0 else ~first


# ----- the three libraries' flows --------------------------------------------------------------


def nflows_flow(workload: str):
    from nflows import distributions, flows, transforms

    if workload in ("w1", "w6-flow"):
        layers = [transforms.AffineCouplingTransform(
            (~_half_mask(784, i)).int() * 2 - 1,  # nflows: > 0 marks transformed features
            lambda i_, o_: _mlp([i_, 1024, 1024, o_])) for i in range(8)]
        dim = 784
    elif workload == "w2":
        layers = [transforms.PiecewiseRationalQuadraticCouplingTransform(
            (~_half_mask(2, i)).int() * 2 - 1, lambda i_, o_: _mlp([i_, 128, 128, o_]),
            num_bins=8, tails="linear", tail_bound=5.0) for i in range(8)]
        dim = 2
    else:
        layers = []
        for _ in range(5):
            layers += [transforms.MaskedAffineAutoregressiveTransform(
                features=8, hidden_features=512, num_blocks=1, use_residual_blocks=False),
                transforms.ReversePermutation(features=8)]
        dim = 8
    flow = flows.Flow(transforms.CompositeTransform(layers), distributions.StandardNormal([dim]))
    return flow, dim, (lambda x: flow.log_prob(x)), (lambda n: flow.sample(n))


def zuko_flow(workload: str):
    import zuko
    from zuko.distributions import DiagNormal
    from zuko.flows import Flow, GeneralCouplingTransform, UnconditionalDistribution
    from zuko.transforms import MonotonicRQSTransform

    def base(dim):
        return UnconditionalDistribution(DiagNormal, loc=torch.zeros(dim),
                                         scale=torch.ones(dim), buffer=True)

    if workload in ("w1", "w6-flow"):
        dim = 784
        flow = Flow([GeneralCouplingTransform(784, mask=_half_mask(784, i),
                                              hidden_features=(1024, 1024)) for i in range(8)],
                    base(784))
    elif workload == "w2":
        dim = 2
        flow = Flow([GeneralCouplingTransform(2, mask=_half_mask(2, i),
                                              univariate=MonotonicRQSTransform,
                                              shapes=[(8,), (8,), (7,)],
                                              hidden_features=(128, 128)) for i in range(8)],
                    base(2))
    else:
        dim = 8
        flow = zuko.flows.MAF(features=8, transforms=5, hidden_features=(512, 512))
    return flow, dim, (lambda x: flow().log_prob(x)), (lambda n: flow().sample((n,)))


def normflows_flow(workload: str):
    import normflows as nf

    if workload in ("w1", "w6-flow"):
        dim = 784
        layers = []
        for _ in range(8):
            layers += [nf.flows.AffineCouplingBlock(
                nf.nets.MLP([392, 1024, 1024, 784], init_zeros=True), scale_map="exp"),
                nf.flows.Permute(784, mode="swap")]
    elif workload == "w2":
        dim = 2
        layers = []
        for _ in range(8):
            layers += [nf.flows.CoupledRationalQuadraticSpline(
                2, num_blocks=1, num_hidden_channels=128, num_bins=8, tails="linear",
                tail_bound=5.0), nf.flows.Permute(2, mode="swap")]
    else:
        dim = 8
        layers = []
        for _ in range(5):
            layers += [nf.flows.MaskedAffineAutoregressive(
                8, 512, num_blocks=1, use_residual_blocks=False),
                nf.flows.Permute(8, mode="swap")]
    model = nf.NormalizingFlow(nf.distributions.DiagGaussian(dim, trainable=False), layers)
    return model, dim, (lambda x: model.log_prob(x)), (lambda n: model.sample(n)[0])


FLOWS = {"nflows": nflows_flow, "zuko": zuko_flow, "normflows": normflows_flow}

BATCH = {"w1": 256, "w2": 1024, "w3": 512}
LR = {"w1": 1e-4, "w2": 1e-3, "w3": 1e-3}


def workload(library: str, name: str, seed: int = 0) -> Workload:
    """``library``'s version of workload ``name`` (w1, w2, w3 or w6-flow)."""
    torch.manual_seed(seed)
    module, dim, log_prob, sample = FLOWS[library](name)
    if name == "w6-flow":
        num = 1024

        def draw(_):
            with torch.no_grad():
                return sample(num)

        return Workload(name=f"W6 {library} sample", call=draw, carry=None, matmul_flops=0.0,
                        items_per_call=num, description=f"{library} flow.sample({num}), no_grad")
    x = torch.as_tensor(np.random.default_rng(seed).standard_normal(
        (BATCH[name], dim)).astype(np.float32))
    opt = torch.optim.Adam(module.parameters(), lr=LR[name])

    def step(_):
        opt.zero_grad(set_to_none=True)
        loss = -log_prob(x).mean()
        loss.backward()
        opt.step()
        return loss.detach()

    return Workload(name=f"{name.upper()} {library}", call=step, carry=None, matmul_flops=0.0,
                    description=f"{library}: eager PyTorch step, Adam {LR[name]:g}")
