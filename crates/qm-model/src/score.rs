//! Score normalisation: every Calabrio score becomes a 0–100 percentage, with its method recorded.
//!
//! Methods (DESIGN §3): `ratio` (score / max × 100; the guide's 1–5 scale is `ratio` with max 5),
//! `percent` (as is), `linear` ((score − min) / (max − min) × 100). The result is checked to lie in
//! 0..=100: a score outside its scale is an input error, never clamped silently.

use serde::{Deserialize, Serialize};

/// How a Calabrio score maps to 0–100.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "lowercase")]
pub enum ScoringMethod {
    /// Already a percentage.
    Percent,
    /// `score / max × 100`.
    Ratio {
        /// The top of the scale (5 for a 1–5 scale).
        max: f64,
    },
    /// `(score − min) / (max − min) × 100`.
    Linear {
        /// Bottom of the scale.
        min: f64,
        /// Top of the scale.
        max: f64,
    },
}

impl ScoringMethod {
    /// A short description recorded with every normalised score, e.g. `ratio(max=5)`.
    pub fn describe(&self) -> String {
        match self {
            ScoringMethod::Percent => "percent".to_owned(),
            ScoringMethod::Ratio { max } => format!("ratio(max={max})"),
            ScoringMethod::Linear { min, max } => format!("linear(min={min},max={max})"),
        }
    }
}

/// A score on 0..=100 with the method that produced it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Normalised {
    /// The percentage.
    pub percent: f64,
    /// The method, as [`ScoringMethod::describe`].
    pub method: String,
}

/// Why a score could not be normalised.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ScoreError {
    /// Not a finite number.
    #[error("score {0} is not a finite number")]
    NotFinite(f64),
    /// The scale itself is unusable (max ≤ min, or max ≤ 0).
    #[error("scoring method {0} has an empty scale")]
    BadScale(String),
    /// The score lies outside the scale.
    #[error("score {score} is outside the scale of {method} (gives {percent:.2}%)")]
    OutOfRange {
        /// The source score.
        score: f64,
        /// The method.
        method: String,
        /// What it would have given.
        percent: f64,
    },
}

/// Normalises `score` to 0..=100 by `method`.
///
/// # Errors
/// [`ScoreError`] when the score is not finite, the scale is empty, or the result falls outside
/// 0..=100 (by more than a rounding hair).
pub fn normalise(score: f64, method: ScoringMethod) -> Result<Normalised, ScoreError> {
    if !score.is_finite() {
        return Err(ScoreError::NotFinite(score));
    }
    let percent = match method {
        ScoringMethod::Percent => score,
        ScoringMethod::Ratio { max } => {
            if !(max.is_finite() && max > 0.0) {
                return Err(ScoreError::BadScale(method.describe()));
            }
            score / max * 100.0
        }
        ScoringMethod::Linear { min, max } => {
            if !(min.is_finite() && max.is_finite() && max > min) {
                return Err(ScoreError::BadScale(method.describe()));
            }
            (score - min) / (max - min) * 100.0
        }
    };
    const HAIR: f64 = 1e-9;
    if !(-HAIR..=100.0 + HAIR).contains(&percent) {
        return Err(ScoreError::OutOfRange {
            score,
            method: method.describe(),
            percent,
        });
    }
    Ok(Normalised {
        percent: percent.clamp(0.0, 100.0),
        method: method.describe(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guide_one_to_five_is_ratio_times_twenty() {
        let n = normalise(4.0, ScoringMethod::Ratio { max: 5.0 }).unwrap();
        assert_eq!(n.percent, 80.0);
        assert_eq!(n.method, "ratio(max=5)");
    }

    #[test]
    fn linear_maps_bottom_to_zero() {
        let m = ScoringMethod::Linear { min: 1.0, max: 5.0 };
        assert_eq!(normalise(1.0, m).unwrap().percent, 0.0);
        assert_eq!(normalise(3.0, m).unwrap().percent, 50.0);
    }

    #[test]
    fn out_of_scale_is_an_error_not_a_clamp() {
        let err = normalise(6.0, ScoringMethod::Ratio { max: 5.0 }).unwrap_err();
        assert!(matches!(err, ScoreError::OutOfRange { .. }), "{err}");
        assert!(normalise(100.5, ScoringMethod::Percent).is_err());
        assert!(normalise(-1.0, ScoringMethod::Percent).is_err());
        assert!(normalise(f64::NAN, ScoringMethod::Percent).is_err());
        assert!(normalise(1.0, ScoringMethod::Ratio { max: 0.0 }).is_err());
    }
}
