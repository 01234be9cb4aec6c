"""Writes the Pillow-encoded test photos and pillow-decoded.json, Pillow's own decode of every image listed.

Run from this folder: python3 pillow_decoded.py. The other images here are written by TestImages.main (Java);
this script only decodes those. Pillow reads samples as stored: it ignores an embedded ICC profile, which is what
the profile photos test.

The lossy WebPs cover what changes how a VP8 frame decodes: qualities from 1 to 100, the encoder's fastest and
slowest methods (different prediction modes and loop-filter strengths), sizes that are not whole macroblocks, gray,
alpha (an extended file), and, through libwebp's own API because Pillow's save does not expose them, several token
partitions, the simple loop filter with sharpness, and "sharp" RGB-to-YUV conversion.

The animated WebPs hold a first frame smaller than the canvas, at an offset: lossy with alpha, blend and dispose
flags and a background colour (none of which changes what Pillow shows: the canvas around the frame is black),
lossy from Pillow's own animation writer (which crops a first frame's transparent border), and lossless.

The lossless WebPs cover what changes how a VP8L image decodes: the predictor transform (tiles of ten of its
modes), the cross-colour and subtract-green transforms, meta prefix codes, a colour cache, colour indexing with 2, 4
and 16 colours (indices bundled 8, 4 and 2 to a pixel) and with 256, pixels of alpha 0 whose colour the encoder keeps
(exact) or changes, and a 27 x 1 file whose first, transparent pixel libwebp decodes black where other decoders did
not.

The GIFs put their first frame on a larger logical screen, at an offset, with and without a transparent index, and
partly past the screen's edge, which PIL grows the image to hold; two use pixel indices past their colour table
(global, local), which PIL shows black; one's table holds gray levels 0, 1, 2..., which PIL takes for no palette
(an index past it is its gray level), and one's local table does, for which PIL takes the global one.

The Netpbm files cover each of P1 to P6: plain ones with comments (one between two digits, which Pillow removes
with its line break, joining them), maxvals that scale (6 and 10, whose samples round half to even, 1000, 65,535), a PGM of a maxval over 255 (Pillow's
mode I, whose conversion to RGB clips at 255), a bitmap of a width in no whole bytes, and header numbers written
as Python reads them (+13, 0_6, a comment inside a token).

Two lossy WebPs with alpha were damaged by random edits of their lossless alpha stream and are kept as they are
(this script only decodes them): in lossy-alpha-read-past-end.webp the stream's last pixel, a literal, is read
past the stream's end, which libwebp's 8-bit alpha path accepts. (In lossy-alpha-past-end-reference.webp, which
Pillow refuses and ImageLoaderErrorTest checks, a backward reference is read past the end.)

The CMYK images carry a made-up CMYK printing profile (Pillow converts naively, ignoring it): a JPEG, the same JPEG
with its Adobe marker's transform set to 2 and to 1 (libjpeg then reads the samples as YCCK), and without the
marker (straight CMYK); and an LZW TIFF.
"""
import base64
import ctypes
import ctypes.util
import glob
import io
import json
import math
import os
import random
import struct
import zlib

import PIL
from PIL import Image, features

WIDTH, HEIGHT = 48, 40  # not whole 16-pixel macroblocks or MCUs down the side


def photo(width=WIDTH, height=HEIGHT):
    """Smooth shading, a ripple and hard-edged squares: chroma edges, ringing and partial blocks to get right."""
    image = Image.new("RGB", (width, height))
    pixels = image.load()
    for y in range(height):
        for x in range(width):
            red = 128 + int(100 * math.sin(x / 5.0) * math.cos(y / 7.0))
            green = x * 255 // width
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


