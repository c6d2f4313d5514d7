"""FINN's sliding window (`ConvolutionInputGenerator`) executed on a batch, one image at a time.

FINN's python execution of the sliding window goes through qonnx's `Im2Col`, which is right for
one image but mixes the images of a batch up (qonnx 1.0.0 `im2col_indices_nchw` lays the columns
out image-fastest, `Im2Col.execute_node` reads them back image-slowest). Batched execution of a
dataflow graph (`compile.execute.SetBatchSize`) swaps each sliding window for this op, which calls
FINN's own execution once per image: FINN's arithmetic, our batch loop only.
"""

from __future__ import annotations

import numpy as np
from finn.custom_op.fpgadataflow.convolutioninputgenerator import ConvolutionInputGenerator


class BatchedConvolutionInputGenerator(ConvolutionInputGenerator):
    """`ConvolutionInputGenerator` whose python execution takes any batch (NHWC, batch first)."""

    def execute_node(self, context, graph):
        node = self.onnx_node
        x = context[node.input[0]]
        single = (1, *context[node.output[0]].shape[1:])
        out = []
        for i in range(x.shape[0]):
            sub = {node.input[0]: x[i : i + 1], node.output[0]: np.zeros(single, dtype=np.float32)}
            super().execute_node(sub, graph)
            out.append(np.asarray(sub[node.output[0]], dtype=np.float32).reshape(single))
        context[node.output[0]] = np.concatenate(out)
