//! The training Web Worker built with the `relaxed-simd` feature: the same worker as
//! `worker.rs`, with matrix kernels that use the relaxed-SIMD fused multiply-add. A browser
//! without relaxed SIMD cannot even compile this module, so the page starts it only after
//! checking support (`web::worker_build::relaxed_simd_supported`) and falls back to `worker.js`.

#[cfg(target_arch = "wasm32")]
fn main() {
    vgg_mnist::web::worker::register()
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {}
