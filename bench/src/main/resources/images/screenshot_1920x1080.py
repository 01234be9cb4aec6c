"""Writes screenshot-1920x1080.webp, the lossless image ImageDecodeBench decodes: a screenshot-like picture (flat
panels, bars of text-like marks, a gradient band), saved by Pillow as a lossless WebP. Run from this folder:
python3 screenshot_1920x1080.py."""
import numpy as np
from PIL import Image, ImageDraw

rng = np.random.default_rng(20261128)
image = Image.new("RGB", (1920, 1080), (246, 247, 249))
draw = ImageDraw.Draw(image)
draw.rectangle((0, 0, 1919, 56), fill=(38, 50, 72))
draw.rectangle((0, 57, 280, 1079), fill=(228, 232, 238))
for row in range(60):
    y = 90 + row * 16
    x = 320
    while x < 1860:
        width = int(rng.integers(12, 90))
        shade = int(rng.integers(20, 90))
        draw.rectangle((x, y, x + width, y + 9), fill=(shade, shade, shade + 10))
        x += width + int(rng.integers(6, 14))
gradient = np.linspace(0, 255, 1920, dtype=np.float32)
band = np.stack([gradient, 255 - gradient, np.full_like(gradient, 128)], -1).astype(np.uint8)
image.paste(Image.fromarray(np.repeat(band[None, :, :], 40, axis=0), "RGB"), (0, 1040))
image.save("screenshot-1920x1080.webp", lossless=True)
