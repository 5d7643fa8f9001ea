"""The web page: segment your own image by typing words (Flask; tools/webdemo.py serves it).

Pages and API:

* ``GET /``: the form (image upload, the words, a VFM choice, the probability threshold,
  PAMR on/off, example images to try), and after ``POST /segment`` the overlay with its
  legend and the table of class areas;
* ``POST /api/segment`` (multipart: ``image``, ``words``, optional ``vfm``, ``threshold``,
  ``pamr``, or ``example`` instead of ``image``): JSON ``{classes, areas: [{class,
  fraction}], width, height, overlay_png_base64}``; errors are JSON ``{error}`` with a 4xx
  status;
* ``GET /health``: ``ok``.

Every bad input (no image, an empty or non-image file, an upload over the limit (413,
JSON on the API), an image over the size bounds (checked on its header before anything is
decoded: a decompression bomb costs no memory; see :mod:`langseg.apis.image_io`), a wrong
method on the API (405, JSON), no words, a threshold that is not a number in [0, 1], an unknown VFM
or example) is answered with one message (HTML-escaped on the page, as everything the user
typed) and the server keeps serving. A request is checked (:func:`validate_request`),
segmented (:func:`run_request`: the threshold and PAMR are arguments of the call, never
written into the model) and drawn (:func:`render_result`). Requests run one at a time
through the model (a lock: the vocabulary, the request's words, is the model's);
the server itself is threaded, so a slow request never blocks the page or ``/health``;
images are decoded outside the lock, and the aspect-ratio bound keeps any one request
short (a 1 x 4000 image would otherwise be resized to 336 x 1,344,000 and hold the lock
for minutes).
"""
from __future__ import annotations

