"""The package's floors: models import alone, without the pipeline, the trainer or each other."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    ("module", "absent"),
    [
        ("dynamiccity.dit", ("dynamiccity.vae", "dynamiccity.train", "dynamiccity.pipeline")),
        ("dynamiccity.vae", ("dynamiccity.dit", "dynamiccity.train", "dynamiccity.pipeline")),
        ("dynamiccity.diffusion.process", ("dynamiccity.vae", "dynamiccity.dit", "dynamiccity.train")),
        ("dynamiccity.metrics", ("dynamiccity.vae", "dynamiccity.dit", "dynamiccity.pipeline")),
        ("dynamiccity.cli.main", ("torch",)),  # the command line lists its choices without torch
    ],
)
def test_module_imports_without(module, absent):
    code = f"import sys, {module}; print(' '.join(m for m in {absent!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "", f"{module} pulls in {result.stdout.strip()}"
