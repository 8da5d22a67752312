"""tools/list_components.py, run as a user would: a subprocess with the venv interpreter.

Each run imports torch (~3 s), so the two runs start together once per module.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ssdkit.registry import ALL_REGISTRIES

REPO_ROOT = Path(__file__).resolve().parents[1]
TOOL = REPO_ROOT / "tools" / "list_components.py"
PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
OWN = {
    "MATCHERS": "SSDMatcher",
    "LOSSES": "MultiBoxLoss",
    "POSTPROCESSORS": "SSDPostprocessor",
    "PRIOR_GENERATORS": "SSDPriorGenerator",
    "BOX_CODERS": "SSDBoxCoder",
}


def start_tool(*args: str, cwd: Path) -> subprocess.Popen:
    python = str(PYTHON) if PYTHON.exists() else sys.executable
    return subprocess.Popen(
        [python, str(TOOL), *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(proc: subprocess.Popen) -> str:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return out


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict[str, str]:
    """``text``: plain run from the repo root; ``config_json``: ``--config --json`` from another directory."""
    tmp = tmp_path_factory.mktemp("list_components")
    config = tmp / "with_focal.py"
    config.write_text("custom_imports = dict(imports=['plugins.focal_loss'], allow_failed_imports=False)\n")
    procs = {"text": start_tool(cwd=REPO_ROOT), "config_json": start_tool("--config", str(config), "--json", cwd=tmp)}
    return {key: finish(proc) for key, proc in procs.items()}


@pytest.mark.slow
def test_text_lists_every_registry_and_ssdkit_entries(outputs):
    out = outputs["text"]
    for registry in ALL_REGISTRIES:
        assert f"\n{registry} (" in f"\n{out}"
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.startswith("  ")}
    for name in OWN.values():
        assert rows[name][0] == "ssdkit", rows.get(name)
    assert "SigmoidFocalLoss" not in rows


def test_json_with_config_adds_plugin_entries_from_any_cwd(outputs):
    listing = json.loads(outputs["config_json"])
    assert list(listing) == list(ALL_REGISTRIES)
    for registry, name in OWN.items():
        entry = listing[registry]["entries"][name]
        assert entry["origin"] == "ssdkit", (registry, entry)
        assert entry["object"].startswith("ssdkit.core.")
    focal = listing["LOSSES"]["entries"]["SigmoidFocalLoss"]
    assert focal["origin"].startswith("plugin") and "plugins.focal_loss" in focal["origin"]
    assert focal["object"] == "plugins.focal_loss.SigmoidFocalLoss"
    assert listing["DETECTORS"]["scope"] == "ssdkit"
