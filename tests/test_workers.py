"""``num_workers='auto'``: loader processes from the cores a run has."""

from __future__ import annotations

import pytest
from mmengine.config import Config

from ssdkit.engine.checks import ConfigError
from ssdkit.engine.workers import auto_num_workers, cores_per_process, wire_num_workers


@pytest.mark.parametrize(
    ("cores", "cuda", "want"), [(1, False, 0), (2, False, 0), (4, False, 0), (8, False, 2), (2, True, 1), (64, True, 8)]
)
def test_auto_counts(cores, cuda, want):
    assert auto_num_workers(cores, cuda) == want


def test_cores_are_shared_among_local_ranks(monkeypatch):
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(8)))
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    assert cores_per_process() == 2


def test_wiring_replaces_auto_and_drops_worker_only_options(monkeypatch):
    monkeypatch.setattr("ssdkit.engine.workers.auto_num_workers", lambda: 0)
    cfg = Config(
        dict(
            train_dataloader=dict(num_workers="auto", persistent_workers=True, prefetch_factor=4),
            val_dataloader=dict(num_workers=3, persistent_workers=True),
        )
    )
    wire_num_workers(cfg)
    assert cfg.train_dataloader == dict(num_workers=0, persistent_workers=False)
    assert cfg.val_dataloader == dict(num_workers=3, persistent_workers=True)  # a stated count is kept
    monkeypatch.setattr("ssdkit.engine.workers.auto_num_workers", lambda: 2)
    cfg = Config(dict(train_dataloader=dict(num_workers="auto", persistent_workers=True)))
    assert wire_num_workers(cfg).train_dataloader == dict(num_workers=2, persistent_workers=True)
    with pytest.raises(ConfigError, match=r"train_dataloader.num_workers='two'; valid: a count >= 0 or 'auto'"):
        wire_num_workers(Config(dict(train_dataloader=dict(num_workers="two"))))
