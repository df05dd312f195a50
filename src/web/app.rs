//! The root component: provides the training worker to the page.
//!
//! Contract: the worker is `worker.js` next to `index.html` (Trunk's `data-type="worker"` build
//! of `src/bin/worker.rs`); it is private to the page, so resetting the bridge spawns a fresh one.

use yew::prelude::*;
use yew_agent::reactor::ReactorProvider;
use yew_agent::Reach;

use super::page::Page;
use super::worker::TrainerReactor;

#[component]
pub fn App() -> Html {
    html! {
        <ReactorProvider<TrainerReactor> path="worker.js" reach={Reach::Private}>
            <Page />
        </ReactorProvider<TrainerReactor>>
    }
}
