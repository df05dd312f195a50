//! `vgg-mnist explain`: one image → one PNG of what the network does with it (see
//! [`super::explain_plot`]), through the same preprocessing as `predict`.

use anyhow::{Context, Result};
use vgg_mnist::predictor::Predictor;

use super::args::ExplainArgs;
use super::{explain_plot, files};

pub fn run(args: ExplainArgs) -> Result<()> {
    let checkpoint = files::load_checkpoint(&args.model, &candle_core::Device::Cpu)?;
    let predictor = Predictor::from_checkpoint(&checkpoint)?;
    let path = &args.image;
    let img = image::open(path)
        .with_context(|| format!("reading image {}", path.display()))?
        .to_rgba8();
    let (w, h) = (img.width() as usize, img.height() as usize);
    let prediction = predictor
        .predict_rgba(img.as_raw(), w, h)
        .with_context(|| path.display().to_string())?;
    let explanation = predictor.explain(&prediction.input)?;
    let title = format!("{} (model {})", path.display(), args.model.display());
    let (png, (width, height)) = explain_plot::explanation_png(&prediction.input, &explanation, &title)?;
    std::fs::write(&args.out, png).with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "{}: {} ({:.1}%); wrote {} ({width}x{height})",
        path.display(),
        prediction.digit,
        100.0 * prediction.probabilities[prediction.digit],
        args.out.display()
    );
    Ok(())
}
