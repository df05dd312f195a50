//! The kernels against the reference they replace: candle's `conv2d` + bias + `relu`, forward and
//! every gradient, on seeded random data.
//!
//! Tolerance: `max |ours - reference| <= 1e-4 * max(1, max |reference|)`, per tensor. The two
//! sum the same products in different orders, so they differ by float rounding only.

use candle_core::{Device, Tensor, Var};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::matmul::{matmul, Mat};
use super::{col2im3x3, conv3x3_relu, conv3x3_relu_by_columns, conv_block, im2col3x3, max_pool2x2};

// On wasm32 the same tests run in headless Chromium (scripts/test-browser.sh), where `matmul`
// uses the simd128 kernels, once per worker build (with and without `relaxed-simd`).
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

const TOLERANCE: f32 = 1e-4;

fn random(rng: &mut ChaCha8Rng, shape: &[usize]) -> Tensor {
    let n = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
    Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
}

fn assert_close(what: &str, ours: &Tensor, reference: &Tensor) {
    assert_eq!(ours.dims(), reference.dims(), "{what}: shapes differ");
    let ours = ours.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let reference = reference.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let scale = reference.iter().fold(1f32, |m, v| m.max(v.abs()));
    let diff = ours.iter().zip(&reference).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        diff <= TOLERANCE * scale,
        "{what}: max difference {diff} exceeds {TOLERANCE} x {scale}"
    );
}

/// The reference: what `Conv3x3` computed before the kernels existed.
fn reference(xs: &Tensor, w: &Tensor, b: &Tensor) -> Tensor {
    let c_out = b.dim(0).unwrap();
    xs.conv2d(w, 1, 1, 1, 1)
        .unwrap()
        .broadcast_add(&b.reshape((1, c_out, 1, 1)).unwrap())
        .unwrap()
        .relu()
        .unwrap()
}

type Conv = fn(&Tensor, &Tensor, &Tensor) -> candle_core::Result<Tensor>;

/// Checks the forward pass and the gradients of `sum(y * r)` for a random `r`, which makes
/// every output element's gradient different.
fn check(batch: usize, c_in: usize, c_out: usize, side: usize, seed: u64) {
    check_conv(conv3x3_relu, batch, c_in, c_out, side, seed)
}

fn check_conv(conv: Conv, batch: usize, c_in: usize, c_out: usize, side: usize, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let what = format!("B={batch} C_in={c_in} C_out={c_out} side={side}");
    let x = Var::from_tensor(&random(&mut rng, &[batch, c_in, side, side])).unwrap();
    let w = Var::from_tensor(&random(&mut rng, &[c_out, c_in, 3, 3])).unwrap();
    let b = Var::from_tensor(&random(&mut rng, &[c_out])).unwrap();
    let r = random(&mut rng, &[batch, c_out, side, side]);

    let ours = conv(&x, &w, &b).unwrap();
    let theirs = reference(&x, &w, &b);
    assert_close(&format!("{what} forward"), &ours, &theirs);

    let g_ours = (&ours * &r).unwrap().sum_all().unwrap().backward().unwrap();
    let g_theirs = (&theirs * &r).unwrap().sum_all().unwrap().backward().unwrap();
    for (name, var) in [("input", &x), ("weight", &w), ("bias", &b)] {
        let (Some(a), Some(e)) = (g_ours.get(var), g_theirs.get(var)) else {
            panic!("{what}: missing {name} gradient");
        };
        assert_close(&format!("{what} {name} gradient"), a, e);
    }
}

#[test]
fn matches_candle_first_layer_shapes() {
    check(1, 1, 5, 28, 1);
    check(3, 1, 32, 28, 2);
}

#[test]
fn matches_candle_inner_layer_shapes() {
    check(3, 8, 16, 14, 3);
    check(1, 3, 5, 7, 4);
    check(3, 8, 32, 7, 5);
    check(3, 32, 16, 14, 6);
}

