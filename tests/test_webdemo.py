"""The demo tool and the web page, end to end: tools/demo.py writes an overlay; the web page,
driven by headless Chromium, segments an upload and answers each bad input with a message
while the server keeps serving."""
import os
import os.path as osp
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from .conftest import REPO, run_tool, tool_env, write_config

TINY = """
model = dict(
    clip=dict(arch='tiny-vit', pretrained=None),
    vfm=dict(_delete_=True, type='TimmVFM', name=None, model_name='vit_small_patch8_224',
             pretrained=None, model_kwargs=dict(depth=1, embed_dim=32, num_heads=2)),
    templates='a photo of a {}.', slide_crop=56, slide_stride=28)
"""


@pytest.fixture(scope='module')
def tiny_config(tmp_path_factory):
    d = tmp_path_factory.mktemp('webdemo')
    return write_config(str(d / 'tiny.py'), osp.join(
        REPO, 'configs', 'proxyclip', 'proxyclip_vit-b16-dino-b8_voc21.py'), TINY)


@pytest.fixture(scope='module')
def image_file(tmp_path_factory):
    path = tmp_path_factory.mktemp('img') / 'photo.png'
    rng = np.random.default_rng(0)
    img = np.zeros((90, 120, 3), np.uint8)
    img[:, :60] = (200, 40, 40)
    img[:, 60:] = (40, 40, 200)
    img += rng.integers(0, 20, img.shape, dtype=np.uint8)
    Image.fromarray(img).save(path)
    return str(path)


def test_demo_tool_writes_an_overlay_with_a_legend(tiny_config, image_file, tmp_path):
    out = tmp_path / 'out' / 'overlay.png'
    proc = run_tool('demo.py', image_file, '--classes', 'cat; kitten, dog, sky',
                    '--config', tiny_config, '--out', str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    overlay = np.asarray(Image.open(out))
    assert overlay.shape[0] >= 90 and overlay.shape[1] > 120  # image + legend column
    assert '%' in proc.stdout and 'wrote' in proc.stdout
    bad = run_tool('demo.py', image_file, '--classes', ' , ;', '--config', tiny_config,
                   '--out', str(tmp_path / 'x.png'))
    assert bad.returncode == 2 and 'no class words' in bad.stderr
    assert not (tmp_path / 'x.png').exists()
    notimg = tmp_path / 'notes.png'
    notimg.write_text('hello')
    bad = run_tool('demo.py', str(notimg), '--classes', 'cat', '--config', tiny_config,
                   '--out', str(tmp_path / 'y.png'))
    assert bad.returncode == 2 and 'is not an image' in bad.stderr


def _chromium():
    binary = shutil.which('chromium') or shutil.which('chromium-browser')
    driver = shutil.which('chromedriver')
    return binary, driver


@pytest.fixture(scope='module')
def server(tiny_config, tmp_path_factory):
    log_path = tmp_path_factory.mktemp('server') / 'server.log'
    log = open(log_path, 'w')
    proc = subprocess.Popen(
        [sys.executable, osp.join(REPO, 'tools', 'webdemo.py'), '--config', tiny_config,
         '--port', '0', '--max-upload-mb', '0.2', '--max-side', '1000'],
        stdout=log, stderr=subprocess.STDOUT, text=True, env=tool_env(), cwd=REPO)
    url, deadline = None, time.time() + 180
    while url is None and time.time() < deadline and proc.poll() is None:
        time.sleep(0.5)
        for line in log_path.read_text().splitlines():
            if line.startswith('serving on '):
                url = line.split('serving on ')[1].strip()
    if url is None:
        proc.kill()
        raise AssertionError(f'server did not start: {log_path.read_text()[-2000:]}')
    yield url
    assert proc.poll() is None, 'the server died during the test'
    proc.terminate()
    proc.wait(timeout=10)
    log.close()


@pytest.fixture(scope='module')
def browser():
    binary, driver_path = _chromium()
    if not (binary and driver_path):
        pytest.fail('headless Chromium is needed: `make test` installs it (apt-get install '
                    'chromium chromium-driver); install it by hand otherwise')
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage',
                '--disable-gpu'):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()


def _submit(browser, url, file_path, words, threshold=None, reload=True):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait
    if reload:
        browser.get(url)
    if threshold is not None:
        field = browser.find_element(By.ID, 'threshold')
        field.clear()
        field.send_keys(threshold)
    if file_path:
        browser.find_element(By.ID, 'image').send_keys(file_path)
    field = browser.find_element(By.ID, 'words')
    field.clear()
    field.send_keys(words)
    browser.find_element(By.ID, 'submit').click()
    WebDriverWait(browser, 120).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, '#overlay, #error')))
    errors = browser.find_elements(By.ID, 'error')
    return errors[0].text if errors else None


