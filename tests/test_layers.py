"""The package's layers point one way: a module never imports from a higher layer.

data -> nn -> bijectors -> models -> train -> metrics -> classifier -> evaluation -> bench / apps
-> cli, over a foundation (config, optim, file and flag helpers) that imports none of them.
Imports inside functions count too: a lazy import is still a dependency.
"""

import ast
from pathlib import Path

import gen_jax

PACKAGE = Path(gen_jax.__file__).parent

LAYERS: dict[str, int] = {
    "_files": 0, "_xla_flags": 0, "_tyro": 0, "_images": 0, "_torch_archive": 0, "_extras": 0,
    "config": 0, "provenance": 0, "optim": 0,
    "data": 1, "nn": 2, "bijectors": 3, "models": 4, "train": 5, "metrics": 6,
    "classifier": 7, "evaluation": 8, "bench": 9, "apps": 9, "cli": 10, "__main__": 11,
}
"""Top-level module or subpackage of gen_jax -> its layer (higher may import lower)."""


def _unit(module: str) -> str:
    """``gen_jax.models._vae`` -> ``models``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _imports(path: Path) -> list[tuple[str, int]]:
    """``(absolute module, line)`` for every gen_jax import in the file, at any depth."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names if a.name.startswith("gen_jax")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("gen_jax"):
                continue
            if target == "gen_jax":  # from gen_jax import data, ...: the names that are units
                out += [(f"gen_jax.{a.name}", node.lineno) for a in node.names
                        if (PACKAGE / a.name).is_dir() or (PACKAGE / f"{a.name}.py").is_file()]
            else:
                out.append((target, node.lineno))
    return out


def test_every_unit_has_a_layer():
    units = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
             if (p.suffix == ".py" and p.name != "__init__.py")
             or (p.is_dir() and (p / "__init__.py").exists())}
    assert units <= set(LAYERS), f"give these a layer in LAYERS: {sorted(units - set(LAYERS))}"


def test_no_module_imports_from_a_higher_or_sibling_layer():
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if module == "gen_jax.__init__":  # the public surface re-exports every layer
            continue
        unit = _unit(module)
        for target, line in _imports(path):
            other = _unit(target)
            if not other or other == unit:
                continue
            mine, theirs = LAYERS[unit], LAYERS[other]
            if theirs > mine or (theirs == mine and mine != 0):
                bad.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {unit} (layer {mine}) "
                           f"imports {target} (layer {theirs})")
    assert not bad, "imports against the layer order:\n" + "\n".join(bad)


def test_no_module_imports_another_units_private_modules():
    # A unit's private modules (``_name``) are its own: others use its public surface.
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        unit = _unit(module)
        for target, line in _imports(path):
            parts = target.split(".")
            if (len(parts) > 2 and _unit(target) != unit and LAYERS.get(_unit(target)) != 0
                    and any(p.startswith("_") for p in parts[2:])):
                bad.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {module} imports "
                           f"{target}")
    assert not bad, "imports of another unit's private modules:\n" + "\n".join(bad)