/// The GPU's formulation (columns × weights), checked on the CPU: forward and every gradient.
#[test]
fn columns_conv_matches_candle() {
    check_conv(conv3x3_relu_by_columns, 1, 1, 5, 28, 11);
    check_conv(conv3x3_relu_by_columns, 3, 8, 16, 14, 12);
    check_conv(conv3x3_relu_by_columns, 2, 3, 5, 7, 13);
    let mut rng = ChaCha8Rng::seed_from_u64(14);
    let x = random(&mut rng, &[2, 3, 5, 1]);
    let (w, b) = (random(&mut rng, &[5, 3, 3, 3]), random(&mut rng, &[5]));
    assert_close(
        "5x1 image",
        &conv3x3_relu_by_columns(&x, &w, &b).unwrap(),
        &reference(&x, &w, &b),
    );
    assert!(conv3x3_relu_by_columns(&x, &random(&mut rng, &[5, 2, 3, 3]), &b).is_err());
    // An image input (no gradient tracked): no input gradient, the weights' still right.
    let w = Var::from_tensor(&w).unwrap();
    let grads = conv3x3_relu_by_columns(&x, &w, &b)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert!(grads.get(&x).is_none());
    let expected = reference(&x, &w, &b).sum_all().unwrap().backward().unwrap();
    assert_close("weight gradient", grads.get(&w).unwrap(), expected.get(&w).unwrap());
}

/// `col2im` is the adjoint of `im2col`: `<im2col(x), c> = <x, col2im(c)>` for any `x` and `c`,
/// and `im2col` puts pixel `(y + ky - 1, x + kx - 1)` in row `9c + 3ky + kx`.
#[test]
fn col2im_is_the_adjoint_of_im2col() {
    let mut rng = ChaCha8Rng::seed_from_u64(15);
    let x = random(&mut rng, &[2, 3, 5, 4]);
    let cols = im2col3x3(&x).unwrap();
    assert_eq!(cols.dims(), &[2, 27, 20]);
    let c = random(&mut rng, &[2, 27, 20]);
    let lhs = (&cols * &c).unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap();
    let rhs = (&x * col2im3x3(&c, 5, 4).unwrap())
        .unwrap()
        .sum_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!((lhs - rhs).abs() <= 1e-4 * lhs.abs().max(1.0), "{lhs} vs {rhs}");
    let cv = cols.to_vec3::<f32>().unwrap();
    let xf = x.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    // Image 1, channel 2, ky = 0, kx = 2: pixel (y, x) holds input (y - 1, x + 1).
    let (y, xx) = (3, 1);
    assert_eq!(cv[1][2 * 9 + 2][y * 4 + xx], xf[((3 + 2) * 5 + (y - 1)) * 4 + xx + 1]);
    assert_eq!(cv[1][2 * 9 + 2][3], 0.0, "x + 1 is outside the 4-pixel row");
    assert!(col2im3x3(&c, 4, 4).is_err(), "20 columns are not a 4x4 image");

    // Each op's gradient is the other: d<im2col(x), c>/dx = col2im(c), d<col2im(c), x>/dc = im2col(x).
    let xv = Var::from_tensor(&x).unwrap();
    let g = (im2col3x3(&xv).unwrap() * &c)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert_close("im2col gradient", g.get(&xv).unwrap(), &col2im3x3(&c, 5, 4).unwrap());
    let cv = Var::from_tensor(&c).unwrap();
    let g = (col2im3x3(&cv, 5, 4).unwrap() * &x)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert_close("col2im gradient", g.get(&cv).unwrap(), &cols);
}

