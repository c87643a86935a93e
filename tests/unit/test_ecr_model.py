from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from registry.ecr import model


def test_target_prefix_is_the_models() -> None:
    assert model.service().metadata["targetPrefix"] == model.TARGET_PREFIX


def test_a_filesystem_registry_does_not_import_boto(tmp_path: Path) -> None:
    """boto3/botocore cost ~9 MiB per worker: only S3 storage or the first ECR call loads them."""
    code = (
        "import sys; from registry import config; from registry.app import build_app; "
        "build_app(config.load(None, {'server': {'data_dir': sys.argv[1]}})); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')))"
    )
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
