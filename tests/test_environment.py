"""pyproject.toml and environment.yml declare the same environment."""

import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parent.parent


def normalised(requirements):
    """Map each requirement's canonical name to its version specifier."""
    parsed = [Requirement(text) for text in requirements]
    return {r.name.lower().replace("_", "-"): r.specifier for r in parsed}


def test_environment_yml_lists_the_pyproject_dependencies():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    assert "-e ." in pip_section, "environment.yml must install the cnnbook package itself"
    packages = [line for line in pip_section if not line.startswith("-")]
    assert normalised(packages) == normalised(pyproject["dependencies"])


def test_environment_python_satisfies_requires_python():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    (python,) = [d for d in environment["dependencies"] if str(d).startswith("python=")]
    assert python.split("=")[1] + ".0" in SpecifierSet(pyproject["requires-python"])
