//! The session: login (JSON body, or the older array body with its CSRF cookie), authenticated
//! GETs with retries and a new login on 401, the catalog read once, logout.

use super::*;

impl CalabrioApi {
    /// Logs in and loads the forms and the person directory.
    ///
    /// # Errors
    /// Configuration, login or request failures.
    pub async fn connect(opts: ApiOptions) -> Result<Self, ApiError> {
        let base = reqwest::Url::parse(&format!("{}/", opts.base_url))
            .map_err(|e| ApiError::Config(format!("base URL '{}': {e}", opts.base_url)))?;
        if !base.username().is_empty() || base.password().is_some() {
            return Err(ApiError::Config(
                "the base URL must not carry credentials; use CALABRIO_USER and CALABRIO_PASSWORD(_FILE)".into(),
            ));
        }
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let mut builder = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .timeout(opts.timeout)
            .user_agent(concat!("qm-migrate/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &opts.ca_bundle {
            let pem = std::fs::read(path)
                .map_err(|e| ApiError::Config(format!("CA bundle {}: {e}", path.display())))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| ApiError::Config(format!("CA bundle {}: {e}", path.display())))?;
            if certs.is_empty() {
                return Err(ApiError::Config(format!(
                    "CA bundle {}: no PEM certificate in it",
                    path.display()
                )));
            }
            for c in certs {
                builder = builder.add_root_certificate(c);
            }
        }
        let http = builder
            .build()
            .map_err(|e| ApiError::Config(format!("HTTP client: {e}")))?;
        let tenant = base.host_str().map(str::to_owned);
        let api = CalabrioApi {
            http,
            jar,
            base,
            opts,
            catalog: tokio::sync::RwLock::new(Catalog::default()),
            missing_forms: tokio::sync::Mutex::new(std::collections::HashSet::new()),
            login_lock: tokio::sync::Mutex::new(0),
            generation: AtomicU64::new(0),
            stats: ApiStats::default(),
            tenant,
        };
        api.login(0).await?;
        let (forms, _) = api.get("recording/evalform", None).await?;
        let (persons, _) = api
            .get("org/common/person/permission/ViewOrg", None)
            .await?;
        let mut catalog = Catalog::default();
        for f in forms.as_array().map(Vec::as_slice).unwrap_or_default() {
            if let Some(form) = form_from_json(f) {
                catalog.forms.insert(form.id.clone(), form);
            }
        }
        for p in persons.as_array().map(Vec::as_slice).unwrap_or_default() {
            if let Some(person) = person_from_json(p) {
                let id = person.calabrio_person_id.clone().unwrap_or_default();
                catalog.persons.insert(id, person);
            }
        }
        *api.catalog.write().await = catalog;
        Ok(api)
    }

    /// The form definitions read so far (sections, questions, options with points).
    pub async fn forms(&self) -> Vec<FormDef> {
        self.catalog.read().await.forms.values().cloned().collect()
    }

    /// Forms and persons known so far.
    pub async fn catalog_sizes(&self) -> (usize, usize) {
        let c = self.catalog.read().await;
        (c.forms.len(), c.persons.len())
    }

    pub(super) fn url(&self, path: &str) -> reqwest::Url {
        // Paths are ours and relative; joining cannot fail for them.
        self.base.join(path).unwrap_or_else(|_| self.base.clone())
    }

