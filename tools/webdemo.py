"""A web page to segment your own image by typing words.

    python tools/webdemo.py [--config CONFIG] [--host 127.0.0.1] [--port 7860]
                            [--max-upload-mb 10] [--max-side 4096] [--device cpu|cuda]
                            [--cfg-options k=v ...]

Open http://127.0.0.1:7860, choose an image, type the words ("cat; kitten, dog, sky") and
press Segment: the page shows the overlay with a legend and the area of each class. Bad
input (not an image, no words, a file over the upload limit, an image over the size
limit) is answered with a message on the page; the server keeps running. It binds
127.0.0.1 unless told otherwise, and uses only the Python standard library.
"""
from __future__ import annotations

import argparse
import base64
import email.parser
import email.policy
import html
import os.path as osp
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import DictAction  # noqa: E402

from langseg.utils.errors import LangsegError, one_line, run_cli  # noqa: E402

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>langseg: segment by words</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}
#error{{color:#b00020;font-weight:bold}} table{{border-collapse:collapse}}
td{{padding:2px 10px}} .sw{{display:inline-block;width:14px;height:14px}}</style></head>
<body><h1>Segment an image by typing words</h1>
<form id="form" method="post" action="/segment" enctype="multipart/form-data">
<p><input id="image" type="file" name="image" accept="image/*"></p>
<p><input id="words" type="text" name="words" size="60" value="{words}"
 placeholder="cat; kitten, dog, sky"> (classes separated by commas, synonyms by ;)</p>
<p><button id="submit" type="submit">Segment</button></p></form>
{body}
<p><small>Model: {model}. Uploads up to {max_mb} MB, images up to {max_side} px.</small></p>
</body></html>"""


def render(server, words: str = '', body: str = '') -> bytes:
    return PAGE.format(words=html.escape(words, quote=True), body=body,
                       model=html.escape(server.model_name), max_mb=server.max_upload_mb,
                       max_side=server.max_side).encode()


def parse_multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """Form fields of a multipart body: name -> (filename, bytes)."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b'Content-Type: ' + content_type.encode() + b'\r\n\r\n' + body)
    if not message.is_multipart():
        raise LangsegError('the request is not a multipart form upload')
    fields = {}
    for part in message.iter_parts():
        name = part.get_param('name', header='content-disposition')
        if name:
            fields[name] = (part.get_filename(), part.get_payload(decode=True) or b'')
    return fields


class Handler(BaseHTTPRequestHandler):
    server_version = 'langseg-webdemo'

    def log_message(self, fmt: str, *args) -> None:  # quieter than the default
        sys.stderr.write('webdemo: ' + fmt % args + '\n')

    def _send(self, status: int, payload: bytes, ctype: str = 'text/html; charset=utf-8'):
        self.send_response(status)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _error(self, status: int, message: str, words: str = '') -> None:
        body = f'<p id="error">{html.escape(message)}</p>'
        self._send(status, render(self.server, words, body))

    def do_GET(self) -> None:
        if self.path.split('?')[0] in ('/', '/index.html'):
            self._send(200, render(self.server))
        elif self.path == '/health':
            self._send(200, b'ok', 'text/plain')
        else:
            self._error(404, f'no page {self.path}')

    def do_POST(self) -> None:
        server = self.server
        if self.path != '/segment':
            self._error(404, f'no page {self.path}')
            return
        length = int(self.headers.get('Content-Length') or 0)
        limit = server.max_upload_mb * 2**20
        if length > limit:
            self._drain(length)
            self._error(413, f'the upload is {length / 2**20:.1f} MB: the limit is '
                        f'{server.max_upload_mb} MB')
            return
        body = self.rfile.read(length)
        try:
            fields = parse_multipart(self.headers.get('Content-Type', ''), body)
            words = fields.get('words', (None, b''))[1].decode('utf-8', 'replace')
            filename, data = fields.get('image', (None, b''))
            if not data:
                raise LangsegError('no image was uploaded: choose an image file')
            html_out = self._segment(data, words, filename)
        except LangsegError as exc:
            self._error(400, one_line(exc), locals().get('words', ''))
            return
        except Exception as exc:  # a bug: report it, keep serving
            self.log_message('error: %r', exc)
            self._error(500, f'internal error: {type(exc).__name__}: {exc}')
            return
        self._send(200, render(server, words, html_out))

    def _drain(self, length: int) -> None:
        """Read and drop an oversized body (up to 4x the limit) so the client sees the
        answer instead of a reset connection."""
        remaining = min(length, 4 * self.server.max_upload_mb * 2**20)
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1 << 16))
            if not chunk:
                break
            remaining -= len(chunk)
        if length > 4 * self.server.max_upload_mb * 2**20:
            self.close_connection = True

    def _segment(self, data: bytes, words: str, filename: str | None) -> str:
        import cv2

        from langseg.apis import class_areas, overlay_with_legend, parse_class_words, \
            read_image
        server = self.server
        image = read_image(data)
        if max(image.shape[:2]) > server.max_side:
            raise LangsegError(f'the image is {image.shape[1]}x{image.shape[0]} pixels: the '
                               f'limit is {server.max_side} on the longer side')
        parse_class_words(words)
        with server.lock:
            result = server.segmenter(image, words)
        canvas = overlay_with_legend(image, result.labels, result.class_names)
        ok, png = cv2.imencode('.png', canvas[..., ::-1])
        rows = ''.join(
            f'<tr class="area"><td>{html.escape(n)}</td><td>{100 * f:.1f}%</td></tr>'
            for n, f in class_areas(result.labels, result.class_names))
        name = html.escape(filename or 'upload')
        return (f'<h2>{name}</h2><img id="overlay" alt="segmentation of {name}" '
                f'src="data:image/png;base64,{base64.b64encode(png.tobytes()).decode()}">'
                f'<table id="areas"><tr><th>class</th><th>area</th></tr>{rows}</table>')


def make_server(segmenter, host: str, port: int, max_upload_mb: float, max_side: int,
                model_name: str) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), Handler)
    server.segmenter, server.lock = segmenter, threading.Lock()
    server.max_upload_mb, server.max_side, server.model_name = max_upload_mb, max_side, \
        model_name
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description='Web page: segment an image by words')
    parser.add_argument('--config', default='configs/proxyclip/proxyclip_vit-b16-dino-b8_voc21.py')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=7860)
    parser.add_argument('--max-upload-mb', type=float, default=10)
    parser.add_argument('--max-side', type=int, default=4096)
    parser.add_argument('--device', default=None)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    from langseg.apis import OpenVocabularySegmenter
    segmenter = OpenVocabularySegmenter(args.config, device=args.device,
                                        cfg_options=args.cfg_options,
                                        max_side=args.max_side)
    server = make_server(segmenter, args.host, args.port, args.max_upload_mb, args.max_side,
                         osp.basename(args.config))
    print(f'serving on http://{args.host}:{server.server_address[1]}', flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == '__main__':
    run_cli(main)
