"""Writes the Pillow-encoded test photos and pillow-decoded.json, Pillow's own decode of every image listed.

Run from this folder: python3 pillow_decoded.py. The other images here are written by TestImages.main (Java);
this script only decodes those. Pillow reads samples as stored: it ignores an embedded ICC profile, which is what
the profile photos test.
"""
import base64
import json
import math
import struct

import PIL
from PIL import Image, features

WIDTH, HEIGHT = 48, 40  # not whole 16-pixel macroblocks or MCUs down the side


def photo():
    """Smooth shading, a ripple and hard-edged squares: chroma edges, ringing and partial blocks to get right."""
    image = Image.new("RGB", (WIDTH, HEIGHT))
    pixels = image.load()
    for y in range(HEIGHT):
        for x in range(WIDTH):
            red = 128 + int(100 * math.sin(x / 5.0) * math.cos(y / 7.0))
            green = x * 255 // WIDTH
            blue = 230 if (x // 12 + y // 12) % 2 else 25
            pixels[x, y] = (red, green, blue)
    return image


def s15_fixed16(value):
    return struct.pack(">i", round(value * 65536))


def linear_rgb_profile():
    """A minimal ICC v2 display profile: sRGB's primaries (adapted to D50) with a linear (gamma 1.0) curve, so
    that any reader converting through it to sRGB moves almost every sample."""
    def xyz(x, y, z):
        return b"XYZ " + bytes(4) + s15_fixed16(x) + s15_fixed16(y) + s15_fixed16(z)

    text = b"florence2j linear RGB test profile\0"
    tags = [
        (b"desc", b"desc" + bytes(4) + struct.pack(">I", len(text)) + text + bytes(4 + 4 + 2 + 1 + 67)),
        (b"cprt", b"text" + bytes(4) + b"No copyright, test data\0"),
        (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", xyz(0.4361, 0.2225, 0.0139)),
        (b"gXYZ", xyz(0.3851, 0.7169, 0.0971)),
        (b"bXYZ", xyz(0.1431, 0.0606, 0.7141)),
        (b"rTRC", b"curv" + bytes(4) + struct.pack(">IH", 1, 0x0100) + bytes(2)),
    ]
    tags += [(b"gTRC", tags[-1][1]), (b"bTRC", tags[-1][1])]
    table_end = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for signature, body in tags:
        table += signature + struct.pack(">II", table_end + len(data), len(body))
        data += body + bytes(-len(body) % 4)
    size = table_end + len(data)
    header = (struct.pack(">I", size) + bytes(4) + struct.pack(">I", 0x02100000) + b"mntr" + b"RGB " + b"XYZ "
              + bytes(12) + b"acsp" + bytes(4 + 4 + 4 + 4 + 8 + 4) + s15_fixed16(0.9642) + s15_fixed16(1.0)
              + s15_fixed16(0.8249) + bytes(4 + 16 + 28))
    return header + struct.pack(">I", len(tags)) + table + data


def write_photos():
    image = photo()
    profile = linear_rgb_profile()
    image.save("photo-420.jpg", quality=85, subsampling=2)
    image.save("photo-422-progressive.jpg", quality=85, subsampling=1, progressive=True)
    image.save("photo-444.jpg", quality=95, subsampling=0)
    image.save("photo-profile.jpg", quality=85, subsampling=2, icc_profile=profile)
    image.save("photo-profile.webp", lossless=True, icc_profile=profile)


DECODED = ["rgb565.bmp", "rgb555.bmp", "rgb.jpg", "gray.jpg", "photo-420.jpg", "photo-422-progressive.jpg",
           "photo-444.jpg", "photo-profile.jpg", "photo-profile.webp"]


def main():
    write_photos()
    reference = {"generator": "Pillow %s (libjpeg-turbo %s, libwebp %s): Image.open(file).convert(\"RGB\").tobytes()"
                 % (PIL.__version__, features.version("libjpeg_turbo"), features.version("webp"))}
    for name in DECODED:
        with Image.open(name) as image:
            rgb = image.convert("RGB")
            reference[name] = {"width": rgb.width, "height": rgb.height,
                               "rgb_base64": base64.b64encode(rgb.tobytes()).decode("ascii")}
    with open("pillow-decoded.json", "w") as out:
        json.dump(reference, out, indent=1)
        out.write("\n")


if __name__ == "__main__":
    main()