/// Empty tensors are errors, not panics; a narrowed (offset) or transposed input is read right.
#[test]
fn columns_ops_refuse_empty_tensors_and_read_views() {
    let mut rng = ChaCha8Rng::seed_from_u64(16);
    let (w, b) = (random(&mut rng, &[4, 3, 3, 3]), random(&mut rng, &[4]));
    for empty in [&[0, 3, 5, 5][..], &[2, 3, 0, 5], &[2, 0, 5, 5]] {
        let x = Tensor::zeros(empty, candle_core::DType::F32, &Device::Cpu).unwrap();
        assert!(im2col3x3(&x).is_err(), "{empty:?}");
    }
    let none = Tensor::zeros((2, 3, 0), candle_core::DType::F32, &Device::Cpu).unwrap();
    assert!(col2im3x3(&none, 0, 5).is_err());
    let x = random(&mut rng, &[4, 3, 6, 5]);
    assert!(conv3x3_relu_by_columns(&x, &w.narrow(0, 0, 0).unwrap(), &b.narrow(0, 0, 0).unwrap()).is_err());
    let part = x.narrow(0, 1, 2).unwrap(); // starts at an offset
    assert_close(
        "narrowed input",
        &conv3x3_relu_by_columns(&part, &w, &b).unwrap(),
        &reference(&part, &w, &b),
    );
    let turned = x.transpose(2, 3).unwrap();
    assert_close(
        "transposed input",
        &conv3x3_relu_by_columns(&turned, &w, &b).unwrap(),
        &reference(&turned, &w, &b),
    );
}

/// On a GPU: the column conv's forward and gradients on CUDA (NVRTC-compiled kernels, cuBLAS)
/// against candle's `conv2d` on the CPU. Needs a CUDA device: without one (CI) it says so and
/// passes; `scripts/gpu-run.sh` runs it on the GPU machine, where it can fail.
#[cfg(feature = "cuda")]
#[test]
fn columns_conv_on_cuda_matches_the_cpu() {
    let gpu = match Device::new_cuda(0) {
        Ok(d) => d,
        Err(e) => return eprintln!("no CUDA device, not checked: {e}"),
    };
    for (i, &(batch, c_in, c_out, side)) in [(2, 1, 8, 28), (3, 8, 16, 14), (64, 32, 64, 14), (2, 3, 5, 7)]
        .iter()
        .enumerate()
    {
        let mut rng = ChaCha8Rng::seed_from_u64(20 + i as u64);
        let what = format!("cuda B={batch} C_in={c_in} C_out={c_out} side={side}");
        let cpu = [
            random(&mut rng, &[batch, c_in, side, side]),
            random(&mut rng, &[c_out, c_in, 3, 3]),
            random(&mut rng, &[c_out]),
        ];
        let r = random(&mut rng, &[batch, c_out, side, side]);
        let on_gpu: Vec<Var> = cpu
            .iter()
            .map(|t| Var::from_tensor(&t.to_device(&gpu).unwrap()).unwrap())
            .collect();
        let on_cpu: Vec<Var> = cpu.iter().map(|t| Var::from_tensor(t).unwrap()).collect();
        let ours = conv3x3_relu_by_columns(&on_gpu[0], &on_gpu[1], &on_gpu[2]).unwrap();
        let theirs = reference(&on_cpu[0], &on_cpu[1], &on_cpu[2]);
        assert_close(
            &format!("{what} forward"),
            &ours.to_device(&Device::Cpu).unwrap(),
            &theirs,
        );
        let g_ours = (&ours * r.to_device(&gpu).unwrap())
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let g_theirs = (&theirs * &r).unwrap().sum_all().unwrap().backward().unwrap();
        for (k, name) in ["input", "weight", "bias"].iter().enumerate() {
            let a = g_ours
                .get(&on_gpu[k])
                .expect("gradient on the GPU")
                .to_device(&Device::Cpu)
                .unwrap();
            assert_close(
                &format!("{what} {name} gradient"),
                &a,
                g_theirs.get(&on_cpu[k]).unwrap(),
            );
        }
    }
}

