"""Run the installed `skiff` executable as a user would: a subprocess, its own config folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The console script the package installs next to the interpreter (pyproject [project.scripts]).
SKIFF = Path(sys.executable).with_name("skiff")
CLI_TIMEOUT = 120.0


@dataclass
class Result:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        try:
            return json.loads(self.stdout)
        except ValueError as exc:
            raise AssertionError(f"skiff {' '.join(self.args)} did not print JSON: {self}") from exc

    def __str__(self) -> str:
        return (
            f"exit {self.returncode}\n--- stdout ---\n{self.stdout[-3000:]}\n"
            f"--- stderr ---\n{self.stderr[-3000:]}"
        )


class Skiff:
    def __init__(self, config_dir: Path, *, env: dict[str, str] | None = None) -> None:
        if not SKIFF.exists():
            found = shutil.which("skiff")
            raise AssertionError(
                f"the skiff console script is not installed next to {sys.executable} "
                f"(found on PATH: {found}); run `make install`"
            )
        self.config_dir = config_dir
        # A user's shell, not the test process's: what earlier tests put in os.environ (Django,
        # Playwright, coverage...) must not reach the CLI.
        keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR")
        self.env = {
            **{k: os.environ[k] for k in keep if k in os.environ},
            "SKIFF_CONFIG_DIR": str(config_dir),
            "COLUMNS": "200",
            **(env or {}),
        }

    def __call__(
        self, *args: str, input: str | None = None, ok: bool = True, timeout: float = CLI_TIMEOUT
    ) -> Result:
        proc = subprocess.run(
            [str(SKIFF), *args],
            input=input,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            check=False,
        )
        result = Result(list(args), proc.returncode, proc.stdout, proc.stderr)
        if ok:
            assert result.returncode == 0, f"skiff {' '.join(args)} failed: {result}"
        return result
