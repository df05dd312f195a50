//! The same two ops on CUDA, one block per plane. The forward folds each window in candle's
//! order; the backward gives each input element its window's gradient when it is the window's
//! first maximum (or the first element, for a NaN maximum), as `route_row` does: every element
//! is written, so outputs need no zeroing.

use candle_core::{CudaStorage, Layout, Result};

use crate::kernels::nvrtc;

const MODULE: &str = "vgg_mnist_pool";

pub(super) const POOL: &str = "vgg_pool2x2";
pub(super) const POOL_GRAD: &str = "vgg_pool2x2_grad";

const SOURCE: &str = r#"
__device__ float first_max(float a, float b) { return b > a ? b : a; }

extern "C" __global__ void vgg_pool2x2(const float *x, float *y, int h, int w) {
    const int oh = h / 2, ow = w / 2;
    const float *p = x + (size_t)blockIdx.x * h * w;
    float *o = y + (size_t)blockIdx.x * oh * ow;
    for (int i = threadIdx.x; i < oh * ow; i += blockDim.x) {
        const float *r0 = p + 2 * (i / ow) * w + 2 * (i % ow), *r1 = r0 + w;
        o[i] = first_max(first_max(first_max(r0[0], r0[1]), r1[0]), r1[1]);
    }
}

extern "C" __global__ void vgg_pool2x2_grad(const float *x, const float *y, const float *dy, float *dx, int h, int w) {
    const int oh = h / 2, ow = w / 2;
    const float *p = x + (size_t)blockIdx.x * h * w;
    const float *m_plane = y + (size_t)blockIdx.x * oh * ow, *g_plane = dy + (size_t)blockIdx.x * oh * ow;
    float *d = dx + (size_t)blockIdx.x * h * w;
    for (int j = threadIdx.x; j < h * w; j += blockDim.x) {
        const int yy = j / w, xx = j % w, oy = yy / 2, ox = xx / 2;
        if (oy >= oh || ox >= ow) { d[j] = 0.0f; continue; }
        const float *r0 = p + 2 * oy * w + 2 * ox, *r1 = r0 + w;
        const float m = m_plane[oy * ow + ox];
        const float v[4] = {r0[0], r0[1], r1[0], r1[1]};
        int first = 0;
        if (m == m) { while (first < 3 && v[first] != m) ++first; }
        d[j] = (first == (yy % 2) * 2 + (xx % 2)) ? g_plane[oy * ow + ox] : 0.0f;
    }
}
"#;

/// Kernel `name` on `inputs`, one block per plane of `h × w`, into a new buffer of
/// `out_len` floats.
pub(super) fn launch(
    name: &str,
    inputs: &[(&CudaStorage, &Layout)],
    planes: usize,
    hw: (usize, usize),
    out_len: usize,
) -> Result<CudaStorage> {
    nvrtc::launch_per_plane((MODULE, SOURCE), name, inputs, planes, hw, out_len)
}

#[test]
fn the_kernels_compile() {
    let ptx = nvrtc::ptx(MODULE, SOURCE).unwrap();
    assert!(ptx.contains(".entry vgg_pool2x2") && ptx.contains(".entry vgg_pool2x2_grad"));
}
