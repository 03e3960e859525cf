//! Stopping cleanly. Ctrl-C or SIGTERM asks every long command (`run`, `extract`, `plan`, `load`,
//! `verify`, `rollback`, `demo`) to stop: nothing new is sent, the requests in flight settle and are
//! recorded, and the command says how to resume; a second Ctrl-C stops at once (an item left
//! `sending` is resolved by the next run, exactly once as ever). An outage that outlasts the
//! client's patience stops a command the same clean way.
//!
//! The signal is process-wide and only the binary listens for it ([`install`]); library callers
//! (tests) that never install it are never stopped by it.

use std::sync::OnceLock;

use tokio::sync::watch;

static STOP: OnceLock<watch::Sender<bool>> = OnceLock::new();

fn sender() -> &'static watch::Sender<bool> {
    STOP.get_or_init(|| watch::channel(false).0)
}

/// Why a command stopped before finishing its work. Commands turn it into exit code 1 and a resume
/// hint, never 2: nothing is lost, a plain re-run goes on.
#[derive(Debug, thiserror::Error)]
pub enum Stopped {
    /// Ctrl-C or SIGTERM.
    #[error(
        "stopped by a signal during {during}; nothing is lost: run `qm-migrate {resume}` again to resume"
    )]
    Signal {
        /// The stage that was running.
        during: String,
        /// The command that resumes.
        resume: String,
    },
    /// Genesys (or Calabrio) kept failing: every request answered 5xx or did not connect.
    #[error(
        "{what} did not answer ({detail}); nothing is lost: run `qm-migrate {resume}` again to resume once it is back{follow}"
    )]
    Outage {
        /// Which service.
        what: String,
        /// The last failure.
        detail: String,
        /// The command that resumes.
        resume: String,
        /// A hint on waiting outages out.
        follow: String,
    },
}

impl Stopped {
    /// A signal stop during `during`, resumed by `resume`.
    pub fn signal(during: &str, resume: &str) -> Self {
        Stopped::Signal {
            during: during.to_owned(),
            resume: resume.to_owned(),
        }
    }

    /// A Calabrio outage (server errors or no answer after the retries) during an extract: the
    /// contact days before it are saved.
    pub fn calabrio_outage(detail: impl std::fmt::Display) -> Self {
        Stopped::Outage {
            what: "Calabrio".into(),
            detail: detail.to_string(),
            resume: "extract".into(),
            follow: " (the contact days read before it are saved)".into(),
        }
    }

    /// A Genesys outage met by `resume` (which `load --follow` would have waited out).
    pub fn genesys_outage(detail: impl std::fmt::Display, resume: &str) -> Self {
        Stopped::Outage {
            what: "Genesys".into(),
            detail: detail.to_string(),
            resume: resume.to_owned(),
            follow: " (`load --follow` waits an outage out)".into(),
        }
    }
}

/// Listens for Ctrl-C and SIGTERM (call once, inside the runtime): the first asks every command to
/// stop cleanly, a second Ctrl-C exits at once.
pub fn install() {
    let tx = sender();
    tokio::spawn(async move {
        first_signal().await;
        eprintln!(
            "Stopping: no new request leaves; waiting for the ones in flight to settle and be recorded (Ctrl-C again stops at once)."
        );
        tx.send_replace(true);
        let _ = tokio::signal::ctrl_c().await;
        eprintln!("Stopped at once: a request in flight is resolved by the next run.");
        std::process::exit(130);
    });
}

async fn first_signal() {
    #[cfg(unix)]
    {
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// True once a stop was asked for.
pub fn requested() -> bool {
    *sender().borrow()
}

/// A receiver that turns true when a stop is asked for.
pub fn receiver() -> watch::Receiver<bool> {
    sender().subscribe()
}

/// Resolves when a stop is asked for (never, in a process that did not [`install`] the listener).
pub async fn wait() {
    let mut rx = receiver();
    let _ = rx.wait_for(|stop| *stop).await;
}

/// Runs `work` until it ends or a stop is asked for; on a stop, `work` is dropped (use only for
/// work that reads, or that commits atomically) and [`Stopped::Signal`] returned.
///
/// # Errors
/// `work`'s error, or [`Stopped::Signal`].
pub async fn or_stop<T>(
    during: &str,
    resume: &str,
    work: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    if requested() {
        return Err(Stopped::signal(during, resume).into());
    }
    tokio::select! {
        r = work => r,
        () = wait() => Err(Stopped::signal(during, resume).into()),
    }
}

/// The [`Stopped`] in an error's chain, if any.
pub fn stopped_in(e: &anyhow::Error) -> Option<&Stopped> {
    e.chain().find_map(|c| c.downcast_ref::<Stopped>())
}
