//! A 28x28 grey image drawn on a small canvas (the model input, misclassified examples).
//!
//! Contract: `pixels` holds 784 intensities in 0..1 (1 = ink), shown white-on-black as MNIST
//! is usually pictured; other lengths draw nothing. The canvas keeps 28x28 pixels and CSS scales
//! it with `image-rendering: pixelated`, so each input pixel stays visible.

use std::rc::Rc;

use wasm_bindgen::{Clamped, JsCast};
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, ImageData};
use yew::prelude::*;

use crate::data::{IMAGE_PIXELS, IMAGE_SIDE};

#[derive(Properties, PartialEq)]
pub struct DigitImageProps {
    /// 784 intensities in 0..1.
    pub pixels: Rc<Vec<f32>>,
    #[prop_or_default]
    pub testid: Option<AttrValue>,
    #[prop_or_default]
    pub class: Classes,
    #[prop_or_default]
    pub title: Option<AttrValue>,
}

#[component]
pub fn DigitImage(props: &DigitImageProps) -> Html {
    let canvas_ref = use_node_ref();
    {
        let canvas_ref = canvas_ref.clone();
        use_effect_with(props.pixels.clone(), move |pixels| {
            if let Some(canvas) = canvas_ref.cast::<HtmlCanvasElement>() {
                paint(&canvas, pixels);
            }
        });
    }
    html! {
        <canvas
            ref={canvas_ref}
            class={classes!("digit-image", props.class.clone())}
            data-testid={props.testid.clone()}
            title={props.title.clone()}
            width={IMAGE_SIDE.to_string()}
            height={IMAGE_SIDE.to_string()}
        />
    }
}

fn paint(canvas: &HtmlCanvasElement, pixels: &[f32]) {
    if pixels.len() != IMAGE_PIXELS {
        return;
    }
    let Some(ctx) = canvas
        .get_context("2d")
        .ok()
        .flatten()
        .and_then(|c| c.dyn_into::<CanvasRenderingContext2d>().ok())
    else {
        return;
    };
    let rgba: Vec<u8> = pixels
        .iter()
        .flat_map(|&p| {
            let v = (p.clamp(0.0, 1.0) * 255.0).round() as u8;
            [v, v, v, 255]
        })
        .collect();
    let side = IMAGE_SIDE as u32;
    if let Ok(image) = ImageData::new_with_u8_clamped_array_and_sh(Clamped(&rgba), side, side) {
        let _ = ctx.put_image_data(&image, 0.0, 0.0);
    }
}
