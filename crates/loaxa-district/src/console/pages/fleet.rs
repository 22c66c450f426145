//! The fleet: every box, what it says of itself, live.

use axum::response::{IntoResponse, Response};
use maud::html;

use crate::console::Staff;
use crate::console::html::page;

pub async fn list(staff: Staff) -> Response {
    let body = html! {
        table #fleet data-refresh="/fleet/rows" {
            thead { tr { th { (staff.t("fleet-box")) } th { (staff.t("fleet-state")) } } }
            tbody {}
        }
    };
    page(&staff, &staff.t("nav-fleet"), body).into_response()
}
