"""Which int8 dot-product instructions the CPU reports (chat_api/emotion/cpu.py)."""

from __future__ import annotations

from chat_api.emotion import cpu

INTEL_VNNI = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz
flags\t\t: fpu vme sse sse2 avx avx2 avx512f avx512bw avx512_vnni sha_ni
"""
AMD_AVX2 = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC
flags\t\t: fpu vme sse sse2 avx avx2 bmi2 sha_ni
"""
GRAVITON = """processor\t: 0
BogoMIPS\t: 243.75
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimddp ssbs
CPU implementer\t: 0x41
"""


def test_an_intel_host_with_vnni():
    assert cpu.int8_dot_product(INTEL_VNNI) == ["avx512_vnni"]
    assert cpu.cpu_model(INTEL_VNNI) == "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz"


def test_an_avx2_only_host_has_none():
    assert cpu.int8_dot_product(AMD_AVX2) == []
    assert cpu.cpu_model(AMD_AVX2) == "AMD EPYC"


def test_an_arm_host_reports_its_dot_product_extension():
    assert cpu.int8_dot_product(GRAVITON) == ["asimddp"]
    assert cpu.cpu_model(GRAVITON) == "unknown"  # ARM's cpuinfo has no model name line


def test_a_flag_must_match_whole_not_as_a_prefix():
    assert cpu.int8_dot_product("flags : avx512_vnni_x avx_vnnix\n") == []


def test_an_unreadable_cpuinfo_gives_no_instructions(tmp_path, monkeypatch):
    monkeypatch.setattr(cpu, "CPUINFO", tmp_path / "missing")
    assert cpu.int8_dot_product() == []
    assert cpu.cpu_model() == "unknown"


def test_this_machine_is_read_from_proc_cpuinfo():
    text = cpu.CPUINFO.read_text(encoding="utf-8")
    assert cpu.int8_dot_product() == cpu.int8_dot_product(text)
