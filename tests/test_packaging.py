"""The wheel holds exactly the `tblog` package (adapters inside it) and works once installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from email.parser import Parser
from pathlib import Path, PurePosixPath

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
# Source files that must reach the wheel (anything else in the package folders is optional).
SHIPPED_SUFFIXES = {".py", ".pyi", ".proto", ".typed"}


def _source_files() -> list[str]:
    """Files a fresh clone would have (tracked, plus untracked but not ignored), repo-relative."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=REPO_ROOT,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("needs a git checkout to know which files a clone has")
    return sorted(name for name in out.decode().split("\0") if name and (REPO_ROOT / name).is_file())


@pytest.fixture(scope="module")
def sources() -> list[str]:
    return _source_files()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory, sources: list[str]) -> Path:
    """Build the wheel from a copy of the clone's files, so the work tree gets no build junk."""
    src = tmp_path_factory.mktemp("src")
    for name in sources:
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, src / name)
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (built,) = out.glob("tblog-*.whl")
    return built


@pytest.fixture(scope="module")
def wheel_names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as zf:
        return zf.namelist()


def _dist_info(names: list[str]) -> str:
    (dist_info,) = {n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info")}
    return dist_info


def test_wheel_top_level_is_only_tblog(wheel: Path, wheel_names: list[str]) -> None:
    """Only `tblog/` and its .dist-info sit at the top: no `adapters`, `tests`, `benchmarks`."""
    top = {name.split("/")[0] for name in wheel_names}
    assert top == {"tblog", _dist_info(wheel_names)}
    with zipfile.ZipFile(wheel) as zf:
        top_level_txt = f"{_dist_info(wheel_names)}/top_level.txt"
        if top_level_txt in wheel_names:
            assert zf.read(top_level_txt).decode().split() == ["tblog"]


def test_wheel_has_py_typed_and_adapters(wheel_names: list[str]) -> None:
    """tblog/py.typed ships (PEP 561) and adapters/ is installed as tblog/adapters/."""
    assert "tblog/py.typed" in wheel_names
    assert "tblog/adapters/__init__.py" in wheel_names
    assert "tblog/demo.py" in wheel_names


def test_wheel_holds_every_source_file(sources: list[str], wheel_names: list[str]) -> None:
    """Each .py/.pyi/.proto/py.typed under tblog/ and adapters/ is in the wheel (no package
    forgotten in pyproject's package list, no stub or .proto left out)."""
    expected = set()
    for name in sources:
        path = PurePosixPath(name)
        if path.suffix not in SHIPPED_SUFFIXES or path.parts[0] not in ("tblog", "adapters"):
            continue
        if path.parts[0] == "adapters":
            path = PurePosixPath("tblog", *path.parts)
        expected.add(str(path))
    missing = sorted(expected - set(wheel_names))
    assert missing == [], f"in the source tree but not in the wheel: {missing}"


def test_wheel_metadata(wheel: Path, wheel_names: list[str]) -> None:
    """METADATA names tblog, the 3.10 floor and the core dependencies; tblog-demo is a script."""
    dist_info = _dist_info(wheel_names)
    with zipfile.ZipFile(wheel) as zf:
        meta = Parser().parsestr(zf.read(f"{dist_info}/METADATA").decode())
        entry_points = zf.read(f"{dist_info}/entry_points.txt").decode()
    assert meta["Name"] == "tblog"
    assert meta["Requires-Python"] == ">=3.10"
    core = {
        r.split(";")[0].split(">")[0].split("<")[0].split("=")[0].strip()
        for r in meta.get_all("Requires-Dist", [])
        if "extra ==" not in r
    }
    assert {"numpy", "protobuf", "crc32c"} <= core
    assert not core & {"torch", "jax", "keras", "tensorflow", "tensorboard"}
    assert "tblog-demo = tblog.demo:main" in entry_points


@pytest.mark.slow
def test_installed_wheel_works_from_neutral_cwd(wheel: Path, tmp_path: Path) -> None:
    """In a fresh venv the wheel installs with its own dependencies, `import tblog,
    tblog.adapters` resolves to site-packages, `adapters` is no module, and tblog-demo runs."""
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    bindir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"

    def run(*cmd: str | Path) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(c) for c in cmd],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, f"{cmd}\n{proc.stdout}\n{proc.stderr}"
        return proc

    run(python, "-m", "pip", "install", "-q", wheel)
    out = run(
        python,
        "-c",
        "import tblog, tblog.adapters; print(tblog.__file__); print(tblog.adapters.__file__)",
    ).stdout.split()
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
    assert [Path(p) for p in out] == [
        site / "tblog" / "__init__.py",
        site / "tblog" / "adapters" / "__init__.py",
    ]
    no_adapters = subprocess.run(
        [str(python), "-c", "import adapters"], cwd=tmp_path, env=env, capture_output=True
    )
    assert no_adapters.returncode != 0, "the wheel installed a top-level module named adapters"

    logdir = tmp_path / "demo-logs"
    run(bindir / "tblog-demo", "--steps", "5", "--logdir", logdir)
    assert list(logdir.glob("events.out.tfevents.*"))
