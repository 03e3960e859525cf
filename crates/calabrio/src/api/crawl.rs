//! The crawl, as real tenants answer it (reference/calabrio.md §11): one contact day at a time,
//! searching only contacts that hold evaluations (`[source] contact_filter`, practitioners'
//! `evalState=scored`), sized with `searchStats` and read in `Range` pages until every contact the
//! count announced is read; each contact's `eval/` list, whose items are the full evaluation objects
//! (an evaluation is fetched on its own only when the list gives a summary); comments only for an
//! evaluation that links to them; people and forms the directory and the form list did not hold.
//!
//! No silent loss: a count that is not a non-negative integer, or a day whose distinct contacts do
//! not add up to its count after the empty pages were asked again, is an error naming why, and the
//! day is not marked complete. One contact's or evaluation's refusal (404, 403, …) is that record's
//! problem: it is staged as unreadable with the reason (a refused comment list: the evaluation is
//! staged without its comments, with a warning), the crawl goes on, and the next extract tries it
//! again. What fails every request (the login, 401 after a new login, server errors after the
//! retries) stops the extract.

use super::*;

/// Times an empty page before the count is asked again before the day is given up as incomplete.
const EMPTY_PAGE_RETRIES: usize = 3;

/// What one contact gave: its records, and what the API refused about it.
struct ContactRead {
    records: Vec<SourceRecord>,
    refused: Vec<Refused>,
    evaluations: u64,
}

