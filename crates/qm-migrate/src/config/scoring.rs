//! `[scoring]`: how a Calabrio score becomes the percentage Genesys shows, per form.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use qm_model::ScoringMethod;
use serde::{Deserialize, Serialize};

/// `[scoring]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScoringConfig {
    /// Method for forms not listed in `forms`.
    pub default: MethodConfig,
    /// Per Calabrio form (by name, else id).
    pub forms: BTreeMap<String, MethodConfig>,
    /// Largest accepted difference between Genesys' predicted total and the source, points.
    pub tolerance: f64,
}

impl Default for ScoringConfig {
    fn default() -> Self {
        ScoringConfig {
            default: MethodConfig::default(),
            forms: BTreeMap::new(),
            tolerance: 0.5,
        }
    }
}

/// One normalisation method.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodConfig {
    /// `percent`, `ratio`, `linear` or `points` (earned ÷ the record's applicable points).
    pub method: String,
    /// Top of the scale (`ratio`, `linear`).
    #[serde(default)]
    pub max: Option<f64>,
    /// Bottom of the scale (`linear`).
    #[serde(default)]
    pub min: Option<f64>,
}

impl Default for MethodConfig {
    fn default() -> Self {
        MethodConfig {
            method: "percent".into(),
            max: None,
            min: None,
        }
    }
}

impl MethodConfig {
    /// The method.
    ///
    /// # Errors
    /// When the method is unknown or lacks its bounds.
    pub fn method(&self) -> Result<ScoringMethod> {
        Ok(match self.method.as_str() {
            "percent" => ScoringMethod::Percent,
            "ratio" => ScoringMethod::Ratio {
                max: self.max.context("method 'ratio' needs 'max'")?,
            },
            "linear" => ScoringMethod::Linear {
                min: self.min.context("method 'linear' needs 'min'")?,
                max: self.max.context("method 'linear' needs 'max'")?,
            },
            "points" => ScoringMethod::Points,
            other => bail!("unknown scoring method '{other}' (percent, ratio, linear, points)"),
        })
    }
}
