"""The BENCHMARKS.md flow workloads written with other libraries, for side-by-side timing.

Each module exposes ``WORKLOADS``: workload id -> constructor returning a
:class:`gen_jax.bench.Workload` (``call(carry) -> carry`` runs one optimizer step, or one
sampling call), so that every library is timed by the same :func:`gen_jax.bench.time_calls`.
"""