impl CalabrioApi {
    pub(super) async fn person(&self, id: &str) -> Result<(), ApiError> {
        if self.catalog.read().await.persons.contains_key(id) {
            return Ok(());
        }
        let found = match self.get(&format!("org/common/person/{id}"), None).await {
            Ok((p, _)) => person_from_json(&p),
            // Gone, or out of the API user's scope: kept by id.
            Err(ApiError::Refused { .. }) => None,
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

    /// A form `recording/evalform` did not list (a retired form): asked for by id, once.
    async fn form(&self, id: &str) -> Result<(), ApiError> {
        if self.catalog.read().await.forms.contains_key(id)
            || self.missing_forms.lock().await.contains(id)
        {
            return Ok(());
        }
        match self.get(&format!("recording/evalform/{id}"), None).await {
            Ok((f, _)) => {
                if let Some(form) = form_from_json(&f) {
                    self.catalog.write().await.forms.insert(id.to_owned(), form);
                    return Ok(());
                }
            }
            Err(ApiError::Refused { .. }) => {}
            Err(e) => return Err(e),
        }
        self.missing_forms.lock().await.insert(id.to_owned());
        Ok(())
    }

    /// The search window of the contact days `from` to `to`.
    fn window(&self, from: jiff::civil::Date, to: jiff::civil::Date) -> String {
        let filter = self.opts.contact_filter.trim().trim_start_matches('&');
        if filter.is_empty() {
            format!("beginDate={from}&endDate={to}&searchScope=allEvaluations")
        } else {
            format!("beginDate={from}&endDate={to}&searchScope=allEvaluations&{filter}")
        }
    }

    /// Preflight: after [`CalabrioApi::connect`] logged in, sizes the contacts from `from` to `to`
    /// (`searchStats`) and reads the first one (`Range: items=0-0`). Returns the number of contacts
    /// and the id of the one read (none when the window is empty).
    ///
    /// # Errors
    /// A request that failed after its retries, or a count that is not a count.
    pub async fn probe(
        &self,
        from: jiff::civil::Date,
        to: jiff::civil::Date,
    ) -> Result<(u64, Option<String>), ApiError> {
        let window = self.window(from, to);
        let count = self
            .contact_count(&window, &format!("{from} to {to}"))
            .await?;
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

    /// The number of contacts a search `window` finds (`searchStats=true`): a JSON number or a
    /// string of digits, else an error naming the body (a count read as 0 would mark a day
    /// complete with nothing in it).
    pub(super) async fn contact_count(&self, window: &str, day: &str) -> Result<u64, ApiError> {
        let (stats, body) = self
            .get(
                &format!("recording/contact?{window}&searchStats=true"),
                None,
            )
            .await?;
        let count = match stats.get("count") {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
                s.parse::<u64>().ok()
            }
            _ => None,
        };
        count.ok_or_else(|| ApiError::Incomplete {
            day: day.to_owned(),
            detail: format!(
                "searchStats answered {}: no `count` that is a non-negative integer",
                excerpt(&body)
            ),
        })
    }

    /// Every evaluation on the contacts of `day` (as the tenant's server cuts days).
    ///
    /// # Errors
    /// As [`CalabrioApi::days`].
    pub async fn day(&self, day: jiff::civil::Date) -> Result<Day, ApiError> {
        self.days(day, day).await
    }

    /// Every evaluation on the contacts of the days `from` to `to`, in one search (quiet days cost
    /// one request together rather than one each).
    ///
    /// # Errors
    /// A request that failed after its retries (the login, server errors), or days that do not
    /// add up (`ApiError::Incomplete`); none of them is then complete.
    pub async fn days(
        &self,
        from: jiff::civil::Date,
        to: jiff::civil::Date,
    ) -> Result<Day, ApiError> {
        let before = self.stats.requests.load(Ordering::Relaxed);
        let window = self.window(from, to);
        let label = if from == to {
            from.to_string()
        } else {
            format!("{from} to {to}")
        };
        let mut count = self.contact_count(&window, &label).await?;
        let mut contacts: Vec<Box<RawValue>> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut start = 0u64;
        let mut empty = 0;
        let page = self.opts.page_size.max(1);
        let mut recounted = false;
        loop {
            if contacts.len() as u64 >= count {
                break;
            }
            let path = format!("recording/contact?{window}&limit={page}");
            let (_, body) = self.get(&path, Some((start, start + page - 1))).await?;
            let items: Vec<Box<RawValue>> =
                serde_json::from_str(&body).map_err(|e| ApiError::Incomplete {
                    day: label.clone(),
                    detail: format!(
                        "the page at items={start}-{} is not an array of contacts ({e}): {}",
                        start + page - 1,
                        excerpt(&body)
                    ),
                })?;
            let returned = items.len() as u64;
            let mut fresh = 0;
            for item in items {
                let id = serde_json::from_str::<Value>(item.get())
                    .ok()
                    .and_then(|v| v.get("id").and_then(id_str));
                // A contact without an id cannot repeat; one seen before is not counted again.
                if id.is_none_or(|id| seen.insert(id)) {
                    contacts.push(item);
                    fresh += 1;
                }
            }
            if fresh == 0 {
                // An empty page (or only contacts already read) before the count: asked again, then
                // the count itself, then the day is given up as incomplete.
                empty += 1;
                if empty <= EMPTY_PAGE_RETRIES {
                    tokio::time::sleep(self.opts.initial_backoff * empty as u32).await;
                    continue;
                }
                if !recounted {
                    recounted = true;
                    empty = 0;
                    count = self.contact_count(&window, &label).await?;
                    continue;
                }
                return Err(ApiError::Incomplete {
                    day: label,
                    detail: format!(
                        "the search counted {count} contacts but {} could be read: the page at items={start}-{} came back empty {EMPTY_PAGE_RETRIES} times",
                        contacts.len(),
                        start + page - 1
                    ),
                });
            }
            empty = 0;
            start += returned;
        }
        if contacts.len() as u64 != count {
            return Err(ApiError::Incomplete {
                day: label,
                detail: format!(
                    "the search counted {count} contacts and {} distinct ones were read",
                    contacts.len()
                ),
            });
        }
        let results: Vec<Result<ContactRead, ApiError>> =
            futures_util::stream::iter(contacts.iter().map(|c| self.contact(c)))
                .buffered(self.opts.concurrency.max(1))
                .collect()
                .await;
        let mut out = Day {
            contacts: count,
            records: Vec::new(),
            refused: Vec::new(),
            requests: 0,
            evaluations: 0,
        };
        for r in results {
            let r = r?;
            out.records.extend(r.records);
            out.refused.extend(r.refused);
            out.evaluations += r.evaluations;
        }
        out.requests = self
            .stats
            .requests
            .load(Ordering::Relaxed)
            .saturating_sub(before);
        Ok(out)
    }

    /// A record the API refused to give: staged as unreadable, with the reason.
    fn refused_record(&self, path: &str, raw: String, field: &str, why: &str) -> SourceRecord {
        SourceRecord {
            locator: Locator {
                file: self.opts.base_url.clone(),
                line: None,
                json_path: Some(path.to_owned()),
            },
            hash: sha256_hex(raw.as_bytes()),
            raw,
            parsed: Err(RecordError::field(field, why)),
        }
    }

    /// A contact whose evaluations could not be read (`why`): unreadable with the reason, unless
    /// the ledger keeps the copies staged before.
    fn refused_contact(&self, raw_contact: &RawValue, list_path: String, why: String) -> Refused {
        let raw = format!(
            "{{\"contact\":{},\"error\":{}}}",
            raw_contact.get(),
            serde_json::to_string(&why).unwrap_or_default()
        );
        Refused {
            record: self.refused_record(&list_path, raw, "eval/", &why),
            path: list_path,
            reason: why,
        }
    }

    async fn contact(&self, raw_contact: &RawValue) -> Result<ContactRead, ApiError> {
        let contact: Value = serde_json::from_str(raw_contact.get()).unwrap_or(Value::Null);
        let mut read = ContactRead {
            records: Vec::new(),
            refused: Vec::new(),
            evaluations: 0,
        };
        let Some(cid) = contact.get("id").and_then(id_str) else {
            let raw = raw_contact.get().to_owned();
            read.records.push(self.refused_record(
                "recording/contact",
                raw,
                "id",
                "contact without an id",
            ));
            return Ok(read);
        };
        let list_path = format!("recording/contact/{cid}/eval/");
        let list_body = match self.get(&list_path, None).await {
            Ok((_, body)) => body,
            Err(ApiError::Refused { status, detail, .. }) => {
                let why = format!(
                    "the evaluations of contact {cid} could not be read (HTTP {status}: {detail}); the next extract tries again"
                );
                read.refused
                    .push(self.refused_contact(raw_contact, list_path, why));
                return Ok(read);
            }
            Err(e) => return Err(e),
        };
        let items: Vec<Box<RawValue>> = match serde_json::from_str(&list_body) {
            Ok(items) => items,
            Err(e) => {
                // Not a list: nothing of the contact is dropped quietly.
                let why = format!(
                    "the evaluations of contact {cid} are not a JSON array ({e}): {}",
                    excerpt(&list_body)
                );
                read.refused
                    .push(self.refused_contact(raw_contact, list_path, why));
                return Ok(read);
            }
        };
        for item in items {
            let summary: Value = serde_json::from_str(item.get()).unwrap_or(Value::Null);
            let Some(eid) = summary.get("id").and_then(id_str) else {
                // An evaluation without an id: staged as unreadable, never skipped.
                let raw = format!(
                    "{{\"contact\":{},\"evaluation\":{}}}",
                    raw_contact.get(),
                    item.get()
                );
                read.records.push(self.refused_record(
                    &list_path,
                    raw,
                    "id",
                    &format!("an evaluation of contact {cid} without an id"),
                ));
                continue;
            };
            read.evaluations += 1;
            let path = format!("recording/contact/{cid}/eval/{eid}");
            // The list's items are the full evaluations (their sections); a summary is fetched.
            let (detail, detail_raw) = if summary.get("sections").is_some() {
                (summary, item.get().to_owned())
            } else {
                match self.get(&path, None).await {
                    Ok(d) => d,
                    Err(ApiError::Refused { status, detail, .. }) => {
                        let why = format!(
                            "evaluation {eid} of contact {cid} could not be read (HTTP {status}: {detail}); the next extract tries again"
                        );
                        let raw = format!(
                            "{{\"contact\":{},\"evaluation\":{},\"error\":{}}}",
                            raw_contact.get(),
                            item.get(),
                            serde_json::to_string(&why).unwrap_or_default()
                        );
                        read.refused.push(Refused {
                            record: self.refused_record(&path, raw, "eval", &why),
                            path,
                            reason: why,
                        });
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            };
            // Comments only when the evaluation links to them.
            let mut warnings: Vec<String> = Vec::new();
            let has_comments = detail
                .get("comments")
                .is_some_and(|c| !c.is_null() && c != &Value::Bool(false));
            let (comments, comments_raw) = if has_comments {
                match self.get(&format!("{path}/comment"), None).await {
                    Ok(c) => c,
                    Err(ApiError::Refused { status, detail, .. }) => {
                        let why = format!(
                            "the comments of evaluation {eid} could not be read (HTTP {status}: {detail}); staged without them, the next extract tries again"
                        );
                        warnings.push(why);
                        (Value::Array(Vec::new()), "null".to_owned())
                    }
                    Err(e) => return Err(e),
                }
            } else {
                (Value::Array(Vec::new()), "[]".to_owned())
            };
            for key in ["/agent/id", "/evaluator/id"] {
                if let Some(pid) = detail.pointer(key).and_then(id_str) {
                    self.person(&pid).await?;
                }
            }
            if let Some(fid) = form_id_of(&detail) {
                self.form(&fid).await?;
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
            }
            .map(|mut ev| {
                ev.warnings.clone_from(&warnings);
                ev
            });
            let record = SourceRecord {
                locator: Locator {
                    file: self.opts.base_url.clone(),
                    line: None,
                    json_path: Some(path.clone()),
                },
                hash: sha256_hex(raw.as_bytes()),
                raw,
                parsed,
            };
            match warnings.first() {
                // Staged without its comments only when no earlier copy holds them.
                Some(why) => read.refused.push(Refused {
                    reason: why.clone(),
                    record,
                    path,
                }),
                None => read.records.push(record),
            }
        }
        Ok(read)
    }
}
