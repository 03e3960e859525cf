//! Load benchmark (not a test): `scripts/bench-load.sh [EVALUATIONS] [TIME_SCALE]`.
//!
//! Loads a synthetic dataset into the emulator at Genesys' 300 requests/minute with 150 ms latency,
//! on a clock running TIME_SCALE times faster than real time so it finishes in a minute or two, and
//! prints the achieved request rate ÷ the permitted rate, HTTP requests per created evaluation, and
//! the 429s received. Targets: ratio ≥ 0.97, ≤ 1.02 requests per evaluation, 429s ≤ 1 %.

use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(700);
    let scale: f64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(4.0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run(n, scale))
}

async fn run(n: usize, scale: f64) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    qm_migrate::sample::generate(n, 42, dir.path())?;
    let fixture: emulator::Fixture = serde_json::from_str(&std::fs::read_to_string(
        dir.path().join("genesys-fixture.json"),
    )?)?;
    let (id, secret) = (
        fixture.oauth_clients[0].client_id.clone(),
        fixture.oauth_clients[0].client_secret.clone(),
    );
    let clock = genesys::Clock::scaled(scale);
    let settings = emulator::Settings {
        requests_per_minute: 300,
        latency_ms: 150,
        ..Default::default()
    };
    let emu = emulator::spawn(
        "127.0.0.1:0",
        emulator::EmulatorState::with_clock(fixture, settings, clock.clone()),
    )
    .await?;
    let mut cfg = qm_migrate::config::Config::load(&dir.path().join("qm-migrate.toml"))?;
    cfg.genesys.api_url = Some(emu.url());
    cfg.genesys.login_url = Some(emu.url());
    cfg.genesys.requests_per_minute = 300;
    let creds = qm_migrate::config::Credentials {
        client_id: id,
        client_secret: secrecy::SecretString::from(secret),
    };
    let client = qm_migrate::client_with_clock(&cfg, creds, clock.clone())?;
    let mut ledger = qm_migrate::ledger::Ledger::open(&cfg.ledger.path)?;
    let bar = indicatif::ProgressBar::hidden();
    qm_migrate::extract::run(&cfg, &mut ledger, &bar).await?;
    qm_migrate::plan::run(&cfg, &mut ledger, &client, &Default::default()).await?;
    qm_migrate::provision::run(&cfg, &ledger, &client).await?;

    let requests_before = client.requests_sent();
    let throttled_before = client.throttled();
    let real = Instant::now();
    let out = qm_migrate::load::run(&cfg, &ledger, &client, &Default::default(), &bar).await?;
    let requests = client.requests_sent() - requests_before;
    let throttled = client.throttled() - throttled_before;
    let minutes = out.elapsed_seconds / 60.0;
    let rate = requests as f64 / minutes;
    println!("evaluations created        {}", out.created_now);
    println!(
        "virtual time               {:.1} min ({:.1} s real, clock x{scale})",
        minutes,
        real.elapsed().as_secs_f64()
    );
    println!(
        "achieved / permitted rate  {:.1} / 300 per min = {:.3}",
        rate,
        rate / 300.0
    );
    println!(
        "requests per evaluation    {requests} / {} = {:.3}",
        out.created_now,
        requests as f64 / out.created_now.max(1) as f64
    );
    println!(
        "429s received              {throttled} ({:.2} % of requests)",
        throttled as f64 * 100.0 / requests.max(1) as f64
    );
    emu.stop().await;
    Ok(())
}
