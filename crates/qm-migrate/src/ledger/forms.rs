//! The provisioned forms: draft, published version and context ids, the scoring check, adoption.

use anyhow::Result;
use rusqlite::{OptionalExtension, params};

#[allow(clippy::wildcard_imports)]
use super::*;

/// A provisioned form.
#[derive(Debug, Clone)]
pub struct FormRow {
    /// Name.
    pub name: String,
    /// Hash of the definition it was made from.
    pub definition_hash: String,
    /// First draft id.
    pub draft_id: String,
    /// Published version id.
    pub published_id: Option<String>,
    /// Context id.
    pub context_id: Option<String>,
    /// Logical id → published id (JSON object).
    pub id_map: Option<String>,
}

impl Ledger {
    /// The provisioned form named `name`.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn form(&self, name: &str) -> Result<Option<FormRow>> {
        Ok(self
            .conn
            .query_row(
                "SELECT name, definition_hash, draft_id, published_id, context_id, id_map FROM forms WHERE name = ?1",
                [name],
                |r| {
                    Ok(FormRow {
                        name: r.get(0)?,
                        definition_hash: r.get(1)?,
                        draft_id: r.get(2)?,
                        published_id: r.get(3)?,
                        context_id: r.get(4)?,
                        id_map: r.get(5)?,
                    })
                },
            )
            .optional()?)
    }

    /// Stores a provisioned form.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn put_form(&self, f: &FormRow) -> Result<()> {
        if let Some(pid) = &f.published_id {
            self.conn.execute(
                "INSERT OR IGNORE INTO form_versions (name, published_id, definition_hash, recorded_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![f.name, pid, f.definition_hash, now()],
            )?;
        }
        // An upsert, not a replace: the row's other columns (checks, adoption) stay.
        self.conn.execute(
            "INSERT INTO forms (name, definition_hash, draft_id, published_id, context_id, id_map, provisioned_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (name) DO UPDATE SET definition_hash = excluded.definition_hash,
               draft_id = excluded.draft_id, published_id = excluded.published_id,
               context_id = excluded.context_id, id_map = excluded.id_map,
               provisioned_at = excluded.provisioned_at",
            params![
                f.name,
                f.definition_hash,
                f.draft_id,
                f.published_id,
                f.context_id,
                f.id_map,
                now()
            ],
        )?;
        Ok(())
    }

    /// The published version of form `name` whose scoring the org's dry run confirmed, if any.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn scoring_checked(&self, name: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT scoring_checked FROM forms WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }

    /// Records that the org's dry run confirmed the scoring of `published_id` of form `name`.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn set_scoring_checked(&self, name: &str, published_id: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE forms SET scoring_checked = ?2 WHERE name = ?1",
            params![name, published_id],
        )?;
        Ok(())
    }

    /// Marks form `name` as found in Genesys (not created by this ledger): `load` adopts our
    /// evaluations on it before sending anything.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn mark_form_found(&self, name: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE forms SET found_in_genesys = 1, adoption_done = 0 WHERE name = ?1",
            [name],
        )?;
        Ok(())
    }

    /// Forms found in Genesys whose evaluations were not yet read for adoption: (name, context id).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn forms_to_adopt_from(&self) -> Result<Vec<(String, String)>> {
        let mut stmt = self.conn.prepare(
            "SELECT name, context_id FROM forms
             WHERE found_in_genesys = 1 AND adoption_done = 0 AND context_id IS NOT NULL",
        )?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Records that the evaluations on form `name` were read and ours adopted.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn mark_adoption_done(&self, name: &str) -> Result<()> {
        self.conn
            .execute("UPDATE forms SET adoption_done = 1 WHERE name = ?1", [name])?;
        Ok(())
    }
}
