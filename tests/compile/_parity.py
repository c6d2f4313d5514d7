"""The two sides of a FINN = Brevitas parity check, shared by the MLP and CNN parity tests."""

import numpy as np
import torch

from noisybnn.compile import ConfigureNoiseInjectors
from noisybnn.compile.execute import execute_batched
from noisybnn.train import images_to_tensor


def brevitas_logits(net, x, setting, pes):
    """Brevitas' integer logits with `setting` drawn from the injector stream, lanes folded by
    `pes` (one PE per injector, as in the build)."""
    net.eval()
    if setting.mode == "off":
        net.set_eval_noise(0.0)
    else:
        net.set_eval_noise(setting.p, layers=list(setting.layers) if setting.layers else None,
                           seed=setting.seed, source="injector", mode=setting.mode)
        for i, mask in setting.fault_masks.items():
            net.noise_layers[i].fault_mask = np.asarray(mask, bool)
    for layer, pe in zip(net.noise_layers, pes, strict=True):
        layer.pe = pe
        layer.reset()
    with torch.no_grad():
        return net.integer_logits(images_to_tensor(x)).numpy().astype(np.int64)


def finn_logits(twin, x, setting):
    """FINN python execution of the twin with its injectors configured for `setting`."""
    model = twin.transform(ConfigureNoiseInjectors(
        mode=setting.mode, p=setting.p, seed=setting.seed, layers=setting.layers,
        fault_masks=setting.fault_masks))
    # one call = one run: the injectors start from their seed at every call, as on the board
    return execute_batched(model, x, batch=len(x))