/// On a GPU: the max-pool and its gradient on CUDA equal the CPU op's exactly (no arithmetic,
/// only comparisons), ties and odd edges included. Without a CUDA device it says so and passes.
#[cfg(feature = "cuda")]
#[test]
fn max_pool_on_cuda_matches_the_cpu() {
    let gpu = match Device::new_cuda(0) {
        Ok(d) => d,
        Err(e) => return eprintln!("no CUDA device, not checked: {e}"),
    };
    let mut rng = ChaCha8Rng::seed_from_u64(30);
    // Values on a coarse grid, so that windows hold ties; 7x9 planes have odd edges.
    let v: Vec<f32> = (0..3 * 4 * 7 * 9).map(|_| rng.random_range(0..4) as f32).collect();
    let x = Tensor::from_vec(v, (3, 4, 7, 9), &Device::Cpu).unwrap();
    let r = random(&mut rng, &[3, 4, 3, 4]);
    let (xc, xg) = (
        Var::from_tensor(&x).unwrap(),
        Var::from_tensor(&x.to_device(&gpu).unwrap()).unwrap(),
    );
    let (yc, yg) = (max_pool2x2(&xc).unwrap(), max_pool2x2(&xg).unwrap());
    let back = |t: &Tensor| {
        t.to_device(&Device::Cpu)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
    };
    assert_eq!(back(&yg), back(&yc), "forward");
    let gc = (&yc * &r).unwrap().sum_all().unwrap().backward().unwrap();
    let gg = (&yg * r.to_device(&gpu).unwrap())
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert_eq!(back(gg.get(&xg).unwrap()), back(gc.get(&xc).unwrap()), "gradient");
}

#[test]
fn matches_candle_on_odd_rectangular_images() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let x = random(&mut rng, &[2, 3, 5, 1]);
    let w = random(&mut rng, &[5, 3, 3, 3]);
    let b = random(&mut rng, &[5]);
    let ours = conv3x3_relu(&x, &w, &b).unwrap();
    assert_close("5x1 image", &ours, &reference(&x, &w, &b));
}

#[test]
fn skips_the_input_gradient_of_a_plain_tensor() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let x = random(&mut rng, &[2, 1, 7, 7]);
    let w = Var::from_tensor(&random(&mut rng, &[4, 1, 3, 3])).unwrap();
    let b = Var::from_tensor(&random(&mut rng, &[4])).unwrap();
    let grads = conv3x3_relu(&x, &w, &b).unwrap().sum_all().unwrap().backward().unwrap();
    assert!(grads.get(&x).is_none());
    let reference = reference(&x, &w, &b).sum_all().unwrap().backward().unwrap();
    assert_close("weight gradient", grads.get(&w).unwrap(), reference.get(&w).unwrap());
}

#[test]
fn accepts_non_contiguous_input() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let x = random(&mut rng, &[2, 3, 7, 7]).transpose(2, 3).unwrap();
    let w = random(&mut rng, &[4, 3, 3, 3]);
    let b = random(&mut rng, &[4]);
    let ours = conv3x3_relu(&x, &w, &b).unwrap();
    assert_close("transposed input", &ours, &reference(&x, &w, &b));
}

#[test]
fn rejects_mismatched_shapes() {
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    let x = random(&mut rng, &[1, 2, 7, 7]);
    let b = random(&mut rng, &[4]);
    assert!(conv3x3_relu(&x, &random(&mut rng, &[4, 3, 3, 3]), &b).is_err());
    assert!(conv3x3_relu(&x, &random(&mut rng, &[4, 2, 5, 5]), &b).is_err());
    assert!(conv3x3_relu(&x, &random(&mut rng, &[5, 2, 3, 3]), &b).is_err());
    assert!(conv3x3_relu(&x.to_dtype(candle_core::DType::F64).unwrap(), &x, &b).is_err());
}

/// The max-pool gradient by definition, one window at a time: the output gradient lands on the
/// window's maximum (PyTorch's rule). Candle's own backward is no reference here: it scales each
/// gradient by the window's mean of the "is maximum" mask, i.e. by 1/4 when the maximum is unique.
fn pool_grad_reference(x: &[f32], r: &[f32], h: usize, w: usize) -> Vec<f32> {
    let (oh, ow, mut dx) = (h / 2, w / 2, vec![0f32; x.len()]);
    for (p, rp) in r.chunks(oh * ow).enumerate() {
        for (k, &g) in rp.iter().enumerate() {
            let (oy, ox) = (k / ow, k % ow);
            let window = [(0, 0), (0, 1), (1, 0), (1, 1)].map(|(dy, dx)| p * h * w + (2 * oy + dy) * w + 2 * ox + dx);
            let best = window
                .into_iter()
                .fold(window[0], |b, i| if x[i] > x[b] { i } else { b });
            dx[best] += g;
        }
    }
    dx
}

