//! `emulator genesys|calabrio`: serves an emulator until stopped.

use anyhow::{Context, Result};
use serde_json::json;

use super::Outcome;
use crate::cli::EmulatorKind;

pub(crate) async fn command(kind: EmulatorKind) -> Result<Outcome> {
    match kind {
        EmulatorKind::Genesys {
            listen,
            fixture,
            flags,
        } => {
            let text = std::fs::read_to_string(&fixture)
                .with_context(|| format!("cannot read fixture {}", fixture.display()))?;
            let fx: emulator::Fixture = serde_json::from_str(&text).with_context(|| {
                format!("fixture {} is not an emulator fixture", fixture.display())
            })?;
            let settings = flags.settings();
            let clock = genesys::Clock::scaled(flags.time_scale);
            let handle = emulator::spawn(
                &listen,
                emulator::EmulatorState::with_clock(fx, settings, clock),
            )
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
            eprintln!(
                "Genesys emulator listening on {} (Ctrl-C stops it)",
                handle.url()
            );
            tokio::signal::ctrl_c().await.ok();
            let created = handle.state.evaluations().len();
            handle.stop().await;
            Ok(Outcome {
                json: json!({"command": "emulator", "evaluations": created}),
                human: format!("emulator stopped; it held {created} evaluations"),
                code: 0,
            })
        }
        EmulatorKind::Calabrio {
            listen,
            fixture: dataset,
            legacy_login,
            session_requests,
            fault_rate,
            max_page,
            unevaluated_per_evaluated,
            time_zone,
        } => {
            if let Some(z) = &time_zone {
                jiff::tz::TimeZone::get(z).with_context(|| format!("--time-zone {z}"))?;
            }
            let text = std::fs::read_to_string(&dataset)
                .with_context(|| format!("cannot read dataset {}", dataset.display()))?;
            let data: emulator::calabrio::Dataset =
                serde_json::from_str(&text).with_context(|| {
                    format!("{} is not a Calabrio emulator dataset", dataset.display())
                })?;
            let contacts = data.contacts.len();
            let state = emulator::calabrio::CalabrioState::new(
                data,
                emulator::calabrio::CalabrioSettings {
                    legacy_login,
                    session_requests,
                    fault_rate: fault_rate.clamp(0.0, 1.0),
                    max_page: max_page.max(1),
                    unevaluated_per_evaluated: unevaluated_per_evaluated.min(99),
                    time_zone,
                    ..emulator::calabrio::CalabrioSettings::default()
                },
            );
            let handle = emulator::calabrio::spawn(&listen, state)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            eprintln!(
                "Calabrio emulator listening on {} with {contacts} contacts (Ctrl-C stops it)",
                handle.base_url()
            );
            tokio::signal::ctrl_c().await.ok();
            let stats = handle.state.stats();
            Ok(Outcome {
                json: json!({"command": "emulator", "calabrio": stats}),
                human: format!(
                    "Calabrio emulator stopped after {} requests ({} logins, {} expired sessions, {} faults)",
                    stats.requests, stats.logins, stats.expired, stats.faults
                ),
                code: 0,
            })
        }
    }
}
