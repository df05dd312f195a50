//! The root component: provides the training worker to the page.
//!
//! Contract: the worker is `worker-relaxed.js` or `worker.js` next to `index.html` (Trunk's
//! `data-type="worker"` builds of `src/bin/`), as [`WorkerBuild::detect`] decides once per page
//! load; it is private to the page, so resetting the bridge spawns a fresh one.

use yew::prelude::*;
use yew_agent::reactor::ReactorProvider;
use yew_agent::Reach;

use super::env::query_string;
use super::page::Page;
use super::worker::TrainerReactor;
use super::worker_build::WorkerBuild;

#[component]
pub fn App() -> Html {
    let build = *use_memo((), |_| WorkerBuild::detect(&query_string()));
    html! {
        <ReactorProvider<TrainerReactor> path={build.script()} reach={Reach::Private}>
            <Page {build} />
        </ReactorProvider<TrainerReactor>>
    }
}
