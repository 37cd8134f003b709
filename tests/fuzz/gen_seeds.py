#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""gen_seeds.py - write seed inputs for the fuzz target (fuzz_api.c).

Usage: tests/fuzz/gen_seeds.py DIR [COUNT]

Each seed is a plausible call sequence in the target's byte format:
mappings of every kind at fixed window addresses, then accesses, pins,
forks, protection changes, mremaps, truncations, syncs and injected
failures aimed at those mappings.  libFuzzer mutates from there; the
committed corpus (tests/fuzz/corpus) is what -merge=1 kept.
"""
import os
import random
import struct
import sys

(OP_MMAP, OP_MUNMAP, OP_MPROTECT, OP_MREMAP, OP_WRITE, OP_READ, OP_PIN, OP_UNPIN,
 OP_PIN_STORE, OP_FORK, OP_DESTROY, OP_CREATE, OP_TRUNCATE, OP_SYNC, OP_WRITE2,
 OP_READ2, OP_VERIFY, OP_MADVISE, OP_MSYNC, OP_MINCORE, OP_PREPAGE,
 OP_MLOCK, OP_MUNLOCK, OP_RESERVED3, OP_INJECT) = range(25)


def addr_seg(r):
    """an address in or around a mapping (page aligned)"""
    return [r.randrange(9), r.randrange(256), r.choice([0, 1, 1, 1, 2, 3, 4, r.randrange(256)])]


def addr_win(r, page):
    return [9, page]


def addr(r):
    return addr_seg(r) if r.random() < 0.8 else addr_win(r, r.randrange(64))


def access(r):
    a = addr(r)
    return a + ([1] + list(struct.pack('<H', r.randrange(4096))) if r.random() < 0.5 else [0])


def length(r, pages=None):
    if pages is None:
        pages = r.choice([1, 1, 2, 3, 4, 8, 16])
    return [0, pages - 1]


def mmap(r, page=None):
    typ = r.choice([0, 0, 1, 1, 3])           # private, shared, shared-validate
    anon = r.random() < 0.45
    obj = r.randrange(2)
    ro = not anon and r.random() < 0.15        # the read-only file
    offmode = 1 if not anon and r.random() < 0.6 else 0
    kind = typ | (8 if anon else 0) | (obj << 4) | (offmode << 6)
    if ro:
        kind |= 0x30
    fb = 0x40 if page is not None else 0       # MAP_FIXED in the window
    if r.random() < 0.15:
        fb |= 0x80 | r.randrange(12)            # one more flag (POPULATE, LOCKED, ...)
    prot = r.choice([3, 3, 3, 1, 0, 2, 7, 5])
    a = addr_win(r, page) if page is not None else addr(r)
    out = [OP_MMAP, r.randrange(3), kind, fb, prot] + a + length(r, r.choice([1, 2, 4, 8, 16]))
    if offmode == 1:
        out.append(r.randrange(24))
    return out


def write(r, small=False):
    n = r.randrange(1, 64) if small else r.choice([1, 100, 4096, 4097, 8192, 9000, 12288])
    return [r.choice([OP_WRITE, OP_WRITE2]), r.randrange(3)] + access(r) + \
        list(struct.pack('<H', n)) + [r.choice([0, 0, 0, 6])]    # 6: may store past EOF


def read(r):
    n = r.choice([1, 64, 4096, 4097, 8192, 12000])
    return [r.choice([OP_READ, OP_READ2]), r.randrange(3)] + access(r) + \
        list(struct.pack('<H', n)) + [0]


def step(r):
    x = r.random()
    if x < 0.12:
        return mmap(r)
    if x < 0.32:
        return write(r, r.random() < 0.3)
    if x < 0.42:
        return read(r)
    if x < 0.47:
        return [OP_MUNMAP, r.randrange(3)] + addr(r) + length(r)
    if x < 0.54:
        return [OP_MPROTECT, r.randrange(3)] + addr(r) + length(r) + [r.choice([0, 1, 3, 3, 5])]
    if x < 0.61:
        fb = r.choice([0, 1, 2, 3, 7])
        out = [OP_MREMAP, r.randrange(3)] + addr(r) + length(r) + length(r) + [fb]
        if fb == 3:
            out += addr_win(r, r.randrange(128, 256))
        return out
    if x < 0.69:
        return [OP_PIN, r.randrange(3)] + addr(r) + [r.randrange(1, 5) | r.choice([0, 0x10])]
    if x < 0.73:
        return [OP_PIN_STORE, r.randrange(8), r.randrange(4)] + \
            list(struct.pack('<HH', r.randrange(4096), r.randrange(4096)))
    if x < 0.77:
        return [OP_UNPIN, r.randrange(8)]
    if x < 0.81:
        return [OP_FORK, r.randrange(3)]
    if x < 0.83:
        return [OP_DESTROY, r.randrange(3)]
    if x < 0.84:
        return [OP_CREATE]
    if x < 0.89:
        b = r.randrange(4)
        tail = {0: [r.randrange(65)], 1: list(struct.pack('<H', r.randrange(8192))),
                2: list(struct.pack('<I', r.randrange(1 << 20))),
                3: list(struct.pack('<H', r.randrange(8192)))}[b]
        return [OP_TRUNCATE, r.randrange(2), b] + tail
    if x < 0.91:
        return [OP_VERIFY, r.randrange(3)] + addr(r) + length(r)
    if x < 0.915:
        return [OP_MADVISE, r.randrange(3)] + addr(r) + length(r) + [r.randrange(16)]
    if x < 0.92:
        return [OP_MSYNC, r.randrange(3)] + addr(r) + length(r) + [r.randrange(8)]
    if x < 0.925:
        return [OP_MINCORE, r.randrange(3)] + addr(r) + length(r)
    if x < 0.93:
        n = r.randrange(4)
        out = [OP_PREPAGE, r.randrange(3), n | r.choice([0, 0x10, 0x20, 0x30])]
        for _ in range(n):
            out += access(r) + [0] + list(struct.pack('<H', r.randrange(3 * 4096)))
        return out
    if x < 0.935:
        # umm_mlock (k bit 1 clear), umm_mlock2 with MLOCK_ONFAULT (k = 3), now and then bad flags
        return [OP_MLOCK, r.randrange(3)] + addr(r) + length(r) + [r.choice([0, 0, 2, 3, 0x83])] + [r.randrange(32)]
    if x < 0.94:
        return [OP_MUNLOCK, r.randrange(3)] + addr(r) + length(r) + [r.randrange(16)]
    if x < 0.945:
        b = r.choice([0, 0, 1, 3])
        tail = {0: [], 1: [r.randrange(40), r.randrange(16)], 3: [r.randrange(40)]}[b]
        return [OP_SYNC, r.randrange(2), b] + tail
    # an injected failure on the next step
    b = r.randrange(3) | (r.randrange(4) << 4)
    return [OP_INJECT, b, r.randrange(12)] + step(r)


def seed(r):
    out = [r.randrange(16), r.randrange(48), r.randrange(256), r.randrange(32)]
    for i in range(r.randrange(1, 5)):
        out += mmap(r, page=i * 20)
    for _ in range(r.randrange(10, 60)):
        out += step(r)
    return bytes(out)


def prefix():
    """four mappings at fixed window addresses (private and shared file,
    private anonymous, shmem), each written, for the sweep seeds"""
    out = [0x00, 16, 0x80, 16]
    kinds = [0x40 | 0x00, 0x40 | 0x01, 0x08, 0x01 | 0x10]    # file priv/shared, anon, shmem
    for i, kind in enumerate(kinds):
        out += [OP_MMAP, 0, kind, 0x40, 3, 9, i * 20, 0, 7]
        if kind & 0x40:
            out.append(0)                                    # offset page 0
    for i in range(4):
        out += [OP_WRITE, 0, 0, i, 2, 0] + list(struct.pack('<H', 5000)) + [0]
    return out


def sweep_ops():
    """one call of each kind aimed at the prefix's mappings"""
    w = lambda seg: [OP_WRITE, 0, 0, seg, 3, 0] + list(struct.pack('<H', 9000)) + [0]
    rd = lambda seg: [OP_READ, 0, 0, seg, 4, 0] + list(struct.pack('<H', 9000)) + [0]
    return {
        'write-file': w(0), 'write-shared': w(1), 'write-anon': w(2), 'write-shmem': w(3),
        'read-file': rd(0), 'read-shared': rd(1), 'read-shmem': rd(3),
        'pinw-file': [OP_PIN, 0, 0, 0, 3, 0x14], 'pinw-anon': [OP_PIN, 0, 0, 2, 3, 0x14],
        'pinr-shared': [OP_PIN, 0, 0, 1, 3, 0x04],
        'mmap-fixed-split': [OP_MMAP, 0, 0x08, 0x40, 3, 9, 22, 0, 1],
        'mmap-file': [OP_MMAP, 0, 0x41, 0x80 | 3, 3, 9, 100, 0, 3, 0],   # MAP_POPULATE
        'mprotect-split': [OP_MPROTECT, 0, 0, 2, 3, 0, 0, 1],
        'munmap-split': [OP_MUNMAP, 0, 0, 0, 3, 0, 0],
        'mremap-move': [OP_MREMAP, 0, 0, 2, 2, 0, 1, 0, 7, 1],
        'mremap-fixed': [OP_MREMAP, 0, 0, 0, 1, 0, 3, 0, 3, 3, 9, 200],
        'fork': [OP_FORK, 0],
        'truncate': [OP_TRUNCATE, 0, 0, 3],
        'sync': [OP_SYNC, 0, 0],
        'create': [OP_CREATE],
        'madvise-populate-write': [OP_MADVISE, 0, 0, 0, 1, 0, 3, 7],
        'madvise-dontfork': [OP_MADVISE, 0, 0, 2, 2, 0, 0, 8],
        'msync': [OP_MSYNC, 0, 0, 1, 1, 0, 3, 0],
        'prepage-write': [OP_PREPAGE, 0, 0x12, 0, 0, 1, 0, 0] + list(struct.pack('<H', 9000)) +
                         [0, 2, 1, 0, 0] + list(struct.pack('<H', 5000)),
    }


