#!/usr/bin/python3
"""Draw the Monkey HTTP Server logo (a stylised monkey face) as a PNG.

Only the standard library is used: the picture is described as a stack of
simple shapes (circles, ellipses, an arc), each pixel is sampled on a 4x4 grid
for smooth edges, and the result is written as an 8-bit RGBA PNG with zlib.

The same face, 32x32, is also written as htdocs/favicon.ico (an ICO file holding
one PNG image, which every current browser reads).

Usage: scripts/gen-logo.py              write htdocs/imgs/monkey-logo.png and htdocs/favicon.ico
       scripts/gen-logo.py OUTPUT [SIZE]  write only a PNG of SIZE pixels (default 128)
"""

import math
import os
import struct
import sys
import zlib

# Palette (R, G, B).
FUR = (122, 74, 40)
FUR_DARK = (92, 54, 28)
SKIN = (240, 200, 150)
EAR_INNER = (228, 168, 128)
EYE = (40, 26, 18)
WHITE = (255, 255, 255)
MOUTH = (110, 50, 36)


def ellipse(cx, cy, rx, ry):
    """Inside test for an axis-aligned ellipse, in unit coordinates (0..1)."""
    def inside(x, y):
        dx = (x - cx) / rx
        dy = (y - cy) / ry
        return dx * dx + dy * dy <= 1.0
    return inside


def circle(cx, cy, r):
    return ellipse(cx, cy, r, r)


def union(*shapes):
    def inside(x, y):
        return any(s(x, y) for s in shapes)
    return inside


def arc(cx, cy, r, width, start_deg, end_deg):
    """A stroke along a circle, between two angles (degrees, y pointing down)."""
    a0 = math.radians(start_deg)
    a1 = math.radians(end_deg)

    def inside(x, y):
        dx = x - cx
        dy = y - cy
        if abs(math.hypot(dx, dy) - r) > width / 2:
            # Round caps at both ends.
            for a in (a0, a1):
                ex = cx + r * math.cos(a)
                ey = cy + r * math.sin(a)
                if math.hypot(x - ex, y - ey) <= width / 2:
                    return True
            return False
        ang = math.atan2(dy, dx)
        if ang < 0:
            ang += 2 * math.pi
        return a0 <= ang <= a1
    return inside


# The picture, painted from back to front.
LAYERS = [
    # Ears: fur, then a lighter inner part.
    (circle(0.16, 0.47, 0.15), FUR),
    (circle(0.84, 0.47, 0.15), FUR),
    (circle(0.16, 0.47, 0.09), EAR_INNER),
    (circle(0.84, 0.47, 0.09), EAR_INNER),
    # Head, with a darker tuft on top.
    (circle(0.50, 0.52, 0.37), FUR),
    (ellipse(0.50, 0.20, 0.10, 0.07), FUR_DARK),
    # Face: two rounded eye areas joined to a wide muzzle.
    (union(circle(0.39, 0.46, 0.15),
           circle(0.61, 0.46, 0.15),
           ellipse(0.50, 0.66, 0.25, 0.18)), SKIN),
    # Eyes with a small highlight.
    (ellipse(0.40, 0.46, 0.055, 0.07), EYE),
    (ellipse(0.60, 0.46, 0.055, 0.07), EYE),
    (circle(0.42, 0.43, 0.018), WHITE),
    (circle(0.62, 0.43, 0.018), WHITE),
    # Nostrils.
    (ellipse(0.46, 0.60, 0.018, 0.013), FUR_DARK),
    (ellipse(0.54, 0.60, 0.018, 0.013), FUR_DARK),
    # Smile.
    (arc(0.50, 0.61, 0.14, 0.03, 35, 145), MOUTH),
]

SAMPLES = 4  # per axis, so 16 samples per pixel


def render(size):
    """Return the image as a list of rows of bytes (RGBA, premultiplied off)."""
    offsets = [(i + 0.5) / SAMPLES for i in range(SAMPLES)]
    rows = []
    for py in range(size):
        row = bytearray()
        for px in range(size):
            acc = [0, 0, 0]
            covered = 0
            for oy in offsets:
                y = (py + oy) / size
                for ox in offsets:
                    x = (px + ox) / size
                    colour = None
                    for shape, col in reversed(LAYERS):
                        if shape(x, y):
                            colour = col
                            break
                    if colour is not None:
                        covered += 1
                        acc[0] += colour[0]
                        acc[1] += colour[1]
                        acc[2] += colour[2]
            if covered:
                rgb = [round(c / covered) for c in acc]
                alpha = round(255 * covered / (SAMPLES * SAMPLES))
            else:
                rgb = [0, 0, 0]
                alpha = 0
            row += bytes(rgb) + bytes([alpha])
        rows.append(bytes(row))
    return rows


def png_chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def png_bytes(size, rows):
    raw = b"".join(b"\x00" + r for r in rows)  # filter type 0 (None) per row
    ihdr = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    text = b"Software\x00scripts/gen-logo.py (Monkey HTTP Server)"
    png = (b"\x89PNG\r\n\x1a\n"
           + png_chunk(b"IHDR", ihdr)
           + png_chunk(b"tEXt", text)
           + png_chunk(b"IDAT", zlib.compress(raw, 9))
           + png_chunk(b"IEND", b""))
    return png


def ico_bytes(size, png):
    """An ICO file with a single PNG-compressed image."""
    header = struct.pack("<HHH", 0, 1, 1)  # reserved, type 1 = icon, one image
    entry = struct.pack("<BBBBHHII",
                        size % 256, size % 256,  # width, height (0 means 256)
                        0, 0,                    # no palette, reserved
                        1, 32,                   # colour planes, bits per pixel
                        len(png), 6 + 16)        # image size, offset of the image
    return header + entry + png


def write_file(path, data):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def main():
    if len(sys.argv) > 1:
        out = sys.argv[1]
        size = int(sys.argv[2]) if len(sys.argv) > 2 else 128
        write_file(out, png_bytes(size, render(size)))
        print("wrote %s (%dx%d)" % (out, size, size))
        return

    htdocs = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                           "..", "htdocs"))
    logo = os.path.join(htdocs, "imgs", "monkey-logo.png")
    write_file(logo, png_bytes(128, render(128)))
    print("wrote %s (128x128)" % logo)
    icon = os.path.join(htdocs, "favicon.ico")
    write_file(icon, ico_bytes(32, png_bytes(32, render(32))))
    print("wrote %s (32x32)" % icon)


if __name__ == "__main__":
    main()
