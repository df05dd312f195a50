//! The one entry to the matrix products of the conv ops: [`matmul`] and [`matmul_into`] over
//! strided [`Mat`] views, on the calling thread.
//!
//! Contract: plain slices in, plain slices out; no candle types, no threads (the ops spread
//! images over threads instead, which on small layers beats splitting each small product). On
//! wasm32 the two layouts the ops produce run our own simd128 kernels ([`simd128`], a child of
//! this module, as candle's `cpu/` arch modules are); everything else, and every native product,
//! runs the `gemm` crate.

use std::mem::MaybeUninit;

#[cfg(target_arch = "wasm32")]
mod simd128;

/// A read-only matrix view: element `(i, j)` is `data[i * rs + j * cs]`. Transposing is swapping
/// the strides; no transposed copy is made.
#[derive(Clone, Copy, Debug)]
pub struct Mat<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    pub cs: usize,
}

impl<'a> Mat<'a> {
    /// A row-major `(rows, cols)` matrix.
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }

    /// The transpose, as a view of the same data.
    pub fn t(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
            ..self
        }
    }

    /// Whether every element's index is inside a slice of `len` (overflow counts as outside).
    fn fits(&self, len: usize) -> bool {
        if self.rows == 0 || self.cols == 0 {
            return true;
        }
        let last = (self.rows - 1)
            .checked_mul(self.rs)
            .and_then(|r| (self.cols - 1).checked_mul(self.cs).and_then(|c| r.checked_add(c)));
        last.is_some_and(|i| i < len)
    }
}

/// `dst (m, n) = lhs (m, k) × rhs (k, n)`, or `dst += …` when `accumulate`; `dst` is row-major.
///
/// Runs on the calling thread: callers parallelise over images instead, which on small layers
/// beats splitting each small gemm across threads.
///
/// # Panics
/// If the shapes disagree or a view reaches past its slice (a bug in the caller, never input
/// data: the ops validate shapes first).
pub fn matmul(dst: &mut [f32], lhs: Mat, rhs: Mat, accumulate: bool) {
    let len = lhs.rows.checked_mul(rhs.cols).expect("matmul: size overflows");
    assert!(dst.len() >= len, "matmul: destination too small");
    // SAFETY: `dst` holds `m * n` initialised floats and is borrowed mutably.
    unsafe { matmul_raw(dst.as_mut_ptr(), lhs, rhs, accumulate) }
}

/// `dst (m, n) = lhs (m, k) × rhs (k, n)` into uninitialised memory; returns `dst` (its first
/// `m * n` elements), now written.
///
/// Why: outputs that the product overwrites whole need no zero-filling first; `vec![0.0; n]`
/// for every activation and gradient was a `memset` of about 30 MB per training step.
///
/// # Panics
/// As [`matmul`].
pub fn matmul_into<'a>(dst: &'a mut [MaybeUninit<f32>], lhs: Mat, rhs: Mat) -> &'a mut [f32] {
    let len = lhs.rows.checked_mul(rhs.cols).expect("matmul: size overflows");
    let dst = &mut dst[..len];
    // SAFETY: `dst` has room for `m * n` floats; without `accumulate` neither `gemm` (its
    // `read_dst` off) nor the simd128 kernels read it, and both write every element. `gemm` does
    // not document the first part: gemm-common 0.19 turns `read_dst == false` into `alpha = 0`,
    // and each of its paths (k = 0, gevv, gemv, micro-kernels) tests `alpha` before it reads
    // `dst` (checked in its source for the version in Cargo.lock; recheck on upgrade).
    unsafe { matmul_raw(dst.as_mut_ptr().cast(), lhs, rhs, false) };
    // SAFETY: all `len` elements were just written.
    unsafe { &mut *(dst as *mut [MaybeUninit<f32>] as *mut [f32]) }
}

/// # Safety
/// `dst` must be valid for writes of `m * n` floats (and reads, with `accumulate`), and alias
/// neither input.
unsafe fn matmul_raw(dst: *mut f32, lhs: Mat, rhs: Mat, accumulate: bool) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert_eq!(rhs.rows, k, "matmul: inner dimensions differ");
    assert!(lhs.fits(lhs.data.len()) && rhs.fits(rhs.data.len()));
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m * n {
                dst.add(i).write(0.0);
            }
        }
        return;
    }
    #[cfg(target_arch = "wasm32")]
    if simd128::matmul(dst, lhs, rhs, accumulate) {
        return;
    }
    // SAFETY: the asserts above keep every index gemm forms, `i*rs + j*cs` for i < rows and
    // j < cols, inside the input slices, and the caller vouches for `dst`.
    gemm::gemm(
        m,
        n,
        k,
        dst,
        1,
        n as isize,
        accumulate,
        lhs.data.as_ptr(),
        lhs.cs as isize,
        lhs.rs as isize,
        rhs.data.as_ptr(),
        rhs.cs as isize,
        rhs.rs as isize,
        1.0,
        1.0,
        false,
        false,
        false,
        gemm::Parallelism::None,
    )
}
