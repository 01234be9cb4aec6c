"""Writes photo-1920x1080.webp, the image ImageDecodeBench decodes: smooth shading, hard-edged squares and noise,
blurred a little, saved by Pillow as a lossy WebP of quality 80. Run from this folder: python3 photo_1920x1080.py."""
import numpy as np
from PIL import Image, ImageFilter

rng = np.random.default_rng(20261128)
height, width = 1080, 1920
y, x = np.mgrid[0:height, 0:width].astype(np.float32)
red = 128 + 90 * np.sin(x / 97.0) * np.cos(y / 61.0)
green = 128 + 90 * np.sin((x + y) / 143.0)
blue = np.where(((x // 160) + (y // 160)) % 2 == 0, 200.0, 60.0)
pixels = np.stack([red, green, blue], -1) + rng.normal(0, 12, (height, width, 3))
image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB").filter(ImageFilter.GaussianBlur(1.2))
image.save("photo-1920x1080.webp", quality=80)
