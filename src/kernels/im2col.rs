//! The column matrix of a 3x3, stride-1, padding-1 convolution (im2col), and the geometry of a
//! layer applied to one image. The products over it are in [`super::matmul`].
//!
//! Contract: plain slices in, plain slices out; no candle types, no threads. Every function works
//! on ONE image, so the callers can spread images over threads. The column matrix of an image
//! `(C, H, W)` is `(C*9, H*W)`, row-major, row `c*9 + ky*3 + kx` holding the input shifted by
//! `(ky-1, kx-1)` with zeros where the shift leaves the image:
//!
//! ```text
//! col[c*9 + ky*3 + kx][y*W + x] = x[c][y+ky-1][x+kx-1]   (0 outside)
//! ```

/// Sizes of one conv3x3 layer applied to one image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub c_in: usize,
    pub c_out: usize,
    pub h: usize,
    pub w: usize,
}

impl Geometry {
    /// Rows of the column matrix (the gemm's inner dimension): `C_in * 9`.
    pub fn k(&self) -> usize {
        self.c_in * 9
    }

    /// Pixels per channel: `H * W`.
    pub fn hw(&self) -> usize {
        self.h * self.w
    }

    /// Elements of one input image `(C_in, H, W)`.
    pub fn in_len(&self) -> usize {
        self.c_in * self.hw()
    }

    /// Elements of one output image `(C_out, H, W)`.
    pub fn out_len(&self) -> usize {
        self.c_out * self.hw()
    }

    /// Elements of one column matrix `(C_in*9, H*W)`.
    pub fn col_len(&self) -> usize {
        self.k() * self.hw()
    }
}

/// Fills `col` `(C*9, H*W)` from the image `x` `(C, H, W)`, where `C = x.len() / (h * w)`.
///
/// Each of the nine rows of a channel is the whole plane shifted by `(ky-1)*W + (kx-1)`: one
/// contiguous copy, then the padding (one image row, one column) zeroed. Why not a copy per image
/// row: at W = 14 or 28 the per-row `memcpy` calls cost more than the data they move (`perf`).
///
/// Requires `h, w >= 1` (checked by the ops before any kernel runs).
pub fn im2col(x: &[f32], h: usize, w: usize, col: &mut [f32]) {
    let hw = h * w;
    for (c, plane) in x.chunks_exact(hw).enumerate() {
        for ky in 0..3 {
            for kx in 0..3 {
                let row = &mut col[(c * 9 + ky * 3 + kx) * hw..][..hw];
                // row[p] = plane[p + d] wherever that index exists.
                let d = (ky as isize - 1) * w as isize + (kx as isize - 1);
                let lo = (-d).clamp(0, hw as isize) as usize;
                let hi = (hw as isize - d).clamp(lo as isize, hw as isize) as usize;
                row[..lo].fill(0.0);
                row[hi..].fill(0.0);
                if lo < hi {
                    row[lo..hi].copy_from_slice(&plane[(lo as isize + d) as usize..(hi as isize + d) as usize]);
                }
                // Padding: the row above the first / below the last image row, and the column
                // left of the first / right of the last (where the flat shift wrapped around).
                match ky {
                    0 => row[..w].fill(0.0),
                    2 => row[hw - w..].fill(0.0),
                    _ => {}
                }
                match kx {
                    0 => row.iter_mut().step_by(w).for_each(|v| *v = 0.0),
                    2 => row[w - 1..].iter_mut().step_by(w).for_each(|v| *v = 0.0),
                    _ => {}
                }
            }
        }
    }
}
