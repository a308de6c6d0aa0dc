"""numba kernels, compiled in nopython mode with nogil (so threads run them in parallel) and
cached on disk (so a restarted service does not compile again).

The checksum, "perfgate fletcher64x8", is defined exactly so any implementation can be checked:

  1. Read the n input bytes as little-endian 32-bit words w_0, w_1, ...; the last word is padded
     with zero bytes.
  2. Deal the words round-robin to 8 lanes (word j goes to lane j mod 8). In each lane k keep two
     64-bit sums, modulo 2^64: A_k, the sum of the lane's words, and B_k, the sum of A_k after
     each word is added (Fletcher's second sum, which makes the result depend on word order).
  3. Fold the lanes FNV-1a style: h = 0xcbf29ce484222325; for k = 0..7:
     h = (h xor A_k) * 0x100000001b3; h = (h xor B_k) * 0x100000001b3 (all modulo 2^64).
  4. The checksum is h xor n.

Eight independent lanes are what let the compiler keep the sums in SIMD registers.
"""

from __future__ import annotations

import numba
import numpy as np
from numba.core import config as numba_config

# numba leaves LLVM's SLP vectorizer off by default; the checksum's eight scalar lanes need it to
# become SIMD adds (about 1.6x faster here). It is read when the first function is compiled, so it
# is set on import, before any kernel below compiles.
numba_config.SLP_VECTORIZE = 1

FNV_OFFSET = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)
LANES = 8


@numba.njit(nogil=True, cache=True, boundscheck=False)
def _lanes(words, tail, tail_bytes):
    # Eight named accumulators, not an array: LLVM keeps them in SIMD registers only this way.
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = np.uint64(0)
    b0 = b1 = b2 = b3 = b4 = b5 = b6 = b7 = np.uint64(0)
    blocks = words.size // LANES
    for block in range(blocks):
        j = block * LANES
        a0 += np.uint64(words[j])
        a1 += np.uint64(words[j + 1])
        a2 += np.uint64(words[j + 2])
        a3 += np.uint64(words[j + 3])
        a4 += np.uint64(words[j + 4])
        a5 += np.uint64(words[j + 5])
        a6 += np.uint64(words[j + 6])
        a7 += np.uint64(words[j + 7])
        b0 += a0
        b1 += a1
        b2 += a2
        b3 += a3
        b4 += a4
        b5 += a5
        b6 += a6
        b7 += a7
    a = np.array([a0, a1, a2, a3, a4, a5, a6, a7], dtype=np.uint64)
    b = np.array([b0, b1, b2, b3, b4, b5, b6, b7], dtype=np.uint64)
    lane = 0
    for j in range(blocks * LANES, words.size):
        a[lane] += np.uint64(words[j])
        b[lane] += a[lane]
        lane += 1
    if tail_bytes > 0:
        word = np.uint64(0)
        for i in range(tail_bytes):
            word |= np.uint64(tail[i]) << np.uint64(8 * i)
        a[lane] += word
        b[lane] += a[lane]
    return a, b


@numba.njit(nogil=True, cache=True)
def _fold(a, b, length):
    h = FNV_OFFSET
    for k in range(LANES):
        h = (h ^ a[k]) * FNV_PRIME
        h = (h ^ b[k]) * FNV_PRIME
    return h ^ np.uint64(length)


def _bytes_of(data) -> np.ndarray:
    """A bytes-like object, or a uint8 array of any shape, as a flat uint8 array (a view where
    numpy can make one)."""
    return np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data.reshape(-1)


def checksum(data) -> int:
    """The fletcher64x8 checksum of a bytes-like object or a uint8 array (any alignment)."""
    buffer = _bytes_of(data)
    whole = buffer.size - buffer.size % 4
    body = buffer[:whole]
    if body.ctypes.data % 4:  # a word view needs 4-byte alignment; copy the rare unaligned input
        aligned = np.empty(whole, dtype=np.uint8)
        aligned[:] = body
        body = aligned
    a, b = _lanes(body.view(np.uint32), buffer[whole:], buffer.size - whole)
    return int(_fold(a, b, buffer.size))


