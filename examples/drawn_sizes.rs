//! Accuracy of the shipped model by drawn size, before and after stroke-based preprocessing.
//!
//! Digits come from the vector font (`assets/digit-strokes.json`) with a seeded random affine
//! jitter, placed on a 280-px pad at three sizes (small: a fifth to a third of the pad's height;
//! medium: 40-60 %; large: 70-90 %). Each digit is read two ways:
//!
//! - before: rasterised as the drawing pad paints it (round pen 8.5 % of the pad, anti-aliased,
//!   ink in the alpha channel), then `preprocess::from_rgba` on that canvas;
//! - after: `strokes::digit_from_strokes` on the strokes themselves.
//!
//! Then the pen width of `digit_from_strokes` (px in the 20-px box) is swept, and digits are
//! drawn as pictures with thin to bold pens to see what `predict` does with pixel images.
//!
//! ```sh
//! cargo run --release --example drawn_sizes -- [--per-size 300] [--seed 1] [--preview PATH]
//! ```
//!
//! Native only (on wasm32 `main` does nothing).

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::time::Instant;

    use anyhow::{bail, Context, Result};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use vgg_mnist::predictor::Predictor;
    use vgg_mnist::preprocess::{self, Digit};
    use vgg_mnist::strokes::{self, DigitFont, DrawnSize, Jitter, Stroke};

    const PAD: f32 = 280.0;
    /// The drawing pad's pen: 8.5 % of its side (`src/web/draw_pad.rs`).
    const PAD_PEN: f32 = 0.085 * PAD;

    struct Sample {
        digit: usize,
        strokes: Vec<Stroke>,
    }

    pub fn main() -> Result<()> {
        let mut per_size = 300usize;
        let mut seed = 1u64;
        let mut preview = None;
        let mut wobble = None;
        let mut dump = None;
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--per-size" => per_size = value()?.parse()?,
                "--seed" => seed = value()?.parse()?,
                "--preview" => preview = Some(value()?),
                "--wobble" => wobble = Some(value()?.parse()?),
                "--dump" => dump = Some(value()?),
                other => bail!("unknown argument {other}"),
            }
        }
        let bytes = std::fs::read("www/model/vgg-mnist.safetensors").context("reading the shipped model")?;
        let predictor = Predictor::from_bytes(&bytes)?;
        let font = DigitFont::shipped()?;
        let mut jitter = Jitter::default();
        if let Some(w) = wobble {
            jitter.wobble = w;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let sets: Vec<(DrawnSize, Vec<Sample>)> = DrawnSize::ALL
            .iter()
            .map(|&size| (size, samples(&font, &jitter, size, per_size, &mut rng)))
            .collect();

        println!("{per_size} jittered font digits per size (seed {seed}, {jitter:?}), shipped model; accuracy:\n");
        println!(
            "| drawn size | before (pad pen 8.5 %, pixels) | after (strokes, pen {} px in the 20-px box) |",
            strokes::PEN_IN_BOX
        );
        println!("|---|---|---|");
        let mut inputs = Vec::new();
        for (size, set) in &sets {
            let before = accuracy(&predictor, set, |s| pad_input(&s.strokes))?;
            let after = accuracy(&predictor, set, |s| Ok(strokes::digit_from_strokes(&s.strokes)?))?;
            println!(
                "| {} | {} | {} |",
                size.label(),
                percent(before, set.len()),
                percent(after, set.len())
            );
            if let Some(path) = &dump {
                // Every prediction with its probabilities, to compare two builds of the code.
                let mut lines = String::new();
                for s in set {
                    for input in [pad_input(&s.strokes)?, strokes::digit_from_strokes(&s.strokes)?] {
                        let p = predictor.predict_digit(&input)?;
                        lines += &format!("{} {} {:?}\n", size.label(), p.digit, p.probabilities);
                    }
                }
                let path = format!("{path}.{}", size.label());
                std::fs::write(&path, lines).with_context(|| format!("writing {path}"))?;
            }
            inputs.push(
                set.iter()
                    .take(10)
                    .map(|s| (pad_input(&s.strokes).ok(), strokes::digit_from_strokes(&s.strokes).ok()))
                    .collect::<Vec<_>>(),
            );
        }

        println!("\nPen width of digit_from_strokes (px in the 20-px box), accuracy by drawn size:\n");
        println!("| pen | small | medium | large | all |");
        println!("|---|---|---|---|---|");
        for pen in [1.5f32, 2.0, 2.5, 3.0, 3.5, 4.0] {
            let mut cells = Vec::new();
            let mut total = 0;
            for (_, set) in &sets {
                let right = accuracy(&predictor, set, |s| {
                    Ok(strokes::digit_from_strokes_with_pen(&s.strokes, pen)?)
                })?;
                total += right;
                cells.push(percent(right, set.len()));
            }
            println!("| {pen} | {} | {} |", cells.join(" | "), percent(total, 3 * per_size));
        }

        println!("\nPictures (predict's path): the large digits drawn on a 280-px white picture with pens of");
        println!("several widths, read by preprocess::from_gray:\n");
        println!("| pen (px of 280) | pen in the 20-px box | accuracy | stretched to max 1 | stroke width estimate |");
        println!("|---|---|---|---|---|");
        let large = &sets[2].1;
        for pen in [1.0f32, 2.0, 3.0, 8.0, PAD_PEN, 35.0, 50.0, 80.0] {
            let right = accuracy(&predictor, large, |s| picture_input(&s.strokes, pen))?;
            let stretched = accuracy(&predictor, large, |s| Ok(stretch(&picture_input(&s.strokes, pen)?)))?;
            let width: f32 = large
                .iter()
                .map(|s| stroke_width(&picture_input(&s.strokes, pen).unwrap()))
                .sum::<f32>()
                / large.len() as f32;
            let in_box = 20.0 * pen / (0.8 * PAD + pen);
            println!(
                "| {pen:.1} | ~{in_box:.1} | {} | {} | {width:.2} |",
                percent(right, large.len()),
                percent(stretched, large.len())
            );
        }
        println!("\nBold pictures, eroded to the MNIST width first (experiment):");
        for pen in [35.0f32, 50.0, 80.0, 110.0] {
            let right = accuracy(&predictor, large, |s| {
                let side = PAD as usize;
                let ink = strokes::rasterize(&s.strokes, side, side, pen);
                Ok(preprocess::from_ink(&erode_to_width(&ink, side, side), side, side)?)
            })?;
            let plain = accuracy(&predictor, large, |s| picture_input(&s.strokes, pen))?;
            println!(
                "| {pen:.1} | {} | {} |",
                percent(plain, large.len()),
                percent(right, large.len())
            );
        }
        let test = vgg_mnist::data::Dataset::from_idx(
            vgg_mnist::data::TEST_IMAGES,
            &std::fs::read("www/data/t10k-images-idx3-ubyte.gz")?,
            vgg_mnist::data::TEST_LABELS,
            &std::fs::read("www/data/t10k-labels-idx1-ubyte.gz")?,
        )?;
        let mnist_width: f32 = (0..test.len())
            .map(|i| {
                let d: Vec<f32> = test.image(i).iter().map(|&v| v as f32 / 255.0).collect();
                stroke_width(&d)
            })
            .sum::<f32>()
            / test.len() as f32;
        println!(
            "\nStroke width estimate (2 x ink area / ink perimeter at 0.5) on the MNIST test set: {mnist_width:.2} px"
        );
        for pen in [1.5f32, 2.0, 2.5, 3.0, 3.5, 4.0] {
            let all: Vec<&Sample> = sets.iter().flat_map(|(_, set)| set).collect();
            let width: f32 = all
                .iter()
                .map(|s| stroke_width(&strokes::digit_from_strokes_with_pen(&s.strokes, pen).unwrap()))
                .sum::<f32>()
                / all.len() as f32;
            println!("  digit_from_strokes with pen {pen}: {width:.2} px");
        }

        let start = Instant::now();
        let mut n = 0;
        for (_, set) in &sets {
            for s in set {
                strokes::digit_from_strokes(&s.strokes)?;
                n += 1;
            }
        }
        println!(
            "\ndigit_from_strokes: {:.3} ms per drawing on average ({n} drawings; noisy: shared machine)",
            start.elapsed().as_secs_f64() * 1e3 / n as f64
        );
        if let Some(path) = preview {
            write_preview(&path, &inputs)?;
            println!("wrote {path}");
        }
        Ok(())
    }

    /// `per_size` jittered digits, every digit equally often, its styles in turn.
    fn samples(font: &DigitFont, jitter: &Jitter, size: DrawnSize, per_size: usize, rng: &mut impl Rng) -> Vec<Sample> {
        (0..per_size)
            .map(|i| {
                let digit = i % 10;
                let styles = font.styles(digit);
                let style = &styles[(i / 10) % styles.len()];
                let height = size.sample_height(rng);
                Sample {
                    digit,
                    strokes: jitter.place(&style.strokes, PAD, height, rng),
                }
            })
            .collect()
    }

    fn accuracy(predictor: &Predictor, set: &[Sample], input: impl Fn(&Sample) -> Result<Digit>) -> Result<usize> {
        let mut right = 0;
        for s in set {
            if predictor.predict_digit(&input(s)?)?.digit == s.digit {
                right += 1;
            }
        }
        Ok(right)
    }

    fn percent(right: usize, n: usize) -> String {
        format!("{:.1} % ({right}/{n})", 100.0 * right as f64 / n as f64)
    }

    /// What the drawing pad does today: a 280x280 transparent canvas, dark ink in the alpha channel.
    fn pad_input(strokes: &[Stroke]) -> Result<Digit> {
        let side = PAD as usize;
        let ink = strokes::rasterize(strokes, side, side, PAD_PEN);
        let rgba: Vec<u8> = ink
            .iter()
            .flat_map(|&v| [17, 17, 17, (v * 255.0).round() as u8])
            .collect();
        Ok(preprocess::from_rgba(&rgba, side, side)?)
    }

    /// A scan-like picture: dark ink on white, `pen` px wide on a 280-px square.
    fn picture_input(strokes: &[Stroke], pen: f32) -> Result<Digit> {
        let side = PAD as usize;
        let ink = strokes::rasterize(strokes, side, side, pen);
        let gray: Vec<u8> = ink.iter().map(|&v| (255.0 * (1.0 - v)).round() as u8).collect();
        Ok(preprocess::from_gray(&gray, side, side)?)
    }

    /// Ten samples per size, each as the model saw it before (left) and after (right), 4x.
    fn write_preview(path: &str, inputs: &[Vec<(Option<Digit>, Option<Digit>)>]) -> Result<()> {
        let (cell, gap) = (28 * 4, 8);
        let cols = 10;
        let (w, h) = (cols * (2 * cell + gap) + gap, inputs.len() * (cell + gap) + gap);
        let mut img = image::GrayImage::from_pixel(w as u32, h as u32, image::Luma([128]));
        for (row, samples) in inputs.iter().enumerate() {
            for (col, (before, after)) in samples.iter().enumerate() {
                for (k, digit) in [before, after].into_iter().enumerate() {
                    let Some(d) = digit else { continue };
                    let (x0, y0) = (gap + col * (2 * cell + gap) + k * cell, gap + row * (cell + gap));
                    for y in 0..cell {
                        for x in 0..cell {
                            let v = d[(y / 4) * 28 + x / 4];
                            img.put_pixel(
                                (x0 + x) as u32,
                                (y0 + y) as u32,
                                image::Luma([(255.0 * (1.0 - v)) as u8]),
                            );
                        }
                    }
                }
            }
        }
        img.save(path)?;
        Ok(())
    }

    /// `d` scaled so that its strongest ink is 1.
    fn stretch(d: &Digit) -> Digit {
        let max = d.iter().copied().fold(0f32, f32::max).max(1e-6);
        d.map(|v| (v / max).min(1.0))
    }

    /// Stroke width of a 28x28 image in pixels: twice the inked area over the inked perimeter (ink
    /// at 0.5 or more), exact for long strokes of constant width.
    fn stroke_width(d: &[f32]) -> f32 {
        let ink = |x: isize, y: isize| (0..28).contains(&x) && (0..28).contains(&y) && d[(y * 28 + x) as usize] >= 0.5;
        let (mut area, mut perimeter) = (0usize, 0usize);
        for y in 0..28isize {
            for x in 0..28isize {
                if ink(x, y) {
                    area += 1;
                    perimeter += [(1, 0), (-1, 0), (0, 1), (0, -1)]
                        .iter()
                        .filter(|(dx, dy)| !ink(x + dx, y + dy))
                        .count();
                }
            }
        }
        2.0 * area as f32 / perimeter.max(1) as f32
    }

    /// Experiment: a picture whose strokes are much wider than MNIST's (relative to the ink's box)
    /// eroded by a square min-filter until they are about 2.1/20 of the box.
    fn erode_to_width(ink: &[f32], w: usize, h: usize) -> Vec<f32> {
        let on = |x: usize, y: usize| ink[y * w + x] >= 0.5;
        let (mut area, mut perimeter) = (0usize, 0usize);
        let (mut x0, mut y0, mut x1, mut y1) = (w, h, 0, 0);
        for y in 0..h {
            for x in 0..w {
                if on(x, y) {
                    area += 1;
                    x0 = x0.min(x);
                    y0 = y0.min(y);
                    x1 = x1.max(x + 1);
                    y1 = y1.max(y + 1);
                    let edges = [
                        x > 0 && on(x - 1, y),
                        x + 1 < w && on(x + 1, y),
                        y > 0 && on(x, y - 1),
                        y + 1 < h && on(x, y + 1),
                    ];
                    perimeter += edges.iter().filter(|e| !**e).count();
                }
            }
        }
        if area == 0 {
            return ink.to_vec();
        }
        let width = 2.0 * area as f32 / perimeter as f32;
        let target = 2.1 / 20.0 * (x1 - x0).max(y1 - y0) as f32;
        if width < 1.5 * target {
            return ink.to_vec();
        }
        let r = ((width - target) / 2.0).round() as usize;
        let mut out = ink.to_vec();
        let mut tmp = ink.to_vec();
        for y in 0..h {
            for x in 0..w {
                tmp[y * w + x] = (x.saturating_sub(r)..(x + r + 1).min(w))
                    .map(|i| ink[y * w + i])
                    .fold(1.0, f32::min);
            }
        }
        for y in 0..h {
            for x in 0..w {
                out[y * w + x] = (y.saturating_sub(r)..(y + r + 1).min(h))
                    .map(|j| tmp[j * w + x])
                    .fold(1.0, f32::min);
            }
        }
        out
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> anyhow::Result<()> {
    native::main()
}

#[cfg(target_arch = "wasm32")]
fn main() {}