def _good_request(browser, url, image_file):
    from selenium.webdriver.common.by import By
    assert _submit(browser, url, image_file, 'red thing; red, blue thing, sky') is None
    img = browser.find_element(By.ID, 'overlay')
    assert img.get_attribute('src').startswith('data:image/png;base64,')
    assert browser.execute_script('return arguments[0].naturalWidth', img) > 120
    areas = browser.find_elements(By.CSS_SELECTOR, '#areas tr.area')
    assert areas and all('%' in a.text for a in areas)


def test_web_page_in_headless_chromium(server, browser, image_file, tmp_path):
    _good_request(browser, server, image_file)
    # not an image
    text = tmp_path / 'notes.txt'
    text.write_text('just text')
    assert 'is not an image' in _submit(browser, server, str(text), 'cat')
    _good_request(browser, server, image_file)
    # no words
    assert 'no class words' in _submit(browser, server, image_file, ' ; , ')
    # an upload over the limit (0.2 MB): random pixels do not compress
    big = tmp_path / 'big.png'
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (400, 400, 3),
                                                      dtype=np.uint8)).save(big)
    assert os.path.getsize(big) > 0.2 * 2**20
    assert 'over the limit of 0.2 MB' in _submit(browser, server, str(big), 'cat')
    # an image over the size limit (1000 px) that is small on disk
    wide = tmp_path / 'wide.png'
    Image.fromarray(np.zeros((20, 1500, 3), np.uint8)).save(wide)
    assert 'the limit is 1000' in _submit(browser, server, str(wide), 'cat')
    # no file at all
    assert 'no image was uploaded' in _submit(browser, server, None, 'cat')
    # an empty (0-byte) file
    empty = tmp_path / 'empty.png'
    empty.write_bytes(b'')
    assert 'is empty (0 bytes)' in _submit(browser, server, str(empty), 'cat')
    # a threshold that is not a probability
    assert 'expected a number between 0 and 1' in _submit(browser, server, image_file, 'cat',
                                                           threshold='2.5')
    # HTML in the words is shown as text, never interpreted
    from selenium.webdriver.common.by import By
    words = '<b id="injected">cat</b>, dog'
    assert _submit(browser, server, image_file, words) is None
    assert not browser.find_elements(By.ID, 'injected')
    assert browser.find_element(By.ID, 'words').get_attribute('value') == words
    # an example image, PAMR and a threshold through the page's controls
    browser.get(server)
    browser.find_element(By.ID, 'example-1').click()
    browser.find_element(By.ID, 'pamr').click()
    assert _submit(browser, server, None, 'red circle, blue square, background',
                   threshold='0.3', reload=False) is None
    assert browser.find_element(By.ID, 'overlay').get_attribute('src').startswith('data:')
    # 8 concurrent requests (API and page), then the page still answers a good one
    import concurrent.futures
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: _post(server, image_file, f'cat, dog{i}',
                                                api=i % 2 == 0), range(8)))
    assert all(status == 200 for status, _ in answers), answers
    assert {len(body['classes']) for status, body in answers if isinstance(body, dict)} == {2}
    _good_request(browser, server, image_file)


def _post(url, image_path, words, api=True):
    """A multipart POST with urllib: (status, JSON body for the API or the HTML)."""
    import json
    import urllib.error
    import urllib.request
    import uuid
    boundary = uuid.uuid4().hex
    with open(image_path, 'rb') as f:
        data = f.read()
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="words"\r\n\r\n'
            f'{words}\r\n--{boundary}\r\nContent-Disposition: form-data; name="image"; '
            f'filename="photo.png"\r\nContent-Type: image/png\r\n\r\n').encode() + data + \
        f'\r\n--{boundary}--\r\n'.encode()
    request = urllib.request.Request(
        url.rstrip('/') + ('/api/segment' if api else '/segment'), data=body,
        headers={'Content-Type': f'multipart/form-data; boundary={boundary}'})
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            text = response.read().decode()
            return response.status, json.loads(text) if api else text
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_json_api_answers_and_refuses(server, image_file, tmp_path):
    status, body = _post(server, image_file, 'red thing, blue thing')
    assert status == 200
    assert body['classes'] == ['red thing', 'blue thing']
    assert (body['width'], body['height']) == (120, 90)
    assert abs(sum(a['fraction'] for a in body['areas']) - 1) < 1e-6
    import base64
    assert base64.b64decode(body['overlay_png_base64'])[:4] == b'\x89PNG'
    status, body = _post(server, image_file, ' , ')
    assert status == 400 and 'no class words' in body
