//! Score normalisation: every Calabrio score becomes a 0–100 percentage, with its method recorded.
//!
//! Methods (DESIGN §3): `ratio` (score / max × 100; the guide's 1–5 scale is `ratio` with max 5),
//! `percent` (as is), `linear` ((score − min) / (max − min) × 100), `points` (earned ÷ applicable
//! points × 100, where applicable points exclude N/A answers — reference/calabrio.md §3 — so each
//! record brings its own denominator). The result is checked to lie in 0..=100: a score outside its
//! scale (a negative points total included) is an input error, never clamped silently.

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
    /// `earned / applicable × 100`, the record's own applicable points (N/A excluded), else its
    /// form's total points.
    Points,
}

impl ScoringMethod {
    /// A short description recorded with every normalised score, e.g. `ratio(max=5)`.
    pub fn describe(&self) -> String {
        match self {
            ScoringMethod::Percent => "percent".to_owned(),
            ScoringMethod::Ratio { max } => format!("ratio(max={max})"),
            ScoringMethod::Linear { min, max } => format!("linear(min={min},max={max})"),
            ScoringMethod::Points => "points".to_owned(),
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
    /// `points` needs the record's applicable (or total) points.
    #[error(
        "scoring method points needs the record's applicable points (or the form's total points), and it has none above 0"
    )]
    NoApplicablePoints,
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
    normalise_with(score, method, None)
}

/// As [`normalise`], with the record's applicable points for the `points` method.
///
/// # Errors
/// As [`normalise`]; `points` without applicable points above 0 is [`ScoreError::NoApplicablePoints`].
pub fn normalise_with(
    score: f64,
    method: ScoringMethod,
    applicable_points: Option<f64>,
) -> Result<Normalised, ScoreError> {
    let percent = raw_percent(score, method, applicable_points)?;
    const HAIR: f64 = 1e-9;
    if !(-HAIR..=100.0 + HAIR).contains(&percent) {
        return Err(ScoreError::OutOfRange {
            score,
            method: method.describe(),
            percent,
        });
    }
    Ok(Normalised {
        // Only float noise (within 1e-9) is clamped; anything more is the error above.
        percent: percent.clamp(0.0, 100.0),
        method: method.describe(),
    })
}

/// The method's formula alone, before any range check or clamp: the percent a score maps to.
///
/// # Errors
/// A score that is not a number, a bad scale, or `points` without applicable points.
pub fn raw_percent(
    score: f64,
    method: ScoringMethod,
    applicable_points: Option<f64>,
) -> Result<f64, ScoreError> {
    if !score.is_finite() {
        return Err(ScoreError::NotFinite(score));
    }
    Ok(match method {
        ScoringMethod::Points => {
            let applicable = applicable_points
                .filter(|p| p.is_finite() && *p > 0.0)
                .ok_or(ScoreError::NoApplicablePoints)?;
            score / applicable * 100.0
        }
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

    /// reference/calabrio.md §3: "4 of 5 equal questions = 80 %"; N/A answers leave the applicable
    /// points, "so that agents' scores are not artificially lowered".
    #[test]
    fn worked_numbers_of_the_calabrio_reference() {
        let four_of_five = normalise(4.0, ScoringMethod::Ratio { max: 5.0 }).unwrap();
        assert_eq!(four_of_five.percent, 80.0);
        // Points form: 17 earned of 25 possible, 5 of them N/A ⇒ 17 / 20.
        let n = normalise_with(17.0, ScoringMethod::Points, Some(20.0)).unwrap();
        assert_eq!(n.percent, 85.0);
        assert_eq!(n.method, "points");
        // Without N/A exclusion it would have been 68 %: the applicable points matter.
        assert_eq!(
            normalise_with(17.0, ScoringMethod::Points, Some(25.0))
                .unwrap()
                .percent,
            68.0
        );
        // "Questions can carry positive or negative points": 10 + 5 − 5 (a penalty answer) earned
        // of 20 applicable points (the N/A question's 5 left out) = 50 %.
        let earned = 10.0 + 5.0 - 5.0;
        assert_eq!(
            normalise_with(earned, ScoringMethod::Points, Some(20.0))
                .unwrap()
                .percent,
            50.0
        );
        // A negative points total cannot be a Genesys score: an error, not a clamp.
        assert!(matches!(
            normalise_with(-2.0, ScoringMethod::Points, Some(10.0)),
            Err(ScoreError::OutOfRange { .. })
        ));
        assert_eq!(
            normalise_with(5.0, ScoringMethod::Points, None).unwrap_err(),
            ScoreError::NoApplicablePoints
        );
        assert_eq!(
            normalise(50.0, ScoringMethod::Percent).unwrap().percent,
            50.0
        );
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn methods() -> impl Strategy<Value = (ScoringMethod, f64, f64, Option<f64>)> {
            prop_oneof![
                Just((ScoringMethod::Percent, 0.0, 100.0, None)),
                (1.0f64..1000.0).prop_map(|max| (ScoringMethod::Ratio { max }, 0.0, max, None)),
                (-50.0f64..50.0, 0.5f64..500.0).prop_map(|(min, w)| (
                    ScoringMethod::Linear { min, max: min + w },
                    min,
                    min + w,
                    None
                )),
                (0.5f64..500.0).prop_map(|ap| (ScoringMethod::Points, 0.0, ap, Some(ap))),
            ]
        }

        proptest! {
            #[test]
            fn in_scale_scores_land_in_0_100_and_keep_their_order(
                (method, lo, hi, ap) in methods(),
                a in 0.0f64..=1.0,
                b in 0.0f64..=1.0,
            ) {
                let (x, y) = (lo + a * (hi - lo), lo + b * (hi - lo));
                // The formula itself, before any range check or clamp, maps the scale onto 0–100.
                let rx = raw_percent(x, method, ap).unwrap();
                let ry = raw_percent(y, method, ap).unwrap();
                let within = |p: f64| (-1e-9..=100.0 + 1e-9).contains(&p);
                prop_assert!(within(rx) && within(ry), "{x} -> {rx}, {y} -> {ry}");
                if x < y {
                    prop_assert!(rx <= ry, "{x} -> {rx}, {y} -> {ry}");
                }
                // The ends of the scale are 0 and 100.
                prop_assert!(raw_percent(lo, method, ap).unwrap().abs() < 1e-9);
                prop_assert!((raw_percent(hi, method, ap).unwrap() - 100.0).abs() < 1e-9);
                let nx = normalise_with(x, method, ap).unwrap().percent;
                prop_assert!((nx - rx).abs() <= 1e-9, "normalised {nx}, formula {rx}");
            }

            #[test]
            fn out_of_scale_scores_are_errors((method, lo, hi, ap) in methods(), over in 0.01f64..1000.0) {
                prop_assert!(normalise_with(hi + over, method, ap).is_err());
                prop_assert!(normalise_with(lo - over, method, ap).is_err());
            }
        }
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
