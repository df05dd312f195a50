//! The `vgg-mnist` binary: the native CLI (train, eval, predict, bench) or, on wasm32, the web app.

#[cfg(not(target_arch = "wasm32"))]
mod cli;

/// Why: see the `mimalloc` line in Cargo.toml (page faults on every step with glibc's malloc).
#[cfg(not(target_arch = "wasm32"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    cli::main()
}

/// In the browser, the binary is the Yew app (built by Trunk from `index.html`).
#[cfg(target_arch = "wasm32")]
fn main() {
    vgg_mnist::web::run_app()
}
