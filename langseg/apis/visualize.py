"""Overlays with a legend, and per-class areas: what a person looks at.

The legend's text is drawn with Pillow in DejaVu Sans, the TrueType font that ships with
matplotlib (a dependency of mmengine), so class names in any script DejaVu covers (Latin
with accents, Cyrillic, Greek, ...) are drawn as written; OpenCV's ``putText`` knows ASCII
only and drew ``?`` for every other character. A character DejaVu lacks (CJK, emoji) is
drawn with the first installed system font that has it (Noto CJK, WenQuanYi, Droid Sans
Fallback, Noto Color Emoji), else as its code point, ``U+732B``, never as ``?``.
"""
from __future__ import annotations

import functools
import glob
import os.path as osp
from typing import Sequence

import cv2
import numpy as np

from ..utils.palette import palette  # noqa: F401 (re-exported)


def class_areas(labels: np.ndarray, class_names: Sequence[str]) -> list[tuple[str, float]]:
    """(name, fraction of the image) of every class present, largest first."""
    counts = np.bincount(labels.reshape(-1), minlength=len(class_names))[:len(class_names)]
    total = max(int(labels.size), 1)
    return sorted(((class_names[i], counts[i] / total) for i in np.flatnonzero(counts)),
                  key=lambda t: -t[1])


def overlay_with_legend(image: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
                        alpha: float = 0.5) -> np.ndarray:
    """RGB ``image`` (H, W, 3) blended with the label colours, plus a legend column listing
    the classes present with their colour and area."""
    colours = palette(len(class_names))
    blended = (image.astype(np.float32) * (1 - alpha)
               + colours[labels].astype(np.float32) * alpha).astype(np.uint8)
    areas = class_areas(labels, class_names)
    row = 22
    labels = [f'{_shorten(name.split(";")[0], 22)} ({100 * frac:.1f}%)' for name, frac in areas]
    width = max([230] + [28 + text_width(text) + 8 for text in labels])
    height = max(blended.shape[0], row * (len(areas) + 1) + 8)
    canvas = np.full((height, blended.shape[1] + width, 3), 255, np.uint8)
    canvas[:blended.shape[0], :blended.shape[1]] = blended
    x0 = blended.shape[1] + 8
    entries = []
    for k, ((name, _), text) in enumerate(zip(areas, labels)):
        y = row * (k + 1) + 8
        idx = list(class_names).index(name)
        cv2.rectangle(canvas, (x0, y), (x0 + 14, y + 14), tuple(int(c) for c in colours[idx]),
                      -1)
        entries.append(((x0 + 20, y), text))
    return draw_text(canvas, [((x0, 2), 'class (area)')] + entries)


def _shorten(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit - 1] + '…'


_FALLBACK_FONTS = ('/usr/share/fonts/**/NotoSansCJK*', '/usr/share/fonts/**/NotoSans*CJK*',
                   '/usr/share/fonts/**/wqy*', '/usr/share/fonts/**/DroidSansFallback*',
                   '/usr/share/fonts/**/NotoColorEmoji*', '/usr/share/fonts/**/Symbola*')


@functools.lru_cache(maxsize=None)
def legend_font_files() -> tuple[str, ...]:
    """DejaVu Sans from matplotlib, then the installed fallback fonts found."""
    import matplotlib
    files = [osp.join(matplotlib.get_data_path(), 'fonts', 'ttf', 'DejaVuSans.ttf')]
    for pattern in _FALLBACK_FONTS:
        files += sorted(glob.glob(pattern, recursive=True))
    return tuple(f for f in files if osp.isfile(f))


@functools.lru_cache(maxsize=None)
def _fonts(size: int) -> tuple:
    from matplotlib.ft2font import FT2Font
    from PIL import ImageFont
    found = []
    for path in legend_font_files():
        try:
            found.append((ImageFont.truetype(path, size), FT2Font(path)))
        except (OSError, RuntimeError, ValueError):  # a font Pillow/FreeType cannot open
            continue
    return tuple(found)


def _runs(text: str, size: int) -> list[tuple[object, str]]:
    """``text`` split into (font, run) by the first font that has each character."""
    fonts = _fonts(size)
    runs: list[tuple[object, str]] = []
    for ch in text:
        font = next((f for f, face in fonts if face.get_char_index(ord(ch))), None)
        piece = ch
        if font is None:
            font, piece = fonts[0][0], f'U+{ord(ch):04X}'
        if runs and runs[-1][0] is font:
            runs[-1] = (font, runs[-1][1] + piece)
        else:
            runs.append((font, piece))
    return runs


def text_width(text: str, size: int = 13) -> int:
    """Pixels ``text`` takes when drawn by :func:`draw_text`."""
    return int(sum(round(font.getlength(run)) for font, run in _runs(text, size)))


def draw_text(canvas: np.ndarray, items: list[tuple[tuple[int, int], str]],
              size: int = 13, colour: tuple[int, int, int] = (0, 0, 0)) -> np.ndarray:
    """Draw each ``((x, y), text)`` (top-left) on the RGB ``canvas``; returns it."""
    from PIL import Image, ImageDraw
    image = Image.fromarray(canvas)
    draw = ImageDraw.Draw(image)
    for (x, y), text in items:
        for font, run in _runs(text, size):
            draw.text((x, y), run, font=font, fill=colour)
            x += int(round(font.getlength(run)))
    canvas[...] = np.asarray(image)
    return canvas
