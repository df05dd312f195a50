//! The max-pool gradient's routing two windows at a time, vectorised where LLVM cannot (the
//! lanes of a window depend on each other): SSE2 on x86_64, simd128 on wasm32. Both compute
//! exactly what `pool::route_row`'s scalar loop does; the kernel tests check them against a
//! reference natively and in Chromium.

/// `route_row` two windows (four lanes of each row) at a time with SSE2, x86_64's baseline:
/// LLVM does not vectorise the scalar form (the lanes of a window depend on each other), which
/// ran at about 5 % of a training step (`perf`).
#[cfg(target_arch = "x86_64")]
pub(super) mod sse2 {
    use std::arch::x86_64::*;
    use std::mem::MaybeUninit;

    /// Lanes `[1, 0, 3, 2]` of `v`: each lane's partner in its window.
    #[inline(always)]
    unsafe fn swap_pairs(v: __m128) -> __m128 {
        _mm_shuffle_ps::<0b10_11_00_01>(v, v)
    }

    /// The first `pairs` pairs of windows of a row pair, as the scalar `route_row`.
    ///
    /// # Safety
    /// `r0`, `r1`, `d0`, `d1` hold at least `4 * pairs` elements, `m`, `g` at least `2 * pairs`.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub(in crate::kernels::pool) unsafe fn route_pairs<const RELU: bool>(
        r0: &[f32],
        r1: &[f32],
        m: &[f32],
        g: &[f32],
        d0: &mut [MaybeUninit<f32>],
        d1: &mut [MaybeUninit<f32>],
        pairs: usize,
    ) {
        assert!(r0.len().min(r1.len()).min(d0.len()).min(d1.len()) >= 4 * pairs);
        assert!(m.len().min(g.len()) >= 2 * pairs);
        let even = _mm_castsi128_ps(_mm_set_epi32(0, -1, 0, -1)); // lanes 0 and 2
        let odd = _mm_castsi128_ps(_mm_set_epi32(-1, 0, -1, 0));
        let ones = _mm_castsi128_ps(_mm_set1_epi32(-1));
        for p in 0..pairs {
            let (x, w) = (4 * p, 2 * p);
            // [m0 m0 m1 m1] and [g0 g0 g1 g1]: each window's maximum and gradient on its lanes.
            // Two floats as one unaligned 64-bit load (`_mm_load_sd` would need 8-byte alignment).
            let m2 = _mm_castpd_ps(_mm_set_sd(m.as_ptr().add(w).cast::<f64>().read_unaligned()));
            let m2 = _mm_unpacklo_ps(m2, m2);
            let g2 = _mm_castpd_ps(_mm_set_sd(g.as_ptr().add(w).cast::<f64>().read_unaligned()));
            let mut g2 = _mm_unpacklo_ps(g2, g2);
            if RELU {
                g2 = _mm_and_ps(g2, _mm_cmpgt_ps(m2, _mm_setzero_ps()));
            }
            // [a0 b0 a1 b1] and [c0 d0 c1 d1].
            let v0 = _mm_loadu_ps(r0.as_ptr().add(x));
            let v1 = _mm_loadu_ps(r1.as_ptr().add(x));
            // Row 0: a = (a == m) | NaN m, in even lanes; b = !a & (b == m), in odd lanes.
            let nan = _mm_and_ps(_mm_cmpunord_ps(m2, m2), even);
            let e0 = _mm_or_ps(_mm_cmpeq_ps(v0, m2), nan);
            let a_on_odd = _mm_and_ps(swap_pairs(e0), odd);
            // sel0 = [a b a b]; taken = a | b on both lanes of a window.
            let sel0 = _mm_andnot_ps(a_on_odd, e0);
            let taken = _mm_or_ps(sel0, swap_pairs(sel0));
            // Row 1: c = !(a | b) & (c == m), in even lanes; the rest, in odd lanes.
            let c = _mm_and_ps(_mm_andnot_ps(taken, _mm_cmpeq_ps(v1, m2)), even);
            let rest = _mm_and_ps(_mm_xor_ps(_mm_or_ps(taken, swap_pairs(c)), ones), odd);
            let sel1 = _mm_or_ps(c, rest);
            let (o0, o1) = (_mm_and_ps(sel0, g2), _mm_and_ps(sel1, g2));
            _mm_storeu_ps(d0.as_mut_ptr().add(x).cast(), o0);
            _mm_storeu_ps(d1.as_mut_ptr().add(x).cast(), o1);
        }
    }
}

