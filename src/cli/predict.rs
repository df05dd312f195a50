//! `vgg-mnist predict`: digits in image files → top-3 predictions, through the core
//! [`Predictor`] (the same preprocessing as the web app's canvas).
//!
//! Each image gets its own line: its prediction on stdout, or `error: <file>: <reason>` on
//! stderr, and the others go on; the exit code is 1 if any failed. A closed stdout (`| head -1`)
//! stops the loop quietly.

use anyhow::Result;
use vgg_mnist::image_input::{decode_rgba, MAX_IMAGE_BYTES};
use vgg_mnist::predictor::{Prediction, Predictor};

use super::args::PredictArgs;
use super::{files, stdout, Reported};

pub fn run(args: PredictArgs) -> Result<()> {
    let checkpoint = files::load_checkpoint(&args.model, &candle_core::Device::Cpu)?;
    let predictor = Predictor::from_checkpoint(&checkpoint)?;
    let mut failed = 0;
    for path in &args.images {
        let predicted = files::read_capped(path, MAX_IMAGE_BYTES, "image").and_then(|bytes| {
            let (rgba, w, h) = decode_rgba(&bytes)?;
            Ok(predictor.predict_rgba(&rgba, w, h)?)
        });
        match predicted {
            Ok(prediction) => match stdout::line(format_args!("{}: {}", path.display(), top3(&prediction))) {
                Ok(()) => {}
                // The reader has gone: the remaining predictions have nobody to go to.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => break,
                Err(e) => return Err(e.into()),
            },
            Err(e) => {
                failed += 1;
                eprintln!("error: {}: {e:#}", path.display());
            }
        }
    }
    if failed > 0 {
        return Err(Reported {
            failed,
            total: args.images.len(),
        }
        .into());
    }
    Ok(())
}

/// "7 (99.1%), 1 (0.5%), 2 (0.2%)".
fn top3(prediction: &Prediction) -> String {
    let top: Vec<String> = prediction
        .ranked()
        .iter()
        .take(3)
        .map(|(d, p)| format!("{d} ({:.1}%)", 100.0 * p))
        .collect();
    top.join(", ")
}
