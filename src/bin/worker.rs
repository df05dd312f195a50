// The training Web Worker's entry point, for both worker builds (Trunk builds them with
// `data-type="worker"`): `worker` (this file, plain simd128) and `worker-relaxed` (the same source,
// included by `worker-relaxed.rs` and built with the `relaxed-simd` feature, whose matrix kernels
// use the relaxed-SIMD fused multiply-add; a browser without relaxed SIMD cannot compile that
// module, so the page starts it only where `web::worker_build` found support). Natively there is
// no worker, so the binary is empty. (Plain comments, not `//!`: the file is also `include!`d.)

#[cfg(target_arch = "wasm32")]
fn main() {
    vgg_mnist::web::worker::register()
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {}
