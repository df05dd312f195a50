//! An anti-aliased rasteriser for pen strokes: every segment is drawn as a capsule (round caps
//! and joins, as a canvas with `lineCap = "round"` draws it).
//!
//! Contract: `rasterize` writes ink coverage in 0..1 for a `width x height` grid whose pixel
//! `(x, y)` covers `[x, x+1) x [y, y+1)` in the strokes' coordinates; a one-point stroke is a dot
//! of the pen's diameter. Coverage falls linearly over one pixel at the pen's edge, and where
//! strokes overlap the larger coverage wins. Cost: each segment visits only the pixels of its own
//! bounding box, so the time is bounded by (segments x pixels), and memory by the grid.

use super::Stroke;

/// Ink coverage `(height, width)`, row-major, of `strokes` drawn with a pen `pen_width` wide.
///
/// Non-finite points must have been removed by the caller; points outside the grid are drawn
/// clipped.
pub fn rasterize(strokes: &[Stroke], width: usize, height: usize, pen_width: f32) -> Vec<f32> {
    let mut ink = vec![0f32; width * height];
    let radius = pen_width.max(0.0) / 2.0;
    for stroke in strokes {
        let Some(&first) = stroke.first() else {
            continue;
        };
        if stroke.len() == 1 {
            capsule(&mut ink, width, height, first, first, radius);
        }
        for pair in stroke.windows(2) {
            capsule(&mut ink, width, height, pair[0], pair[1], radius);
        }
    }
    ink
}

/// Draws the segment `a`–`b` with round ends of `radius`, keeping the larger coverage per pixel.
fn capsule(ink: &mut [f32], width: usize, height: usize, a: [f32; 2], b: [f32; 2], radius: f32) {
    // Pixels within radius + 1 of the segment can be touched by the anti-aliased edge.
    let reach = radius + 1.0;
    let span = |lo: f32, hi: f32, n: usize| -> (usize, usize) {
        let lo = (lo - reach).floor().clamp(0.0, n as f32) as usize;
        let hi = (hi + reach).ceil().clamp(0.0, n as f32) as usize;
        (lo, hi)
    };
    let (x0, x1) = span(a[0].min(b[0]), a[0].max(b[0]), width);
    let (y0, y1) = span(a[1].min(b[1]), a[1].max(b[1]), height);
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len2 = dx * dx + dy * dy;
    for y in y0..y1 {
        let py = y as f32 + 0.5;
        for x in x0..x1 {
            let px = x as f32 + 0.5;
            // Distance from the pixel centre to the closest point of the segment.
            let t = if len2 > 0.0 {
                (((px - a[0]) * dx + (py - a[1]) * dy) / len2).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let (ex, ey) = (px - a[0] - t * dx, py - a[1] - t * dy);
            let coverage = (radius + 0.5 - (ex * ex + ey * ey).sqrt()).clamp(0.0, 1.0);
            let cell = &mut ink[y * width + x];
            *cell = cell.max(coverage);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_horizontal_line_covers_its_pen_width() {
        // A 4-px pen along y = 10.25 from x = 5 to x = 25 on a 32x20 grid.
        let ink = rasterize(&[vec![[5.0, 10.25], [25.0, 10.25]]], 32, 20, 4.0);
        let column: Vec<f32> = (0..20).map(|y| ink[y * 32 + 15]).collect();
        // Pixel centres within 1.5 px of the line are fully inked; the edge ramp gives row 8
        // (centre 1.75 px away) 0.75 and row 12 (2.25 px away) 0.25: in all, the pen's width.
        assert_eq!(&column[9..12], &[1.0; 3]);
        assert!((column[8] - 0.75).abs() < 1e-6 && (column[12] - 0.25).abs() < 1e-6);
        assert_eq!(column[7] + column[13], 0.0);
        let total: f32 = column.iter().sum();
        assert!((total - 4.0).abs() < 1e-5, "{total}");
        // The round cap reaches 2 px beyond the end point.
        assert!(ink[10 * 32 + 26] > 0.9 && ink[10 * 32 + 28] == 0.0);
    }

    #[test]
    fn a_single_point_is_a_dot_and_far_points_are_clipped() {
        let ink = rasterize(&[vec![[8.0, 8.0]]], 16, 16, 6.0);
        let area: f32 = ink.iter().sum();
        // A disc of diameter 6: area 28.3.
        assert!((area - std::f32::consts::PI * 9.0).abs() < 1.5, "{area}");
        let ink = rasterize(&[vec![[-100.0, 4.0], [1e6, 4.0]]], 8, 8, 2.0);
        assert!(ink.iter().all(|v| (0.0..=1.0).contains(v)));
        assert!((ink.iter().sum::<f32>() - 16.0).abs() < 1e-4);
        assert!(rasterize(&[vec![], vec![[3.0, 3.0]]], 0, 0, 2.0).is_empty());
    }
}
