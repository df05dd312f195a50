//! `vgg-mnist explain`: one image → one PNG of what the network does with it (see
//! [`super::explain_plot`]), read, bounded and preprocessed exactly as `predict` does, and written
//! like every output (checked writable first, atomically, never over the image or the model).

use anyhow::{Context, Result};
use vgg_mnist::image_input::{decode_rgba, MAX_IMAGE_BYTES};
use vgg_mnist::predictor::Predictor;

use super::args::ExplainArgs;
use super::{explain_plot, files, stdout};

pub fn run(args: ExplainArgs) -> Result<()> {
    let path = &args.image;
    let (dir, name) = files::output_path(&args.out, "--out", &[path, &args.model])?;
    files::check_writable(&dir)?;
    let checkpoint = files::load_checkpoint(&args.model, &candle_core::Device::Cpu)?;
    let predictor = Predictor::from_checkpoint(&checkpoint)?;
    let bytes = files::read_capped(path, MAX_IMAGE_BYTES, "image")?;
    let (rgba, w, h) = decode_rgba(&bytes).with_context(|| path.display().to_string())?;
    let prediction = predictor
        .predict_rgba(&rgba, w, h)
        .with_context(|| path.display().to_string())?;
    let explanation = predictor.explain(&prediction.input)?;
    let title = format!("{} (model {})", path.display(), args.model.display());
    let (png, (width, height)) = explain_plot::explanation_png(&prediction.input, &explanation, &title)?;
    files::write_atomic(&dir, &name, &png)?;
    stdout::line(format_args!(
        "{}: {} ({:.1}%); wrote {} ({width}x{height})",
        path.display(),
        prediction.digit,
        100.0 * prediction.probabilities[prediction.digit],
        args.out.display()
    ))?;
    Ok(())
}