#[test]
fn max_pool_matches_candle_forward_and_reference_gradient() {
    // Random values have no ties, where implementations may split the gradient differently.
    // Odd sides too: the last row or column is in no window and must get a zero gradient (the
    // op writes its output without zero-filling it first).
    let shapes = [
        ([3, 5, 28, 28], 11),
        ([1, 16, 14, 14], 12),
        ([2, 3, 8, 8], 13),
        ([2, 3, 7, 9], 14),
    ];
    for (shape, seed) in shapes {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x = Var::from_tensor(&random(&mut rng, &shape)).unwrap();
        let ours = max_pool2x2(&x).unwrap();
        assert_close(&format!("{shape:?} pool forward"), &ours, &x.max_pool2d(2).unwrap());
        let r = random(&mut rng, ours.dims());
        let grads = (&ours * &r).unwrap().sum_all().unwrap().backward().unwrap();
        let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let expected = pool_grad_reference(&flat(&x), &flat(&r), shape[2], shape[3]);
        let expected = Tensor::from_vec(expected, &shape, &Device::Cpu).unwrap();
        assert_close(&format!("{shape:?} pool gradient"), grads.get(&x).unwrap(), &expected);
    }
}

#[test]
fn im2col_handles_images_thinner_than_the_window() {
    use super::im2col::im2col;
    let mut rng = ChaCha8Rng::seed_from_u64(14);
    for (c, h, w) in [(2, 1, 4), (4, 6, 1), (1, 1, 1)] {
        let x: Vec<f32> = (0..c * h * w).map(|_| rng.random_range(-1.0..1.0)).collect();
        let mut col = vec![f32::NAN; c * 9 * h * w];
        im2col(&x, h, w, &mut col);
        for (r, row) in col.chunks_exact(h * w).enumerate() {
            let (ch, ky, kx) = (r / 9, r % 9 / 3, r % 3);
            for (p, &v) in row.iter().enumerate() {
                let (sy, sx) = ((p / w + ky) as isize - 1, (p % w + kx) as isize - 1);
                let inside = (0..h as isize).contains(&sy) && (0..w as isize).contains(&sx);
                let expected = if inside {
                    x[ch * h * w + sy as usize * w + sx as usize]
                } else {
                    0.0
                };
                assert_eq!(v, expected, "C={c} {h}x{w}: row {r}, pixel {p}");
            }
        }
    }
}

/// Ties everywhere (values from {0, 1, 2}): each window's gradient goes to its first maximum,
/// exactly once, in the vectorised part of a row (pairs of windows) and in its scalar tail.
#[test]
fn max_pool_routes_ties_to_the_first_maximum() {
    for (shape, seed) in [([2, 3, 8, 8], 21), ([1, 4, 6, 10], 22), ([1, 2, 28, 28], 23)] {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = shape.iter().product();
        let values: Vec<f32> = (0..n).map(|_| rng.random_range(0..3) as f32).collect();
        let x = Var::from_tensor(&Tensor::from_vec(values.clone(), &shape, &Device::Cpu).unwrap()).unwrap();
        let ours = max_pool2x2(&x).unwrap();
        let r = random(&mut rng, ours.dims());
        let grads = (&ours * &r).unwrap().sum_all().unwrap().backward().unwrap();
        let r = r.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let expected = pool_grad_reference(&values, &r, shape[2], shape[3]);
        let got = grads.get(&x).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(got, expected, "{shape:?}");
    }
}

/// Sums over the batch (weight and bias gradients) are added in a fixed grouping, so training is
/// bit-for-bit reproducible whatever the number of threads.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn gradients_do_not_depend_on_the_thread_count() {
    let mut rng = ChaCha8Rng::seed_from_u64(15);
    let x = Var::from_tensor(&random(&mut rng, &[37, 4, 14, 14])).unwrap();
    let w = Var::from_tensor(&random(&mut rng, &[6, 4, 3, 3])).unwrap();
    let b = Var::from_tensor(&random(&mut rng, &[6])).unwrap();
    let r = random(&mut rng, &[37, 6, 14, 14]);
    let grads = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let y = max_pool2x2(&conv3x3_relu(&x, &w, &b).unwrap()).unwrap();
            let g = (&y * &r.narrow(2, 0, 7).unwrap().narrow(3, 0, 7).unwrap())
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            [&x, &w, &b].map(|v| g.get(v).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap())
        })
    };
    assert_eq!(grads(1), grads(3));
}

