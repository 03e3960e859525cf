//! Time, real or scaled.
//!
//! A migration bound by the per-agent daily cap runs for days. To test that in seconds, the client,
//! the loader and the emulator share a [`Clock`] that can run faster than real time (`scale`) and can
//! be moved forward (`advance`). Every "now", every wait for `Retry-After` or a cap window, and the
//! request rate are measured on it; with scale 1 and no advance it is the system clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// A clock shared by everything that must agree on the time. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Clock {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    scale: f64,
    anchor_real: Instant,
    anchor_virtual: SystemTime,
    offset_ms: AtomicI64,
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock::scaled(1.0)
    }

    /// A clock running `scale` times faster than real time, starting now.
    pub fn scaled(scale: f64) -> Clock {
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            1.0
        };
        Clock {
            inner: Arc::new(Inner {
                scale,
                anchor_real: Instant::now(),
                anchor_virtual: SystemTime::now(),
                offset_ms: AtomicI64::new(0),
            }),
        }
    }

    /// A clock that reads `at` now and runs `scale` times faster than real time (tests that need a
    /// given date).
    pub fn starting_at(at: SystemTime, scale: f64) -> Clock {
        let c = Clock::scaled(scale);
        Clock {
            inner: Arc::new(Inner {
                scale: c.inner.scale,
                anchor_real: Instant::now(),
                anchor_virtual: at,
                offset_ms: AtomicI64::new(0),
            }),
        }
    }

    /// How many times faster than real time.
    pub fn scale(&self) -> f64 {
        self.inner.scale
    }

    /// Now, on this clock.
    pub fn now(&self) -> SystemTime {
        let real = self.inner.anchor_real.elapsed();
        let virt = real.mul_f64(self.inner.scale);
        let off = self.inner.offset_ms.load(Ordering::Relaxed);
        let base = self.inner.anchor_virtual + virt;
        if off >= 0 {
            base + Duration::from_millis(off.unsigned_abs())
        } else {
            base - Duration::from_millis(off.unsigned_abs())
        }
    }

    /// Now as Unix milliseconds.
    pub fn now_unix_ms(&self) -> i64 {
        match self.now().duration_since(SystemTime::UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
        }
    }

    /// Moves the clock forward (tests).
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.inner.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }

    /// The real duration of `d` on this clock.
    pub fn to_real(&self, d: Duration) -> Duration {
        d.div_f64(self.inner.scale)
    }

    /// Sleeps `d` of this clock's time.
    pub async fn sleep(&self, d: Duration) {
        tokio::time::sleep(self.to_real(d)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_clock_runs_faster_and_advances() {
        let c = Clock::scaled(3600.0);
        let t0 = c.now();
        std::thread::sleep(Duration::from_millis(20));
        let ran = c.now().duration_since(t0).unwrap();
        assert!(ran >= Duration::from_secs(70), "{ran:?}");
        assert!(ran < Duration::from_secs(3600), "{ran:?}");
        let t1 = c.now();
        c.advance(Duration::from_secs(86_400));
        assert!(c.now().duration_since(t1).unwrap() >= Duration::from_secs(86_400));
        assert_eq!(c.to_real(Duration::from_secs(3600)), Duration::from_secs(1));
    }
}
