//! Pictures of what the network computes, as RGBA pixels for a canvas: a layer's maps as a grid of
//! heat-map tiles, the first layer's filters, and a saliency overlay on the input.
//!
//! Contract: pure functions from the core's [`Explanation`] pieces to `(width, height, rgba)`;
//! every value is clamped, non-finite values are drawn as zero, so any model's numbers draw
//! without a panic. The page only puts the pixels on a canvas (scaled by CSS, pixelated).

use crate::explain::LayerMap;

/// An image for a canvas: width, height and `width * height * 4` RGBA bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Picture {
    pub width: usize,
    pub height: usize,
    pub rgba: Vec<u8>,
}

/// Tiles per row: rows of up to 16 (32 maps → 2 rows, 64 → 4).
pub fn columns(channels: usize) -> usize {
    channels.clamp(1, 16)
}

/// Black → red → yellow → white for `t` in 0..1 (an "inferno"-like ramp: the eye reads more
/// light as more activation).
pub fn heat(t: f32) -> [u8; 3] {
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
    let ramp = |a: f32, b: f32| (255.0 * ((t - a) / (b - a)).clamp(0.0, 1.0)) as u8;
    [ramp(0.0, 0.4), ramp(0.3, 0.8), ramp(0.7, 1.0)]
}

/// Blue (negative) → white (zero) → red (positive), for `t` in -1..1.
pub fn diverging(t: f32) -> [u8; 3] {
    let t = if t.is_finite() { t.clamp(-1.0, 1.0) } else { 0.0 };
    let fade = (255.0 * (1.0 - t.abs())) as u8;
    if t >= 0.0 {
        [255, fade, fade]
    } else {
        [fade, fade, 255]
    }
}

fn max_abs(values: &[f32]) -> f32 {
    values
        .iter()
        .filter(|v| v.is_finite())
        .fold(0f32, |m, v| m.max(v.abs()))
}

/// Every channel of `map` as a tile, [`columns`] per row with a one-pixel gap, in the heat ramp
/// scaled by the largest value of the map.
pub fn tiles(map: &LayerMap) -> Picture {
    tiles_in(map, columns(map.channels), false)
}

/// The first layer's 3x3 filters: eight per row (larger tiles for so few pixels), blue for
/// negative weights and red for positive ones.
pub fn filter_tiles(map: &LayerMap) -> Picture {
    tiles_in(map, map.channels.clamp(1, 8), true)
}

fn tiles_in(map: &LayerMap, cols: usize, diverge: bool) -> Picture {
    let (c, h, w) = (map.channels, map.height, map.width);
    let rows = c.div_ceil(cols).max(1);
    let (width, height) = (cols * (w + 1) - 1, rows * (h + 1) - 1);
    // The gaps stay a neutral grey.
    let mut rgba: Vec<u8> = [200, 204, 214, 255].repeat(width * height);
    let scale = max_abs(&map.values).max(f32::MIN_POSITIVE);
    for ch in 0..c {
        let (ox, oy) = ((ch % cols) * (w + 1), (ch / cols) * (h + 1));
        for (i, &v) in map.channel(ch).iter().enumerate() {
            let [r, g, b] = if diverge { diverging(v / scale) } else { heat(v / scale) };
            let at = ((oy + i / w) * width + ox + i % w) * 4;
            rgba[at..at + 4].copy_from_slice(&[r, g, b, 255]);
        }
    }
    Picture { width, height, rgba }
}

/// The 28x28 input (`input` in 0..1, 1 = ink) dimmed to grey, with the saliency over it: red
/// where more ink would raise the digit's score, blue where it would lower it.
pub fn saliency_overlay(input: &[f32], saliency: &[f32], side: usize) -> Picture {
    let scale = max_abs(saliency).max(f32::MIN_POSITIVE);
    let rgba = (0..side * side)
        .flat_map(|i| {
            let ink = input
                .get(i)
                .copied()
                .filter(|v| v.is_finite())
                .unwrap_or(0.0)
                .clamp(0.0, 1.0);
            let base = 255.0 - 150.0 * ink;
            let s = saliency.get(i).copied().unwrap_or(0.0) / scale;
            let s = if s.is_finite() { s.clamp(-1.0, 1.0) } else { 0.0 };
            let [r, g, b] = diverging(s);
            let a = s.abs().sqrt(); // small gradients stay visible
            let mix = |c: u8| (base * (1.0 - a) + c as f32 * a) as u8;
            [mix(r), mix(g), mix(b), 255]
        })
        .collect();
    Picture {
        width: side,
        height: side,
        rgba,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(channels: usize, side: usize, values: Vec<f32>) -> LayerMap {
        LayerMap {
            name: "x".into(),
            channels,
            height: side,
            width: side,
            values,
        }
    }

    #[test]
    fn tiles_lay_out_every_channel_with_gaps() {
        let m = map(32, 28, (0..32 * 784).map(|i| (i % 784) as f32).collect());
        let p = tiles(&m);
        assert_eq!((p.width, p.height), (16 * 29 - 1, 2 * 29 - 1));
        assert_eq!(p.rgba.len(), p.width * p.height * 4);
        // The largest value is white, zero black, the gap grey.
        let px = |x: usize, y: usize| &p.rgba[(y * p.width + x) * 4..][..3];
        assert_eq!(px(27, 27), [255, 255, 255]);
        assert_eq!(px(0, 0), [0, 0, 0]);
        assert_eq!(px(28, 0), [200, 204, 214]);
        let filters = filter_tiles(&map(32, 3, vec![0.0; 32 * 9]));
        assert_eq!((filters.width, filters.height), (8 * 4 - 1, 4 * 4 - 1));
    }

    #[test]
    fn nothing_a_model_computes_makes_it_panic() {
        let m = map(2, 2, vec![f32::NAN, f32::INFINITY, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(tiles(&m).rgba.len(), 5 * 2 * 4);
        assert_eq!(
            filter_tiles(&map(1, 1, vec![])).rgba.len(),
            4,
            "missing values draw as gaps"
        );
        let p = saliency_overlay(&[1.0; 4], &[f32::NAN, 1.0, -1.0, 0.0], 2);
        assert_eq!(&p.rgba[4..8], [255, 0, 0, 255], "most positive is red");
        assert_eq!(&p.rgba[8..12], [0, 0, 255, 255], "most negative is blue");
        assert_eq!(&p.rgba[12..15], [105, 105, 105], "no gradient leaves the dimmed ink");
    }

    #[test]
    fn ramps_are_monotone_and_bounded() {
        assert_eq!(heat(0.0), [0, 0, 0]);
        assert_eq!(heat(1.0), [255, 255, 255]);
        assert_eq!(heat(7.0), heat(1.0));
        assert!(heat(0.5).iter().map(|&c| c as u32).sum::<u32>() > 0);
        assert_eq!(diverging(0.0), [255, 255, 255]);
        assert_eq!(diverging(-2.0), [0, 0, 255]);
    }
}
