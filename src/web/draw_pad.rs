//! The drawing canvas and its Clear button.
//!
//! Contract: strokes come from pointer events, so mouse, touch and pen behave alike; the canvas
//! has `touch-action: none` (in `www/style.css`) so drawing never scrolls the page. What is
//! handed up is the strokes as the pointer drew them (CSS pixels), not the canvas's pixels: the
//! core renders the model input from them with a pen relative to the digit's size
//! (`strokes::digit_from_strokes`), so a small digit reads like a large one, and no pixels are
//! read back (which on a phone at 3x density was a megapixel per prediction). The canvas only
//! shows them: its backing store is sized to CSS pixels × `devicePixelRatio`, which keeps
//! strokes crisp on high-DPI screens. The strokes are handed up while drawing (throttled) and at
//! each stroke end; `None` means the pad was cleared.

use std::rc::Rc;

use wasm_bindgen::JsCast;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, PointerEvent};
use yew::prelude::*;

use crate::strokes::Stroke;

/// Stroke width as a fraction of the canvas side. A digit drawn to fill most of the pad then
/// has strokes about an eighth of its height thick, as MNIST's digits do (≈ 2.5 px in 20 px).
const STROKE_FRACTION: f64 = 0.085;
/// Live predictions while drawing run at most this often.
const LIVE_INTERVAL_MS: f64 = 80.0;

/// What is on the pad.
#[derive(Clone, Debug, PartialEq)]
pub struct Drawing {
    /// Every stroke so far, in CSS pixels of the pad.
    pub strokes: Rc<Vec<Stroke>>,
    /// A stroke has just ended (as opposed to a live update during a stroke).
    pub stroke_end: bool,
}

#[derive(Properties, PartialEq)]
pub struct DrawPadProps {
    pub on_drawing: Callback<Option<Drawing>>,
    /// Clears the pad whenever it changes (after a correction, ready for the next digit).
    #[prop_or_default]
    pub clear_signal: u64,
    /// A digit key pressed while the pad has focus.
    #[prop_or_default]
    pub on_key: Callback<u8>,
}

#[derive(Default)]
struct Pen {
    down: bool,
    last: (f64, f64),
    last_emit_ms: f64,
    strokes: Vec<Stroke>,
}

impl Pen {
    fn drawing(&self, stroke_end: bool) -> Drawing {
        Drawing {
            strokes: Rc::new(self.strokes.clone()),
            stroke_end,
        }
    }
}

#[component]
pub fn DrawPad(props: &DrawPadProps) -> Html {
    let canvas_ref = use_node_ref();
    let pen = use_mut_ref(Pen::default);

    let onpointerdown = {
        let (canvas_ref, pen) = (canvas_ref.clone(), pen.clone());
        Callback::from(move |e: PointerEvent| {
            let Some(canvas) = canvas_ref.cast::<HtmlCanvasElement>() else {
                return;
            };
            e.prevent_default();
            // Capture keeps the stroke ours when the pointer leaves the canvas; focus lets the digit
            // keys label the drawing.
            let _ = canvas.set_pointer_capture(e.pointer_id());
            let _ = canvas.focus();
            fit_backing_store(&canvas);
            let p = point(&canvas, &e);
            let mut pen = pen.borrow_mut();
            pen.down = true;
            pen.last = p;
            pen.strokes.push(vec![css_point(&e)]);
            stroke(&canvas, p, p);
        })
    };
    let onpointermove = {
        let (canvas_ref, pen, on_drawing) = (canvas_ref.clone(), pen.clone(), props.on_drawing.clone());
        Callback::from(move |e: PointerEvent| {
            let Some(canvas) = canvas_ref.cast::<HtmlCanvasElement>() else {
                return;
            };
            let mut pen = pen.borrow_mut();
            if !pen.down {
                return;
            }
            e.prevent_default();
            let p = point(&canvas, &e);
            stroke(&canvas, pen.last, p);
            pen.last = p;
            if let Some(s) = pen.strokes.last_mut() {
                s.push(css_point(&e));
            }
            let now = now_ms();
            if now - pen.last_emit_ms >= LIVE_INTERVAL_MS {
                pen.last_emit_ms = now;
                on_drawing.emit(Some(pen.drawing(false)));
            }
        })
    };
    let end_stroke = {
        let (pen, on_drawing) = (pen.clone(), props.on_drawing.clone());
        Callback::from(move |_: PointerEvent| {
            let mut pen = pen.borrow_mut();
            if std::mem::take(&mut pen.down) {
                on_drawing.emit(Some(pen.drawing(true)));
            }
        })
    };
    let onclear = {
        let (canvas_ref, pen, on_drawing) = (canvas_ref.clone(), pen.clone(), props.on_drawing.clone());
        Callback::from(move |_: MouseEvent| {
            clear(&canvas_ref, &mut pen.borrow_mut());
            on_drawing.emit(None);
        })
    };
    {
        let (canvas_ref, pen) = (canvas_ref.clone(), pen.clone());
        use_effect_with(props.clear_signal, move |_| clear(&canvas_ref, &mut pen.borrow_mut()));
    }
    let onkeydown = {
        let on_key = props.on_key.clone();
        Callback::from(move |e: KeyboardEvent| {
            if let Some(d) = e.key().parse::<u8>().ok().filter(|d| *d < 10) {
                e.prevent_default();
                on_key.emit(d);
            }
        })
    };

    html! {
        <div class="draw-pad">
            <canvas
                ref={canvas_ref}
                class="draw-canvas"
                data-testid="draw-canvas"
                aria-label="Drawing area: draw one digit, then press its key (0-9) to add it to My digits"
                tabindex="0"
                width="280" height="280"
                {onkeydown}
                {onpointerdown}
                {onpointermove}
                onpointerup={end_stroke.clone()}
                onpointercancel={end_stroke.clone()}
                onlostpointercapture={end_stroke}
            />
            <button class="secondary" data-testid="clear" onclick={onclear}>{ "Clear" }</button>
        </div>
    }
}

