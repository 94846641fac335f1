"""Re-running a benchmark script inside its own venv under bench/."""

import os
import subprocess
import sys
import venv
from pathlib import Path


def reexec_in(env: Path, packages: list[str], script: str) -> None:
    """Re-executes `script` inside `env`, creating it and installing `packages` first if needed."""
    python = env / "bin" / "python"
    if Path(sys.prefix).resolve() == env.resolve():
        return
    if not python.exists():
        print(f"creating {env} and installing {' '.join(packages)}", file=sys.stderr)
        venv.create(env, with_pip=True)
        subprocess.check_call([str(python), "-m", "pip", "install", "--quiet", *packages])
    os.execv(str(python), [str(python), script, *sys.argv[1:]])