    pub(super) fn csrf(&self) -> Option<String> {
        let cookies = self.jar.cookies(&self.base)?;
        let header = cookies.to_str().ok()?;
        header
            .split(';')
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| k.eq_ignore_ascii_case("CSRFTOKEN"))
            .map(|(_, v)| v.to_owned())
    }

    /// Logs in unless another task already did since generation `seen`.
    pub(super) async fn login(&self, seen: u64) -> Result<(), ApiError> {
        let mut guard = self.login_lock.lock().await;
        if *guard != seen {
            return Ok(());
        }
        self.stats.logins.fetch_add(1, Ordering::Relaxed);
        let url = self.url("authorize");
        let password = self.opts.password.expose_secret();
        let object = serde_json::json!({"userId": self.opts.user_id, "password": password, "language": "en"});
        let auth_err = |detail: String| ApiError::Auth {
            user: self.opts.user_id.clone(),
            detail,
        };
        let send = |body: Value| {
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            self.http.post(url.clone()).json(&body).send()
        };
        let resp = send(object)
            .await
            .map_err(|e| auth_err(format!("cannot reach {}: {}", url, e.without_url())))?;
        let status = resp.status();
        if status.is_success() {
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            if let Some(sid) = body.get("sessionId").and_then(Value::as_str) {
                self.jar
                    .add_cookie_str(&format!("hazelcast.sessionId={sid}; Path=/"), &self.base);
            }
        } else if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(auth_err(format!("HTTP {status}")));
        } else {
            // Older and on-premises servers take an array body and answer with cookies.
            let array = serde_json::json!([{
                "id": "recording", "userId": self.opts.user_id, "password": password,
                "locale": "en", "data": {"locale": "en"}
            }]);
            let resp = send(array)
                .await
                .map_err(|e| auth_err(format!("cannot reach {}: {}", url, e.without_url())))?;
            if !resp.status().is_success() {
                return Err(auth_err(format!(
                    "HTTP {status} to the object body, HTTP {} to the array body",
                    resp.status()
                )));
            }
        }
        *guard += 1;
        self.generation.store(*guard, Ordering::SeqCst);
        Ok(())
    }

    /// GETs `path` (relative to the base), retrying and logging in again as needed. Returns the
    /// parsed JSON and the body verbatim.
    pub(super) async fn get(
        &self,
        path: &str,
        range: Option<(u64, u64)>,
    ) -> Result<(Value, String), ApiError> {
        let url = self.url(path);
        let fail = |detail: String| ApiError::Request {
            path: path.to_owned(),
            detail,
        };
        let mut delays = backon::ExponentialBuilder::default()
            .with_min_delay(self.opts.initial_backoff)
            .with_max_delay(Duration::from_secs(30))
            .with_jitter()
            .with_max_times(self.opts.max_attempts.saturating_sub(1))
            .build();
        let mut relogged = false;
        loop {
            let generation = self.generation.load(Ordering::SeqCst);
            let mut req = self
                .http
                .get(url.clone())
                .header("Accept", "application/json");
            if let Some((a, b)) = range {
                req = req.header("Range", format!("items={a}-{b}"));
            }
            if let Some(token) = self.csrf() {
                req = req.header("X-CSRF-Token", token);
            }
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            let outcome = req.send().await;
            let retry_after = match outcome {
                Ok(resp) if resp.status().is_success() => {
                    let body = resp
                        .text()
                        .await
                        .map_err(|e| fail(format!("reading the body: {}", e.without_url())))?;
                    let value: Value = serde_json::from_str(&body)
                        .map_err(|e| fail(format!("not JSON ({e}): {}", excerpt(&body))))?;
                    return Ok((value, body));
                }
                Ok(resp) if resp.status() == StatusCode::UNAUTHORIZED && !relogged => {
                    relogged = true;
                    self.login(generation).await?;
                    continue;
                }
                Ok(resp)
                    if resp.status() == StatusCode::TOO_MANY_REQUESTS
                        || resp.status().is_server_error() =>
                {
                    let after = resp
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok())
                        .map(|s| Duration::from_secs(s.min(120)));
                    (format!("HTTP {}", resp.status()), after)
                }
                Ok(resp) => {
                    let status = resp.status();
                    let body = resp.text().await.unwrap_or_default();
                    if status == StatusCode::UNAUTHORIZED {
                        // A new login did not help: the credentials, for every request.
                        return Err(ApiError::Auth {
                            user: self.opts.user_id.clone(),
                            detail: format!(
                                "HTTP 401 again after a new login on {path}: {}",
                                excerpt(&body)
                            ),
                        });
                    }
                    return Err(ApiError::Refused {
                        path: path.to_owned(),
                        status: status.as_u16(),
                        detail: excerpt(&body),
                    });
                }
                Err(e) => (format!("{}", e.without_url()), None),
            };
            let (detail, after) = retry_after;
            match delays.next() {
                Some(d) => {
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(after.map_or(d, |a| a.max(d))).await;
                }
                None => {
                    return Err(fail(format!(
                        "{detail} (after {} attempts)",
                        self.opts.max_attempts
                    )));
                }
            }
        }
    }

    /// Logs out (`DELETE authorize`); failures are ignored.
    pub async fn logout(&self) {
        let _ = self.http.delete(self.url("authorize")).send().await;
    }
}
