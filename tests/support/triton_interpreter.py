"""Make Triton's CPU interpreter run the fast path's kernels (TRITON_INTERPRET=1 must be set first).

Two gaps of the interpreter (Triton 3.x) stand in the way: CUDA's libdevice has no CPU version
(its ``exp`` is replaced by the interpreter's numpy one), and ``tl.dot`` multiplies bf16
operands as their raw 16-bit patterns (they are widened to float32 here first). The
interpreter also truncates float32 -> bf16 where the GPU rounds to nearest, so tests compare
with a truncating model or within a bf16 step; bit-identity is checked on the GPU.
"""

from __future__ import annotations

import numpy as np


def patch() -> None:
    import triton.language as tl
    import triton.language.extra.libdevice  # noqa: F401  (makes tl.extra.libdevice exist)
    from triton.runtime import interpreter

    tl.extra.libdevice.exp = lambda x: tl.math.exp(x)  # looked up when called: the interpreter's patched one
    builder = type(interpreter.interpreter_builder)

    def widened(handle):
        if handle.dtype.scalar == tl.bfloat16:
            return (handle.data.astype(np.uint32) << 16).view(np.float32)
        return handle.data

    def create_dot(self, a, b, d, input_precision, max_num_imprecise_acc):
        product = np.matmul(widened(a), widened(b), dtype=np.float32)
        return interpreter.TensorHandle(product + d.data, d.dtype.scalar)

    builder.create_dot = create_dot
