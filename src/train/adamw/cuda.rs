//! The fused AdamW update on CUDA: one kernel launch per parameter, its moments `[m | v]` in one
//! GPU tensor, bit-identical to the CPU's update.

use candle_core::backprop::GradStore;
use candle_core::cuda_backend::cudarc::driver::{LaunchConfig, PushKernelArg};
use candle_core::cuda_backend::WrapErr;
use candle_core::{bail, CpuStorage, CudaStorage, InplaceOp3, Layout, Result, Tensor, Var};

use super::Constants;

/// The CPU update's arithmetic, operation for operation, with rounding intrinsics so that
/// NVRTC fuses nothing into an FMA (each line is one of candle's tensor ops, as there).
/// `mv` holds `[m | v]`; the kernel writes it although the op receives it as an input:
/// candle's in-place ops make only their first tensor mutable, and all three live on the
/// one stream candle uses, so the writes are ordered with every other use.
const SOURCE: &str = r#"
extern "C" __global__ void vgg_adamw(float *theta, const float *g, float *mv, int n,
        float beta1, float omb1, float beta2, float omb2, float scale_m, float scale_v,
        float decay, float eps, float lr) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) {
        const float gi = g[i];
        const float m = __fadd_rn(__fadd_rn(__fmul_rn(mv[i], beta1), 0.0f), __fadd_rn(__fmul_rn(gi, omb1), 0.0f));
        const float v = __fadd_rn(__fadd_rn(__fmul_rn(mv[n + i], beta2), 0.0f),
                                  __fadd_rn(__fmul_rn(__fmul_rn(gi, gi), omb2), 0.0f));
        const float m_hat = __fadd_rn(__fmul_rn(m, scale_m), 0.0f);
        const float v_hat = __fadd_rn(__fmul_rn(v, scale_v), 0.0f);
        const float decayed = __fadd_rn(__fmul_rn(theta[i], decay), 0.0f);
        const float adjusted = __fdiv_rn(m_hat, __fadd_rn(__fsqrt_rn(v_hat), eps));
        theta[i] = __fsub_rn(decayed, __fadd_rn(__fmul_rn(adjusted, lr), 0.0f));
        mv[i] = m;
        mv[n + i] = v;
    }
}
"#;

/// One update of every parameter that has a gradient in `grads` (moments in `moments`, in
/// the parameters' order).
pub(super) fn step(vars: &[Var], grads: &GradStore, moments: &[Tensor], c: Constants) -> Result<()> {
    for (var, mv) in vars.iter().zip(moments) {
        // A parameter the loss does not reach keeps its value and moments, as in candle.
        if let Some(g) = grads.get(var.as_tensor()) {
            update(var, g, mv, c)?;
        }
    }
    Ok(())
}

/// Updates `var` in place, and its moments `mv`, from its gradient `g`.
fn update(var: &Var, g: &Tensor, mv: &Tensor, c: Constants) -> Result<()> {
    if g.elem_count() != var.elem_count() || mv.elem_count() != 2 * var.elem_count() {
        bail!(
            "a gradient of {} values for a parameter of {}",
            g.elem_count(),
            var.elem_count()
        )
    }
    var.as_tensor()
        .inplace_op3(&g.flatten_all()?.contiguous()?, mv, &Update(c))
}

struct Update(Constants);

fn range(l: &Layout) -> Result<(usize, usize)> {
    match l.contiguous_offsets() {
        Some(r) => Ok(r),
        None => bail!("adamw-update: expected contiguous tensors"),
    }
}

impl InplaceOp3 for Update {
    fn name(&self) -> &'static str {
        "adamw-update-cuda"
    }

    fn cpu_fwd(
        &self,
        _: &mut CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> Result<()> {
        bail!("adamw-update-cuda: the CPU has its own fused update")
    }

    fn cuda_fwd(
        &self,
        theta: &mut CudaStorage,
        lt: &Layout,
        g: &CudaStorage,
        lg: &Layout,
        mv: &CudaStorage,
        lm: &Layout,
    ) -> Result<()> {
        let ((t0, t1), (g0, g1), (m0, m1)) = (range(lt)?, range(lg)?, range(lm)?);
        let n = t1 - t0;
        if g1 - g0 != n || m1 - m0 != 2 * n {
            bail!(
                "adamw-update-cuda: {n} weights, {} gradients, {} moments",
                g1 - g0,
                m1 - m0
            )
        }
        let dev = theta.device.clone();
        let func = crate::kernels::nvrtc::function(&dev, "vgg_mnist_adamw", SOURCE, "vgg_adamw")?;
        let g = g.as_cuda_slice::<f32>()?.slice(g0..g1);
        let mv = mv.as_cuda_slice::<f32>()?.slice(m0..m1);
        let mut theta = theta.as_cuda_slice_mut::<f32>()?.slice_mut(t0..t1);
        let c = self.0;
        let n = n as i32;
        let cfg = LaunchConfig {
            grid_dim: ((n as u32).div_ceil(256).clamp(1, 1024), 1, 1),
            block_dim: (256, 1, 1),
            shared_mem_bytes: 0,
        };
        let stream = dev.cuda_stream();
        let mut b = stream.launch_builder(&func);
        b.arg(&mut theta);
        b.arg(&g);
        b.arg(&mv);
        b.arg(&n);
        let scalars = [
            c.beta1,
            c.one_minus_beta1,
            c.beta2,
            c.one_minus_beta2,
            c.scale_m,
            c.scale_v,
            c.decay,
            c.eps,
            c.lr,
        ];
        for x in &scalars {
            b.arg(x);
        }
        // SAFETY: the arguments match the kernel's signature; the three ranges were checked to
        // hold n, n and 2n floats.
        unsafe { b.launch(cfg) }.w()?;
        Ok(())
    }
}

#[test]
fn the_kernel_compiles() {
    let ptx = crate::kernels::nvrtc::ptx("vgg_mnist_adamw", SOURCE).unwrap();
    assert!(ptx.contains(".entry vgg_adamw"));
}
