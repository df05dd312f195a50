//! Matrix-multiply micro-kernels for wasm32 (simd128), used instead of the `gemm` crate for the
//! two layouts the convolution ops produce.
//!
//! Why our own: in the browser the multiplications are two thirds of training time (V8 profile,
//! README Performance). `gemm`'s simd128 kernel multiplies and adds separately, with a 12x4 tile
//! that needs 16 vector registers (12 sums, 3 loads, a broadcast), all that x86 has and more
//! than V8 can leave free. These tiles need at most 13, and with the crate feature
//! `relaxed-simd` (the `worker-relaxed` build) use the fused multiply-add `f32x4.relaxed_madd`
//! (one instruction instead of two; a real FMA on x86 and ARM). Relaxed means a browser may round
//! either way (fused or not): results can differ in the last bit between machines, never more.
//! Measured in Chromium (small model, README Performance): `gemm` 1,670-1,910 images/s, these
//! kernels without FMA 1,900-2,380, with FMA 2,640-2,770.
//!
//! Contract: [`matmul`] handles `dst (m, n) (+)= lhs (m, k) × rhs (k, n)` with `dst` row-major
//! when either
//! - `rhs` is row-major (rows contiguous): the forward and input-gradient gemms, `W × col`; or
//! - `lhs` is row-major and `rhs` is the transpose of a row-major matrix: the weight gradient,
//!   `col × gᵀ`, a grid of dot products along rows;
//!
//! and returns `false` (touching nothing) for any other layout. The caller has checked that every
//! index stays inside the slices.

use core::arch::wasm32::*;

use super::Mat;

/// Rows of `dst` per tile of the row-streaming kernel.
const ROWS_MR: usize = 3;
/// Vectors of four columns per tile of the row-streaming kernel (12 columns): 3x3 sums, 3 loads
/// and a splat in registers; measured 2,734-2,738 vs 2,496-2,567 images/s in Chromium for 4x2.
const ROWS_NV: usize = 3;
/// Rows of `dst` per tile of the dot-product kernel.
const DOTS_MR: usize = 4;
/// Columns of `dst` per tile of the dot-product kernel.
const DOTS_NR: usize = 2;
// The tile dispatch below has one arm per size up to these; change both together.
const _: () = assert!(ROWS_MR == 3 && ROWS_NV == 3 && DOTS_MR == 4 && DOTS_NR == 2);

/// `a * b + c` on four lanes.
#[inline]
#[cfg_attr(feature = "relaxed-simd", target_feature(enable = "relaxed-simd"))]
fn madd(a: v128, b: v128, c: v128) -> v128 {
    #[cfg(feature = "relaxed-simd")]
    {
        f32x4_relaxed_madd(a, b, c)
    }
    #[cfg(not(feature = "relaxed-simd"))]
    {
        f32x4_add(f32x4_mul(a, b), c)
    }
}

/// See the module docs. Returns whether the layout was one of the two handled here.
///
/// # Safety
/// `k >= 1` (the tile pointers are formed from the views' first elements); every `i*rs + j*cs`
/// of the two views must be in bounds, and `dst` valid for writes of `m * n` floats (and reads,
/// with `accumulate`; without, it is never read).
pub unsafe fn matmul(dst: *mut f32, lhs: Mat, rhs: Mat, accumulate: bool) -> bool {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    debug_assert!(k >= 1, "simd128::matmul: k = 0 is the caller's case");
    if rhs.cs == 1 {
        rows_kernel(dst, lhs, rhs, m, k, n, accumulate);
        true
    } else if rhs.rs == 1 && lhs.cs == 1 {
        dots_kernel(dst, lhs, rhs, m, k, n, accumulate);
        true
    } else {
        false
    }
}

/// `dst (m, n) (+)= lhs (m, k) × rhs (k, n)`, `rhs` rows contiguous: each tile of `ROWS_MR` rows
/// and `4 * ROWS_NV` columns keeps its sums in registers while it walks down `k` rows of `rhs`.
///
/// # Safety
/// All indices of the two views must be in bounds, `dst` valid for `m * n` floats (row-major).
#[cfg_attr(feature = "relaxed-simd", target_feature(enable = "relaxed-simd"))]
unsafe fn rows_kernel(dst: *mut f32, lhs: Mat, rhs: Mat, m: usize, k: usize, n: usize, acc: bool) {
    let wide = n / (4 * ROWS_NV) * (4 * ROWS_NV);
    let vec_end = n / 4 * 4;
    let mut i = 0;
    while i < m {
        let rows = ROWS_MR.min(m - i);
        let mut j = 0;
        while j < wide {
            match rows {
                3 => rows_tile::<3, ROWS_NV>(dst, lhs, rhs, i, j, k, n, acc),
                2 => rows_tile::<2, ROWS_NV>(dst, lhs, rhs, i, j, k, n, acc),
                1 => rows_tile::<1, ROWS_NV>(dst, lhs, rhs, i, j, k, n, acc),
                _ => unreachable!("rows <= ROWS_MR"),
            }
            j += 4 * ROWS_NV;
        }
        while j < vec_end {
            match rows {
                3 => rows_tile::<3, 1>(dst, lhs, rhs, i, j, k, n, acc),
                2 => rows_tile::<2, 1>(dst, lhs, rhs, i, j, k, n, acc),
                1 => rows_tile::<1, 1>(dst, lhs, rhs, i, j, k, n, acc),
                _ => unreachable!("rows <= ROWS_MR"),
            }
            j += 4;
        }
        for r in i..i + rows {
            for c in vec_end..n {
                let mut s = 0.0;
                for p in 0..k {
                    s += at(lhs, r, p) * at(rhs, p, c);
                }
                let d = dst.add(r * n + c);
                *d = if acc { *d + s } else { s };
            }
        }
        i += rows;
    }
}

