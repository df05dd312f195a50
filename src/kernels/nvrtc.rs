//! The project's own CUDA kernels: CUDA C source compiled with NVRTC when a device first needs
//! it, then loaded as a module of candle's device.
//!
//! Why NVRTC and not nvcc at build time: candle's kernels already need libnvrtc at run time
//! (PyTorch's and NVIDIA's CUDA wheels ship it), while a build-time nvcc step would have to be
//! wired into every build with the `cuda` feature; compiling a few small kernels takes about
//! 0.1 s once per process.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use candle_core::cuda_backend::cudarc::driver::CudaFunction;
use candle_core::cuda_backend::cudarc::nvrtc;
use candle_core::{bail, CudaDevice, Result};

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
