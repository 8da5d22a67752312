"""What the backbones share: ``frozen_stages`` / ``norm_eval`` in ``train()``, and loading weights that must
cover every layer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm


class FrozenStagesMixin(nn.Module):
    """``train()`` keeps the frozen modules frozen (no grad, eval mode) and, with ``norm_eval``, every BatchNorm in
    eval mode. A backbone lists the modules its ``frozen_stages`` covers in :meth:`frozen_modules`, and calls
    :meth:`_freeze` at the end of ``__init__``; put the mixin before ``BaseModule`` in the bases."""

    norm_eval: bool

    def frozen_modules(self) -> Sequence[nn.Module]:
        """The modules ``frozen_stages`` freezes, in network order."""
        raise NotImplementedError

    def _freeze(self) -> None:
        for module in self.frozen_modules():
            module.eval()
            for p in module.parameters():
                p.requires_grad_(False)
        if self.training and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()

    def train(self, mode: bool = True) -> FrozenStagesMixin:
        super().train(mode)
        self._freeze()
        return self


def load_every_layer(module: nn.Module, state_dict: Mapping[str, Tensor], who: str, hint: str = "") -> None:
    """Load ``state_dict`` into ``module``; weights that leave a key unset or bring an unexpected one are an error
    naming ``who`` (the backbone and its weights), the keys, and ``hint``."""
    result = module.load_state_dict(state_dict, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise RuntimeError(
            f"{who} left {result.missing_keys} unset and brought unexpected {result.unexpected_keys}"
            f"{': ' + hint if hint else ''}"
        )