#[inline]
#[cfg_attr(feature = "relaxed-simd", target_feature(enable = "relaxed-simd"))]
#[allow(clippy::too_many_arguments)]
unsafe fn rows_tile<const R: usize, const V: usize>(
    dst: *mut f32,
    lhs: Mat,
    rhs: Mat,
    i: usize,
    j: usize,
    k: usize,
    n: usize,
    acc: bool,
) {
    let mut sums = [[f32x4_splat(0.0); V]; R];
    let a = lhs.data.as_ptr();
    let b = rhs.data.as_ptr();
    for p in 0..k {
        let row = b.add(p * rhs.rs + j);
        let bv: [v128; V] = core::array::from_fn(|v| v128_load(row.add(4 * v) as *const v128));
        for (r, sums_r) in sums.iter_mut().enumerate() {
            let av = f32x4_splat(*a.add((i + r) * lhs.rs + p * lhs.cs));
            for (s, &bv) in sums_r.iter_mut().zip(&bv) {
                *s = madd(av, bv, *s);
            }
        }
    }
    let out = dst;
    for (r, sums_r) in sums.iter().enumerate() {
        for (v, &s) in sums_r.iter().enumerate() {
            let d = out.add((i + r) * n + j + 4 * v) as *mut v128;
            let s = if acc { f32x4_add(v128_load(d), s) } else { s };
            v128_store(d, s);
        }
    }
}

/// `dst (m, n) (+)= lhs (m, k) × rhs (k, n)` where `lhs` rows and `rhs` columns are contiguous:
/// every element is a dot product of two contiguous runs of `k` floats; a tile of `DOTS_MR x DOTS_NR`
/// of them is summed in four lanes each, then across the lanes.
///
/// # Safety
/// All indices of the two views must be in bounds, `dst` valid for `m * n` floats (row-major).
#[cfg_attr(feature = "relaxed-simd", target_feature(enable = "relaxed-simd"))]
unsafe fn dots_kernel(dst: *mut f32, lhs: Mat, rhs: Mat, m: usize, k: usize, n: usize, acc: bool) {
    let mut i = 0;
    while i < m {
        let rows = DOTS_MR.min(m - i);
        let mut j = 0;
        while j < n {
            let cols = DOTS_NR.min(n - j);
            match (rows, cols) {
                (4, 2) => dots_tile::<4, 2>(dst, lhs, rhs, i, j, k, n, acc),
                (3, 2) => dots_tile::<3, 2>(dst, lhs, rhs, i, j, k, n, acc),
                (2, 2) => dots_tile::<2, 2>(dst, lhs, rhs, i, j, k, n, acc),
                (1, 2) => dots_tile::<1, 2>(dst, lhs, rhs, i, j, k, n, acc),
                (4, _) => dots_tile::<4, 1>(dst, lhs, rhs, i, j, k, n, acc),
                (3, _) => dots_tile::<3, 1>(dst, lhs, rhs, i, j, k, n, acc),
                (2, _) => dots_tile::<2, 1>(dst, lhs, rhs, i, j, k, n, acc),
                (1, _) => dots_tile::<1, 1>(dst, lhs, rhs, i, j, k, n, acc),
                _ => unreachable!("rows <= DOTS_MR, cols <= DOTS_NR"),
            }
            j += cols;
        }
        i += rows;
    }
}

#[inline]
#[cfg_attr(feature = "relaxed-simd", target_feature(enable = "relaxed-simd"))]
#[allow(clippy::too_many_arguments)]
unsafe fn dots_tile<const R: usize, const C: usize>(
    dst: *mut f32,
    lhs: Mat,
    rhs: Mat,
    i: usize,
    j: usize,
    k: usize,
    n: usize,
    acc: bool,
) {
    let a: [*const f32; R] = core::array::from_fn(|r| lhs.data.as_ptr().add((i + r) * lhs.rs));
    let b: [*const f32; C] = core::array::from_fn(|c| rhs.data.as_ptr().add((j + c) * rhs.cs));
    let mut sums = [[f32x4_splat(0.0); C]; R];
    let vec_end = k / 4 * 4;
    let mut p = 0;
    while p < vec_end {
        let bv: [v128; C] = core::array::from_fn(|c| v128_load(b[c].add(p) as *const v128));
        for (r, sums_r) in sums.iter_mut().enumerate() {
            let av = v128_load(a[r].add(p) as *const v128);
            for (s, &bv) in sums_r.iter_mut().zip(&bv) {
                *s = madd(av, bv, *s);
            }
        }
        p += 4;
    }
    let out = dst;
    for (r, sums_r) in sums.iter().enumerate() {
        for (c, &s) in sums_r.iter().enumerate() {
            let mut t = (f32x4_extract_lane::<0>(s) + f32x4_extract_lane::<1>(s))
                + (f32x4_extract_lane::<2>(s) + f32x4_extract_lane::<3>(s));
            for q in vec_end..k {
                t += *a[r].add(q) * *b[c].add(q);
            }
            let d = out.add((i + r) * n + j + c);
            *d = if acc { *d + t } else { t };
        }
    }
}

/// Element `(r, c)` of a view.
#[inline(always)]
unsafe fn at(m: Mat, r: usize, c: usize) -> f32 {
    *m.data.get_unchecked(r * m.rs + c * m.cs)
}