def main():
    d = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    os.makedirs(d, exist_ok=True)
    for i in range(n):
        with open(os.path.join(d, 'seed-%04d' % i), 'wb') as f:
            f.write(seed(random.Random(i)))
    # a shared write across end-of-file, then the object grows: the old tail must read as zero
    eof = [0x00, 3, 0x10, 4,
           OP_MMAP, 0, 0x41, 0x40, 3, 9, 0, 0, 7, 0,              # shared file, 8 pages
           OP_WRITE, 0, 0, 0, 4, 1] + list(struct.pack('<HH', 100, 8000)) + [6,
           OP_READ, 0, 0, 0, 4, 0] + list(struct.pack('<H', 4096)) + [0,
           OP_TRUNCATE, 0, 1] + list(struct.pack('<H', 3000)) + [
           OP_READ, 0, 0, 0, 4, 0] + list(struct.pack('<H', 8192)) + [0,
           OP_SYNC, 0, 0, OP_VERIFY, 0, 0, 0, 1, 0, 7]
    with open(os.path.join(d, 'eof-tail-grow'), 'wb') as f:
        f.write(bytes(eof))
    # failure injection at each of the first allocations / reads / writes of each call
    for name, op in sweep_ops().items():
        for site in range(3):
            for skip in range(8):
                with open(os.path.join(d, 'sweep-%s-%d-%d' % (name, site, skip)), 'wb') as f:
                    f.write(bytes(prefix() + [OP_INJECT, site | 0x30, skip] + op +
                                  [OP_SYNC, 0, 0, OP_VERIFY, 0, 0, 0, 2, 0, 15]))


if __name__ == '__main__':
    main()