/// `route_row` two windows at a time with wasm's simd128, the same lane logic as `sse2`:
/// in the browser the scalar form took 8 % of a training step (V8's profiler, small model).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub(super) mod simd128 {
    use core::arch::wasm32::*;
    use std::mem::MaybeUninit;

    /// Lanes `[1, 0, 3, 2]` of `v`: each lane's partner in its window.
    #[inline(always)]
    fn swap_pairs(v: v128) -> v128 {
        i32x4_shuffle::<1, 0, 3, 2>(v, v)
    }

    /// `[x0 x0 x1 x1]` from the two floats at `s[w..w + 2]`.
    #[inline(always)]
    fn pair_lanes(s: &[f32], w: usize) -> v128 {
        let v = f32x4(s[w], s[w + 1], 0.0, 0.0);
        i32x4_shuffle::<0, 0, 1, 1>(v, v)
    }

    /// The first `pairs` pairs of windows of a row pair, as the scalar `route_row`. Slices
    /// shorter than `4 * pairs` (rows) or `2 * pairs` (`m`, `g`) panic.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub(in crate::kernels::pool) fn route_pairs<const RELU: bool>(
        r0: &[f32],
        r1: &[f32],
        m: &[f32],
        g: &[f32],
        d0: &mut [MaybeUninit<f32>],
        d1: &mut [MaybeUninit<f32>],
        pairs: usize,
    ) {
        let (r0, r1, d0, d1) = (
            &r0[..4 * pairs],
            &r1[..4 * pairs],
            &mut d0[..4 * pairs],
            &mut d1[..4 * pairs],
        );
        let (m, g) = (&m[..2 * pairs], &g[..2 * pairs]);
        let even = u32x4(!0, 0, !0, 0); // lanes 0 and 2
        let odd = u32x4(0, !0, 0, !0);
        for p in 0..pairs {
            let (x, w) = (4 * p, 2 * p);
            // Each window's maximum and gradient on its two lanes of each row.
            let m2 = pair_lanes(m, w);
            let mut g2 = pair_lanes(g, w);
            if RELU {
                g2 = v128_and(g2, f32x4_gt(m2, f32x4_splat(0.0)));
            }
            // SAFETY: `x + 4 <= 4 * pairs`, the length every row slice was cut to above; wasm
            // loads and stores need no alignment.
            // [a0 b0 a1 b1] and [c0 d0 c1 d1].
            let (v0, v1) = unsafe {
                (
                    v128_load(r0.as_ptr().add(x).cast()),
                    v128_load(r1.as_ptr().add(x).cast()),
                )
            };
            // Row 0: a = (a == m) | NaN m, in even lanes; b = !a & (b == m), in odd lanes.
            let nan = v128_and(f32x4_ne(m2, m2), even);
            let e0 = v128_or(f32x4_eq(v0, m2), nan);
            let a_on_odd = v128_and(swap_pairs(e0), odd);
            // sel0 = [a b a b]; taken = a | b on both lanes of a window.
            let sel0 = v128_andnot(e0, a_on_odd);
            let taken = v128_or(sel0, swap_pairs(sel0));
            // Row 1: c = !(a | b) & (c == m), in even lanes; the rest, in odd lanes.
            let c = v128_and(v128_andnot(f32x4_eq(v1, m2), taken), even);
            let rest = v128_and(v128_not(v128_or(taken, swap_pairs(c))), odd);
            let sel1 = v128_or(c, rest);
            let (o0, o1) = (v128_and(sel0, g2), v128_and(sel1, g2));
            // SAFETY: as for the loads; `MaybeUninit<f32>` has `f32`'s layout.
            unsafe {
                v128_store(d0.as_mut_ptr().add(x).cast(), o0);
                v128_store(d1.as_mut_ptr().add(x).cast(), o1);
            }
        }
    }
}