type Canvas2d = (HtmlCanvasElement, CanvasRenderingContext2d);

fn clear(canvas_ref: &NodeRef, pen: &mut Pen) {
    pen.strokes.clear();
    pen.down = false;
    if let Some((canvas, ctx)) = canvas_ref.cast::<HtmlCanvasElement>().and_then(with_context) {
        ctx.clear_rect(0.0, 0.0, canvas.width() as f64, canvas.height() as f64);
    }
}

fn with_context(canvas: HtmlCanvasElement) -> Option<Canvas2d> {
    let ctx = canvas
        .get_context("2d")
        .ok()
        .flatten()?
        .dyn_into::<CanvasRenderingContext2d>()
        .ok()?;
    Some((canvas, ctx))
}

/// Matches the backing store to the displayed size × devicePixelRatio. Resizing clears the
/// canvas, so it only happens while the canvas is still blank or the layout changed.
fn fit_backing_store(canvas: &HtmlCanvasElement) {
    let dpr = web_sys::window().map_or(1.0, |w| w.device_pixel_ratio());
    let side = (canvas.client_width().max(1) as f64 * dpr).round() as u32;
    if canvas.width() != side || canvas.height() != side {
        canvas.set_width(side);
        canvas.set_height(side);
    }
}

/// The pointer position in the pad's CSS pixels: the strokes' unit (any unit would do, the core
/// scales by the strokes' own bounding box).
fn css_point(e: &PointerEvent) -> [f32; 2] {
    [e.offset_x() as f32, e.offset_y() as f32]
}

/// The pointer position in backing-store pixels.
fn point(canvas: &HtmlCanvasElement, e: &PointerEvent) -> (f64, f64) {
    let scale = canvas.width() as f64 / canvas.client_width().max(1) as f64;
    (e.offset_x() as f64 * scale, e.offset_y() as f64 * scale)
}

fn stroke(canvas: &HtmlCanvasElement, from: (f64, f64), to: (f64, f64)) {
    let Some((canvas, ctx)) = with_context(canvas.clone()) else {
        return;
    };
    ctx.set_line_width(canvas.width() as f64 * STROKE_FRACTION);
    ctx.set_line_cap("round");
    ctx.set_line_join("round");
    ctx.set_stroke_style_str("#111");
    ctx.begin_path();
    ctx.move_to(from.0, from.1);
    ctx.line_to(to.0, to.1);
    ctx.stroke();
}

/// Milliseconds since page load.
pub fn now_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map_or(0.0, |p| p.now())
}
