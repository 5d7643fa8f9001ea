# langseg: install, demo, test.
#
#   make demo     generate the toy data, train, evaluate, write PNG overlays (installs first)
#   make test     the whole test suite, slow tests included (installs first)
#   make install  create .venv/ and install the pinned CPU stack; idempotent
#
# The pins below are the tested stack (see README "Why these pins"). Override on the command
# line, e.g. `make install PYTHON=python3.12`.

PYTHON      ?= python3
VENV        := .venv
VPY         := $(VENV)/bin/python
VPIP        := $(VPY) -m pip
STAMP       := $(VENV)/.langseg-installed
JOBS        ?= 2

TORCH_PIN       := torch==2.11.0
TORCHVISION_PIN := torchvision==0.26.0
MMCV_PIN        := mmcv==2.1.0
STACK_PINS      := mmengine==0.10.7 mmsegmentation==1.2.2 open_clip_torch==3.3.0 timm==1.0.31 \
                   fvcore==0.1.5.post20221221 "opencv-python>=4.5,<5" "numpy<2.5" flask==3.1.3

# The main job: Conv-Former (language-guided) against the plain Semantic FPN, same backbone,
# schedule and iterations, on the generated toy data.
DEMO_CONFIG   := configs/toy/convformer_mobilenetv2-tiny_1xb8-1000_toy-96x96.py
DEMO_BASELINE := configs/toy/fpn_mobilenetv2-tiny_1xb8-1000_toy-96x96.py
DEMO_WORK     := work_dirs/demo

.PHONY: install demo test test-fast clean-demo browser-deps

install: $(STAMP)

# The stamp depends on the Makefile and pyproject so that a change of pins re-runs the
# (cheap, skip-if-present) steps. Each step checks what is installed before installing.
$(STAMP): Makefile pyproject.toml
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	@$(VPY) -c "import sys; assert sys.version_info >= (3, 10), 'Python 3.10+ is required'"
	$(VPIP) install -q --upgrade pip "setuptools>=77,<82" wheel
	@# torch: the registry build (CUDA libs, runs on CPU). A `+cpu` torch breaks torchvision.
	@$(VPY) -c "import torch, torchvision; assert torch.__version__.split('+')[0] == '2.11.0'" 2>/dev/null \
	  || $(VPIP) install $(TORCH_PIN) $(TORCHVISION_PIN)
	@# mmcv with its compiled ops: built from source (about 10 minutes on 2 cores, cached by pip).
	@$(VPY) -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '2.1.0'" 2>/dev/null \
	  || MAX_JOBS=$(JOBS) $(VPIP) install --no-build-isolation $(MMCV_PIN)
	$(VPIP) install -q $(STACK_PINS)
	$(VPIP) install -q --no-build-isolation -e ".[tests]"
	@$(VPY) -c "import langseg, mmseg.models, mmcv.ops, open_clip, timm, fvcore; print('langseg', langseg.__version__, 'installed in $(VENV)')"
	@touch $(STAMP)

demo: install
	$(VPY) tools/train.py $(DEMO_BASELINE) --work-dir $(DEMO_WORK)/fpn
	$(VPY) tools/train.py $(DEMO_CONFIG) --work-dir $(DEMO_WORK)/convformer
	$(VPY) tools/test.py $(DEMO_CONFIG) $$(cat $(DEMO_WORK)/convformer/last_checkpoint) \
	  --work-dir $(DEMO_WORK)/convformer/test --show-dir $(DEMO_WORK)/overlays
	@echo "Validation mIoU, same backbone and iterations:"
	@$(VPY) tools/compare_runs.py "Semantic FPN=$(DEMO_WORK)/fpn" "Conv-Former + Semantic FPN=$(DEMO_WORK)/convformer"
	@echo "PNG overlays: $(DEMO_WORK)/overlays/vis_data/vis_image/"

# The web-page test drives headless Chromium: Debian's chromium and chromium-driver.
browser-deps:
	@command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; \
	  else echo "the web-page test needs chromium and chromium-driver: install them (apt-get)"; exit 0; fi; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium chromium-driver; }

# Tests run on $(JOBS) processes (pytest-xdist): most of the suite's time is single-threaded
# (process start-up, imports, data generation), so two workers halve the wall time on two
# cores. `make test JOBS=1` runs them in one process.
test: install browser-deps
	$(VPY) -m pytest -q --durations=15 -n $(JOBS) --dist worksteal

test-fast: install browser-deps
	$(VPY) -m pytest -q -m "not slow" -n $(JOBS) --dist worksteal

clean-demo:
	rm -rf $(DEMO_WORK)
