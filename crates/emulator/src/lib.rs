//! A faithful, stateful stand-in for the Genesys Cloud endpoints qm-migrate calls.
//!
//! `app(state)` is an axum `Router` (the axum `examples/testing` pattern), so tests can run it
//! in-process; [`spawn`] binds it on a loopback port and returns a handle with the bound address, the
//! state (clock, counters, stored evaluations) and a shutdown switch. It answers with the documented
//! status codes and `ErrorBody` codes, scores with the documented formula, hands out expiring OAuth
//! tokens, and enforces the per-client request rate and the per-agent daily cap with honest
//! `Retry-After` headers.

pub mod calabrio;
mod genesys;
pub mod permissions;
pub mod schema;
pub mod scoring;
mod state;

use std::net::SocketAddr;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use state::{
    AuditEntry, Clock, EmulatorState, Fixture, FixtureConversation, FixtureParticipant,
    FixtureUser, OAuthClient, SUPERVISOR, Settings, Stats,
};

/// The router over `state`: the Genesys API (`genesys/`), behind the permission check and the
/// fault layer.
pub fn app(state: EmulatorState) -> Router {
    genesys::router(state)
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
