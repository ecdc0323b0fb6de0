"""The dependency layer, built without Docker and cached by what goes into it.

`pip install --platform manylinux2014_aarch64 --only-binary=:all:` fetches the wheels the
Lambda runtime (CPython 3.12, arm64) needs from any host. The result is slimmed of what the
functions never import and cached under `build/layer/<key>/`, where the key hashes the
requirements file, the pip arguments and the slimming rules: a synth or a test run only
reaches PyPI when one of those changes.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

PYTHON_VERSION = "3.12"
PLATFORM = "manylinux2014_aarch64"
REPO = Path(__file__).resolve().parents[2]
REQUIREMENTS = REPO / "layers" / "requirements.txt"
CACHE = REPO / "build" / "layer"

# Top-level entries removed from site-packages: the asyncio flavour of the Kubernetes
# client (`kubernetes.aio`) and its aiohttp stack (the controller uses the sync client),
# console scripts, and boto3/botocore should a dependency ever pull them in (the runtime
# has its own; a second copy would shadow it).
REMOVE = (
    "bin",
    "kubernetes/aio",
    "aiohttp",
    "aiohappyeyeballs",
    "aiosignal",
    "attr",
    "attrs",
    "frozenlist",
    "multidict",
    "propcache",
    "yarl",
    "boto3",
    "botocore",
    "s3transfer",
)
# Distributions whose metadata goes with the removed packages: each removed top-level
# entry but the console scripts, kubernetes' aio subpackage (the kubernetes distribution
# stays) and `attr` (a package of the attrs distribution).
_NOT_DISTRIBUTIONS = ("bin", "kubernetes/aio", "attr")
REMOVE_DIST_INFO = tuple(name for name in REMOVE if name not in _NOT_DISTRIBUTIONS)
# Files never read at run time: bytecode (the runtime compiles into /tmp if it must; pip
# ran with --no-compile), tests shipped inside packages, type stubs, install records.
REMOVE_GLOBS = ("**/__pycache__", "**/tests", "**/*_test.py", "**/*.pyi", "*.dist-info/RECORD")

_PIP_ARGS = (
    "install",
    "--quiet",
    "--disable-pip-version-check",
    "--no-compile",
    "--only-binary=:all:",
    f"--platform={PLATFORM}",
    f"--python-version={PYTHON_VERSION}",
    "--implementation=cp",
)


def cache_key(requirements: Path = REQUIREMENTS) -> str:
    recipe = {
        "requirements": requirements.read_text(encoding="utf-8"),
        "pip": _PIP_ARGS,
        "remove": (REMOVE, REMOVE_DIST_INFO, REMOVE_GLOBS),
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def build(requirements: Path = REQUIREMENTS, cache: Path = CACHE) -> Path:
    """Returns the cached layer directory (holding `python/`), building it if missing.

    Raises LayerBuildError if pip fails (e.g. PyPI unreachable on a cold cache).
    """
    target = cache / cache_key(requirements)
    if (target / "python").is_dir():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    # Build beside the target and rename: a killed build never leaves a half-filled cache.
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        site = Path(tmp) / "python"
        command = [sys.executable, "-m", "pip", *_PIP_ARGS, "--target", str(site)]
        result = subprocess.run(
            [*command, "-r", str(requirements)], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise LayerBuildError(f"pip failed for {requirements}:\n{result.stderr.strip()}")
        slim(site)
        Path(tmp).rename(target)
        Path(tmp).mkdir()  # TemporaryDirectory removes it again on exit
    return target


def slim(site: Path) -> None:
    for name in REMOVE:
        shutil.rmtree(site / name, ignore_errors=True)
    for dist in REMOVE_DIST_INFO:
        for info in site.glob(f"{dist}-*.dist-info"):
            shutil.rmtree(info)
    for pattern in REMOVE_GLOBS:
        for path in site.glob(pattern):
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()


def size_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


class LayerBuildError(RuntimeError):
    """The dependency layer could not be built (pip failed)."""


@jsii.implements(ILocalBundling)
class _CachedPipBundling:
    def __init__(self, requirements: Path) -> None:
        self._requirements = requirements

    def try_bundle(self, output_dir: str, options: Any) -> bool:  # jsii passes options whole
        # Bytecode of whatever host Python imported from the cache is no use on Lambda.
        shutil.copytree(
            build(self._requirements),
            output_dir,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        return True


def dependency_layer(
    scope: Construct, id: str, requirements: Path = REQUIREMENTS
) -> lambda_.LayerVersion:
    """The layer version holding the functions' third-party packages under `python/`."""
    code = lambda_.Code.from_asset(
        str(requirements.parent),
        # The cache key already names everything that shapes the output.
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=cache_key(requirements),
        bundling=BundlingOptions(
            # Never used: local bundling always succeeds or raises. CDK requires an image.
            image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.12"),
            # jsii's stub declares try_bundle(output_dir, *, image, ...) but the runtime calls
            # it with the options as one positional struct, so the class follows the runtime.
            local=_CachedPipBundling(requirements),  # type: ignore[arg-type]
        ),
    )
    return lambda_.LayerVersion(
        scope,
        id,
        code=code,
        compatible_runtimes=[lambda_.Runtime.PYTHON_3_12],
        compatible_architectures=[lambda_.Architecture.ARM_64],
        description="fpga-burst: aws-lambda-powertools, kubernetes, PyYAML (see layers/)",
    )
