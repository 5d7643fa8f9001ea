"""FLOPs and parameter counting the way the papers' tables did (fvcore, multiply-adds).

What the counts contain (see docs/benchmarks.md and docs/model_zoo.md):

* fvcore's ``FlopCountAnalysis``: one fused multiply-add = one flop (GMACs). Counted:
  conv, linear/matmul/bmm/einsum, norms, bilinear/nearest upsampling, adaptive pooling.
  Elementwise ops, softmax, activations are 0 and listed as unsupported.
* ``scaled_dot_product_attention`` is counted (fvcore has no handle for it and silently
  drops it): ``prod(q.shape[:-1]) * S * (E + Ev)``, i.e. the MACs of an explicit
  ``softmax(q k^T) v``; ``nn.MultiheadAttention``'s fused fast path is disabled while
  counting so that its matmuls are traced.
* Transposed convolutions: current fvcore counts them on the *input* size; the published
  DenseCLIP ViT rows used the older *output*-size rule. ``transposed_conv_rule`` selects
  one and the result says which.
* The traced graph is the segmentor's ``tensor`` mode (whole-image forward) plus the final
  bilinear resize of the logits to the input size, batch 1, random input.
* The input goes through the model's data preprocessor first, as mmseg 1.x's
  ``tools/analysis_tools/get_flops.py`` does: mmseg builds ``data_batch = {'inputs':
  [torch.rand(3, H, W)], 'data_samples': [SegDataSample(metainfo=dict(ori_shape=(H, W),
  pad_shape=(H, W)))]}``, calls ``model.data_preprocessor(data_batch)`` (``training=False``:
  BGR->RGB, normalisation, and padding only where the preprocessor has a ``test_cfg``
  with ``size``/``size_divisor``; the training ``size=(512, 512)`` does not pad) and counts
  ``model(data['inputs'])``. We do the same (``use_data_preprocessor=True``, the default;
  the input is seeded so that counts are reproducible) and report the traced size as
  ``padded_shape``. Convolution FLOPs do not depend on the input values, so only such
  padding can change a count. A module without a ``data_preprocessor`` (or
  ``use_data_preprocessor=False``) gets a ``torch.randn(1, 3, H, W)`` input directly.
  Unlike mmseg's tool we do not drop ``auxiliary_head``: it is not in the ``tensor``-mode
  graph either way, but its parameters stay in the params count.
* A top-level child called ``text_encoder`` is reported apart: ``gflops``/``params_m``
  exclude it (the published tables' convention; its trainable parameters, e.g. learnable
  contexts, stay in ``params_m``), ``gflops_with_text``/``params_with_text_m`` include it.
  Its FLOPs are counted on an uncached forward (``text_encoder.forward_uncached()``) so a
  cached embedding cannot hide them.
"""
from __future__ import annotations

import contextlib
import math
from collections import Counter
from typing import Any, Iterator, Sequence

import torch
import torch.nn.functional as F
from fvcore.nn import FlopCountAnalysis
from fvcore.nn.jit_handles import get_shape
from torch import nn

from ..utils.errors import ConfigError

TEXT_ENCODER_NAME = 'text_encoder'
TRANSPOSED_CONV_RULES = ('input', 'output')


def sdpa_flop_jit(inputs: list[Any], outputs: list[Any]) -> int:
    """MACs of ``scaled_dot_product_attention(q, k, v)``: q k^T plus attn v."""
    q_shape, k_shape, v_shape = (get_shape(t) for t in inputs[:3])
    length = k_shape[-2]
    return int(math.prod(q_shape[:-1]) * length * (q_shape[-1] + v_shape[-1]))


