"""Hidden-states stage: one layer's states of an encoder, without running the layers above.

The embedding path (SimAlign, awesome-align) compares the hidden states of one layer of an
encoder such as mBERT or XLM-R. A forward hook on that layer's block raises once the block
has run, so the blocks above it cost nothing; a probe checks that the hooked states equal
``output_hidden_states`` before the shortcut is trusted.
"""

from __future__ import annotations

from typing import Any

import torch

from align_cli.errors import ModelError, XalignError


class _StopForward(Exception):
    """Raised by the hook once the wanted block has run; carries its output."""

    def __init__(self, hidden: torch.Tensor):
        super().__init__()
        self.hidden = hidden


def _stop_after(_module: torch.nn.Module, _inputs: Any, output: Any) -> None:
    hidden = output[0] if isinstance(output, tuple | list) else output
    raise _StopForward(hidden)


def _count_layers(model: Any) -> int:
    count = getattr(model.config, "num_hidden_layers", None)
    if not isinstance(count, int) or count <= 0:
        raise ModelError(
            f"cannot tell how many layers the {model.config.model_type!r} model has "
            "(its config has no num_hidden_layers)"
        )
    return count


def _find_blocks(model: torch.nn.Module, n_layers: int) -> torch.nn.ModuleList | None:
    """The model's list of transformer blocks (``encoder.layer`` in BERT), if found."""
    candidates = [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.ModuleList) and len(module) == n_layers
    ]
    for name, module in candidates:
        if name.rsplit(".", 1)[-1] in ("layer", "layers"):
            return module
    return candidates[0][1] if len(candidates) == 1 else None


class HiddenStateReader:
    """The hidden states ``hidden_states[layer]`` of an encoder, without the layers above.

    ``layer`` counts as ``output_hidden_states`` does (0 = embedding output); a negative
    value counts from the top (-1 = last). Where the blocks cannot be found, or where the
    hooked output does not equal ``hidden_states[layer]`` on a probe input (a model that
    normalises its last output, say), all layers run with ``output_hidden_states``.
    """

    def __init__(self, model: torch.nn.Module, layer: int, name: str = "the model"):
        n_layers = _count_layers(model)
        resolved = layer + n_layers + 1 if layer < 0 else layer
        if not 0 <= resolved <= n_layers:
            raise XalignError(
                f"--embedding-layer {layer} is out of range: {name} has {n_layers} layers "
                f"(0 is the embedding output, 1..{n_layers} the blocks; -1 is the last)"
            )
        self.model = model
        self.layer = resolved
        blocks = _find_blocks(model, n_layers) if resolved > 0 else None
        self._block: torch.nn.Module | None = blocks[resolved - 1] if blocks is not None else None

    @property
    def stops_early(self) -> bool:
        return self._block is not None

    def verify(self, ids: torch.Tensor) -> None:
        """Fall back to ``output_hidden_states`` unless the hook gives the same states."""
        if self._block is None:
            return
        mask = torch.ones_like(ids)
        hooked = self(ids, mask)
        with torch.inference_mode():
            full = self.model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        expected = full.hidden_states[self.layer]
        # Equal in float32 (the same operations run); a reduced-precision GPU run may
        # differ in the last bit between two passes. A model that transforms its last
        # states (a final norm) differs by far more than this tolerance.
        tolerance = 0.0 if expected.dtype == torch.float32 else 1e-2
        if hooked.shape != expected.shape or not torch.allclose(
            hooked, expected, rtol=tolerance, atol=tolerance
        ):
            self._block = None

    def __call__(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``[batch, length, hidden]`` states of the chosen layer."""
        with torch.inference_mode():
            if self._block is None:
                out = self.model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
                return out.hidden_states[self.layer]
            handle = self._block.register_forward_hook(_stop_after)
            try:
                self.model(input_ids=ids, attention_mask=mask)
            except _StopForward as stop:
                return stop.hidden
            finally:
                handle.remove()
        raise ModelError(f"layer {self.layer} of the model never ran")
