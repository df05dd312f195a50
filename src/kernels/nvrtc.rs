//! The project's own CUDA kernels: CUDA C source compiled with NVRTC when a device first needs
//! it, then loaded as a module of candle's device.
//!
//! Why NVRTC and not nvcc at build time: candle's kernels already need libnvrtc at run time
//! (PyTorch's and NVIDIA's CUDA wheels ship it), while a build-time nvcc step would have to be
//! wired into every build with the `cuda` feature; compiling a few small kernels takes about
//! 0.1 s once per process.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use candle_core::cuda_backend::cudarc::driver::{CudaFunction, CudaSlice, CudaView, LaunchConfig, PushKernelArg};
use candle_core::cuda_backend::cudarc::nvrtc;
use candle_core::cuda_backend::WrapErr;
use candle_core::{bail, CudaDevice, CudaStorage, Layout, Result};

/// Function `name` of module `module` (CUDA C `source`) on `dev`, compiling the module once per
/// process. Every module must have its own name.
pub(crate) fn function(
    dev: &CudaDevice,
    module: &'static str,
    source: &'static str,
    name: &str,
) -> Result<CudaFunction> {
    // (candle does not export its `CudaFunc` wrapper: launch on `dev.cuda_stream()`.)
    Ok(dev
        .get_or_load_custom_func(name, module, ptx(module, source)?)?
        .into_cuda_function())
}

/// The PTX of `source`, compiled once per module name.
pub(crate) fn ptx(module: &'static str, source: &'static str) -> Result<&'static str> {
    static PTX: OnceLock<Mutex<HashMap<&'static str, std::result::Result<&'static str, String>>>> = OnceLock::new();
    let mut cache = PTX
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let entry = cache.entry(module).or_insert_with(|| {
        nvrtc::compile_ptx(source)
            // Leaked once per module (three in all), so the cache can hand out `&'static str`.
            .map(|p| &*Box::leak(p.to_src().into_boxed_str()))
            .map_err(|e| format!("{e:?}"))
    });
    match entry {
        Ok(ptx) => Ok(*ptx),
        Err(e) => bail!("compiling the CUDA kernels of {module} with NVRTC failed: {e}"),
    }
}

/// A module's name and its CUDA C source.
pub(crate) type Module = (&'static str, &'static str);

/// The f32 data behind a contiguous `(storage, layout)`.
pub(crate) fn view<'a>(s: &'a CudaStorage, l: &Layout, name: &str) -> Result<CudaView<'a, f32>> {
    let Some((start, end)) = l.contiguous_offsets() else {
        bail!("{name}: expected a contiguous tensor")
    };
    Ok(s.as_cuda_slice::<f32>()?.slice(start..end))
}

/// Runs kernel `name` of `module` as `name(inputs..., out, a, b)` with one block of 256 threads
/// per plane: the shape of every per-plane kernel of this crate (one block per image channel,
/// 32-bit index arithmetic within it).
///
/// The caller guarantees that the kernel's signature is that, and that `inputs` and `out` hold
/// `planes` planes as the kernel reads and writes them.
pub(crate) fn run_per_plane(
    dev: &CudaDevice,
    (module, source): Module,
    name: &str,
    inputs: &[CudaView<f32>],
    out: &mut CudaSlice<f32>,
    planes: usize,
    (a, b): (usize, usize),
) -> Result<()> {
    let func = function(dev, module, source, name)?;
    let (a, b) = (a as i32, b as i32);
    let cfg = LaunchConfig {
        grid_dim: (planes as u32, 1, 1),
        block_dim: (256, 1, 1),
        shared_mem_bytes: 0,
    };
    let stream = dev.cuda_stream();
    let mut builder = stream.launch_builder(&func);
    for v in inputs {
        builder.arg(v);
    }
    builder.arg(out);
    builder.arg(&a);
    builder.arg(&b);
    // SAFETY: the caller's guarantee above (signature and sizes).
    unsafe { builder.launch(cfg) }.w()?;
    Ok(())
}

/// [`run_per_plane`] on `inputs` (contiguous f32 tensors) into a new buffer of `out_len` floats,
/// which the kernel must write whole.
pub(crate) fn launch_per_plane(
    module: Module,
    name: &str,
    inputs: &[(&CudaStorage, &Layout)],
    planes: usize,
    sides: (usize, usize),
    out_len: usize,
) -> Result<CudaStorage> {
    let Some((first, _)) = inputs.first() else {
        bail!("{name}: no input")
    };
    let dev = first.device.clone();
    let views = inputs
        .iter()
        .map(|(s, l)| view(s, l, name))
        .collect::<Result<Vec<_>>>()?;
    // SAFETY: every element is written by the kernel before it is read (the caller's kernel).
    let mut out = unsafe { dev.alloc::<f32>(out_len)? };
    run_per_plane(&dev, module, name, &views, &mut out, planes, sides)?;
    Ok(CudaStorage::wrap_cuda_slice(out, dev))
}
