//! A faithful, stateful stand-in for the Genesys Cloud endpoints qm-migrate calls.
//!
//! `app(state)` is an axum `Router` (the axum `examples/testing` pattern), so tests can run it
//! in-process; [`spawn`] binds it on a loopback port and returns a handle with the bound address, the
//! state (clock, counters, stored evaluations) and a shutdown switch. It answers with the documented
//! status codes and `ErrorBody` codes, scores with the documented formula, hands out expiring OAuth
//! tokens, and enforces the per-client request rate and the per-agent daily cap with honest
//! `Retry-After` headers.

pub mod calabrio;
pub mod permissions;
mod routes;
pub mod schema;
pub mod scoring;
mod state;

use std::net::SocketAddr;

use axum::Router;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use state::{
    Clock, EmulatorState, Fixture, FixtureConversation, FixtureParticipant, FixtureUser,
    OAuthClient, Settings, Stats,
};

/// The router over `state`.
pub fn app(state: EmulatorState) -> Router {
    use routes::*;
    Router::new()
        .route("/oauth/token", post(token))
        .route("/api/v2/users", get(list_users))
        .route("/api/v2/users/search", post(search_users))
        .route("/api/v2/users/{id}", get(get_user))
        .route(
            "/api/v2/quality/forms/evaluations",
            post(create_form).get(list_forms),
        )
        .route(
            "/api/v2/quality/forms/evaluations/{id}",
            get(get_form).delete(delete_form).put(put_form),
        )
        .route(
            "/api/v2/quality/publishedforms/evaluations",
            post(publish_form).get(list_published_forms),
        )
        .route(
            "/api/v2/quality/publishedforms/evaluations/{id}",
            get(get_published_form),
        )
        .route(
            "/api/v2/quality/conversations/{cid}/evaluations",
            post(create_evaluation),
        )
        .route(
            "/api/v2/quality/conversations/{cid}/evaluations/{eid}",
            get(get_evaluation)
                .put(update_evaluation)
                .delete(delete_evaluation),
        )
        .route("/api/v2/quality/evaluations/query", get(query_evaluations))
        .route("/api/v2/quality/evaluations/scoring", post(scoring))
        .route(
            "/api/v2/analytics/conversations/details",
            get(conversation_details_multi),
        )
        .route(
            "/api/v2/analytics/conversations/details/query",
            post(conversation_details_query),
        )
        .route(
            "/api/v2/analytics/conversations/{id}/details",
            get(conversation_details),
        )
        .route("/api/v2/organizations/limits/namespaces/{ns}", get(limits))
        .route(
            "/api/v2/employeeperformance/externalmetrics/definitions",
            post(create_metric_definition).get(list_metric_definitions),
        )
        .route(
            "/api/v2/employeeperformance/externalmetrics/data",
            post(write_metric_data),
        )
        .route("/emulator/externalmetrics/data", get(read_metric_data))
        .route(
            "/api/v2/integrations",
            get(list_integrations).post(create_integration),
        )
        .route(
            "/api/v2/integrations/{id}",
            axum::routing::patch(patch_integration),
        )
        .route(
            "/api/v2/integrations/{id}/config/current",
            axum::routing::put(put_integration_config),
        )
        .route("/api/v2/oauth/clients/{id}", get(permissions::oauth_client))
        .route("/api/v2/authorization/roles/{id}", get(permissions::role))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            permissions::authorize,
        ))
        .fallback(fallback)
        .layer(axum::middleware::from_fn_with_state(state.clone(), faults))
        .with_state(state)
}

/// A running emulator.
pub struct EmulatorHandle {
    /// The bound address.
    pub addr: SocketAddr,
    /// Its state.
    pub state: EmulatorState,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl EmulatorHandle {
    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops serving and waits for the server task.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A router served on a bound address in a background task, until its shutdown switch fires.
pub(crate) struct Served {
    pub(crate) addr: SocketAddr,
    pub(crate) shutdown: oneshot::Sender<()>,
    pub(crate) task: tokio::task::JoinHandle<()>,
}

/// Binds `addr` and serves `router` (shared by both emulators).
pub(crate) async fn serve(
    addr: &str,
    router: Router,
    what: &'static str,
) -> std::io::Result<Served> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let result = axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, emulator = what, "Emulator server stopped with an error.");
        }
    });
    Ok(Served {
        addr: local,
        shutdown: tx,
        task,
    })
}

/// Binds `addr` (use `127.0.0.1:0` for a free port) and serves `state` in a background task.
///
/// # Errors
/// The bind error.
pub async fn spawn(addr: &str, state: EmulatorState) -> std::io::Result<EmulatorHandle> {
    let s = serve(addr, app(state.clone()), "genesys").await?;
    Ok(EmulatorHandle {
        addr: s.addr,
        state,
        shutdown: Some(s.shutdown),
        task: Some(s.task),
    })
}
