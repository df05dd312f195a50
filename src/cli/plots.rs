//! Plots of a run (plotters): the confusion matrix as a labelled heat-map with counts (PNG and
//! SVG), and the training curves (loss and accuracy per epoch, PNG). Each is drawn in memory and
//! returned as the file's bytes, which the caller writes atomically.
//!
//! Why a bundled font: plotters' system-font lookup needs fontconfig, which a fresh machine may
//! lack; DejaVu Sans (free licence, see assets/fonts/) is compiled in instead.

use std::io::Cursor;
use std::sync::Once;

use anyhow::{anyhow, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;
use vgg_mnist::metrics::ConfusionMatrix;

use super::report::EpochRecord;

pub(super) const FONT: &str = "sans-serif";
static REGISTER_FONT: Once = Once::new();

pub(super) fn register_font() {
    REGISTER_FONT.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
        // The font is compiled in and known to parse; a failure would only cost the labels.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, bytes);
    });
}

const CONFUSION_SIZE: (u32, u32) = (760, 720);
const CURVES_SIZE: (u32, u32) = (1100, 450);

/// Draws with `draw` on an RGB bitmap of `size` and encodes it as PNG.
fn png_bytes(
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<BitMapBackend, Shift>) -> std::result::Result<(), String>,
) -> Result<Vec<u8>> {
    register_font();
    let mut rgb = vec![0u8; size.0 as usize * size.1 as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
        draw(&root).map_err(|e| anyhow!("drawing a plot: {e}"))?;
        root.present().map_err(|e| anyhow!("drawing a plot: {e}"))?;
    }
    let image = image::RgbImage::from_raw(size.0, size.1, rgb).ok_or_else(|| anyhow!("plot buffer size"))?;
    let mut png = Cursor::new(Vec::new());
    image.write_to(&mut png, image::ImageFormat::Png)?;
    Ok(png.into_inner())
}

/// The confusion matrix as a PNG file's bytes.
pub fn confusion_png(cm: &ConfusionMatrix, title: &str) -> Result<Vec<u8>> {
    png_bytes(CONFUSION_SIZE, |root| {
        draw_confusion(root, cm, title).map_err(|e| e.to_string())
    })
}

/// The confusion matrix as an SVG file's text.
pub fn confusion_svg(cm: &ConfusionMatrix, title: &str) -> Result<String> {
    register_font();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, CONFUSION_SIZE).into_drawing_area();
        draw_confusion(&root, cm, title).map_err(|e| anyhow!("drawing a plot: {e}"))?;
        root.present().map_err(|e| anyhow!("drawing a plot: {e}"))?;
    }
    Ok(svg)
}

/// Cells are shaded by their share of the row (the true digit), so errors stay visible next to
/// the large diagonal; every cell shows its count.
fn draw_confusion<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    cm: &ConfusionMatrix,
    title: &str,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(root)
        .caption(format!("Confusion matrix, {title}"), (FONT, 24))
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.5f64..9.5f64, 9.5f64..-0.5f64)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(10)
        .y_labels(10)
        .x_label_formatter(&|v| format!("{}", v.round()))
        .y_label_formatter(&|v| format!("{}", v.round()))
        .x_desc("predicted digit")
        .y_desc("true digit")
        .label_style((FONT, 16))
        .axis_desc_style((FONT, 18))
        .draw()?;
    for (t, row) in cm.counts.iter().enumerate() {
        let total = row.iter().sum::<u64>().max(1) as f64;
        for (p, &count) in row.iter().enumerate() {
            let share = count as f64 / total;
            // Off-diagonal errors are rare; a square root keeps small shares visible.
            let shade = if t == p { share } else { share.sqrt() };
            let color = if t == p {
                RGBColor(33, 102, 172)
            } else {
                RGBColor(214, 47, 39)
            };
            let fill = color.mix(if count == 0 { 0.0 } else { 0.15 + 0.85 * shade });
            let (x, y) = (p as f64, t as f64);
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)],
                fill.filled(),
            )))?;
            let text_color = if t == p && share > 0.5 { WHITE } else { BLACK };
            let style =
                TextStyle::from((FONT, 15).into_font())
                    .color(&text_color)
                    .pos(plotters::style::text_anchor::Pos::new(
                        plotters::style::text_anchor::HPos::Center,
                        plotters::style::text_anchor::VPos::Center,
                    ));
            chart.draw_series(std::iter::once(Text::new(count.to_string(), (x, y), style)))?;
        }
    }
    Ok(())
}

/// Loss (train and test) and accuracy (train and test) per epoch, side by side.
pub fn training_curves(history: &[EpochRecord]) -> Result<Vec<u8>> {
    png_bytes(CURVES_SIZE, |root| {
        draw_curves(root, history).map_err(|e| e.to_string())
    })
}

fn draw_curves<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    history: &[EpochRecord],
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(550);
    let epochs = history.len().max(1) as f64;
    let max_loss = history
        .iter()
        .flat_map(|r| [r.train_loss, r.test_loss])
        .fold(0.0f64, f64::max)
        .max(1e-3);
    let mut loss = ChartBuilder::on(&left)
        .caption("Loss", (FONT, 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.5f64..epochs + 0.5, 0f64..max_loss * 1.05)?;
    loss.configure_mesh()
        .x_desc("epoch")
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .draw()?;
    let min_acc = history
        .iter()
        .flat_map(|r| [r.train_accuracy, r.test_accuracy])
        .fold(1.0f64, f64::min)
        .min(0.99);
    let mut acc = ChartBuilder::on(&right)
        .caption("Accuracy (%)", (FONT, 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.5f64..epochs + 0.5, (100.0 * min_acc - 0.5).max(0.0)..100.0)?;
    acc.configure_mesh()
        .x_desc("epoch")
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .draw()?;
    let series = |f: fn(&EpochRecord) -> f64, scale: f64| -> Vec<(f64, f64)> {
        history.iter().map(|r| (r.epoch as f64, scale * f(r))).collect()
    };
    let train_style = ShapeStyle::from(&BLUE).stroke_width(2);
    let test_style = ShapeStyle::from(&RED).stroke_width(2);
    loss.draw_series(LineSeries::new(series(|r| r.train_loss, 1.0), train_style))?
        .label("train")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLUE));
    loss.draw_series(LineSeries::new(series(|r| r.test_loss, 1.0), test_style))?
        .label("test")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RED));
    loss.configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font((FONT, 14))
        .draw()?;
    acc.draw_series(LineSeries::new(series(|r| r.train_accuracy, 100.0), train_style))?
        .label("train (augmented)")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLUE));
    acc.draw_series(LineSeries::new(series(|r| r.test_accuracy, 100.0), test_style))?
        .label("test")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RED));
    acc.configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font((FONT, 14))
        .draw()?;
    Ok(())
}
