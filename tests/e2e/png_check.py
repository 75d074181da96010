#!/usr/bin/env python3
"""Checks a PNG written by `gwoctl plot`: the signature, every chunk's CRC-32,
IHDR (WIDTH x HEIGHT, 8-bit RGB), IDAT inflating to the expected scanlines, and
at least MIN pixels of each given colour (hex RRGGBB).

gwoctl writes every scanline with filter type 0 (none); any other filter fails.
Usage: png_check.py FILE WIDTH HEIGHT MIN COLOUR...   (exit 0: ok, 1: a message)
"""
import struct
import sys
import zlib


def main():
    path, width, height, minimum = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    colours = [bytes.fromhex(c) for c in sys.argv[5:]]
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit(f"{path}: not a PNG signature")
    at, chunks, idat, ihdr = 8, [], b"", None
    while at < len(data):
        (length,) = struct.unpack(">I", data[at:at + 4])
        kind, body = data[at + 4:at + 8], data[at + 8:at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length:at + 12 + length])
        if zlib.crc32(kind + body) != crc:
            sys.exit(f"{path}: bad CRC in chunk {kind!r}")
        chunks.append(kind)
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        at += 12 + length
    if chunks[0] != b"IHDR" or chunks[-1] != b"IEND":
        sys.exit(f"{path}: chunks {chunks}: expected IHDR first and IEND last")
    if ihdr != (width, height, 8, 2, 0, 0, 0):
        sys.exit(f"{path}: IHDR {ihdr}: expected {width}x{height} 8-bit RGB, not interlaced")
    raw = zlib.decompress(idat)
    stride = 1 + 3 * width
    if len(raw) != height * stride:
        sys.exit(f"{path}: IDAT inflates to {len(raw)} bytes, expected {height * stride}")
    counts = {c: 0 for c in colours}
    for y in range(height):
        row = raw[y * stride:(y + 1) * stride]
        if row[0] != 0:
            sys.exit(f"{path}: scanline {y} has filter {row[0]}, expected 0")
        for c in colours:
            # Whole pixels only: the match must start at a pixel boundary.
            i = row.find(c, 1)
            while i != -1:
                if (i - 1) % 3 == 0:
                    counts[c] += 1
                i = row.find(c, i + 1)
    for c, n in counts.items():
        if n < minimum:
            sys.exit(f"{path}: {n} pixels of #{c.hex()}, expected at least {minimum}")
    print(f"{path}: {width}x{height}, {len(data)} bytes, chunks ok, colour pixels {[counts[c] for c in colours]}")


if __name__ == "__main__":
    main()
