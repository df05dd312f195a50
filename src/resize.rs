//! Anti-aliased image resizing, shared by `preprocess` (a picture's box to MNIST's 20 px) and
//! `stroke_width` (a bold picture thinned at a working size): in its own module so that neither
//! depends on the other for it.

/// Anti-aliased resize with a separable triangle filter whose support widens when shrinking
/// (what PIL calls BILINEAR with antialiasing), so thin strokes neither vanish nor alias.
pub(crate) fn resize(src: &[f32], sw: usize, sh: usize, tw: usize, th: usize) -> Vec<f32> {
    let rows: Vec<f32> = (0..sh)
        .flat_map(|y| resize_1d(&src[y * sw..(y + 1) * sw], tw))
        .collect(); // (sh, tw)
    let mut out = vec![0f32; tw * th];
    for x in 0..tw {
        let column: Vec<f32> = (0..sh).map(|y| rows[y * tw + x]).collect();
        for (y, v) in resize_1d(&column, th).into_iter().enumerate() {
            out[y * tw + x] = v;
        }
    }
    out
}

fn resize_1d(src: &[f32], n_out: usize) -> Vec<f32> {
    let scale = n_out as f32 / src.len() as f32;
    let support = (1.0 / scale).max(1.0);
    (0..n_out)
        .map(|i| {
            let centre = (i as f32 + 0.5) / scale;
            let lo = (centre - support).floor().max(0.0) as usize;
            let hi = ((centre + support).ceil() as usize).min(src.len());
            let (mut acc, mut wsum) = (0f32, 0f32);
            for (j, &v) in src.iter().enumerate().take(hi).skip(lo) {
                let w = (1.0 - ((j as f32 + 0.5 - centre) / support).abs()).max(0.0);
                acc += w * v;
                wsum += w;
            }
            if wsum > 0.0 {
                acc / wsum
            } else {
                0.0
            }
        })
        .collect()
}
