//! The training Web Worker's entry point (Trunk builds it with `data-type="worker"`).
//! Natively there is no worker, so the binary is empty.

#[cfg(target_arch = "wasm32")]
fn main() {
    vgg_mnist::web::worker::register()
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {}
