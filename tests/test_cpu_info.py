"""Every figure names its CPU: model, the instruction sets that decide speed, emulation, threads."""

from __future__ import annotations

import torch

from ssdkit.utils import cpu


def test_instruction_sets_from_flags():
    assert cpu.instruction_sets({"sse4_2", "avx", "avx2", "fma"}) == ["AVX2"]
    zen4 = {"avx2", "avx512f", "avx512bw", "avx512_bf16"}
    assert cpu.instruction_sets(zen4) == ["AVX2", "AVX-512", "avx512_bf16"]
    assert cpu.instruction_sets(zen4 | {"amx_tile", "amx_bf16"})[-1] == "AMX"


def test_describe_cpu_says_what_torch_uses_and_when_it_is_emulated(monkeypatch):
    for var in cpu.ISA_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(cpu, "cpu_flags", lambda: {"avx2", "avx512f"})
    line = cpu.describe_cpu()
    assert f"torch uses {torch.backends.cpu.get_cpu_capability()};" in line
    assert "AVX2 AVX-512, no AMX" in line
    for n, words in ((1, "; 1 thread"), (3, "; 3 threads")):
        monkeypatch.setattr(torch, "get_num_threads", lambda n=n: n)
        assert cpu.describe_cpu().endswith(words)
    assert "emulated" not in line
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert "(emulated: ONEDNN_MAX_CPU_ISA=AVX2)" in cpu.describe_cpu()
