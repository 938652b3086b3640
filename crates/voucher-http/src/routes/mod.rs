//! The endpoints, one module per resource. Each module's `router()` lists
//! its routes (with and without a trailing slash where the SDKs send one)
//! and keeps its wire shapes next to its handlers. Routes are given to a
//! [`Routes`], which records every path it is given, so that the test of
//! the OpenAPI document can list the routes that exist.

pub mod assets;
pub mod async_actions;
pub mod campaigns;
pub(crate) mod checkout;
pub mod client;
pub mod customers;
pub mod exports;
pub mod list_params;
pub mod openapi;
pub mod publications;
pub mod qualifications;
pub mod redemptions;
pub mod validation_rules;
pub mod validations;
pub mod vouchers;
pub mod webhooks;

use std::convert::Infallible;

use axum::extract::Request;
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, Route};
use axum::Router;
use tower::{Layer, Service};

use crate::state::AppState;

/// An axum router that remembers the path of every route it is given (axum
/// cannot list its routes). Build routes with [`Routes::route`] as with
/// `Router::route`; [`Routes::paths`] lists them, [`Routes::into_router`]
/// gives the router.
#[derive(Debug, Default)]
pub struct Routes {
    router: Router<AppState>,
    paths: Vec<&'static str>,
}

impl Routes {
    /// No routes.
    pub fn new() -> Routes {
        Routes::default()
    }

    /// Adds a route, as `Router::route` does, and records its path.
    #[must_use]
    pub fn route(mut self, path: &'static str, method_router: MethodRouter<AppState>) -> Routes {
        self.router = self.router.route(path, method_router);
        self.paths.push(path);
        self
    }

    /// Adds `other`'s routes, as `Router::merge` does.
    #[must_use]
    pub fn merge(mut self, other: Routes) -> Routes {
        self.router = self.router.merge(other.router);
        self.paths.extend(other.paths);
        self
    }

    /// Wraps the routes so far in `layer`, as `Router::layer` does.
    #[must_use]
    pub fn layer<L>(mut self, layer: L) -> Routes
    where
        L: Layer<Route> + Clone + Send + Sync + 'static,
        L::Service: Service<Request> + Clone + Send + Sync + 'static,
        <L::Service as Service<Request>>::Response: IntoResponse + 'static,
        <L::Service as Service<Request>>::Error: Into<Infallible> + 'static,
        <L::Service as Service<Request>>::Future: Send + 'static,
    {
        self.router = self.router.layer(layer);
        self
    }

    /// The path templates given so far (`/v1/vouchers/{code}`,
    /// `/client/v1/{*rest}`), in order.
    pub fn paths(&self) -> &[&'static str] {
        &self.paths
    }

    /// The router.
    pub fn into_router(self) -> Router<AppState> {
        self.router
    }
}

/// Every resource's routes.
pub fn router() -> Routes {
    Routes::new()
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
        .merge(assets::router())
        .merge(webhooks::router())
}
