"""Benchmarks: the standard workloads timed on the production steps (``gen-jax bench``)."""

from ._harness import Timing as Timing
from ._harness import check_trained as check_trained
from ._harness import compile_fresh as compile_fresh
from ._harness import device_peak_memory_mb as device_peak_memory_mb
from ._harness import environment as environment
from ._harness import peak_matmul_flops as peak_matmul_flops
from ._harness import peak_rss_mb as peak_rss_mb
from ._harness import time_calls as time_calls
from ._run import run_benchmarks as run_benchmarks
from ._workloads import WORKLOADS as WORKLOADS
from ._workloads import Workload as Workload
