"""Architecture guard rails (issue 12): import contracts and types, checked with the suite.

* ``lint-imports`` checks the contracts in pyproject.toml (``[tool.importlinter]``): the
  project package above the apps, billing → clusters → fleet without circles, pages and API
  views never reaching the gateway, only the gateway importing a Kafka client, only an
  allow-list importing the platform client, billing reading no other app's models.
* The contracts name modules. A module they name that does not exist makes a contract check
  nothing, and a new module that none of them names escapes them, so both are checked here.
* ``mypy`` (with django-stubs and the DRF stubs) is clean over the gateway package, every
  app's services and selectors (``files`` in ``[tool.mypy]``), one test per package.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())
IMPORTLINTER = CONFIG["tool"]["importlinter"]
CONTRACTS = {contract["id"]: contract for contract in IMPORTLINTER["contracts"]}
# Lists of module expressions in a contract (the keys import-linter reads).
MODULE_LIST_KEYS = (
    "source_modules",
    "forbidden_modules",
    "layers",
    "protected_modules",
    "allowed_importers",
)
# The project package: `console` minus its teams modules (see pyproject.toml).
PROJECT_MODULES = set(CONTRACTS["project-above-apps"]["forbidden_modules"])


def _graph() -> grimp.ImportGraph:
    return grimp.build_graph(
        *IMPORTLINTER["root_packages"],
        include_external_packages=IMPORTLINTER.get("include_external_packages", False),
        exclude_type_checking_imports=IMPORTLINTER.get("exclude_type_checking_imports", False),
        cache_dir=None,
    )


def _layer_modules(layer: str) -> list[str]:
    """`a | b` (independent) and `a : b` (siblings) name several modules in one layer."""
    return [name.strip() for name in re.split(r"[|:]", layer) if name.strip()]


def _missing_modules(graph: grimp.ImportGraph) -> dict[str, list[str]]:
    """Contract id → the module expressions it names that match nothing in the code."""
    missing: dict[str, list[str]] = {}
    for contract_id, contract in CONTRACTS.items():
        for key in MODULE_LIST_KEYS:
            for entry in contract.get(key, []):
                for expression in _layer_modules(entry) if key == "layers" else [entry]:
                    if "*" in expression:
                        found = bool(graph.find_matching_modules(expression))
                    else:
                        found = expression in graph.modules
                    if not found:
                        missing.setdefault(contract_id, []).append(expression)
    return missing


def _config_without(missing: dict[str, list[str]]) -> dict:
    """The import-linter config with the missing modules left out (a contract left with an
    empty list is dropped), so that the rest can still be checked and reported."""
    contracts = []
    for contract in IMPORTLINTER["contracts"]:
        gone = set(missing.get(contract["id"], []))
        contract = dict(contract)
        for key in MODULE_LIST_KEYS:
            if key not in contract:
                continue
            if key == "layers":
                kept = []
                for layer in contract[key]:
                    separator = " | " if "|" in layer else " : "
                    names = [name for name in _layer_modules(layer) if name not in gone]
                    if names:
                        kept.append(separator.join(names))
            else:
                kept = [name for name in contract[key] if name not in gone]
            contract[key] = kept
        if all(contract.get(key, [None]) for key in MODULE_LIST_KEYS):
            contracts.append(contract)
    return {**IMPORTLINTER, "contracts": contracts}


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    raise TypeError(value)


def _write_config(config: dict, path: Path) -> None:
    lines = ["[tool.importlinter]"]
    lines += [f"{key} = {_toml(value)}" for key, value in config.items() if key != "contracts"]
    for contract in config["contracts"]:
        lines.append("\n[[tool.importlinter.contracts]]")
        lines += [f"{key} = {_toml(value)}" for key, value in contract.items()]
    path.write_text("\n".join(lines) + "\n")


def _lint_imports(config_path: Path | None = None) -> subprocess.CompletedProcess:
    args = [str(BIN / "lint-imports"), "--no-cache", "--no-logo"]
    if config_path is not None:
        args += ["--config", str(config_path)]
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_import_contracts_hold():
    graph = _graph()
    missing = _missing_modules(graph)
    if not missing:
        result = _lint_imports()
        assert result.returncode == 0, "lint-imports failed:\n" + result.stdout + result.stderr
        return
    # Say which names are stale, and still check everything else.
    with tempfile.TemporaryDirectory() as tmp:
        config_path = Path(tmp) / "importlinter.toml"
        _write_config(_config_without(missing), config_path)
        result = _lint_imports(config_path)
    stale = "\n".join(
        f"  {contract_id}: {', '.join(names)}" for contract_id, names in sorted(missing.items())
    )
    raise AssertionError(
        "The import contracts in pyproject.toml name modules that do not exist (a contract "
        "about a missing module checks nothing):\n"
        f"{stale}\n\nThe contracts without them (lint-imports exit {result.returncode}):\n"
        + result.stdout
        + result.stderr
    )


def test_every_module_is_covered_by_the_contracts():
    """A new module of the `console` package has to be placed: project or teams app; a page or
    API module has to be named so that the views/API contracts see it."""
    graph = _graph()
    problems = []

    teams = set(CONTRACTS["teams-imports-no-app"]["source_modules"])
    children = {
        module for module in graph.find_children("console") if not module.endswith("__main__")
    }
    unplaced = sorted(children - teams - PROJECT_MODULES)
    if unplaced:
        problems.append(
            "console modules in neither the project list (forbidden_modules of "
            "'project-above-apps') nor the teams list (source_modules of 'project-above-apps' "
            f"and 'teams-imports-no-app'): {', '.join(unplaced)}"
        )
    teams_in_project_contract = {
        name for name in CONTRACTS["project-above-apps"]["source_modules"] if "." in name
    }
    if teams_in_project_contract != teams:
        problems.append(
            "the console teams modules differ between 'project-above-apps' and "
            "'teams-imports-no-app': "
            f"{sorted(teams_in_project_contract ^ teams)}"
        )

    page_expressions = CONTRACTS["views-not-gateway"]["source_modules"]
    covered = set()
    for expression in page_expressions:
        for module in graph.find_matching_modules(expression):
            covered |= {module, *graph.find_descendants(module)}
    internal = {m for m in graph.modules if m.split(".")[0] in IMPORTLINTER["root_packages"]}
    named_like_pages = {
        module
        for module in internal
        if re.search(r"(^|_)(views|api|consumers)(_|$)", module.rsplit(".", 1)[-1])
        and ".migrations" not in module
    }
    uncovered = sorted(named_like_pages - covered)
    if uncovered:
        problems.append(
            "page/API modules that the views contracts do not see (move them into the app's "
            f"views/ or api/ package, or name them views.py/api): {', '.join(uncovered)}"
        )
    assert not problems, "\n".join(problems)


# `files` of [tool.mypy], one test per package so that each shows whether it is clean.
MYPY_TARGETS = sorted(
    str(path.relative_to(ROOT))
    for pattern in CONFIG["tool"]["mypy"]["files"]
    for path in ROOT.glob(pattern)
)


@pytest.fixture(scope="module")
def mypy_output() -> str:
    """One mypy run over every target (`files` of [tool.mypy]); its report."""
    result = subprocess.run(
        [str(BIN / "mypy")], cwd=ROOT, capture_output=True, text=True, timeout=900
    )
    output = result.stdout + result.stderr
    ran = result.returncode == 0 or (result.returncode == 1 and " error: " in output)
    assert ran, f"mypy did not run (exit {result.returncode}):\n{output}"
    return output


def test_mypy_targets_exist():
    assert "fleet/kafka" in MYPY_TARGETS, MYPY_TARGETS
    assert any(target.endswith("/services") for target in MYPY_TARGETS), MYPY_TARGETS
    assert any(target.endswith("/selectors.py") for target in MYPY_TARGETS), MYPY_TARGETS


@pytest.mark.parametrize("target", MYPY_TARGETS)
def test_mypy_is_clean(target, mypy_output):
    prefix = target if target.endswith(".py") else target + "/"
    errors = [
        line
        for line in mypy_output.splitlines()
        if (line == target or line.startswith(prefix)) and ": error: " in line
    ]
    notes = [
        line for line in mypy_output.splitlines() if line.startswith(prefix) and line not in errors
    ]
    assert not errors, f"mypy: {len(errors)} errors in {target}:\n" + "\n".join(errors + notes)


def _import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected groups of modules (Tarjan): each one is a circle of imports."""
    modules = sorted(graph.modules)
    imports = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in imports.get(module, ()):
            if imported not in imports:
                continue
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for module in modules:
        if module not in index:
            visit(module)
    return cycles


def test_no_module_imports_itself_in_a_circle():
    # Between apps the layers contract forbids circles; this also forbids them between files
    # (topics.py ↔ consumer_groups.py and celery.py ↔ periodic.py were two), which is what
    # pushed imports inside functions.
    assert _import_cycles(_graph()) == []


def test_the_cycle_finder_finds_a_circle():
    class Graph:
        modules = {"a", "b", "c"}

        def find_modules_directly_imported_by(self, module):
            return {"a": {"b"}, "b": {"a"}, "c": set()}[module]

    assert _import_cycles(Graph()) == [["a", "b"]]