@numba.njit(nogil=True, cache=True, boundscheck=False)
def _lanes_word_by_word(words):
    # The definition as written: word j goes to lane j mod 8. The lanes live in arrays, which
    # LLVM cannot keep in SIMD registers, so this is slower than _lanes per byte, but like it, it
    # runs without the GIL.
    a = np.zeros(LANES, dtype=np.uint64)
    b = np.zeros(LANES, dtype=np.uint64)
    for j in range(words.size):
        lane = j % LANES
        a[lane] += np.uint64(words[j])
        b[lane] += a[lane]
    return a, b


def checksum_word_by_word(data) -> int:
    """The same fletcher64x8 by a second, independent loop: the implementation that the agent
    serves behind a feature flag. It pads the input to whole words (one copy) instead of
    handling a tail and unaligned views as checksum() does. Its extra time is a small part of a
    request, so a flag rollout of it is a rollout of an equal build. The numpy version it
    replaced held the GIL while it computed, which the agent's request threads queued behind."""
    buffer = _bytes_of(data)
    padded = np.zeros(-(-buffer.size // 4) * 4, dtype=np.uint8)
    padded[: buffer.size] = buffer
    a, b = _lanes_word_by_word(padded.view("<u4"))
    return int(_fold(a, b, buffer.size))


def checksum_reference(data: bytes) -> int:
    """The definition above in plain Python, for tests."""
    mask = (1 << 64) - 1
    padded = bytes(data) + b"\0" * (-len(data) % 4)
    a, b = [0] * LANES, [0] * LANES
    for j in range(len(padded) // 4):
        lane = j % LANES
        a[lane] = (a[lane] + int.from_bytes(padded[4 * j : 4 * j + 4], "little")) & mask
        b[lane] = (b[lane] + a[lane]) & mask
    h = 0xCBF29CE484222325
    for k in range(LANES):
        h = ((h ^ a[k]) * 0x100000001B3) & mask
        h = ((h ^ b[k]) * 0x100000001B3) & mask
    return h ^ len(data)


@numba.njit(nogil=True, cache=True)
def xor_parity(buffers):
    """RAID-5 style parity of N equal buffers given as an (N, words) uint64 array."""
    parity = buffers[0].copy()
    for i in range(1, buffers.shape[0]):
        row = buffers[i]
        for j in range(parity.size):
            parity[j] ^= row[j]
    return parity


@numba.njit(nogil=True, cache=True)
def triad(a, b, c, scalar):
    """STREAM triad: a = b + scalar * c."""
    for i in range(a.size):
        a[i] = b[i] + scalar * c[i]


@numba.njit(nogil=True, cache=True)
def sum_bytes(words):
    """Reads every word once: the memory read bandwidth reference for the checksum."""
    total = np.uint64(0)
    for i in range(words.size):
        total += words[i]
    return total


def cyclic_permutation(n: int, seed: int = 0) -> np.ndarray:
    """A random permutation that is one single cycle (Sattolo's algorithm), so a pointer chase
    visits every element before it repeats and the prefetcher cannot guess the next one."""
    rng = np.random.default_rng(seed)
    order = np.arange(n, dtype=np.int64)
    for i in range(n - 1, 0, -1):
        j = int(rng.integers(0, i))
        order[i], order[j] = order[j], order[i]
    return order


@numba.njit(nogil=True, cache=True)
def _cycle_to_next(order):
    nxt = np.empty_like(order)
    for i in range(order.size):
        nxt[order[i]] = order[(i + 1) % order.size]
    return nxt


def chase_table(n: int, seed: int = 0) -> np.ndarray:
    return _cycle_to_next(cyclic_permutation(n, seed))


@numba.njit(nogil=True, cache=True)
def pointer_chase(table, steps):
    """Follows table[i] `steps` times; each load depends on the previous one, so the time per
    step is the memory latency at this working-set size."""
    i = 0
    for _ in range(steps):
        i = table[i]
    return i


@numba.njit(nogil=True, cache=True)
def fixed_work(rounds):
    """A fixed amount of arithmetic; the jitter kernel times repeated calls of it."""
    x = np.uint64(0x9E3779B97F4A7C15)
    for _ in range(rounds):
        x ^= x << np.uint64(13)
        x ^= x >> np.uint64(7)
        x ^= x << np.uint64(17)
    return x