class _WebPConfig(ctypes.Structure):
    """libwebp's WebPConfig (src/webp/encode.h, libwebp 1.x), with room to spare at the end."""
    _fields_ = [(name, ctypes.c_float if name in ("quality", "target_PSNR") else ctypes.c_int) for name in (
        "lossless quality method image_hint target_size target_PSNR segments sns_strength filter_strength "
        "filter_sharpness filter_type autofilter alpha_compression alpha_filtering alpha_quality pass_ "
        "show_compressed preprocessing partitions partition_limit emulate_jpeg_size thread_level low_memory "
        "near_lossless exact use_delta_palette use_sharp_yuv qmin qmax").split()] + [("spare", ctypes.c_uint32 * 16)]


# WebPPicture field offsets: use_argb; width and height; the writer function and its custom_ptr, after the plane
# pointers, strides and paddings.
PICTURE_USE_ARGB, PICTURE_SIZE, PICTURE_WRITER = 0, 8, 96


def libwebp():
    """The libwebp Pillow decodes with: the copy its wheel bundles, else the system's."""
    bundled = glob.glob(os.path.join(os.path.dirname(os.path.dirname(PIL.__file__)), "pillow.libs", "libwebp-*.so*"))
    return ctypes.CDLL(bundled[0] if bundled else ctypes.util.find_library("webp"))


def save_with_libwebp(image, name, **options):
    """Encodes an RGB image with libwebp's WebPEncode and the given WebPConfig fields, on top of the defaults."""
    lib = libwebp()
    abi = 0x0200  # any 2.x encoder ABI: libwebp checks the major version only
    config = _WebPConfig()
    assert lib.WebPConfigInitInternal(ctypes.byref(config), 0, ctypes.c_float(options.get("quality", 75)), abi)
    for key, value in options.items():
        setattr(config, key, value)
    assert lib.WebPValidateConfig(ctypes.byref(config)), options
    picture = ctypes.create_string_buffer(1024)  # a WebPPicture, its fields set at their 64-bit offsets
    assert lib.WebPPictureInitInternal(picture, abi)
    struct.pack_into("<i", picture, PICTURE_USE_ARGB, 1)  # RGB samples, turned into YUV by WebPEncode, as Pillow does
    struct.pack_into("<ii", picture, PICTURE_SIZE, image.width, image.height)
    assert lib.WebPPictureImportRGB(picture, image.tobytes(), image.width * 3)
    memory = ctypes.create_string_buffer(64)  # a WebPMemoryWriter: data pointer, size, capacity
    lib.WebPMemoryWriterInit(memory)
    struct.pack_into("<QQ", picture, PICTURE_WRITER, ctypes.cast(lib.WebPMemoryWrite, ctypes.c_void_p).value,
                     ctypes.addressof(memory))
    assert lib.WebPEncode(ctypes.byref(config), picture), name
    lib.WebPPictureFree(picture)
    data_pointer, size = struct.unpack_from("<QQ", memory)
    with open(name, "wb") as out:
        out.write(ctypes.string_at(data_pointer, size))
    lib.WebPMemoryWriterClear(memory)


def write_lossy_webps():
    image = photo()
    image.save("lossy-q80.webp", quality=80)
    image.save("lossy-q1-method0.webp", quality=1, method=0)
    image.save("lossy-q100-method6.webp", quality=100, method=6)
    image.convert("L").save("lossy-gray.webp", quality=60)
    photo(37, 29).save("lossy-37x29.webp", quality=50, method=2)
    with_alpha = image.convert("RGBA")
    with_alpha.putalpha(Image.linear_gradient("L").resize(image.size))
    with_alpha.save("lossy-alpha.webp", quality=70)
    # 9 macroblock rows over 8 token partitions; the encoder keeps one partition unless it skips its token buffer.
    save_with_libwebp(photo(32, 136), "lossy-8-partitions.webp", quality=70, method=0, partitions=3)
    save_with_libwebp(image, "lossy-simple-filter.webp", quality=40, filter_type=0, filter_strength=80,
                      filter_sharpness=4)
    save_with_libwebp(image, "lossy-sharp-yuv.webp", quality=80, use_sharp_yuv=1)