def make_conv_flop_jit(transposed_conv_rule: str = 'input'):
    """An fvcore handle for ``aten::_convolution`` with a choice of transposed-conv rule.

    ``input``: MACs = N * prod(weight) * prod(input spatial) for transposed convs (fvcore
    0.1.5); ``output``: N * prod(weight) * prod(output spatial) (older fvcore, the rule
    of the DenseCLIP ViT rows). Ordinary convolutions always use the output size.
    """
    if transposed_conv_rule not in TRANSPOSED_CONV_RULES:
        raise ConfigError(f'unknown transposed_conv_rule {transposed_conv_rule!r}: expected '
                          f'one of {", ".join(TRANSPOSED_CONV_RULES)}')

    def conv_flop_jit(inputs: list[Any], outputs: list[Any]) -> int:
        x_shape, w_shape = get_shape(inputs[0]), get_shape(inputs[1])
        out_shape = get_shape(outputs[0])
        transposed = bool(inputs[6].toIValue()) if len(inputs) > 6 else False
        spatial = x_shape[2:] if transposed and transposed_conv_rule == 'input' else out_shape[2:]
        return int(x_shape[0] * math.prod(w_shape) * math.prod(spatial))

    return conv_flop_jit


@contextlib.contextmanager
def _mha_fastpath_disabled() -> Iterator[None]:
    backend = getattr(torch.backends, 'mha', None)
    if backend is None:  # pragma: no cover - old torch
        yield
        return
    previous = backend.get_fastpath_enabled()
    backend.set_fastpath_enabled(False)
    try:
        yield
    finally:
        backend.set_fastpath_enabled(previous)


def flop_analysis(module: nn.Module, inputs: tuple, transposed_conv_rule: str = 'input'
                  ) -> FlopCountAnalysis:
    """An fvcore ``FlopCountAnalysis`` with langseg's handles (attention, conv rule)."""
    analysis = FlopCountAnalysis(module, inputs)
    analysis.set_op_handle('aten::scaled_dot_product_attention', sdpa_flop_jit)
    analysis.set_op_handle('aten::_convolution', make_conv_flop_jit(transposed_conv_rule))
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    analysis.tracer_warnings('none')
    return analysis


class _WholeImageForward(nn.Module):
    """``segmentor(inputs, mode='tensor')`` followed by the final resize to the input."""

    def __init__(self, segmentor: nn.Module) -> None:
        super().__init__()
        self.segmentor = segmentor

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        out = self.segmentor(inputs, None, mode='tensor')
        if isinstance(out, (list, tuple)):
            out = out[0]
        if out.dim() == 4 and out.shape[-2:] != inputs.shape[-2:]:
            out = F.interpolate(out, size=inputs.shape[-2:], mode='bilinear',
                                align_corners=False)
        return out


class _Call(nn.Module):
    def __init__(self, module: nn.Module, method: str) -> None:
        super().__init__()
        self.module = module
        self.method = method

    def forward(self) -> torch.Tensor:
        return getattr(self.module, self.method)()


def _top_level(by_module: dict[str, int], prefix: str) -> dict[str, int]:
    out = {}
    for name, value in by_module.items():
        if name.startswith(prefix) and '.' not in name[len(prefix):] and name != prefix:
            out[name[len(prefix):]] = int(value)
    return out


def count_params(model: nn.Module) -> tuple[int, int]:
    """(params excluding the frozen text encoder, all params)."""
    total = sum(p.numel() for p in model.parameters())
    text = getattr(model, TEXT_ENCODER_NAME, None)
    frozen_text = 0
    if isinstance(text, nn.Module):
        frozen_text = sum(p.numel() for p in text.parameters() if not p.requires_grad)
    return total - frozen_text, total


#: Seed of the random input image (FLOPs do not depend on it; a data-dependent model's
#: count is reproducible with it).
INPUT_SEED = 0


def random_inputs(model: nn.Module, input_shape: Sequence[int],
                  use_data_preprocessor: bool = True) -> torch.Tensor:
    """The ``1 x 3 x H' x W'`` tensor the count traces (see the module docstring).

    With ``use_data_preprocessor`` and a model that has a ``data_preprocessor``: a
    ``torch.rand(3, H, W)`` image through ``model.data_preprocessor(..., training=False)``,
    as mmseg's get_flops (``H' x W'`` is ``H x W`` unless the preprocessor pads at test
    time). Otherwise ``torch.randn(1, 3, H, W)``.
    """
    h, w = int(input_shape[0]), int(input_shape[-1])
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(INPUT_SEED)
    preprocessor = getattr(model, 'data_preprocessor', None)
    if not use_data_preprocessor or not callable(preprocessor):
        return torch.randn(1, 3, h, w, generator=generator).to(device)
    from mmseg.structures import SegDataSample
    sample = SegDataSample(metainfo=dict(ori_shape=(h, w), pad_shape=(h, w)))
    batch = dict(inputs=[torch.rand(3, h, w, generator=generator)], data_samples=[sample])
    with torch.no_grad():
        inputs = preprocessor(batch, False)['inputs']
    if isinstance(inputs, (list, tuple)):  # mmengine's BaseDataPreprocessor does not stack
        inputs = torch.stack([torch.as_tensor(x) for x in inputs])
    return inputs.to(device).float()


