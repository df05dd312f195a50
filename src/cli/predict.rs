//! `vgg-mnist predict`: digits in image files → top-3 predictions, through the same
//! preprocessing as the web app's canvas.

use anyhow::{Context, Result};
use candle_core::Device;
use vgg_mnist::preprocess;

use super::args::PredictArgs;
use super::files;

pub fn run(args: PredictArgs) -> Result<()> {
    let device = Device::Cpu;
    let model = files::load_checkpoint(&args.model, &device)?.model(&device)?;
    for path in &args.images {
        let img = image::open(path)
            .with_context(|| format!("reading image {}", path.display()))?
            .to_rgba8();
        let (w, h) = (img.width() as usize, img.height() as usize);
        let digit = preprocess::from_rgba(img.as_raw(), w, h).with_context(|| path.display().to_string())?;
        let probs = model
            .probabilities(&preprocess::to_input(&[digit], &device)?)?
            .squeeze(0)?
            .to_vec1::<f32>()?;
        let mut ranked: Vec<(usize, f32)> = probs.into_iter().enumerate().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        let top: Vec<String> = ranked
            .iter()
            .take(3)
            .map(|(d, p)| format!("{d} ({:.1}%)", 100.0 * p))
            .collect();
        println!("{}: {}", path.display(), top.join(", "));
    }
    Ok(())
}
