"""Benchmarks: the standard workloads timed on the production steps (``gen-jax bench``)."""

from ._compile import COMPILE_BENCHMARKS as COMPILE_BENCHMARKS
from ._compile import compile_markdown as compile_markdown
from ._compile import run_compile_benchmarks as run_compile_benchmarks
from ._harness import Timing as Timing
from ._harness import check_trained as check_trained
from ._harness import compile_fresh as compile_fresh
from ._harness import device_peak_memory_mb as device_peak_memory_mb
from ._harness import environment as environment
from ._harness import peak_matmul_flops as peak_matmul_flops
from ._harness import peak_rss_mb as peak_rss_mb
from ._harness import time_calls as time_calls
from ._run import markdown_table as markdown_table
from ._run import run_benchmarks as run_benchmarks
from ._run import write_json as write_json
from ._run import write_report as write_report
from ._scaling import run_scaling as run_scaling
from ._scaling import scaling_markdown as scaling_markdown
from ._smoke import run_smoke as run_smoke
from ._smoke import smoke_markdown as smoke_markdown
from ._workload import Workload as Workload
from ._workloads import WORKLOADS as WORKLOADS
