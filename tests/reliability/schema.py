"""schemathesis against a live registry: no 5xx, answers as docs/registry-openapi.yaml says.

    .venv/bin/python -m tests.reliability.schema --full     # 200 examples per operation

Needs schemathesis in the venv (``pip install schemathesis``; the test extra has it).
The registry is open (no accounts) and holds two small images pushed by skopeo.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .harness import REPO, remove_tree
from .registryfixture import seeded_registry

SPEC = REPO / "docs" / "registry-openapi.yaml"
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def schemathesis_binary() -> str | None:
    candidate = Path(sys.executable).parent / "schemathesis"
    return str(candidate) if candidate.exists() else shutil.which("schemathesis")


def run_schemathesis(
    directory: Path, examples: int, seed: int = 1, phases: str | None = None
) -> subprocess.CompletedProcess:
    binary = schemathesis_binary()
    if binary is None:
        raise RuntimeError("schemathesis is not installed: pip install schemathesis")
    registry = seeded_registry(directory / "registry")
    try:
        return subprocess.run(
            [
                binary, "--no-color", "run", str(SPEC), "--url", registry.url,
                "--checks", CHECKS, "--max-examples", str(examples), "--seed", str(seed),
                "--request-timeout", "30", "--generation-deterministic",
                "--suppress-health-check", "too_slow,filter_too_much",
                *(["--phases", phases] if phases else []),
            ],
            capture_output=True, text=True, timeout=3600, cwd=directory,
        )  # fmt: skip
    finally:
        registry.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="200 examples per operation")
    parser.add_argument("--examples", type=int, default=None)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    examples = args.examples or (200 if args.full else 20)
    directory = Path(tempfile.mkdtemp(prefix="dockyard-schema-"))
    result = run_schemathesis(directory, examples, args.seed)
    print(result.stdout[-20000:])
    print(result.stderr[-3000:], file=sys.stderr)
    if result.returncode == 0:
        remove_tree(directory)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
