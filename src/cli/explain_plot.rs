//! The `explain` figure (plotters, one PNG): the input with its saliency overlaid, the first
//! layer's 3x3 filters, the probabilities and logits beside the head's input size, then every
//! layer's maps as heat-map tiles, grouped by block and labelled with their shapes.
//!
//! Contract: draws an [`Explanation`] as it is (the core computes everything); the figure's
//! size follows from the model's widths alone, so two images explained by one model give
//! figures of the same size. Colours: activations on viridis, scaled per layer (0 to the
//! layer's largest value, so a channel that stays dark is one the image did not excite);
//! filters and saliency on blue (negative) – white – red (positive), scaled by their largest
//! magnitude.

use anyhow::{anyhow, Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::colors::colormaps::{DerivedColorMap, ViridisRGB};
use vgg_mnist::explain::{Explanation, LayerMap};
use vgg_mnist::preprocess::Digit;

use super::plots::{register_font, FONT};

const WIDTH: i32 = 1000;
const MARGIN: i32 = 20;
/// Every activation tile is this many pixels square (28x28 maps at 2x, 14x14 at 4x, 7x7 at 8x).
const TILE: i32 = 56;
const TILE_GAP: i32 = 4;
const TILES_PER_ROW: usize = 16;
/// Pixels per input pixel in the saliency panel.
const INPUT_SCALE: i32 = 9;
/// Pixels per filter weight, and filters per row.
const FILTER_SCALE: i32 = 8;
const FILTERS_PER_ROW: usize = 8;
const LABEL: i32 = 26;

type DrawResult<DB> = std::result::Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// The figure for `input` (0..1, 1 = ink) and its explanation, as PNG bytes, and its size.
pub fn explanation_png(input: &Digit, e: &Explanation, title: &str) -> Result<(Vec<u8>, (u32, u32))> {
    register_font();
    let (width, height) = (WIDTH as u32, figure_height(e) as u32);
    let mut rgb = vec![0u8; 3 * width as usize * height as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        draw(&root, input, e, title).map_err(|err| anyhow!("drawing the explanation: {err}"))?;
        root.present()
            .map_err(|err| anyhow!("drawing the explanation: {err}"))?;
    }
    let image = image::RgbImage::from_raw(width, height, rgb).context("the figure's buffer has its size")?;
    let mut png = std::io::Cursor::new(Vec::new());
    image.write_to(&mut png, image::ImageFormat::Png)?;
    Ok((png.into_inner(), (width, height)))
}

/// Height of the top panels (input, filters, probabilities).
fn header_height(e: &Explanation) -> i32 {
    let filter_rows = e.filters.channels.div_ceil(FILTERS_PER_ROW) as i32;
    let filters = LABEL + filter_rows * (3 * FILTER_SCALE + 6);
    let input = LABEL + 28 * INPUT_SCALE + 2 * LABEL;
    2 * LABEL + input.max(filters).max(LABEL + 10 * 26 + 3 * LABEL)
}

fn layer_height(layer: &LayerMap) -> i32 {
    LABEL + layer.channels.div_ceil(TILES_PER_ROW) as i32 * (TILE + TILE_GAP) + 8
}

fn figure_height(e: &Explanation) -> i32 {
    let blocks = e.layers.iter().filter(|l| l.name.starts_with("pool")).count() as i32;
    header_height(e) + blocks * LABEL + e.layers.iter().map(layer_height).sum::<i32>() + MARGIN
}

fn text_style(size: u32) -> TextStyle<'static> {
    TextStyle::from((FONT, size).into_font()).color(&BLACK)
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    input: &Digit,
    e: &Explanation,
    title: &str,
) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let predicted = e.predicted();
    root.draw_text(
        &format!(
            "{title}: predicted {predicted} ({:.1} %)",
            100.0 * e.probabilities[predicted]
        ),
        &text_style(18),
        (MARGIN, MARGIN - 6),
    )?;
    let top = MARGIN + LABEL;
    draw_input(root, input, e, (MARGIN, top))?;
    draw_filters(root, &e.filters, (MARGIN + 28 * INPUT_SCALE + 40, top))?;
    draw_probabilities(root, e, (MARGIN + 28 * INPUT_SCALE + 40 + 280, top))?;
    let mut y = header_height(e);
    let mut block = 1;
    let mut block_started = false;
    for layer in &e.layers {
        if !block_started {
            root.draw_text(&format!("Block {block}"), &text_style(18), (MARGIN, y))?;
            y += LABEL;
            block_started = true;
        }
        draw_layer(root, layer, y)?;
        y += layer_height(layer);
        if layer.name.starts_with("pool") {
            block += 1;
            block_started = false;
        }
    }
    Ok(())
}

