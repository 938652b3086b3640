//! The baseline of the HTTP load benchmark (`benches/load.sh`): a trivial
//! axum handler served the way `voucher serve` serves the API, so that the
//! benchmark's ratios measure what the API adds, not HTTP and the runtime.
//!
//! Same runtime (tokio's multi-threaded runtime, one worker per core), same
//! `axum::serve` with connection info, same shutdown on SIGINT or SIGTERM.
//! `POST /` reads the JSON body (`{"order":{"amount":4000}}`) and answers a
//! small JSON object; nothing else is routed.
//!
//!     cargo run --release --example load_baseline -- 127.0.0.1:0
//!
//! It prints `listening on http://ADDRESS` once ready, as `voucher serve`
//! does.

use std::io::Write as _;
use std::net::SocketAddr;

use axum::routing::post;
use axum::{Json, Router};

async fn trivial(Json(body): Json<serde_json::Value>) -> Json<serde_json::Value> {
    let amount = body
        .get("order")
        .and_then(|order| order.get("amount"))
        .and_then(serde_json::Value::as_i64);
    Json(serde_json::json!({"object": "baseline", "amount": amount}))
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let Ok(mut terminate) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            let _ = interrupt.await;
            return;
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

fn main() -> std::io::Result<()> {
    let listen: SocketAddr = match std::env::args().nth(1) {
        Some(text) => text
            .parse()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?,
        None => SocketAddr::from(([127, 0, 0, 1], 0)),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        println!("listening on http://{}", listener.local_addr()?);
        std::io::stdout().flush()?;
        let app = Router::new().route("/", post(trivial));
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown_signal())
        .await
    })
}
