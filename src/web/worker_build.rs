//! Which build of the training worker the page starts: `worker-relaxed.js` (matrix kernels with
//! the relaxed-SIMD fused multiply-add, about 1.4x faster training in Chromium) where the browser
//! supports relaxed SIMD, else `worker.js` (plain simd128).
//!
//! Contract: [`WorkerBuild::detect`] never picks a build the browser cannot compile; `?simd=plain`
//! forces the plain build (to compare the two, or to rule the relaxed one out when debugging).
//! Why a second build and not one module: a module with a single relaxed-SIMD instruction fails
//! to compile as a whole where relaxed SIMD is missing, and wasm has no run-time
//! feature dispatch inside a module.

/// One of the two worker builds in `dist/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkerBuild {
    RelaxedSimd,
    Simd128,
}

impl WorkerBuild {
    /// The relaxed build where supported, unless the query string says `simd=plain`.
    pub fn detect(query: &str) -> Self {
        let forced_plain = query
            .trim_start_matches('?')
            .split('&')
            .any(|pair| pair == "simd=plain");
        if !forced_plain && relaxed_simd_supported() {
            Self::RelaxedSimd
        } else {
            Self::Simd128
        }
    }

    /// The worker script, relative to the page.
    pub fn script(self) -> &'static str {
        match self {
            Self::RelaxedSimd => "worker-relaxed.js",
            Self::Simd128 => "worker.js",
        }
    }

    /// Stable key for the DOM (`data-build`).
    pub fn key(self) -> &'static str {
        match self {
            Self::RelaxedSimd => "relaxed-simd",
            Self::Simd128 => "simd128",
        }
    }

    /// What a user reads under the training controls.
    pub fn label(self) -> &'static str {
        match self {
            Self::RelaxedSimd => "WebAssembly SIMD with fused multiply-add (relaxed SIMD)",
            Self::Simd128 => "WebAssembly SIMD (no relaxed SIMD in this browser)",
        }
    }
}

/// The smallest module with a relaxed-SIMD instruction: `() -> v128 { i8x16.relaxed_swizzle(
/// i8x16.splat(1), i8x16.splat(2)) }` (the probe `wasm-feature-detect` uses).
const RELAXED_SIMD_PROBE: [u8; 36] = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
    0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // types: () -> v128
    0x03, 0x02, 0x01, 0x00, // one function of type 0
    0x0a, 0x0f, 0x01, 0x0d, 0x00, // code: one body of 13 bytes, no locals
    0x41, 0x01, 0xfd, 0x0f, // i32.const 1, i8x16.splat
    0x41, 0x02, 0xfd, 0x0f, // i32.const 2, i8x16.splat
    0xfd, 0x80, 0x02, // i8x16.relaxed_swizzle
    0x0b, // end
];

/// Whether this browser compiles relaxed-SIMD instructions.
pub fn relaxed_simd_supported() -> bool {
    let bytes = js_sys::Uint8Array::from(&RELAXED_SIMD_PROBE[..]);
    js_sys::WebAssembly::validate(&bytes.into()).unwrap_or(false)
}
