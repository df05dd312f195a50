//! The `vgg-mnist` binary: the native CLI, or on wasm32 the browser app's entry point.

/// In the browser, the binary is the Yew app (built by Trunk from `index.html`).
#[cfg(target_arch = "wasm32")]
fn main() {
    vgg_mnist::web::run_app()
}

/// The native CLI lives on another branch; this stub keeps the package building here.
#[cfg(not(target_arch = "wasm32"))]
fn main() {}
