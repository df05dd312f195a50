//! The visible error message, with the way out that fits the failure.
//!
//! Contract (DOM): `[data-testid=error]` exists only while something has failed and names what
//! failed; its button (`[data-testid=error-retry]`) retries or dismisses.

use yew::prelude::*;

use crate::app::protocol::FailureKind;
use crate::app::state::{AppError, ErrorKind};

#[derive(Properties, PartialEq)]
pub struct ErrorBannerProps {
    pub error: AppError,
    pub on_retry: Callback<ErrorKind>,
    pub on_dismiss: Callback<()>,
}

#[component]
pub fn ErrorBanner(props: &ErrorBannerProps) -> Html {
    let kind = props.error.kind;
    let (title, retry) = match kind {
        ErrorKind::Pretrained => ("Could not load the pretrained model", Some("Retry")),
        ErrorKind::Training(FailureKind::Data) => ("Could not load the MNIST data", Some("Retry")),
        ErrorKind::Training(FailureKind::Diverged) => ("Training diverged", Some("Retry with half the learning rate")),
        ErrorKind::Training(FailureKind::Training) => ("Training failed", Some("Retry")),
        ErrorKind::WorkerCrash => ("The training worker crashed", Some("Restart the worker")),
        ErrorKind::Upload => ("That file is not a usable model", None),
        ErrorKind::Storage => ("Could not save in this browser", None),
        ErrorKind::Model => ("That model cannot be used", None),
        ErrorKind::Digits => ("My digits", None),
    };
    let on_retry = props.on_retry.reform(move |_: MouseEvent| kind);
    let on_dismiss = props.on_dismiss.reform(|_: MouseEvent| ());
    html! {
        <div class="error" data-testid="error" role="alert">
            <div>
                <strong>{ title }</strong>
                <p>{ props.error.message.clone() }</p>
            </div>
            <div class="buttons">
                if let Some(label) = retry {
                    <button data-testid="error-retry" onclick={on_retry}>{ label }</button>
                }
                <button class="secondary" data-testid="error-dismiss" onclick={on_dismiss}>{ "Dismiss" }</button>
            </div>
        </div>
    }
}
