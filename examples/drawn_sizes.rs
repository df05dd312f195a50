//! Accuracy of the shipped model by drawn size: the drawing pad's pixels against the strokes.
//!
//! Digits come from the vector font (`assets/digit-strokes.json`) with a seeded random affine
//! jitter and wobble (`strokes::Jitter::default()`), placed on a 280-px pad at three sizes
//! (small: a fifth to a third of the pad's height; medium: 40-60 %; large: 70-90 %), every digit
//! equally often and its styles in turn. Each drawing is read two ways:
//!
//! - pad pixels: rasterised as the drawing pad paints it (round pen 8.5 % of the pad,
//!   anti-aliased, ink in the alpha channel), then `preprocess::from_rgba` on that canvas;
//! - strokes: `strokes::digit_from_strokes` on the strokes themselves.
//!
//! Then the pen width of `digit_from_strokes` is swept (accuracy and the stroke-width estimate
//! against MNIST's), and the large digits are drawn as pictures (dark on white) with pens from
//! a hairline to a marker, to show what `predict` does with pixel images.
//!
//! ```sh
//! cargo run --release --example drawn_sizes -- [--per-size 300] [--seed 1] [--wobble 0.1]
//!     [--preview PATH.png] [--dump PREFIX]
//! ```
//!
//! `--preview` writes ten drawings per size as the model saw them (pad pixels left, strokes
//! right); `--dump` writes every prediction with its probabilities, to compare two builds.
//! Native only (on wasm32 `main` does nothing).

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::time::Instant;

    use anyhow::{bail, Context, Result};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use vgg_mnist::data::{Dataset, IMAGE_SIDE, TEST_IMAGES, TEST_LABELS};
    use vgg_mnist::predictor::Predictor;
    use vgg_mnist::preprocess::{self, Digit};
    use vgg_mnist::stroke_width::stroke_width;
    use vgg_mnist::strokes::{self, DigitFont, DrawnSize, Jitter, Stroke};

    const PAD: f32 = 280.0;
    /// The drawing pad's pen: 8.5 % of its side (`src/web/draw_pad.rs`).
    const PAD_PEN: f32 = 0.085 * PAD;

    struct Sample {
        digit: usize,
        strokes: Vec<Stroke>,
    }

    struct Options {
        per_size: usize,
        seed: u64,
        wobble: Option<f32>,
        preview: Option<String>,
        dump: Option<String>,
    }

    fn options() -> Result<Options> {
        let mut o = Options {
            per_size: 300,
            seed: 1,
            wobble: None,
            preview: None,
            dump: None,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--per-size" => o.per_size = value()?.parse()?,
                "--seed" => o.seed = value()?.parse()?,
                "--wobble" => o.wobble = Some(value()?.parse()?),
                "--preview" => o.preview = Some(value()?),
                "--dump" => o.dump = Some(value()?),
                other => bail!("unknown argument {other}"),
            }
        }
        Ok(o)
    }

    pub fn main() -> Result<()> {
        let o = options()?;
        let bytes = std::fs::read("www/model/vgg-mnist.safetensors").context("reading the shipped model")?;
        let predictor = Predictor::from_bytes(&bytes)?;
        let font = DigitFont::shipped()?;
        let mut jitter = Jitter::default();
        jitter.wobble = o.wobble.unwrap_or(jitter.wobble);
        let mut rng = ChaCha8Rng::seed_from_u64(o.seed);
        let sets: Vec<(DrawnSize, Vec<Sample>)> = DrawnSize::ALL
            .iter()
            .map(|&size| (size, samples(&font, &jitter, size, o.per_size, &mut rng)))
            .collect();
        let n = o.per_size;
        println!(
            "{n} jittered font digits per size (seed {}; {jitter:?}), shipped model.\n",
            o.seed
        );

        println!("| drawn size | pad pixels (pen 8.5 % of the pad) | strokes (digit_from_strokes) |");
        println!("|---|---|---|");
        for (size, set) in &sets {
            let pad = accuracy(&predictor, set, |s| pad_input(&s.strokes))?;
            let drawn = accuracy(&predictor, set, |s| Ok(strokes::digit_from_strokes(&s.strokes)?))?;
            println!("| {} | {} | {} |", size.label(), percent(pad, n), percent(drawn, n));
            if let Some(prefix) = &o.dump {
                dump(&predictor, set, &format!("{prefix}.{}", size.label()))?;
            }
        }

        println!("\nPen of digit_from_strokes (px in the 20-px box): accuracy, and the stroke width");
        println!("estimate (2 x area / perimeter) of its 28x28 inputs:\n");
        println!("| pen | small | medium | large | all | width estimate |");
        println!("|---|---|---|---|---|---|");
        let all: Vec<&Sample> = sets.iter().flat_map(|(_, set)| set).collect();
        for pen in [1.5f32, 2.0, 2.5, 3.0, 3.5, 4.0] {
            let input = |s: &Sample| Ok(strokes::digit_from_strokes_with_pen(&s.strokes, pen)?);
            let mut cells = Vec::new();
            let mut total = 0;
            for (_, set) in &sets {
                let right = accuracy(&predictor, set, input)?;
                total += right;
                cells.push(percent(right, n));
            }
            let width = mean(all.iter().map(|s| input(s).map(|d| width_of(&d))))?;
            println!(
                "| {pen} | {} | {} | {width:.2} px |",
                cells.join(" | "),
                percent(total, 3 * n)
            );
        }
        let test = mnist_test()?;
        let mnist = mean((0..test.len()).map(|i| {
            let d: Vec<f32> = test.image(i).iter().map(|&v| f32::from(v) / 255.0).collect();
            Ok(width_of(&d))
        }))?;
        println!(
            "\nThe same estimate over the {} MNIST test digits: {mnist:.2} px",
            test.len()
        );

        println!("\nPictures (predict's path): the large digits drawn dark on a white 280-px picture with");
        println!("pens from a hairline to a marker, read by preprocess::from_gray:\n");
        println!("| pen (px of 280) | pen in the 20-px box | accuracy | width estimate of the input |");
        println!("|---|---|---|---|");
        let large = &sets[2].1;
        for pen in [1.0f32, 2.0, 3.0, 8.0, PAD_PEN, 35.0, 50.0, 65.0, 80.0, 110.0] {
            let right = accuracy(&predictor, large, |s| picture_input(&s.strokes, pen))?;
            let width = mean(
                large
                    .iter()
                    .map(|s| picture_input(&s.strokes, pen).map(|d| width_of(&d))),
            )?;
            // A large digit is about 80 % of the picture tall; with round caps its ink box is
            // that plus the pen.
            let in_box = 20.0 * pen / (0.8 * PAD + pen);
            println!("| {pen:.1} | ~{in_box:.1} | {} | {width:.2} px |", percent(right, n));
        }

        let start = Instant::now();
        for s in &all {
            strokes::digit_from_strokes(&s.strokes)?;
        }
        println!(
            "\ndigit_from_strokes: {:.3} ms per drawing on average over {} drawings (a shared machine: noisy)",
            start.elapsed().as_secs_f64() * 1e3 / all.len() as f64,
            all.len()
        );
        if let Some(path) = &o.preview {
            write_preview(path, &sets)?;
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

    fn mean(values: impl Iterator<Item = Result<f32>>) -> Result<f32> {
        let (mut sum, mut n) = (0.0, 0);
        for v in values {
            sum += v?;
            n += 1;
        }
        Ok(sum / n.max(1) as f32)
    }

    fn width_of(d: &[f32]) -> f32 {
        stroke_width(d, IMAGE_SIDE, IMAGE_SIDE).unwrap_or(0.0)
    }

    fn mnist_test() -> Result<Dataset> {
        let read = |f: &str| std::fs::read(format!("www/data/{f}")).with_context(|| format!("reading {f}"));
        Ok(Dataset::from_idx(
            TEST_IMAGES,
            &read(TEST_IMAGES)?,
            TEST_LABELS,
            &read(TEST_LABELS)?,
        )?)
    }

    /// What the drawing pad does: a 280x280 transparent canvas, dark ink in the alpha channel.
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

    /// Every prediction of both readings with its probabilities, one line each.
    fn dump(predictor: &Predictor, set: &[Sample], path: &str) -> Result<()> {
        let mut lines = String::new();
        for s in set {
            for input in [pad_input(&s.strokes)?, strokes::digit_from_strokes(&s.strokes)?] {
                let p = predictor.predict_digit(&input)?;
                lines += &format!("{} {} {:?}\n", s.digit, p.digit, p.probabilities);
            }
        }
        std::fs::write(path, lines).with_context(|| format!("writing {path}"))
    }

    /// Ten drawings per size, each as the model saw it from the pad's pixels (left) and from the
    /// strokes (right), at 4x.
    fn write_preview(path: &str, sets: &[(DrawnSize, Vec<Sample>)]) -> Result<()> {
        let (cell, gap, cols) = (28 * 4, 8, 10);
        let (w, h) = (cols * (2 * cell + gap) + gap, sets.len() * (cell + gap) + gap);
        let mut img = image::GrayImage::from_pixel(w as u32, h as u32, image::Luma([128]));
        for (row, (_, set)) in sets.iter().enumerate() {
            for (col, s) in set.iter().take(cols).enumerate() {
                for (k, digit) in [pad_input(&s.strokes)?, strokes::digit_from_strokes(&s.strokes)?]
                    .iter()
                    .enumerate()
                {
                    let (x0, y0) = (gap + col * (2 * cell + gap) + k * cell, gap + row * (cell + gap));
                    for y in 0..cell {
                        for x in 0..cell {
                            let v = digit[(y / 4) * 28 + x / 4];
                            let luma = image::Luma([(255.0 * (1.0 - v)).round() as u8]);
                            img.put_pixel((x0 + x) as u32, (y0 + y) as u32, luma);
                        }
                    }
                }
            }
        }
        img.save(path).with_context(|| format!("writing {path}"))
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> anyhow::Result<()> {
    native::main()
}

#[cfg(target_arch = "wasm32")]
fn main() {}
