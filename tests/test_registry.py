"""SSDRegistry: friendly errors, duplicate handling, missing locations, mmengine scopes."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import textwrap

import pytest
from mmengine import registry as mm
from mmengine.registry import DefaultScope

from ssdkit.registry import (
    ALL_REGISTRIES,
    DATASETS,
    DETECTORS,
    HOOKS,
    LOSSES,
    MATCHERS,
    METRICS,
    TRANSFORMS,
    SSDRegistry,
    origin_of,
)
from ssdkit.registry.origins import ORIGINS as _ORIGINS
from ssdkit.registry.origins import register_origin

ROOTS = {
    "BACKBONES": mm.MODELS,
    "NECKS": mm.MODELS,
    "HEADS": mm.MODELS,
    "LOSSES": mm.MODELS,
    "DETECTORS": mm.MODELS,
    "PRIOR_GENERATORS": mm.TASK_UTILS,
    "MATCHERS": mm.TASK_UTILS,
    "BOX_CODERS": mm.TASK_UTILS,
    "POSTPROCESSORS": mm.TASK_UTILS,
    "DATASETS": mm.DATASETS,
    "TRANSFORMS": mm.TRANSFORMS,
    "METRICS": mm.METRICS,
    "HOOKS": mm.HOOKS,
}
RUNNER_FACING = {
    "DETECTORS": (DETECTORS, mm.MODELS),
    "DATASETS": (DATASETS, mm.DATASETS),
    "TRANSFORMS": (TRANSFORMS, mm.TRANSFORMS),
    "METRICS": (METRICS, mm.METRICS),
    "HOOKS": (HOOKS, mm.HOOKS),
}


@pytest.fixture
def isolated():
    """Undo every registry entry, origin and ``ssdkit_test*`` module a test adds."""
    for registry in ALL_REGISTRIES.values():
        registry.import_from_location()
    before = {key: set(r.module_dict) for key, r in ALL_REGISTRIES.items()}
    origins = dict(_ORIGINS)
    yield
    for key, registry in ALL_REGISTRIES.items():
        for name in set(registry.module_dict) - before[key]:
            registry.module_dict.pop(name)
    _ORIGINS.clear()
    _ORIGINS.update(origins)
    for name in [m for m in sys.modules if m.startswith("ssdkit_test")]:
        del sys.modules[name]


def write_module(root, relpath: str, source: str):
    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path


def message(excinfo) -> str:
    return str(excinfo.value)


# --- unknown type -------------------------------------------------------------------------------------------


def test_unknown_type_names_registry_lists_entries_and_suggests():
    with pytest.raises(KeyError) as excinfo:
        MATCHERS.build(dict(type="SSDMatchr"))
    msg = message(excinfo)
    assert "MATCHERS" in msg
    assert "did you mean 'ssdmatcher'" in msg.lower()
    assert "ArgMaxMatcher" in msg and "SSDMatcher" in msg
    assert "custom_imports" in msg


def test_unknown_type_without_close_match_lists_but_does_not_guess():
    with pytest.raises(KeyError) as excinfo:
        LOSSES.build(dict(type="Zzzzzz"))
    msg = message(excinfo)
    assert "LOSSES" in msg and "MultiBoxLoss" in msg
    assert "did you mean" not in msg.lower()


def test_dotted_type_still_builds_objects_outside_ssdkit():
    import torch

    assert isinstance(LOSSES.build(dict(type="torch.nn.L1Loss")), torch.nn.L1Loss)


def test_cfg_without_type_says_so():
    with pytest.raises(TypeError, match="'type'"):
        MATCHERS.build(dict(iou_threshold=0.5))
    assert MATCHERS.build(dict(iou_threshold=0.3), default_args=dict(type="SSDMatcher")).iou_threshold == 0.3


# --- wrong arguments ----------------------------------------------------------------------------------------


def test_wrong_keyword_names_component_and_accepted_arguments():
    with pytest.raises(TypeError) as excinfo:
        MATCHERS.build(dict(type="SSDMatcher", iou_thresh=0.5))
    msg = message(excinfo)
    assert "SSDMatcher" in msg and "MATCHERS" in msg
    assert "iou_thresh" in msg
    assert "accepts: ['iou_threshold', 'bipartite']" in msg
    assert "did you mean 'iou_threshold'" in msg.lower()


def test_missing_required_argument_is_named():
    registry = SSDRegistry("probe", scope="ssdkit_test_probe")

    @registry.register_module()
    class NeedsDepth:
        def __init__(self, depth: int, stages: int = 4) -> None:
            self.depth = depth

    with pytest.raises(TypeError) as excinfo:
        registry.build(dict(type="NeedsDepth", stages=3))
    msg = message(excinfo)
    assert "NeedsDepth" in msg and "'depth'" in msg and "accepts: ['depth', 'stages']" in msg
    assert registry.build(dict(type="NeedsDepth"), default_args=dict(depth=50)).depth == 50


def test_type_error_raised_inside_a_constructor_is_not_relabelled():
    registry = SSDRegistry("probe", scope="ssdkit_test_probe")

    @registry.register_module()
    class Picky:
        def __init__(self, size: int = 1) -> None:
            raise TypeError("size must be an int, not an argument of that kind")

    with pytest.raises(TypeError) as excinfo:
        registry.build(dict(type="Picky", size=2))
    assert message(excinfo) == "size must be an int, not an argument of that kind"


# --- duplicates ---------------------------------------------------------------------------------------------


def test_two_plugins_registering_one_name_fail_naming_both(tmp_path, monkeypatch, isolated):
    source = """
        from ssdkit.registry import LOSSES

        @LOSSES.register_module()
        class TwinPluginLoss:
            pass
        """
    write_module(tmp_path, "ssdkit_test_twin_a.py", source)
    write_module(tmp_path, "ssdkit_test_twin_b.py", source)
    monkeypatch.syspath_prepend(str(tmp_path))
    register_origin("ssdkit_test_twin_a", "twin-a")

    first = importlib.import_module("ssdkit_test_twin_a").TwinPluginLoss
    with pytest.raises(KeyError) as excinfo:
        importlib.import_module("ssdkit_test_twin_b")
    msg = message(excinfo)
    assert "'TwinPluginLoss' is registered twice" in msg and "LOSSES" in msg
    assert "plugin twin-a (ssdkit_test_twin_a)" in msg
    assert "ssdkit_test_twin_b.TwinPluginLoss" in msg
    assert LOSSES.get("TwinPluginLoss") is first


def test_force_replaces_on_purpose(isolated):
    class ForcedLoss:
        pass

    class Other:
        pass

    LOSSES.register_module(name="ForcedTestLoss", module=ForcedLoss)
    LOSSES.register_module(name="ForcedTestLoss", module=Other, force=True)
    assert LOSSES.get("ForcedTestLoss") is Other


def test_same_class_registered_twice_is_tolerated(isolated):
    class SameTestLoss:
        pass

    LOSSES.register_module(module=SameTestLoss)
    LOSSES.register_module(module=SameTestLoss)
    assert LOSSES.get("SameTestLoss") is SameTestLoss


def test_module_imported_twice_is_tolerated(tmp_path, monkeypatch, isolated):
    write_module(tmp_path, "ssdkit_test_pkg/__init__.py", "")
    write_module(
        tmp_path,
        "ssdkit_test_pkg/ssdkit_test_twice.py",
        """
        from ssdkit.registry import LOSSES

        @LOSSES.register_module()
        class TwiceTestLoss:
            pass
        """,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(tmp_path / "ssdkit_test_pkg"))

    by_package = importlib.import_module("ssdkit_test_pkg.ssdkit_test_twice")
    reloaded = importlib.reload(by_package)
    assert LOSSES.get("TwiceTestLoss") is reloaded.TwiceTestLoss
    by_path = importlib.import_module("ssdkit_test_twice")
    assert by_path.TwiceTestLoss is not reloaded.TwiceTestLoss
    assert LOSSES.get("TwiceTestLoss") is by_path.TwiceTestLoss


# --- locations ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("location", ["ssdkit.not_written_yet", "ssdkit.not_written_yet.detectors"])
def test_missing_location_is_skipped(location):
    registry = SSDRegistry("probe", scope="ssdkit_test_probe", locations=["ssdkit.core.matchers", location])
    assert registry.known_names() == []
    assert registry.get("SSDMatcher") is None
    with pytest.raises(KeyError, match="nothing registered"):
        registry.build(dict(type="SSDMatcher"))


def test_location_with_a_missing_dependency_still_raises(tmp_path, monkeypatch, isolated):
    write_module(tmp_path, "ssdkit_test_broken_location.py", "import ssdkit_no_such_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = SSDRegistry("probe", scope="ssdkit_test_probe", locations=["ssdkit_test_broken_location"])
    with pytest.raises(ModuleNotFoundError) as excinfo:
        registry.get("Anything")
    assert excinfo.value.name == "ssdkit_no_such_dependency"


def test_every_location_of_every_registry_imports():
    """Each registry's locations bring in its ssdkit entries (a known one per kind, found without importing it)."""
    expected = dict(
        BACKBONES="VGG16Atrous",
        NECKS="FeatureFusedNeck",
        HEADS="SSDHead",
        PRIOR_GENERATORS="SSDPriorGenerator",
        MATCHERS="ArgMaxMatcher",
        BOX_CODERS="SSDBoxCoder",
        LOSSES="MultiBoxLoss",
        POSTPROCESSORS="SSDPostprocessor",
        DETECTORS="SSD",
        DATASETS="VOCDataset",
        TRANSFORMS="MinIoURandomCrop",
        METRICS="CocoMetric",
        HOOKS="DrawDetectionsHook",
    )
    assert set(expected) == set(ALL_REGISTRIES)
    for key, registry in ALL_REGISTRIES.items():
        assert expected[key] in registry.known_names(), (key, registry.known_names())
        assert all(loc in sys.modules for loc in registry._locations), key