/// NaN inputs: the forward picks what candle's fold picks, and each window's gradient lands on
/// exactly one of its four positions, never lost or duplicated.
#[test]
fn max_pool_with_nan_matches_candle_and_keeps_every_gradient() {
    let nan = f32::NAN;
    #[rustfmt::skip]
    let x = [
        nan, 1.0, 1.0, nan,  3.0, 3.0,
        2.0, 3.0, 0.0, 5.0,  3.0, 3.0,
    ];
    let x = Var::from_tensor(&Tensor::from_vec(x.to_vec(), (1, 1, 2, 6), &Device::Cpu).unwrap()).unwrap();
    let ours = max_pool2x2(&x)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let theirs = x
        .max_pool2d(2)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert_eq!(format!("{ours:?}"), format!("{theirs:?}"));
    let r = Tensor::new(&[[[[10f32, 20.0, 30.0]]]], &Device::Cpu).unwrap();
    let g = (max_pool2x2(&x).unwrap() * r)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let g = g.get(&x).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    // Window 1 (NaN first): its first value; window 2: the 5; window 3 (all 3s): the first 3.
    assert_eq!(g, [10.0, 0.0, 0.0, 0.0, 30.0, 0.0, 0.0, 0.0, 0.0, 20.0, 0.0, 0.0]);
}

/// `matmul` against a plain triple loop, for every layout the ops use and the transposed ones
/// they do not (which take `gemm`'s path on wasm too), with sizes off the SIMD width.
#[test]
fn matmul_matches_a_plain_loop_for_every_layout() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for &(m, k, n) in &[
        (1, 1, 1),
        (5, 9, 13),
        (8, 72, 49),
        (4, 3, 8),
        (9, 20, 2),
        (16, 144, 196),
    ] {
        let a: Vec<f32> = (0..m * k).map(|_| rng.random_range(-1.0..1.0)).collect();
        let b: Vec<f32> = (0..k * n).map(|_| rng.random_range(-1.0..1.0)).collect();
        let init: Vec<f32> = (0..m * n).map(|_| rng.random_range(-1.0..1.0)).collect();
        // Each operand stored row-major, or stored transposed and viewed through `.t()`.
        let a_t: Vec<f32> = (0..k * m).map(|i| a[(i % m) * k + i / m]).collect();
        let b_t: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
        let lhs = [Mat::row_major(&a, m, k), Mat::row_major(&a_t, k, m).t()];
        let rhs = [Mat::row_major(&b, k, n), Mat::row_major(&b_t, n, k).t()];
        for (li, &l) in lhs.iter().enumerate() {
            for (ri, &r) in rhs.iter().enumerate() {
                for accumulate in [false, true] {
                    let mut dst = init.clone();
                    matmul(&mut dst, l, r, accumulate);
                    for i in 0..m {
                        for j in 0..n {
                            let dot: f32 = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
                            let want = if accumulate { init[i * n + j] + dot } else { dot };
                            let got = dst[i * n + j];
                            assert!(
                                (got - want).abs() <= TOLERANCE * (k as f32).max(1.0),
                                "m={m} k={k} n={n} lhs#{li} rhs#{ri} acc={accumulate} ({i},{j}): {got} vs {want}"
                            );
                        }
                    }
                }
            }
        }
    }
}