def _warm_size(size: int) -> int:
    """A quarter of ``size`` in multiples of 32 (at least 64, at most ``size``)."""
    return min(size, max(64, size // 4 // 32 * 32))


def count_segmentor(model: nn.Module, input_shape: Sequence[int],
                    transposed_conv_rule: str = 'input',
                    use_data_preprocessor: bool = True) -> dict[str, Any]:
    """Count GFLOPs (GMACs) and params (M) of a segmentor, as described in the module doc.

    Args:
        model: an mmseg segmentor (``forward(inputs, data_samples, mode='tensor')``).
        input_shape: ``(H, W)`` of the random input, batch 1, 3 channels.
        transposed_conv_rule: ``'input'`` (current fvcore) or ``'output'`` (older fvcore).
        use_data_preprocessor: run the model's ``data_preprocessor`` on the random image
            before counting, as mmseg's get_flops does (default); ``False`` traces a raw
            ``torch.randn`` input of ``input_shape``.

    Returns:
        dict with ``input_shape``, ``padded_shape`` (the traced size: ``input_shape``
        unless the preprocessor pads), ``gflops``, ``params_m``, ``gflops_with_text``,
        ``params_with_text_m``, ``text_gflops``, ``by_module`` (GFLOPs of top-level
        children), ``unsupported_ops`` and ``transposed_conv_rule``.
    """
    h, w = int(input_shape[0]), int(input_shape[-1])
    model = model.eval()
    inputs = random_inputs(model, (h, w), use_data_preprocessor)
    wrapper = _WholeImageForward(model)
    unsupported: Counter = Counter()
    with torch.no_grad(), _mha_fastpath_disabled():
        # the text encoder's cost: one uncached pass over all class prompts (which also
        # fills its in-memory cache, so the prompts are encoded once)
        text = getattr(model, TEXT_ENCODER_NAME, None)
        text_flops = 0
        if isinstance(text, nn.Module) and hasattr(text, 'forward_uncached'):
            text_analysis = flop_analysis(_Call(text, 'forward_uncached'), (),
                                          transposed_conv_rule)
            text_flops = text_analysis.total()
            unsupported.update(text_analysis.unsupported_ops())
        # warm the other caches so that the trace is steady-state; on a corner of the
        # input, a quarter of the size (the warm-up is not counted, and at 1024 px it cost
        # as much as the trace itself)
        wrapper(inputs[..., :_warm_size(inputs.shape[-2]), :_warm_size(inputs.shape[-1])])
        analysis = flop_analysis(wrapper, (inputs, ), transposed_conv_rule)
        total = analysis.total()
        by_module = _top_level(analysis.by_module(), 'segmentor.')
        unsupported.update(analysis.unsupported_ops())
        text_in_graph = by_module.get(TEXT_ENCODER_NAME, 0)
    params, params_with_text = count_params(model)
    return dict(
        input_shape=[h, w],
        padded_shape=[int(inputs.shape[-2]), int(inputs.shape[-1])],
        gflops=(total - text_in_graph) / 1e9,
        params_m=params / 1e6,
        gflops_with_text=(total - text_in_graph + text_flops) / 1e9,
        params_with_text_m=params_with_text / 1e6,
        text_gflops=text_flops / 1e9,
        by_module={k: v / 1e9 for k, v in by_module.items()},
        unsupported_ops=dict(sorted(unsupported.items())),
        transposed_conv_rule=transposed_conv_rule,
    )