# --- the registry tree and mmengine scopes ------------------------------------------------------------------


def test_every_registry_is_an_ssd_registry_under_an_mmengine_root():
    assert set(ALL_REGISTRIES) == set(ROOTS)
    for key, registry in ALL_REGISTRIES.items():
        assert isinstance(registry, SSDRegistry), key
        assert registry.parent is ROOTS[key], key
        assert registry.parent.parent is None, key
        assert registry.parent.children[registry.scope] is registry, key


@pytest.mark.parametrize("key", sorted(RUNNER_FACING))
def test_runner_facing_registries_are_found_by_mmengine_roots(key, isolated):
    registry, root = RUNNER_FACING[key]
    assert registry.scope == "ssdkit"
    name = f"ScopeProbe{key.title()}"
    probe = type(name, (), {"__module__": "ssdkit.probe"})
    registry.register_module(module=probe)
    with DefaultScope.overwrite_default_scope("ssdkit"):
        assert type(root.build(dict(type=name))) is probe
    assert type(root.build(dict(type=f"ssdkit.{name}"))) is probe


def test_component_registries_build_their_own_entries_under_the_runner_scope():
    with DefaultScope.overwrite_default_scope("ssdkit"):
        assert type(LOSSES.build(dict(type="MultiBoxLoss"))).__name__ == "MultiBoxLoss"
        assert type(MATCHERS.build(dict(type="SSDMatcher"))).__name__ == "SSDMatcher"