def mosaic(size, tile, seed):
    """An RGB square of tiles, each a gradient of its own slopes with a little noise: many predictor modes."""
    rng = random.Random(seed)
    slopes, data = {}, bytearray()
    for y in range(size):
        for x in range(size):
            key = (x // tile, y // tile)
            if key not in slopes:
                slopes[key] = [(rng.randint(-9, 9), rng.randint(-9, 9), rng.randint(0, 255)) for _ in range(3)]
            data += bytes((a * x + b * y + c + rng.randint(0, 1)) % 256 for a, b, c in slopes[key])
    return Image.frombytes("RGB", (size, size), bytes(data))


def palette_image(colours, width, height, block, seed):
    """An RGB image of blocks of `colours` random colours, each used."""
    rng = random.Random(seed)
    palette = [bytes(rng.randrange(256) for _ in range(3)) for _ in range(colours)]
    blocks = [[rng.randrange(colours) for _ in range(0, width, block)] for _ in range(0, height, block)]
    indices = [blocks[y // block][x // block] for y in range(height) for x in range(width)]
    for colour in range(colours):
        indices[colour] = colour
    return Image.frombytes("RGB", (width, height), b"".join(palette[i] for i in indices))


def write_lossless_webps():
    mosaic(48, 8, 2).save("lossless-mosaic.webp", lossless=True, quality=100, method=6)
    mosaic(48, 8, 1).save("lossless-mosaic-cache.webp", lossless=True, quality=90, method=5)
    photo().save("lossless-subtract-green.webp", lossless=True, quality=0, method=0)
    for colours, (width, height, block) in {2: (37, 23, 4), 4: (37, 23, 4), 16: (37, 23, 4),
                                            256: (32, 32, 1)}.items():
        palette_image(colours, width, height, block, colours).save("lossless-palette-%d.webp" % colours,
                                                                   lossless=True, quality=100, method=6)
    with_alpha = photo().convert("RGBA")
    alpha = Image.new("L", with_alpha.size, 255)
    alpha.paste(0, (0, 0, WIDTH, HEIGHT // 3))
    alpha.paste(0, (WIDTH // 2, 0, WIDTH // 2 + 5, HEIGHT))
    with_alpha.putalpha(alpha)
    with_alpha.save("lossless-alpha-zero-exact.webp", lossless=True, quality=90, method=5, exact=True)
    with_alpha.save("lossless-alpha-zero.webp", lossless=True, quality=90, method=5)
    with open("lossless-27x1.webp", "wb") as out:
        out.write(bytes.fromhex("5249464638000000574542505650384c2c0000002f1a000010cf104f50e8400f822a552a288c24c94c"
                                "9dde3622fa1f1f90589436d6f910532eb5f531d73ef701"))


def riff_chunk(fourcc, payload):
    return fourcc + struct.pack("<I", len(payload)) + payload + bytes(len(payload) & 1)


def image_chunks(webp):
    """The ALPH, VP8 and VP8L chunks of a still WebP file, as they follow each other in it."""
    chunks, at = b"", 12
    while at < len(webp):
        size = struct.unpack_from("<I", webp, at + 4)[0]
        if webp[at:at + 4] in (b"ALPH", b"VP8 ", b"VP8L"):
            chunks += webp[at:at + 8 + size + (size & 1)]
        at += 8 + size + (size & 1)
    return chunks


def encoded(image, **options):
    out = io.BytesIO()
    image.save(out, "WEBP", **options)
    return out.getvalue()


def animation(name, canvas, background, frames):
    """An animated WebP of frames (still WebP file, (left, top), flags: 1 dispose, 2 do not blend) on a canvas."""
    def u24(value):
        return struct.pack("<I", value)[:3]
    anmf = b""
    for still, (left, top), flags in frames:
        width, height = Image.open(io.BytesIO(still)).size
        anmf += riff_chunk(b"ANMF", u24(left // 2) + u24(top // 2) + u24(width - 1) + u24(height - 1) + u24(100)
                           + bytes([flags]) + image_chunks(still))
    body = (b"WEBP" + riff_chunk(b"VP8X", bytes([0x12, 0, 0, 0]) + u24(canvas[0] - 1) + u24(canvas[1] - 1))
            + riff_chunk(b"ANIM", struct.pack("<IH", background, 0)) + anmf)
    with open(name, "wb") as out:
        out.write(b"RIFF" + struct.pack("<I", len(body)) + body)


def write_animated_webps():
    with_alpha = photo(11, 9).convert("RGBA")
    with_alpha.putalpha(Image.linear_gradient("L").resize(with_alpha.size))
    # Opaque red background (ARGB), dispose and do-not-blend flags on the first frame, a lossless second frame.
    animation("animated-lossy-offset.webp", (24, 20), 0xFFFF0000,
              [(encoded(with_alpha, quality=50), (6, 4), 3), (encoded(photo(8, 8), lossless=True), (2, 2), 0)])
    animation("animated-lossless-offset.webp", (20, 14), 0xFF00FF00,
              [(encoded(photo(9, 7), lossless=True), (4, 6), 1), (encoded(photo(5, 5), quality=30), (0, 0), 0)])
    first = Image.new("RGBA", (20, 16))
    first.paste(photo(12, 10), (5, 3))  # Pillow's writer crops the transparent border: a 13 x 11 frame at (4, 2)
    first.save("animated-lossy-pillow.webp", save_all=True, append_images=[photo(20, 16).convert("RGBA")],
               duration=100, quality=40, background=(0, 0, 255, 255))


def place_gif_frame(name, screen, offset, transparency=None, colours=16, transparent_index=None, palette=True):
    """A GIF whose first frame (8 x 6, of colours palette indices from 1) lies at offset on a logical screen of its
    own size: Pillow's writer always makes the screen the frame's size, so the header is edited after. PIL fills
    the screen around the frame with the transparent index, or index 0. transparent_index overwrites the index the
    writer stored (one past a small palette is black to PIL); without a palette the indices are gray levels."""
    frame = Image.new("P", (8, 6))
    frame.putpalette([value for index in range(256) for value in (index, 255 - index, index * 7 % 256)])
    frame.putdata([(x * 3 + y * 5) % colours + 1 for y in range(6) for x in range(8)])
    frame.save(name, **({} if transparency is None else {"transparency": transparency}))
    with open(name, "rb") as gif:
        data = bytearray(gif.read())
    data[6:10] = struct.pack("<HH", *screen)
    at = 13
    if data[10] & 0x80:
        table = 3 * 2 ** ((data[10] & 7) + 1)
        if palette:
            at += table
        else:
            del data[13:13 + table]
            data[10] &= 0x7F
    while data[at] == 0x21:  # extension blocks before the image descriptor
        if data[at + 1] == 0xF9 and transparent_index is not None:  # the graphic control extension
            data[at + 6] = transparent_index
        at += 2
        while data[at]:
            at += data[at] + 1
        at += 1
    assert data[at] == 0x2C, name
    data[at + 1:at + 5] = struct.pack("<HH", *offset)
    with open(name, "wb") as gif:
        gif.write(data)


def write_gif_with_indices_past_palette(name, entries, indices, local, gray_local=False, gray_global=False):
    """A 23 x 11 GIF whose one frame's pixels use indices its colour table of entries does not hold, which an LZW
    code size of 8 allows: PIL shows them black, where ImageIO's reader kept only the table's bits of each. Pillow's
    writer never makes such a file, so the LZW codes are written here, each index a code of its own (a clear code
    every 250 keeps the codes 9 bits wide)."""
    width, height = 23, 11
    codes = []
    for i, index in enumerate(indices):
        if i % 250 == 0:
            codes.append(256)
        codes.append(index)
    codes.append(257)
    bits, count, lzw = 0, 0, bytearray()
    for code in codes:
        bits |= code << count
        count += 9
        while count >= 8:
            lzw.append(bits & 255)
            bits >>= 8
            count -= 8
    if count:
        lzw.append(bits & 255)
    blocks = b"".join(bytes([len(lzw[i:i + 255])]) + lzw[i:i + 255] for i in range(0, len(lzw), 255))
    table_bits = (entries - 1).bit_length() - 1
    colours = bytes((index * 97 + channel * 41) % 256 for index in range(entries) for channel in range(3))
    gray = bytes(index for index in range(entries) for _ in range(3))  # PIL's mode L: no palette at all
    global_table = gray if gray_global else colours
    has_global = not local or gray_local
    screen_flags = 0x80 | table_bits if has_global else 0
    data = b"GIF89a" + struct.pack("<HHBBB", width, height, screen_flags, 0, 0) + (global_table if has_global else b"")
    data += b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0x80 | table_bits if local else 0)
    data += ((gray if gray_local else colours) if local else b"") + b"\x08" + blocks + b"\x00\x3b"
    with open(name, "wb") as gif:
        gif.write(data)


def write_gifs():
    place_gif_frame("gif-offset.gif", (11, 9), (2, 1))
    place_gif_frame("gif-offset-transparent.gif", (11, 9), (2, 1), transparency=7)
    place_gif_frame("gif-past-screen.gif", (6, 4), (2, 1))
    place_gif_frame("gif-transparent-past-palette.gif", (10, 8), (1, 2), transparency=1, colours=4,
                    transparent_index=7)
    place_gif_frame("gif-no-palette.gif", (10, 8), (1, 2), palette=False)
    rng = random.Random(3)
    write_gif_with_indices_past_palette("gif-indices-past-palette.gif", 2, [rng.randrange(256) for _ in range(253)],
                                        local=False)
    write_gif_with_indices_past_palette("gif-indices-past-local-palette.gif", 4,
                                        [rng.choice([0, 1, 2, 3, 5, 9, 200, 255]) for _ in range(253)], local=True)
    write_gif_with_indices_past_palette("gif-gray-levels-table.gif", 2, [rng.randrange(256) for _ in range(253)],
                                        local=False, gray_global=True)
    write_gif_with_indices_past_palette("gif-gray-local-table.gif", 4, [rng.randrange(8) for _ in range(253)],
                                        local=True, gray_local=True)


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_short_palette_png(name, depth, rows):
    """A palette PNG whose PLTE holds 2 entries while its pixels use more: PIL makes the missing ones black, where
    ImageIO's reader repeats the last entry. Pillow writes whole palettes, so the file is put together here."""
    height, width = len(rows), len(rows[0]) * 8 // depth
    header = struct.pack(">IIBBBBB", width, height, depth, 3, 0, 0, 0)
    pixels = b"".join(b"\0" + row for row in rows)
    with open(name, "wb") as png:
        png.write(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
                  + png_chunk(b"PLTE", bytes([200, 10, 20, 30, 180, 40]))
                  + png_chunk(b"IDAT", zlib.compress(pixels)) + png_chunk(b"IEND", b""))


def write_short_palette_pngs():
    write_short_palette_png("png-short-palette.png", 8, [bytes([0, 1, 2, 3, 200, 255])] * 2)
    write_short_palette_png("png-short-palette-2bit.png", 2, [bytes([0b00011011])] * 2)


def cmyk_profile():
    """A CMYK output profile of lut8 tables (CMYK -> Lab and back) for a made-up printing process: only a reader that
    converts through it, as Pillow does not, changes the colours."""
    def lut8(inputs, outputs, grid, entry):
        body = b"mft1" + bytes(4) + bytes([inputs, outputs, grid, 0])
        body += b"".join(s15_fixed16(1.0 if i == j else 0.0) for i in range(3) for j in range(3))
        body += bytes(range(256)) * inputs
        for index in range(grid ** inputs):
            digits = [(index // grid ** (inputs - 1 - d)) % grid / (grid - 1) for d in range(inputs)]
            body += bytes(entry(digits))
        return body + bytes(range(256)) * outputs

    def to_lab(cmyk):
        c, m, y, k = cmyk
        lightness = 100 * (1 - 0.8 * c) * (1 - 0.7 * m) * (1 - 0.6 * y) * (1 - 0.9 * k)
        return [round(lightness * 255 / 100), round(40 * m - 30 * c + 128), round(50 * y - 20 * c - 10 * m + 128)]

    def to_cmyk(lab):
        lightness, a, b = lab
        inks = (1 - lightness - 0.1 * a, 0.5 * a, 0.5 * b, (1 - lightness) / 2)
        return [round(255 * min(1, max(0, v))) for v in inks]

    description = b"florence2j test CMYK\0"
    tags = [(b"desc", b"desc" + bytes(4) + struct.pack(">I", len(description)) + description + bytes(78)),
            (b"wtpt", b"XYZ " + bytes(4) + s15_fixed16(0.9642) + s15_fixed16(1.0) + s15_fixed16(0.8249)),
            (b"cprt", b"text" + bytes(4) + b"none\0"),
            (b"A2B0", lut8(4, 3, 5, to_lab)), (b"B2A0", lut8(3, 4, 2, to_cmyk))]
    offset = 128 + 4 + 12 * len(tags)
    table, data = struct.pack(">I", len(tags)), b""
    for signature, body in tags:
        data += bytes(-(offset + len(data)) % 4)
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += body
    header = (struct.pack(">I", offset + len(data)) + b"lcms" + struct.pack(">I", 0x02100000) + b"prtrCMYKLab "
              + bytes(12) + b"acspAPPL" + bytes(20) + struct.pack(">I", 0)
              + s15_fixed16(0.9642) + s15_fixed16(1.0) + s15_fixed16(0.8249) + b"lcms" + bytes(44))
    assert len(header) == 128
    return header + table + data


def adobe_marker(jpeg):
    """Where the APP14 marker starts: FF EE, its length, then "Adobe"."""
    at = jpeg.index(b"Adobe") - 4
    assert jpeg[at:at + 2] == b"\xff\xee"
    return at


def with_adobe_transform(jpeg, transform):
    at = adobe_marker(jpeg) + 4 + 11
    return jpeg[:at] + bytes([transform]) + jpeg[at + 1:]


def without_adobe_marker(jpeg):
    at = adobe_marker(jpeg)
    length = struct.unpack(">H", jpeg[at + 2:at + 4])[0]
    return jpeg[:at] + jpeg[at + 2 + length:]


def write_cmyk_images():
    rng = random.Random(5)
    ink = Image.frombytes("CMYK", (WIDTH, HEIGHT), bytes(
        (x * 5 + c * 60 + rng.randrange(40)) % 256 if c < 3 else (x * y) % 97
        for y in range(HEIGHT) for x in range(WIDTH) for c in range(4)))
    profile = cmyk_profile()
    out = io.BytesIO()
    ink.save(out, "JPEG", quality=90, subsampling=2, icc_profile=profile)
    jpeg = out.getvalue()
    for name, data in [("cmyk-profile.jpg", jpeg), ("cmyk-ycck.jpg", with_adobe_transform(jpeg, 2)),
                       ("cmyk-transform-1.jpg", with_adobe_transform(jpeg, 1)),
                       ("cmyk-no-adobe.jpg", without_adobe_marker(jpeg))]:
        with open(name, "wb") as file:
            file.write(data)
    ink.save("cmyk-profile.tiff", compression="tiff_lzw", icc_profile=profile)


def write_netpbm():
    rng = random.Random(7)
    width, height = 13, 5

    def samples(count, maxval):
        return [rng.randrange(maxval + 1) for _ in range(count)]

    def plain(values):
        return b"".join(str(v).encode() + (b"\n" if i % 7 == 6 else b" ") for i, v in enumerate(values))

    files = {
        "plain-bitmap.pbm": b"P1\n# a comment\n13 5\n" + b"".join(
            bytes(rng.choice(b"01") for _ in range(width)) + b"\n" for _ in range(height)),
        "plain-gray-6.pgm": b"P2 +13 5 0_6\n" + plain(samples(width * height, 6)),
        "plain-gray-1000.pgm": b"P2\n13 5\n1000\n" + plain(samples(width * height, 1000)),
        "plain-rgb-comments.ppm": b"P3\n13 5\n255\n" + b"1#joined\n2 " + plain(samples(3 * width * height - 1, 255)),
        "raw-bitmap.pbm": b"P4\n1#x\n3 5\n" + bytes(rng.randrange(256) for _ in range(2 * height)),
        "raw-gray-10.pgm": b"P5 13 5 10\n" + bytes(samples(width * height, 10)),
        "raw-gray-1000.pgm": b"P5 13 5 1000\n" + b"".join(v.to_bytes(2, "big") for v in samples(width * height, 1000)),
        "raw-gray-65535.pgm": b"P5 13 5 65535\n" + b"".join(
            v.to_bytes(2, "big") for v in samples(width * height, 65535)),
        "raw-rgb.ppm": b"P6\n13 5\n255\n" + bytes(samples(3 * width * height, 255)),
        "raw-rgb-65535.ppm": b"P6\n13 5\n65535\n" + b"".join(
            v.to_bytes(2, "big") for v in samples(3 * width * height, 65535)),
    }
    for name, data in files.items():
        with open(name, "wb") as file:
            file.write(data)


NETPBM = ["plain-bitmap.pbm", "plain-gray-6.pgm", "plain-gray-1000.pgm", "plain-rgb-comments.ppm", "raw-bitmap.pbm",
          "raw-gray-10.pgm", "raw-gray-1000.pgm", "raw-gray-65535.pgm", "raw-rgb.ppm", "raw-rgb-65535.ppm"]


CMYK_IMAGES = ["cmyk-profile.jpg", "cmyk-ycck.jpg", "cmyk-transform-1.jpg", "cmyk-no-adobe.jpg", "cmyk-profile.tiff"]


PNGS = ["png-short-palette.png", "png-short-palette-2bit.png"]
GIFS = ["gif-offset.gif", "gif-offset-transparent.gif", "gif-past-screen.gif", "gif-transparent-past-palette.gif",
        "gif-no-palette.gif", "gif-indices-past-palette.gif", "gif-indices-past-local-palette.gif",
        "gif-gray-levels-table.gif", "gif-gray-local-table.gif"]
LOSSY_WEBPS = ["lossy-q80.webp", "lossy-q1-method0.webp", "lossy-q100-method6.webp", "lossy-gray.webp",
               "lossy-37x29.webp", "lossy-alpha.webp", "lossy-8-partitions.webp", "lossy-simple-filter.webp",
               "lossy-sharp-yuv.webp", "lossy-alpha-read-past-end.webp"]
DECODED = ["rgb565.bmp", "rgb555.bmp", "rgb.jpg", "gray.jpg", "cmyk.jpg", "photo-420.jpg",
           "photo-422-progressive.jpg", "photo-444.jpg", "photo-profile.jpg", "photo-profile.webp"] + LOSSY_WEBPS + GIFS
DECODED += PNGS
ANIMATED_WEBPS = ["animated-lossy-offset.webp", "animated-lossless-offset.webp", "animated-lossy-pillow.webp"]
DECODED += ANIMATED_WEBPS
LOSSLESS_WEBPS = ["lossless-mosaic.webp", "lossless-mosaic-cache.webp", "lossless-subtract-green.webp",
                  "lossless-palette-2.webp", "lossless-palette-4.webp", "lossless-palette-16.webp",
                  "lossless-palette-256.webp", "lossless-alpha-zero-exact.webp", "lossless-alpha-zero.webp",
                  "lossless-27x1.webp"]
DECODED += LOSSLESS_WEBPS
DECODED += CMYK_IMAGES
DECODED += NETPBM


def main():
    write_photos()
    write_lossy_webps()
    write_gifs()
    write_short_palette_pngs()
    write_animated_webps()
    write_lossless_webps()
    write_cmyk_images()
    write_netpbm()
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
