//! Measures the fine-tuning recipe (`vgg_mnist::finetune`) on consistently distorted
//! "handwriting": MNIST test images (which the base models never trained on) all rotated by 35°,
//! all slanted (shear 1.0, 45°), or bold and rotated by 25°, well beyond the augmentation's ±10° /
//! ±0.15 shear. For each style and seed it takes 6 images of each digit as "My digits" (60: the
//! recipe holds out 10 and tunes on 50), fine-tunes, and prints before → after on the recipe's 10
//! held-out samples, on 2,000 further images of the same style that the recipe never saw, and on
//! the MNIST test set (the 9,940 images whose distorted copies were not among the 60 samples),
//! then a summary per model and recipe.
//!
//! ```sh
//! cargo run --release --example finetune_styles                       # the default recipe, seed model
//! cargo run --release --example finetune_styles -- --small runs/small/model.safetensors --sweep
//! cargo run --release --example finetune_styles -- --write-style rotated /tmp/my-digits
//! ```
//!
//! `--sweep` varies learning rate, budget, replay share and augmentation one at a time around the
//! default; `--config lr=3e-4,steps=40,batch=32,replay=0.75,augment=off` (repeatable) measures
//! given recipes instead; `--seeds N` (default 3); `--styles a,b`; `--small-only`; `--base-only`
//! prints the base models' accuracy on every style; `--write-style NAME DIR` writes that style's
//! 60 samples (seed 0) as a My-digits IDX pair for `vgg-mnist finetune --data DIR`. Timings are
//! wall-clock and noisy.
//!
//! Native only (an empty `main` on wasm32).

#[cfg(not(target_arch = "wasm32"))]
mod args;
#[cfg(not(target_arch = "wasm32"))]
mod run;
#[cfg(not(target_arch = "wasm32"))]
mod styles;

#[cfg(not(target_arch = "wasm32"))]
fn main() -> anyhow::Result<()> {
    run::main()
}

#[cfg(target_arch = "wasm32")]
fn main() {}
