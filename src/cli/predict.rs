//! `vgg-mnist predict`: digits in image files → top-3 predictions, through the core
//! [`Predictor`] (the same preprocessing as the web app's canvas).

use anyhow::{Context, Result};
use vgg_mnist::predictor::Predictor;

use super::args::PredictArgs;
use super::files;

pub fn run(args: PredictArgs) -> Result<()> {
    let checkpoint = files::load_checkpoint(&args.model, &candle_core::Device::Cpu)?;
    let predictor = Predictor::from_checkpoint(&checkpoint)?;
    for path in &args.images {
        let img = image::open(path)
            .with_context(|| format!("reading image {}", path.display()))?
            .to_rgba8();
        let (w, h) = (img.width() as usize, img.height() as usize);
        let prediction = predictor
            .predict_rgba(img.as_raw(), w, h)
            .with_context(|| path.display().to_string())?;
        let top: Vec<String> = prediction
            .ranked()
            .iter()
            .take(3)
            .map(|(d, p)| format!("{d} ({:.1}%)", 100.0 * p))
            .collect();
        println!("{}: {}", path.display(), top.join(", "));
    }
    Ok(())
}
