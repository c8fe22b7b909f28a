"""gen_jax's guard against jaxlib 0.10.2's XLA:CPU reduce-fusion miscompile (jax-ml/jax#39103)."""

import json
import warnings

import jax
import pytest

from gen_jax._xla_flags import YNN_FUSION_FLAG, avoid_wrong_reduce_fusion

from .conftest import run_python

# jax-ml/jax#39103's reproducer: each row's squared norm after a vmapped matrix-vector product.
# The last of 32,769 float32 rows is (32,768)^2 exactly; jaxlib 0.10.2's reduce fusion returned
# 1,065,369,600 for it under jit.
REPRODUCER = """
import json, jax, jax.numpy as jnp
i = jnp.arange(32_769, dtype=jnp.float32)
x = jnp.stack((i, jnp.zeros_like(i), jnp.zeros_like(i)), axis=1)
matrix = jnp.eye(3, dtype=jnp.float32)
f = lambda x: jax.vmap(lambda row: jnp.sum((matrix @ row) ** 2))(x)
result = [float(f(x)[-1]), float(jax.jit(f)(x)[-1])]
"""


def test_jit_sums_right_after_importing_gen_jax():
    # A fresh process whose XLA_FLAGS is emptied first (run_python passes on the session's,
    # which hold the fix already): importing gen_jax adds the fix in time.
    proc = run_python("import os; os.environ['XLA_FLAGS'] = ''; import gen_jax\n" + REPRODUCER
                      + "print(json.dumps(result))")
    eager, jitted = json.loads(proc.stdout.strip().splitlines()[-1])
    assert eager == jitted == 32_768.0**2


def test_the_test_process_itself_sums_right():
    # conftest imports gen_jax before any test uses jax, so the tests run with the fix too.
    namespace = {}
    exec(REPRODUCER, namespace)
    eager, jitted = namespace["result"]
    assert eager == jitted == 32_768.0**2


@pytest.mark.parametrize("before", ["", "--xla_force_host_platform_device_count=4"])
def test_the_flag_is_added_to_the_users_flags_on_the_affected_jaxlib(before):
    jax.devices()  # the backends exist in this process, so it says the fix comes too late
    env = {"XLA_FLAGS": before}
    with pytest.warns(UserWarning, match=r"jax-ml/jax#39103.*import gen_jax first"):
        assert avoid_wrong_reduce_fusion(env, version="0.10.2")
    assert env["XLA_FLAGS"] == f"{before} {YNN_FUSION_FLAG}=-reduce".strip()


def test_the_late_import_warning_points_at_the_users_import():
    # jax used first, then gen_jax imported: the warning names the line that imported gen_jax
    # (line 2 of the -c program), not gen_jax's module or the import machinery.
    proc = run_python("import os, jax; os.environ['XLA_FLAGS'] = ''; jax.devices()\n"
                      "import gen_jax\n")
    assert "<string>:2: UserWarning: jaxlib 0.10.2's XLA:CPU reduce fusion" in proc.stderr


@pytest.mark.parametrize("before, version", [
    (f"{YNN_FUSION_FLAG}=dot", "0.10.2"),  # the user's own choice stands
    ("", "0.10.1"),  # other jaxlib versions: XLA aborts on a flag it does not know
    ("", "0.11.0"),
])
def test_the_flag_is_left_alone_otherwise(before, version):
    env = {"XLA_FLAGS": before}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not avoid_wrong_reduce_fusion(env, version=version)
    assert env == {"XLA_FLAGS": before}
