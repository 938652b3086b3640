//! The endpoints, one module per resource. Each module's `router()` lists
//! its routes (with and without a trailing slash where the SDKs send one)
//! and keeps its wire shapes next to its handlers.

pub mod async_actions;
pub mod campaigns;
pub(crate) mod checkout;
pub mod client;
pub mod customers;
pub mod exports;
pub mod list_params;
pub mod publications;
pub mod qualifications;
pub mod redemptions;
pub mod validation_rules;
pub mod validations;
pub mod vouchers;
pub mod webhooks;

use axum::Router;

use crate::state::AppState;

/// Every resource's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(vouchers::router())
        .merge(campaigns::router())
        .merge(async_actions::router())
        .merge(exports::router())
        .merge(validations::router())
        .merge(redemptions::router())
        .merge(qualifications::router())
        .merge(client::router())
        .merge(customers::router())
        .merge(publications::router())
        .merge(validation_rules::router())
        .merge(webhooks::router())
}
