//! `--device auto|cpu|cuda` → a candle `Device`, with one-line errors a user can act on.

use anyhow::{bail, Result};
use candle_core::Device;
use clap::ValueEnum;

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceArg {
    /// CUDA when this build has it and a GPU answers, else CPU.
    Auto,
    Cpu,
    Cuda,
}

pub fn select(arg: DeviceArg) -> Result<Device> {
    match arg {
        DeviceArg::Cpu => Ok(Device::Cpu),
        DeviceArg::Cuda if !cfg!(feature = "cuda") => bail!(
            "this build has no CUDA support; rebuild with `cargo run --release --features cuda -- train --device cuda`"
        ),
        DeviceArg::Cuda => cuda().map_err(|e| anyhow::anyhow!("--device cuda: no usable CUDA GPU or driver: {e}")),
        DeviceArg::Auto if cfg!(feature = "cuda") => Ok(cuda().unwrap_or(Device::Cpu)),
        DeviceArg::Auto => Ok(Device::Cpu),
    }
}

/// Opens GPU 0. candle links cudarc with `dynamic-linking`, so a cuda build whose machine lacks
/// the driver library (libcuda.so.1) is stopped by the dynamic loader before `main`; one with the
/// driver but no usable GPU gets an error from `cuInit` here. A panic from the CUDA layer is still
/// caught (and kept off the terminal) and turned into an error, so `--device auto` can fall back.
fn cuda() -> Result<Device> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(|| Device::new_cuda(0));
    std::panic::set_hook(hook);
    match result {
        Ok(Ok(device)) => Ok(device),
        // candle appends a backtrace on further lines when RUST_BACKTRACE is set; keep one line.
        Ok(Err(e)) => bail!("{}", e.to_string().lines().next().unwrap_or_default()),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "the CUDA driver library could not be loaded".into());
            bail!("{}", msg.lines().next().unwrap_or_default())
        }
    }
}

/// A short name for metrics and logs.
pub fn name(device: &Device) -> &'static str {
    if device.is_cuda() {
        "cuda"
    } else {
        "cpu"
    }
}