def test_origin_of_ssdkit_and_plugins(isolated):
    assert origin_of(MATCHERS.get("SSDMatcher")) == "ssdkit"
    probe = type("P", (), {"__module__": "ssdkit_test_origin.sub"})
    assert origin_of(probe) == "plugin ssdkit_test_origin.sub"
    register_origin("ssdkit_test_origin", "origin-demo [ssdkit-origin-demo]")
    assert origin_of(probe) == "plugin origin-demo [ssdkit-origin-demo] (ssdkit_test_origin.sub)"


_LIST_ALL = """
import json
from ssdkit.engine import register_all
from ssdkit.registry.root import ALL_REGISTRIES, RUNNER_FACING_PASSTHROUGH
register_all()
found = {}
for key, reg in {**ALL_REGISTRIES, **RUNNER_FACING_PASSTHROUGH}.items():
    found[key] = sorted(n for n, cls in reg.module_dict.items() if cls.__module__.startswith("ssdkit."))
print(json.dumps(found))
"""

_GET_EACH = """
import json, sys
from ssdkit.registry.root import ALL_REGISTRIES, RUNNER_FACING_PASSTHROUGH
regs = {**ALL_REGISTRIES, **RUNNER_FACING_PASSTHROUGH}
wanted = json.loads(sys.argv[1])
print(json.dumps({key: [n for n in names if regs[key].get(n) is None] for key, names in wanted.items()}))
"""


@pytest.mark.slow
def test_every_ssdkit_entry_is_found_from_a_registry_alone():
    """A plain ``Runner.from_cfg`` imports nothing of ssdkit: each registry's ``locations`` must reach all
    its entries (hooks, the bf16 optimizer wrapper, ...) from a fresh interpreter."""
    listed = subprocess.run([sys.executable, "-c", _LIST_ALL], capture_output=True, text=True, check=True)
    wanted = json.loads(listed.stdout.strip().splitlines()[-1])
    assert "DrawDetectionsHook" in wanted["HOOKS"] and "BF16OptimWrapper" in wanted["OPTIM_WRAPPERS"]
    got = subprocess.run(
        [sys.executable, "-c", _GET_EACH, json.dumps(wanted)], capture_output=True, text=True, check=True
    )
    missing = {key: names for key, names in json.loads(got.stdout.strip().splitlines()[-1]).items() if names}
    assert missing == {}
