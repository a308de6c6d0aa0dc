"""The agent's kernels against plain-Python definitions."""

import zlib

import numpy as np
import pytest
from perfgate_bench import kernels

# The numba kernel and the second one the agent serves behind its feature flag.
IMPLEMENTATIONS = pytest.mark.parametrize("implementation", [kernels.checksum, kernels.checksum_word_by_word])


@IMPLEMENTATIONS
@pytest.mark.parametrize("length", [0, 1, 2, 3, 4, 7, 8, 31, 32, 33, 4095, 4096, 65537])
def test_checksum_matches_the_definition_at_edge_lengths(implementation, length):
    data = np.random.default_rng(length).integers(0, 256, length, dtype=np.uint8).tobytes()
    assert implementation(data) == kernels.checksum_reference(data)


@IMPLEMENTATIONS
@pytest.mark.parametrize("seed", range(20))
def test_checksum_matches_the_definition_on_random_inputs(implementation, seed):
    rng = np.random.default_rng(1000 + seed)
    data = rng.integers(0, 256, int(rng.integers(0, 20_000)), dtype=np.uint8).tobytes()
    assert implementation(data) == kernels.checksum_reference(data)


@IMPLEMENTATIONS
@pytest.mark.parametrize("offset", [1, 2, 3, 5])
def test_checksum_of_unaligned_views(implementation, offset):
    backing = np.random.default_rng(offset).integers(0, 256, 9000, dtype=np.uint8)
    view = backing[offset : offset + 4095]
    assert view.ctypes.data % 4 != 0 or offset % 4 == 0
    assert implementation(view) == kernels.checksum_reference(view.tobytes())
    assert implementation(memoryview(backing.tobytes())[offset:]) == kernels.checksum_reference(
        backing.tobytes()[offset:]
    )


@IMPLEMENTATIONS
def test_checksum_wraps_modulo_2_64(implementation):
    data = b"\xff" * (1 << 20)  # lane sums exceed 2^64 in the second (B) sums
    assert implementation(data) == kernels.checksum_reference(data)


def test_checksum_depends_on_order_and_length():
    assert kernels.checksum(b"ab") != kernels.checksum(b"ba")
    assert kernels.checksum(b"a") != kernels.checksum(b"a\0")
    assert kernels.checksum(b"") != kernels.checksum(b"\0")


def test_xor_parity_rebuilds_a_lost_buffer():
    buffers = np.random.default_rng(5).integers(0, 2**63, (5, 1000), dtype=np.uint64)
    parity = kernels.xor_parity(buffers)
    expected = buffers[0] ^ buffers[1] ^ buffers[2] ^ buffers[3] ^ buffers[4]
    assert np.array_equal(parity, expected)
    survivors = np.vstack([buffers[[0, 1, 3, 4]], parity[None, :]])
    assert np.array_equal(kernels.xor_parity(survivors), buffers[2])


def test_triad():
    b, c = np.arange(10.0), np.full(10, 2.0)
    a = np.zeros(10)
    kernels.triad(a, b, c, 3.0)
    assert np.array_equal(a, b + 3.0 * c)


def test_sum_bytes_reads_every_word():
    words = np.arange(1000, dtype=np.uint64)
    assert int(kernels.sum_bytes(words)) == sum(range(1000))


@pytest.mark.parametrize("n", [2, 3, 100, 4096])
def test_chase_table_is_one_cycle(n):
    table = kernels.chase_table(n, seed=n)
    seen, i = set(), 0
    for _ in range(n):
        seen.add(i)
        i = int(table[i])
    assert i == 0 and len(seen) == n
    assert int(kernels.pointer_chase(table, n)) == 0


def test_fixed_work_is_deterministic():
    assert kernels.fixed_work(1000) == kernels.fixed_work(1000) != kernels.fixed_work(1001)


def test_reference_is_not_adler32():
    # Guards the benchmark's comparison: the checksum is our own definition, not zlib's.
    assert kernels.checksum(b"perfgate") != zlib.adler32(b"perfgate")


def test_both_sides_of_the_flag_checksum_without_the_gil():
    # The agent serves requests from threads, so a side whose loop holds the GIL is slower under
    # load than the other: the numpy twin the flag-on side once was (it held the GIL while it
    # computed) made a good flag fail the gate in CI. Both loops must be numba's nogil ones.
    for loop in (kernels._lanes, kernels._lanes_word_by_word):
        assert loop.targetoptions.get("nogil") is True, loop
        assert loop.targetoptions.get("nopython", True) is True, loop