/// A whole block as one op against its separate ops (convs, then the pool): forward and every
/// gradient, for one to three layers, odd and rectangular images, with and without the input
/// gradient.
#[test]
fn block_matches_the_separate_ops() {
    for (i, &(batch, c_in, widths, h, w, x_is_var)) in [
        (3, 1, &[8, 8][..], 28, 28, false),
        (2, 8, &[16, 16][..], 14, 14, true),
        (5, 3, &[4, 5, 6][..], 7, 9, true),
        (17, 2, &[3][..], 6, 4, false),
        (1, 1, &[5][..], 28, 28, false),
        (2, 3, &[4][..], 7, 9, true),
        (1, 2, &[3, 2][..], 5, 2, true),
    ]
    .iter()
    .enumerate()
    {
        let mut rng = ChaCha8Rng::seed_from_u64(60 + i as u64);
        let what = format!("B={batch} C={c_in} widths={widths:?} {h}x{w}");
        let x_t = random(&mut rng, &[batch, c_in, h, w]);
        let x = Var::from_tensor(&x_t).unwrap();
        let mut params = Vec::new();
        let mut c = c_in;
        for &o in widths {
            let wv = Var::from_tensor(&random(&mut rng, &[o, c, 3, 3])).unwrap();
            let b = Var::from_tensor(&random(&mut rng, &[o])).unwrap();
            params.push((wv, b));
            c = o;
        }
        let r = random(&mut rng, &[batch, c, h / 2, w / 2]);
        let input = if x_is_var { x.as_tensor().clone() } else { x_t.clone() };

        let layers: Vec<(&Tensor, &Tensor)> = params.iter().map(|(w, b)| (w.as_tensor(), b.as_tensor())).collect();
        let fused = conv_block(&input, &layers).unwrap();
        let mut separate = input.clone();
        for (w, b) in &layers {
            separate = conv3x3_relu(&separate, w, b).unwrap();
        }
        let separate = max_pool2x2(&separate).unwrap();
        assert_close(&format!("{what} forward"), &fused, &separate);
        // Without any tracked input (evaluation) the activations stay in scratch: same result.
        let detached: Vec<(Tensor, Tensor)> = layers.iter().map(|(w, b)| (w.detach(), b.detach())).collect();
        let detached: Vec<(&Tensor, &Tensor)> = detached.iter().map(|(w, b)| (w, b)).collect();
        let untracked = conv_block(&x_t, &detached).unwrap();
        assert_close(&format!("{what} forward, untracked"), &untracked, &separate);

        let g_fused = (&fused * &r).unwrap().sum_all().unwrap().backward().unwrap();
        let g_sep = (&separate * &r).unwrap().sum_all().unwrap().backward().unwrap();
        let mut vars: Vec<(String, &Var)> = Vec::new();
        if x_is_var {
            vars.push(("input".into(), &x));
        } else {
            assert!(g_fused.get(&x_t).is_none(), "{what}: input gradient of a plain tensor");
        }
        for (l, (wv, b)) in params.iter().enumerate() {
            vars.push((format!("weight {l}"), wv));
            vars.push((format!("bias {l}"), b));
        }
        for (name, var) in vars {
            let (Some(a), Some(e)) = (g_fused.get(var), g_sep.get(var)) else {
                panic!("{what}: missing {name} gradient");
            };
            assert_close(&format!("{what} {name} gradient"), a, e);
        }
    }
}

#[test]
fn block_rejects_layers_that_do_not_chain() {
    let dev = Device::Cpu;
    let x = Tensor::zeros((2, 3, 8, 8), candle_core::DType::F32, &dev).unwrap();
    let w1 = Tensor::zeros((4, 3, 3, 3), candle_core::DType::F32, &dev).unwrap();
    let b1 = Tensor::zeros(4, candle_core::DType::F32, &dev).unwrap();
    let w2 = Tensor::zeros((5, 3, 3, 3), candle_core::DType::F32, &dev).unwrap(); // expects 4 in
    let b2 = Tensor::zeros(5, candle_core::DType::F32, &dev).unwrap();
    let err = conv_block(&x, &[(&w1, &b1), (&w2, &b2)]).unwrap_err().to_string();
    assert!(err.contains("do not follow 4 input channels"), "{err}");
    assert!(conv_block(&x, &[]).is_err());
    let tiny = Tensor::zeros((2, 3, 1, 8), candle_core::DType::F32, &dev).unwrap();
    let err = conv_block(&tiny, &[(&w1, &b1)]).unwrap_err().to_string();
    assert!(err.contains("smaller than the 2x2 window"), "{err}");
}
