"""The dependency layer: same pins as the package, built for the Lambda runtime, slim."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from stacks.controller import layer

REPO = Path(__file__).resolve().parents[2]
LAMBDA_LIMIT = 250 * 1024 * 1024  # unzipped, all layers and the function together


def pins(lines: list[str]) -> dict[str, str]:
    out = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            out[name.lower()] = version
    return out


@pytest.fixture(scope="module")
def site() -> Path:
    return layer.build() / "python"


def test_layer_pins_are_the_package_pins_minus_boto3() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    package = pins(project["dependencies"])
    bundled = pins(layer.REQUIREMENTS.read_text().splitlines())

    assert {k: v for k, v in bundled.items() if k in package} == {
        k: v for k, v in package.items() if k != "boto3"
    }
    # The only extra pin keeps the runtime's botocore working (python-dateutil<3).
    assert set(bundled) - set(package) == {"python-dateutil"}
    assert bundled["python-dateutil"].startswith("2.")


def test_layer_holds_runtime_wheels_for_python_312_arm64(site: Path) -> None:
    assert (site / "kubernetes" / "client").is_dir()
    assert (site / "aws_lambda_powertools").is_dir()
    assert list((site / "yaml").glob("_yaml.cpython-312-aarch64-linux-gnu.so"))


def test_layer_is_slimmed(site: Path) -> None:
    for gone in ("boto3", "botocore", "kubernetes/aio", "aiohttp", "bin"):
        assert not (site / gone).exists(), gone
    assert not list(site.rglob("__pycache__"))
    assert not list(site.glob("*.dist-info/RECORD"))
    assert layer.size_bytes(site.parent) < LAMBDA_LIMIT // 4


def test_what_the_functions_import_is_all_there(site: Path) -> None:
    """Imports from the layer alone (isolated, no site-packages): nothing needed was slimmed.

    Runs on the host's CPython, so compiled extensions fall back to pure Python (PyYAML,
    charset_normalizer); the Python code paths are what this checks.
    """
    code = (
        "import kubernetes.client, kubernetes.config, kubernetes.watch, yaml;"
        "import aws_lambda_powertools, aws_lambda_powertools.metrics;"
        "from aws_lambda_powertools import Logger, Metrics"
    )
    result = subprocess.run(
        # The layer is the only path: no site-packages (-S), no user site (-s), not the
        # working directory (-P); -B: no bytecode written into the cache it is copied from.
        [sys.executable, "-S", "-s", "-P", "-B", "-c", code],
        env={"PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_cache_key_follows_the_requirements(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(layer.REQUIREMENTS.read_text())
    same = layer.cache_key(requirements)
    requirements.write_text(requirements.read_text() + "six==1.17.0\n")

    assert same == layer.cache_key(layer.REQUIREMENTS)
    assert layer.cache_key(requirements) != same
