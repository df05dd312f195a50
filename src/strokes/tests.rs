//! Tests of stroke rendering, the font and its jitter.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::data::IMAGE_SIDE;

/// A "7" with a crossbar, `size` units tall, its top-left corner at `at`.
fn seven(at: [f32; 2], size: f32) -> Vec<Stroke> {
    let p = |x: f32, y: f32| [at[0] + x * size, at[1] + y * size];
    vec![
        vec![p(0.0, 0.0), p(0.3, 0.0), p(0.6, 0.0), p(0.45, 0.5), p(0.3, 1.0)],
        vec![p(0.2, 0.5), p(0.6, 0.5)],
    ]
}

fn mean_abs_diff(a: &Digit, b: &Digit) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len() as f32
}

/// Rows (or columns) that hold ink above 0.1.
fn inked_lines(d: &Digit, rows: bool) -> usize {
    (0..IMAGE_SIDE)
        .filter(|&i| {
            (0..IMAGE_SIDE).any(|j| {
                let (y, x) = if rows { (i, j) } else { (j, i) };
                d[y * IMAGE_SIDE + x] > 0.1
            })
        })
        .count()
}

#[test]
fn any_drawn_size_gives_the_same_input() {
    let big = digit_from_strokes(&seven([20.0, 20.0], 240.0)).unwrap();
    for (at, size) in [([150.0, 200.0], 50.0), ([0.0, 0.0], 0.5), ([-3e4, 1e4], 9e3)] {
        let other = digit_from_strokes(&seven(at, size)).unwrap();
        assert!(
            mean_abs_diff(&big, &other) < 0.005,
            "size {size}: {}",
            mean_abs_diff(&big, &other)
        );
    }
    // MNIST's placement: 20 px tall, centre of mass near the middle.
    assert!((19..=21).contains(&inked_lines(&big, true)));
}

#[test]
fn the_pen_is_as_wide_as_chosen_in_the_20_px_box() {
    // A vertical bar: the longer side (its height) decides the scale, so the bar stays thin. Its
    // ink across a middle row is the pen's width, rounded up to whole pixels by the box.
    let bar = digit_from_strokes(&[vec![[50.0, 0.0], [50.0, 100.0]]]).unwrap();
    let row: f32 = bar[14 * IMAGE_SIDE..15 * IMAGE_SIDE].iter().sum();
    assert!(
        (PEN_IN_BOX - 0.5..=PEN_IN_BOX.ceil() + 0.2).contains(&row),
        "ink across the bar {row}"
    );
    assert!((19..=21).contains(&inked_lines(&bar, true)));
    assert!(inked_lines(&bar, false) <= 4);
    // A wide "-" the same way round.
    let dash = digit_from_strokes(&[vec![[0.0, 7.0], [30.0, 7.5]]]).unwrap();
    assert!((19..=21).contains(&inked_lines(&dash, false)));
    assert!(inked_lines(&dash, true) <= 4);
    // A thicker pen gives more ink.
    let thick = digit_from_strokes_with_pen(&[vec![[50.0, 0.0], [50.0, 100.0]]], 5.0).unwrap();
    let thick_row: f32 = thick[14 * IMAGE_SIDE..15 * IMAGE_SIDE].iter().sum();
    assert!((4.5..=5.2).contains(&thick_row), "{thick_row}");
}

#[test]
fn the_output_is_quantised_to_bytes() {
    for v in digit_from_strokes(&seven([3.0, 4.0], 77.0)).unwrap() {
        assert_eq!((v * 255.0).round() / 255.0, v);
    }
}

#[test]
fn nothing_to_draw_is_empty() {
    let nan = f32::NAN;
    let empty: [&[Stroke]; 6] = [
        &[],
        &[vec![]],
        &[vec![[4.0, 4.0]]],
        &[vec![[4.0, 4.0]; 100], vec![[4.0, 4.0]]],
        &[vec![[nan, 1.0], [f32::INFINITY, 2.0], [3.0, f32::NEG_INFINITY]]],
        &[vec![[1e30, 1e30], [1e30, 1e30]]],
    ];
    for strokes in empty {
        assert_eq!(digit_from_strokes(strokes), Err(PreprocessError::Empty), "{strokes:?}");
    }
}

#[test]
fn bad_points_are_ignored_and_extremes_stay_finite() {
    let clean = seven([10.0, 10.0], 100.0);
    let mut dirty = clean.clone();
    dirty[0].insert(2, [f32::NAN, 5.0]);
    dirty[1].push([f32::INFINITY, f32::NEG_INFINITY]);
    dirty.push(vec![[f32::NAN, f32::NAN]]);
    assert_eq!(digit_from_strokes(&dirty), digit_from_strokes(&clean));
    // Coordinates at the ends of f32's range: the box's size must not overflow.
    let huge = vec![vec![[-f32::MAX, -f32::MAX], [f32::MAX, f32::MAX]]];
    let d = digit_from_strokes(&huge).unwrap();
    assert!(d.iter().all(|v| (0.0..=1.0).contains(v)) && d.iter().sum::<f32>() > 10.0);
}

