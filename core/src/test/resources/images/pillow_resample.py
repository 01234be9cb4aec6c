"""Writes pillow-resample-sources.json: Pillow's Image.resize of images of several sizes, for cases the single 37x29
source of pillow-resample.json cannot show. Run from this folder: python3 pillow_resample.py.

Each source image has sample (x, y, c) = (7x + 13y + 29c + xy) mod 256, as in pillow-resample.json.
"""
import base64
import json

import PIL
from PIL import Image

# (source width, source height, target width, target height, Image.Resampling id)
CASES = [
    (84, 347, 56, 35, 5),  # HAMMING: Pillow's 0.54f and 0.46f are float constants; as doubles one sample moves
    (3, 400, 5, 40, 3),  # over 100 times taller than wide, height shrinking: Pillow 12 resizes vertically first
    (3, 400, 2, 17, 1),
    (2, 301, 9, 150, 2),
    (4, 401, 7, 23, 5),
    (3, 300, 5, 40, 3),  # exactly 100 times taller: horizontally first, as before
]


def source(width, height):
    return Image.frombytes("RGB", (width, height), bytes(
        (7 * x + 13 * y + 29 * c + x * y) % 256 for y in range(height) for x in range(width) for c in range(3)))


def main():
    cases = []
    for source_width, source_height, width, height, resample in CASES:
        resized = source(source_width, source_height).resize((width, height), resample=resample)
        cases.append({"source_width": source_width, "source_height": source_height, "width": width,
                      "height": height, "resample": resample,
                      "rgb_base64": base64.b64encode(resized.tobytes()).decode("ascii")})
    with open("pillow-resample-sources.json", "w") as out:
        json.dump({"generator": "Pillow %s Image.resize" % PIL.__version__, "resize": cases}, out, indent=1)
        out.write("\n")


if __name__ == "__main__":
    main()