import base64
import threading
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..utils.errors import LangsegError, one_line

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>langseg: segment by words</title>
<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}
#error{color:#b00020;font-weight:bold} table{border-collapse:collapse}
td,th{padding:2px 10px;text-align:left} .examples img{height:64px;margin-right:8px}
fieldset{border:1px solid #ccc;margin-bottom:1em}</style></head>
<body><h1>Segment an image by typing words</h1>
<form id="form" method="post" action="/segment" enctype="multipart/form-data">
<fieldset><legend>Image</legend>
<p><input id="image" type="file" name="image" accept="image/*"></p>
{% if examples %}<p class="examples">or an example:
{% for name, uri in examples %}<label><input type="radio" name="example" value="{{ name }}"
 id="example-{{ loop.index }}"><img alt="{{ name }}" src="{{ uri }}"></label>{% endfor %}
 <label><input type="radio" name="example" value="" checked> none</label></p>{% endif %}
</fieldset>
<fieldset><legend>Words</legend>
<p><input id="words" type="text" name="words" size="60" value="{{ words }}"
 placeholder="cat; kitten, dog, sky"> classes separated by commas, synonyms by ;</p>
</fieldset>
<fieldset><legend>Settings</legend>
<p>VFM <select id="vfm" name="vfm">{% for v in vfms %}<option value="{{ v }}"
 {% if v == vfm %}selected{% endif %}>{{ v }}</option>{% endfor %}</select>
 threshold <input id="threshold" name="threshold" size="5" value="{{ threshold }}">
 (a pixel below this probability becomes the first class)
 <label><input id="pamr" type="checkbox" name="pamr" value="on"
 {% if pamr %}checked{% endif %}> PAMR refinement</label></p></fieldset>
<p><button id="submit" type="submit">Segment</button></p></form>
{% if error %}<p id="error">{{ error }}</p>{% endif %}
{% if result %}<h2>{{ result.name }}</h2>
<img id="overlay" alt="segmentation of {{ result.name }}" src="{{ result.uri }}">
<table id="areas"><tr><th>class</th><th>area</th></tr>
{% for name, fraction in result.areas %}<tr class="area"><td>{{ name }}</td>
<td>{{ '%.1f' % (100 * fraction) }}%</td></tr>{% endfor %}</table>{% endif %}
<p><small>Model: {{ model }}. Uploads up to {{ max_mb }} MB, images up to {{ max_side }} px.
JSON API: POST /api/segment.</small></p>
</body></html>"""


@dataclass
class WebSettings:
    """What the server was started with."""

    model_name: str
    max_upload_mb: float = 10.0
    max_side: int = 4096
    max_aspect: float = 10.0
    vfms: list[str] = field(default_factory=lambda: ['default'])
    examples: dict[str, np.ndarray] = field(default_factory=dict)
    threshold: float | None = None


def _png_uri(image: np.ndarray) -> str:
    import cv2
    ok, png = cv2.imencode('.png', np.ascontiguousarray(image[..., ::-1]))
    return 'data:image/png;base64,' + base64.b64encode(png.tobytes()).decode()


def _form_values(form, settings: WebSettings) -> dict:
    """The form's words, VFM, threshold (text) and PAMR switch, with the page's defaults."""
    return dict(words=form.get('words', ''), vfm=form.get('vfm', settings.vfms[0]),
                threshold=form.get('threshold', '' if settings.threshold is None
                                   else str(settings.threshold)),
                pamr=form.get('pamr') == 'on')


@dataclass
class SegmentRequest:
    """A checked request: the image, its name, the classes and the call's settings."""

    image: np.ndarray
    name: str
    classes: list[str]
    vfm: str
    prob_thd: float | None
    pamr: bool
    values: dict


def _request_image(form, files, settings: WebSettings) -> tuple[np.ndarray, str]:
    """The chosen example or the uploaded image (its header checked against the bounds
    before anything is decoded), and its name."""
    from .image_io import read_image
    example = form.get('example') or ''
    if example:
        if example not in settings.examples:
            raise LangsegError(f'no example {example!r}: expected one of '
                               f'{", ".join(settings.examples) or "none"}')
        return settings.examples[example], example
    upload = files.get('image')
    data = upload.read() if upload is not None else b''
    if upload is None or (not data and not upload.filename):
        raise LangsegError('no image was uploaded: choose an image file or an example')
    if not data:
        raise LangsegError(f'the file {upload.filename} is empty (0 bytes): expected a '
                           'JPEG, PNG, BMP or WebP image')
    image = read_image(data, max_side=settings.max_side, max_aspect=settings.max_aspect)
    return image, upload.filename or 'upload'


def _threshold(text: str) -> float | None:
    """The threshold field: empty (the model's), or a number in [0, 1]."""
    if not text.strip():
        return None
    try:
        threshold = float(text)
    except ValueError:
        threshold = -1.0
    if not 0.0 <= threshold <= 1.0:
        raise LangsegError(f'threshold {text!r}: expected a number between 0 and 1')
    return threshold


def validate_request(form, files, settings: WebSettings) -> SegmentRequest:
    """Check a request (image, words, VFM, threshold, in this order): one
    :class:`~langseg.utils.errors.LangsegError` for the first thing wrong."""
    from .inference import parse_class_words
    values = _form_values(form, settings)
    image, name = _request_image(form, files, settings)
    classes = parse_class_words(values['words'])
    if values['vfm'] not in settings.vfms:
        raise LangsegError(f'unknown VFM {values["vfm"]!r}: expected one of '
                           f'{", ".join(settings.vfms)}')
    return SegmentRequest(image=image, name=name, classes=classes, vfm=values['vfm'],
                          prob_thd=_threshold(values['threshold']), pamr=values['pamr'],
                          values=values)


def run_request(req: SegmentRequest, segmenter_for: Callable[[str], object],
                lock: threading.Lock):
    """Segment a checked request with the VFM it names. The call's settings are
    arguments of the segmenter; the lock is held because the vocabulary (the request's
    words) is the model's."""
    with lock:
        segmenter = segmenter_for(req.vfm)
        return segmenter(req.image, req.classes, prob_thd=req.prob_thd, pamr=req.pamr)


def render_result(req: SegmentRequest, result) -> dict:
    """The overlay (PNG data URI), class areas and sizes for the page and the API."""
    from .visualize import class_areas, overlay_with_legend
    canvas = overlay_with_legend(req.image, result.labels, result.class_names)
    return dict(name=req.name, uri=_png_uri(canvas),
                areas=class_areas(result.labels, result.class_names),
                width=int(req.image.shape[1]), height=int(req.image.shape[0]),
                classes=list(result.class_names), values=req.values)


def _api_json(result: dict) -> dict:
    return dict(classes=result['classes'], width=result['width'], height=result['height'],
                areas=[dict(**{'class': n}, fraction=f) for n, f in result['areas']],
                overlay_png_base64=result['uri'].split(',', 1)[1])


def create_app(segmenter_for: Callable[[str], object], settings: WebSettings):
    """The Flask app. ``segmenter_for(vfm)`` returns an ``OpenVocabularySegmenter`` for a
    name of ``settings.vfms`` (built lazily and kept by the caller). The routes call
    :func:`validate_request`, :func:`run_request` and :func:`render_result`."""
    from flask import Flask, jsonify, render_template_string, request
    from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

    app = Flask('langseg-webdemo')
    app.config['MAX_CONTENT_LENGTH'] = int(settings.max_upload_mb * 2**20)
    lock = threading.Lock()
    examples = {name: _png_uri(img) for name, img in settings.examples.items()}

    def page(status: int = 200, **values):
        values = dict(dict(words='', vfm=settings.vfms[0], pamr=False, error=None,
                           result=None, threshold='' if settings.threshold is None
                           else settings.threshold), **values)
        html = render_template_string(PAGE, vfms=settings.vfms, examples=list(examples.items()),
                                      model=settings.model_name, max_mb=settings.max_upload_mb,
                                      max_side=settings.max_side, **values)
        return html, status

    def segment() -> dict:
        """Validate the request and segment it: the result for the page and the API."""
        req = validate_request(request.form, request.files, settings)
        return render_result(req, run_request(req, segmenter_for, lock))

    @app.get('/')
    def index():
        return page()

    @app.get('/health')
    def health():
        return 'ok', 200, {'Content-Type': 'text/plain'}

    @app.post('/segment')
    def segment_page():
        try:
            result = segment()
        except HTTPException:  # 413 and the like: answered by their handlers
            raise
        except LangsegError as exc:
            return page(400, error=one_line(exc), **_keep(_form_values(request.form,
                                                                       settings)))
        except Exception as exc:  # a bug: say so on the page, keep serving
            app.logger.exception('segmentation failed')
            return page(500, error=f'internal error: {type(exc).__name__}: {exc}',
                        **_keep(_form_values(request.form, settings)))
        return page(result=result, **_keep(result['values']))

    @app.post('/api/segment')
    def segment_api():
        try:
            result = segment()
        except HTTPException:  # 413 and the like: answered by their handlers, as JSON
            raise
        except LangsegError as exc:
            return jsonify(error=one_line(exc)), 400
        except Exception as exc:
            app.logger.exception('segmentation failed')
            return jsonify(error=f'internal error: {type(exc).__name__}: {exc}'), 500
        return jsonify(**_api_json(result))

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_exc):
        message = (f'the upload is over the limit of {settings.max_upload_mb} MB: choose a '
                   'smaller image')
        if request.path.startswith('/api/'):
            return jsonify(error=message), 413
        return page(413, error=message)

    @app.errorhandler(404)
    def not_found(_exc):
        if request.path.startswith('/api/'):
            return jsonify(error=f'no API endpoint {request.path}: expected POST '
                                 '/api/segment'), 404
        return page(404, error=f'no page {request.path}')

    @app.errorhandler(405)
    def wrong_method(_exc):
        message = (f'{request.method} is not allowed on {request.path}: expected POST '
                   '(multipart: image, words)')
        if request.path.startswith('/api/'):
            return jsonify(error=message), 405, {'Allow': 'POST'}
        return page(405, error=message)

    return app


def _keep(values: dict) -> dict:
    return dict(words=values['words'], vfm=values['vfm'], threshold=values['threshold'],
                pamr=values['pamr'])


__all__ = ['PAGE', 'SegmentRequest', 'WebSettings', 'create_app', 'render_result',
           'run_request', 'validate_request']