/// The input in grey levels with the saliency on top: red where more ink would raise the
/// predicted digit's score, blue where it would lower it.
fn draw_input<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    input: &Digit,
    e: &Explanation,
    (x0, y0): (i32, i32),
) -> DrawResult<DB> {
    root.draw_text(
        &format!("Input 28×28, saliency for {}", e.target),
        &text_style(15),
        (x0, y0),
    )?;
    let y0 = y0 + LABEL;
    let scale = e.saliency.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-12);
    for (i, (&ink, &s)) in input.iter().zip(&e.saliency).enumerate() {
        let (x, y) = (x0 + (i % 28) as i32 * INPUT_SCALE, y0 + (i / 28) as i32 * INPUT_SCALE);
        let grey = (255.0 * (1.0 - 0.75 * ink)) as u8;
        let cell = [(x, y), (x + INPUT_SCALE, y + INPUT_SCALE)];
        root.draw(&Rectangle::new(cell, RGBColor(grey, grey, grey).filled()))?;
        let tint = if s > 0.0 {
            RGBColor(215, 25, 28)
        } else {
            RGBColor(44, 123, 182)
        };
        let strength = f64::from(s.abs() / scale) * 0.9;
        root.draw(&Rectangle::new(cell, tint.mix(strength).filled()))?;
    }
    let side = 28 * INPUT_SCALE;
    root.draw(&Rectangle::new(
        [(x0, y0), (x0 + side, y0 + side)],
        BLACK.stroke_width(1),
    ))?;
    root.draw_text(
        "red: more ink raises the score, blue: lowers it",
        &text_style(13),
        (x0, y0 + side + 6),
    )?;
    root.draw_text(
        &format!("(gradient of logit {}, largest |value| {scale:.3})", e.target),
        &text_style(13),
        (x0, y0 + side + 6 + 18),
    )
}

/// The first layer's 3x3 filters on a diverging scale.
fn draw_filters<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    filters: &LayerMap,
    (x0, y0): (i32, i32),
) -> DrawResult<DB> {
    root.draw_text(
        &format!("{} filters ({} × 3×3)", filters.name, filters.channels),
        &text_style(15),
        (x0, y0),
    )?;
    let y0 = y0 + LABEL;
    let scale = filters.values.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-12);
    let colors = DerivedColorMap::new(&[RGBColor(44, 123, 182), WHITE, RGBColor(215, 25, 28)]);
    let step = 3 * FILTER_SCALE + 6;
    for c in 0..filters.channels {
        let (tx, ty) = (
            x0 + (c % FILTERS_PER_ROW) as i32 * step,
            y0 + (c / FILTERS_PER_ROW) as i32 * step,
        );
        for (k, &w) in filters.channel(c).iter().enumerate() {
            let (x, y) = (tx + (k % 3) as i32 * FILTER_SCALE, ty + (k / 3) as i32 * FILTER_SCALE);
            let color = colors.get_color(0.5 + 0.5 * w / scale);
            root.draw(&Rectangle::new(
                [(x, y), (x + FILTER_SCALE, y + FILTER_SCALE)],
                color.filled(),
            ))?;
        }
        let side = 3 * FILTER_SCALE;
        root.draw(&Rectangle::new(
            [(tx, ty), (tx + side, ty + side)],
            BLACK.mix(0.4).stroke_width(1),
        ))?;
    }
    Ok(())
}

/// The ten probabilities as bars with their logits, and the head's input size.
fn draw_probabilities<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    e: &Explanation,
    (x0, y0): (i32, i32),
) -> DrawResult<DB> {
    root.draw_text("Probability (logit)", &text_style(15), (x0, y0))?;
    let y0 = y0 + LABEL;
    let bar = 200.0;
    let predicted = e.predicted();
    for (d, (&p, &logit)) in e.probabilities.iter().zip(&e.logits).enumerate() {
        let y = y0 + d as i32 * 26;
        root.draw_text(&d.to_string(), &text_style(15), (x0, y + 2))?;
        let color = if d == predicted {
            RGBColor(33, 102, 172)
        } else {
            RGBColor(160, 160, 160)
        };
        let len = (bar * f64::from(p)).round() as i32;
        root.draw(&Rectangle::new(
            [(x0 + 16, y), (x0 + 16 + len.max(1), y + 18)],
            color.filled(),
        ))?;
        root.draw_text(
            &format!("{:.1} % ({logit:.2})", 100.0 * p),
            &text_style(13),
            (x0 + 16 + bar as i32 + 8, y + 3),
        )?;
    }
    let y = y0 + 10 * 26 + 10;
    let last = e.layers.last();
    let shape = last.map_or(String::new(), |l| {
        format!(" ({} × {} × {})", l.channels, l.height, l.width)
    });
    root.draw_text(
        &format!("head input: {} values{shape}", e.head_inputs),
        &text_style(14),
        (x0, y),
    )?;
    root.draw_text("→ 10 logits → softmax", &text_style(14), (x0, y + 20))
}

/// One layer's maps as tiles, 16 to a row, on viridis scaled to the layer's largest value.
fn draw_layer<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, layer: &LayerMap, y0: i32) -> DrawResult<DB> {
    let max = layer.values.iter().copied().fold(0f32, f32::max);
    let kind = if layer.name.starts_with("pool") {
        "2×2 max-pool"
    } else {
        "conv 3×3 + ReLU"
    };
    root.draw_text(
        &format!(
            "{}: {} × {}×{} ({kind}; colour 0 … {max:.2})",
            layer.name, layer.channels, layer.height, layer.width
        ),
        &text_style(14),
        (MARGIN, y0 + 4),
    )?;
    let y0 = y0 + LABEL;
    let px = (TILE / layer.height.max(layer.width).max(1) as i32).max(1);
    let max = max.max(1e-12);
    for c in 0..layer.channels {
        let (tx, ty) = (
            MARGIN + (c % TILES_PER_ROW) as i32 * (TILE + TILE_GAP),
            y0 + (c / TILES_PER_ROW) as i32 * (TILE + TILE_GAP),
        );
        for (i, &v) in layer.channel(c).iter().enumerate() {
            let (x, y) = (tx + (i % layer.width) as i32 * px, ty + (i / layer.width) as i32 * px);
            let color = ViridisRGB::get_color(v / max);
            root.draw(&Rectangle::new([(x, y), (x + px, y + px)], color.filled()))?;
        }
    }
    Ok(())
}
