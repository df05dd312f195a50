// The relaxed-SIMD build of the training worker: the same source as `worker.rs`, built with the
// `relaxed-simd` feature (Cargo.toml, index.html).
include!("worker.rs");
