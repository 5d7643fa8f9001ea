"""``tools/test.py --show`` / ``--show-dir``, as mmseg 1.x's ``trigger_visualization_hook``."""
from __future__ import annotations

import os
import sys

from mmengine.config import Config

from ..utils.errors import ConfigError


def has_display() -> bool:
    """Whether a window can be opened: on Linux an X11 ``DISPLAY`` (or a Wayland display)."""
    if not sys.platform.startswith('linux'):
        return True
    return bool(os.environ.get('DISPLAY') or os.environ.get('WAYLAND_DISPLAY'))


def trigger_visualization_hook(cfg: Config, show_dir: str | None = None, show: bool = False,
                               wait_time: float = 2.0) -> Config:
    """``--show`` / ``--show-dir`` as mmseg 1.x's ``tools/test.py``: the config's
    ``SegVisualizationHook`` draws; ``--show`` displays each prediction in a window for
    ``wait_time`` seconds and saves nothing (the hook drops the visualizer's backends),
    ``--show-dir`` saves PNG overlays of every image. Changes ``cfg`` in place.

    Raises:
        ConfigError: no visualization hook in the config, both flags, or ``--show`` on a
            machine without a display.
    """
    flag = '--show' if show else '--show-dir'
    hooks = cfg.get('default_hooks') or {}
    if 'visualization' not in hooks:
        raise ConfigError(f"{flag} needs default_hooks.visualization "
                          "(dict(type='SegVisualizationHook')) in the config")
    if show and show_dir:
        raise ConfigError('--show and --show-dir cannot be used together: --show displays '
                          'the predictions and saves nothing (as mmseg); use one of them')
    if show and not has_display():
        raise ConfigError('--show needs a display to open a window and none is available '
                          '(DISPLAY is not set): use --show-dir DIR to save the overlays '
                          'as PNG files instead')
    hooks.visualization.draw = True
    if show:
        hooks.visualization.show = True
        hooks.visualization.wait_time = float(wait_time)
    else:
        hooks.visualization.interval = 1  # every image (mmseg's default draws every 50th)
        cfg.visualizer.save_dir = show_dir
    return cfg


__all__ = ['has_display', 'trigger_visualization_hook']
