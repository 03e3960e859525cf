//! How the client behaves when Genesys does not answer well: the retry budget, the back-off after
//! throttling and failures, and the client-wide pause of an outage (every request waits, with
//! equal jitter, until Genesys answers again).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use backon::BackoffBuilder;

use super::{GenesysClient, OUTAGE_AFTER};

impl GenesysClient {
    /// Takes `cost` from the retry budget; false when it is spent.
    pub(super) fn spend(&self, cost: i64) -> bool {
        let left = self.inner.budget.fetch_sub(cost, Ordering::Relaxed) - cost;
        if left < 0 {
            self.inner.budget.fetch_add(cost, Ordering::Relaxed);
            tracing::warn!("Retry budget spent; failures are returned without retrying.");
            return false;
        }
        self.inner.retries.fetch_add(1, Ordering::Relaxed);
        true
    }

    pub(super) fn earn(&self) {
        let cap = self.inner.cfg.retry_budget;
        let _ = self
            .inner
            .budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                (b < cap).then_some(b + 1)
            });
    }

    /// How long every request still waits (a 429's pause, or an outage's back-off).
    pub(super) fn paused_for(&self) -> Option<Duration> {
        let until = *self
            .inner
            .paused_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        until
            .and_then(|u| u.duration_since(self.clock().now()).ok())
            .filter(|w| !w.is_zero())
    }

    /// Waits while a short 429 or an outage has paused every request, then for the rate limiter.
    /// During an outage only one request is let through at a time (the returned guard, held until
    /// its answer is in): the client probes, it does not send at the permitted rate.
    pub(super) async fn admit(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        loop {
            if let Some(wait) = self.paused_for() {
                self.clock().sleep(wait).await;
                continue;
            }
            if !self.in_outage() {
                self.inner.limiter.until_ready().await;
                self.inner.requests.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            let probe = Arc::clone(&self.inner.outage_gate).lock_owned().await;
            if self.paused_for().is_some() {
                continue; // the probe before us failed: wait for the next step
            }
            self.inner.limiter.until_ready().await;
            self.inner.requests.fetch_add(1, Ordering::Relaxed);
            if self.in_outage() {
                self.inner.outage_requests.fetch_add(1, Ordering::Relaxed);
                return Some(probe);
            }
            return None;
        }
    }

    /// True while requests keep failing (server errors, no answer): see [`OUTAGE_AFTER`].
    pub fn in_outage(&self) -> bool {
        self.inner.patient.load(Ordering::Relaxed)
            && self.inner.failure_streak.load(Ordering::Relaxed) >= OUTAGE_AFTER
    }

    /// Whether the client backs off as a whole during an outage (the default, for long runs);
    /// returns the previous setting. A one-shot check (preflight, probe) turns it off to report
    /// failures as they come instead of waiting an outage out.
    pub fn set_patient(&self, on: bool) -> bool {
        self.inner.patient.swap(on, Ordering::Relaxed)
    }

    /// Requests in a row that met a server error or no answer (0 after any other answer).
    pub fn failures_in_a_row(&self) -> u32 {
        self.inner.failure_streak.load(Ordering::Relaxed)
    }

    /// Requests sent while an outage was under way (one at a time, backing off).
    pub fn outage_requests(&self) -> u64 {
        self.inner.outage_requests.load(Ordering::Relaxed)
    }

    /// How long until the client sends its next request during an outage (zero when none).
    pub fn outage_wait(&self) -> Duration {
        if self.in_outage() {
            self.paused_for().unwrap_or_default()
        } else {
            Duration::ZERO
        }
    }

    /// A request met a server error or no answer: from [`OUTAGE_AFTER`] in a row, every request
    /// waits `initial_backoff × 2^n` (at most `outage_max_backoff`, equal jitter).
    pub(super) fn note_failure(&self) {
        let n = self.inner.failure_streak.fetch_add(1, Ordering::Relaxed) + 1;
        if n < OUTAGE_AFTER || !self.inner.patient.load(Ordering::Relaxed) {
            return;
        }
        let cfg = &self.inner.cfg;
        let step = (n - OUTAGE_AFTER).min(20);
        let full = cfg
            .initial_backoff
            .max(Duration::from_millis(100))
            .saturating_mul(1u32 << step)
            .min(cfg.outage_max_backoff);
        let wait = full / 2 + (full / 2).mul_f64(fastrand::f64());
        if n == OUTAGE_AFTER {
            tracing::warn!(
                failures = n,
                "Genesys is failing every request; backing off as a whole (one request at a time)."
            );
        }
        self.pause(wait);
    }

    /// An answer other than a server error: the service is up.
    pub(super) fn note_answer(&self) {
        let was = self.inner.failure_streak.swap(0, Ordering::Relaxed);
        if was >= OUTAGE_AFTER {
            tracing::warn!(failures = was, "Genesys answers again.");
        }
    }

    /// A short 429 slows everyone: no request leaves before `wait` has passed.
    pub(super) fn pause(&self, wait: Duration) {
        let until = self.clock().now() + wait;
        let mut guard = self
            .inner
            .paused_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if guard.is_none_or(|u| u < until) {
            *guard = Some(until);
        }
    }

    pub(super) fn backoff(&self) -> impl Iterator<Item = Duration> {
        let cfg = &self.inner.cfg;
        let exp = backon::ExponentialBuilder::default()
            .with_min_delay(cfg.initial_backoff)
            .with_max_delay(cfg.max_backoff)
            .with_factor(2.0)
            .without_max_times()
            .build();
        // Full jitter: anywhere between zero and the exponential delay.
        exp.map(|d| d.mul_f64(fastrand::f64()))
    }

    /// The wait after a 429 without `Retry-After`: `initial_backoff × 2^n` (n = such 429s in a row
    /// on this client), at most `max_backoff`, with equal jitter (half fixed, half random), so it is
    /// never close to zero.
    pub(super) fn throttle_backoff(&self) -> Duration {
        let cfg = &self.inner.cfg;
        let n = self
            .inner
            .throttle_streak
            .fetch_add(1, Ordering::Relaxed)
            .min(20);
        let full = cfg
            .initial_backoff
            .max(Duration::from_millis(100))
            .saturating_mul(1u32 << n)
            .min(cfg.max_backoff);
        full / 2 + (full / 2).mul_f64(fastrand::f64())
    }
}