#[test]
fn a_million_points_are_thinned_to_a_bounded_drawing() {
    // A circle traced 1,000 times over, point by point.
    let circle: Stroke = (0..1_000_000)
        .map(|i| {
            let t = i as f32 * 0.00628;
            [100.0 + 80.0 * t.cos(), 100.0 + 80.0 * t.sin()]
        })
        .collect();
    assert!(
        thin_out(std::slice::from_ref(&circle))
            .iter()
            .map(Vec::len)
            .sum::<usize>()
            <= MAX_POINTS
    );
    let ring = digit_from_strokes(&[circle]).unwrap();
    assert_eq!(ring[14 * IMAGE_SIDE + 14], 0.0, "the ring's middle stays empty");
    assert!(ring.iter().sum::<f32>() > 30.0);
    // As many one-point strokes: a cloud of dots, still bounded.
    let dots: Vec<Stroke> = (0..1_000_000)
        .map(|i| vec![[(i % 1000) as f32, (i / 1000) as f32]])
        .collect();
    let thinned = thin_out(&dots);
    assert!(thinned.iter().map(Vec::len).sum::<usize>() <= MAX_POINTS);
    // What is kept spans the cloud (rows 0..1000), not its first rows only.
    let rows = thinned.iter().flatten().map(|p| p[1]);
    let (top, bottom) = rows.fold((f32::MAX, f32::MIN), |(lo, hi), y| (lo.min(y), hi.max(y)));
    assert!(top < 10.0 && bottom > 990.0, "rows {top}..{bottom}");
    assert!(digit_from_strokes(&dots).is_ok());
}

#[test]
fn a_large_drawing_matches_the_pad_at_its_pen_width() {
    // A digit filling most of a 280-px pad, drawn on the pad with a pen whose width is what
    // `digit_from_strokes` chooses for it, then read as pixels: the same input.
    let strokes = seven([70.0, 30.0], 220.0);
    let pen = PEN_IN_BOX * 220.0 / (20.0 - PEN_IN_BOX);
    let ink = rasterize(&strokes, 280, 280, pen);
    let from_pixels = preprocess::from_ink(&ink, 280, 280).unwrap();
    let from_strokes = digit_from_strokes(&strokes).unwrap();
    assert!(
        mean_abs_diff(&from_pixels, &from_strokes) < 0.02,
        "{}",
        mean_abs_diff(&from_pixels, &from_strokes)
    );
}

#[test]
fn the_shipped_font_has_every_digit_in_a_few_styles() {
    let font = DigitFont::shipped().unwrap();
    for d in 0..10 {
        let styles = font.styles(d);
        assert!((2..=4).contains(&styles.len()), "digit {d}: {} styles", styles.len());
        for style in styles {
            let points = style.strokes.iter().flatten();
            assert!(
                points.clone().all(|p| p.iter().all(|v| (-0.01..=1.01).contains(v))),
                "{}",
                style.name
            );
            // Every style renders to a digit.
            assert!(digit_from_strokes(&style.strokes).is_ok(), "{}", style.name);
        }
    }
    assert!(font.styles(10).is_empty());
    assert_eq!(
        font.iter().count(),
        (0..10).map(|d| font.styles(d).len()).sum::<usize>()
    );
}

#[test]
fn bad_fonts_are_refused() {
    let err = |json: &str| DigitFont::from_json(json).unwrap_err();
    assert!(matches!(err("{"), FontError::Json(_)));
    assert!(matches!(err(r#"{"digits": []}"#), FontError::MissingDigit(0)));
    assert!(matches!(
        err(r#"{"digits": [{"digit": 12, "styles": []}]}"#),
        FontError::NotADigit(12)
    ));
    let no_points = r#"{"digits": [{"digit": 3, "styles": [{"name": "x", "strokes": [[]]}]}]}"#;
    assert!(matches!(err(no_points), FontError::BadStyle { digit: 3, .. }));
}

#[test]
fn jitter_places_a_digit_at_the_asked_size_inside_the_pad() {
    let font = DigitFont::shipped().unwrap();
    let jitter = Jitter::default();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for size in DrawnSize::ALL {
        for (_, style) in font.iter() {
            let height = size.sample_height(&mut rng);
            let (lo, hi) = size.height_range();
            assert!((lo..hi).contains(&height));
            let placed = jitter.place(&style.strokes, 280.0, height, &mut rng);
            let ys = placed.iter().flatten().map(|p| p[1]);
            let xs = placed.iter().flatten().map(|p| p[0]);
            let (top, bottom) = (ys.clone().fold(f32::MAX, f32::min), ys.fold(f32::MIN, f32::max));
            let (left, right) = (xs.clone().fold(f32::MAX, f32::min), xs.fold(f32::MIN, f32::max));
            // As tall as asked unless the pad is too narrow for its width; never outside.
            assert!(bottom - top <= height * 280.0 + 0.01, "{}", style.name);
            assert!(bottom - top >= 0.5 * height * 280.0, "{}", style.name);
            let (min, max) = (0.05 * 280.0 - 0.01, 0.95 * 280.0 + 0.01);
            assert!(
                top >= min && left >= min && bottom <= max && right <= max,
                "{}",
                style.name
            );
        }
    }
    // Seeded: the same seed draws the same digit.
    let style = &font.styles(7)[0].strokes;
    let draw = |seed| jitter.place(style, 280.0, 0.5, &mut ChaCha8Rng::seed_from_u64(seed));
    assert_eq!(draw(1), draw(1));
    assert_ne!(draw(1), draw(2));
}
