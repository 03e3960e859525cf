//! The crawl: one contact day at a time (sized with `searchStats`, read in `Range` pages), each
//! contact's evaluations and comments, and people the directory did not list.

use super::*;

impl CalabrioApi {
    pub(super) async fn person(&self, id: &str) -> Result<(), ApiError> {
        if self.catalog.read().await.persons.contains_key(id) {
            return Ok(());
        }
        let found = match self.get(&format!("org/common/person/{id}"), None).await {
            Ok((p, _)) => person_from_json(&p),
            Err(ApiError::Request { detail, .. }) if detail.starts_with("HTTP 404") => None,
            Err(e) => return Err(e),
        };
        let person = found.unwrap_or_else(|| Person {
            calabrio_person_id: Some(id.to_owned()),
            ..Person::default()
        });
        self.catalog
            .write()
            .await
            .persons
            .insert(id.to_owned(), person);
        Ok(())
    }

    /// Preflight: after [`CalabrioApi::connect`] logged in, sizes the contacts from `from` to `to`
    /// (`searchStats`) and reads the first one (`Range: items=0-0`). Returns the number of contacts
    /// and the id of the one read (none when the window is empty).
    ///
    /// # Errors
    /// A request that failed after its retries.
    pub async fn probe(
        &self,
        from: jiff::civil::Date,
        to: jiff::civil::Date,
    ) -> Result<(u64, Option<String>), ApiError> {
        let window = format!("beginDate={from}&endDate={to}&searchScope=allEvaluations");
        let count = self.contact_count(&window).await?;
        if count == 0 {
            return Ok((0, None));
        }
        let (page, _) = self
            .get(&format!("recording/contact?{window}&limit=1"), Some((0, 0)))
            .await?;
        let id = page
            .as_array()
            .and_then(|a| a.first())
            .and_then(|c| c.get("id"))
            .and_then(id_str);
        Ok((count, id))
    }

    /// The number of contacts a search `window` finds (`searchStats=true`).
    pub(super) async fn contact_count(&self, window: &str) -> Result<u64, ApiError> {
        let (stats, _) = self
            .get(
                &format!("recording/contact?{window}&searchStats=true"),
                None,
            )
            .await?;
        Ok(stats.get("count").and_then(Value::as_u64).unwrap_or(0))
    }

    /// Every evaluation on contacts of `day` (contact start date, UTC).
    ///
    /// # Errors
    /// A request that failed after its retries; the day is then not complete.
    pub async fn day(&self, day: jiff::civil::Date) -> Result<Day, ApiError> {
        let window = format!("beginDate={day}&endDate={day}&searchScope=allEvaluations");
        let count = self.contact_count(&window).await?;
        let mut contacts: Vec<Box<RawValue>> = Vec::new();
        let mut start = 0;
        let page = self.opts.page_size.max(1);
        while start < count {
            let path = format!("recording/contact?{window}&limit={page}");
            let (_, body) = self.get(&path, Some((start, start + page - 1))).await?;
            let items: Vec<Box<RawValue>> =
                serde_json::from_str(&body).map_err(|e| ApiError::Request {
                    path: path.clone(),
                    detail: format!("expected an array of contacts: {e}"),
                })?;
            if items.is_empty() {
                break;
            }
            start += items.len() as u64;
            contacts.extend(items);
        }
        let mut seen = std::collections::HashSet::new();
        contacts.retain(|c| {
            serde_json::from_str::<Value>(c.get())
                .ok()
                .and_then(|v| v.get("id").and_then(id_str))
                .is_none_or(|id| seen.insert(id))
        });
        let results: Vec<Result<Vec<SourceRecord>, ApiError>> =
            futures_util::stream::iter(contacts.iter().map(|c| self.contact(c)))
                .buffered(self.opts.concurrency.max(1))
                .collect()
                .await;
        let mut records = Vec::new();
        for r in results {
            records.extend(r?);
        }
        Ok(Day {
            contacts: count,
            records,
        })
    }

    pub(super) async fn contact(
        &self,
        raw_contact: &RawValue,
    ) -> Result<Vec<SourceRecord>, ApiError> {
        let contact: Value = serde_json::from_str(raw_contact.get()).unwrap_or(Value::Null);
        let locator = |path: String| Locator {
            file: self.opts.base_url.clone(),
            line: None,
            json_path: Some(path),
        };
        let Some(cid) = contact.get("id").and_then(id_str) else {
            let raw = raw_contact.get().to_owned();
            return Ok(vec![SourceRecord {
                locator: locator("recording/contact".into()),
                hash: sha256_hex(raw.as_bytes()),
                raw,
                parsed: Err(RecordError::field("id", "contact without an id")),
            }]);
        };
        let (list, _) = self
            .get(&format!("recording/contact/{cid}/eval/"), None)
            .await?;
        let mut out = Vec::new();
        for summary in list.as_array().map(Vec::as_slice).unwrap_or_default() {
            let Some(eid) = summary.get("id").and_then(id_str) else {
                continue;
            };
            let path = format!("recording/contact/{cid}/eval/{eid}");
            let (detail, detail_raw) = self.get(&path, None).await?;
            let (comments, comments_raw) = self.get(&format!("{path}/comment"), None).await?;
            for key in ["/agent/id", "/evaluator/id"] {
                if let Some(pid) = detail.pointer(key).and_then(id_str) {
                    self.person(&pid).await?;
                }
            }
            let raw = format!(
                "{{\"contact\":{},\"evaluation\":{detail_raw},\"comments\":{comments_raw}}}",
                raw_contact.get()
            );
            let parsed = {
                let catalog = self.catalog.read().await;
                canonical(
                    &catalog,
                    &contact,
                    &cid,
                    &detail,
                    &comments,
                    self.tenant.as_deref(),
                )
            };
            out.push(SourceRecord {
                locator: locator(path),
                hash: sha256_hex(raw.as_bytes()),
                raw,
                parsed,
            });
        }
        Ok(out)
    }
}
