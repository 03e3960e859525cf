//! The schedule: which item goes next (agents interleaved, release dates, per-agent daily caps with
//! a margin), deferrals, and the estimate of how long the rest takes.

#[allow(clippy::wildcard_imports)]
use super::*;

/// Margin added to a cap window so our count never runs ahead of Genesys' (it counts on receipt).
pub(super) const CAP_MARGIN_MS: i64 = 60_000;
pub(super) const DAY_MS: i64 = 86_400_000;

pub(super) fn ts_from_ms(ms: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::MAX)
}

/// Estimated time to send `backlog[agent]` items per agent: each agent's items are placed in the
/// earliest slot its rolling 24 h cap allows (a slot frees 24 h after each earlier send), and the
/// whole queue cannot go faster than the request rate.
pub fn eta_ms(
    backlog: &BTreeMap<String, usize>,
    recent: &BTreeMap<String, Vec<i64>>,
    blocked: &BTreeMap<String, i64>,
    cap: u32,
    requests_per_minute: u32,
    now_ms: i64,
) -> i64 {
    let cap = cap.max(1) as usize;
    let total: usize = backlog.values().sum();
    let rate_ms = (total as f64 * 60_000.0 / f64::from(requests_per_minute.max(1))) as i64;
    let mut latest = now_ms;
    for (agent, n) in backlog {
        let mut slots: std::collections::BinaryHeap<std::cmp::Reverse<i64>> =
            std::collections::BinaryHeap::new();
        let used = recent.get(agent).map(Vec::as_slice).unwrap_or(&[]);
        let used: Vec<i64> = used
            .iter()
            .copied()
            .filter(|t| *t > now_ms - DAY_MS)
            .collect();
        for t in &used {
            slots.push(std::cmp::Reverse(t + DAY_MS + CAP_MARGIN_MS));
        }
        for _ in used.len()..cap {
            slots.push(std::cmp::Reverse(now_ms));
        }
        // The org answered this agent with its cap: nothing before it said.
        let earliest = blocked.get(agent).copied().unwrap_or(now_ms).max(now_ms);
        let mut last = now_ms;
        for _ in 0..*n {
            let std::cmp::Reverse(free) = slots.pop().unwrap_or(std::cmp::Reverse(now_ms));
            let send = free.max(earliest);
            last = last.max(send);
            slots.push(std::cmp::Reverse(send + DAY_MS + CAP_MARGIN_MS));
        }
        latest = latest.max(last);
    }
    (latest - now_ms).max(rate_ms)
}

/// The ETA of what the ledger still has to send, seconds of the migration's clock.
///
/// # Errors
/// Ledger errors.
pub fn status_eta(cfg: &Config, ledger: &Ledger, now_ms: i64) -> Result<f64> {
    let mut backlog: BTreeMap<String, usize> = BTreeMap::new();
    for item in ledger.loads_in(&[
        state::PLANNED,
        state::DEFERRED,
        state::UNKNOWN,
        state::SENDING,
    ])? {
        *backlog.entry(item.agent_user_id).or_insert(0) += 1;
    }
    let mut recent: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (agent, t) in ledger.recent_sends(now_ms - DAY_MS)? {
        recent.entry(agent).or_default().push(t);
    }
    let caps = ledger.agent_caps()?;
    let cap = caps
        .iter()
        .filter_map(|c| c.limit_value)
        .filter_map(|v| u32::try_from(v).ok())
        .filter(|v| *v > 0)
        .fold(cfg.genesys.per_agent_daily_cap, u32::min);
    let blocked: BTreeMap<String, i64> = caps
        .into_iter()
        .filter(|c| c.until_ms > now_ms)
        .map(|c| (c.agent_user_id, c.until_ms))
        .collect();
    Ok(eta_ms(
        &backlog,
        &recent,
        &blocked,
        cap,
        cfg.genesys.requests_per_minute,
        now_ms,
    ) as f64
        / 1000.0)
}

/// `3 d 4 h`, `12 min`, `40 s`.
pub fn human_duration(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    match s {
        0..120 => format!("{s} s"),
        120..7200 => format!("{} min", s / 60),
        7200..172_800 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        _ => format!("{} d {} h", s / 86_400, (s % 86_400) / 3600),
    }
}

impl Ctx<'_> {
    pub(super) fn release_due(&self) -> Result<Option<i64>> {
        let now = self.now_ms();
        let mut earliest: Option<i64> = None;
        for item in self.ledger.loads_in(&[state::DEFERRED])? {
            let until = item
                .deferred_until
                .as_deref()
                .and_then(|d| d.parse::<jiff::Timestamp>().ok())
                .map(|t| t.as_millisecond());
            match until {
                Some(u) if u > now => earliest = Some(earliest.map_or(u, |e: i64| e.min(u))),
                _ => self.ledger.set_load(
                    item.record_id,
                    state::PLANNED,
                    None,
                    None,
                    None,
                    None,
                    None,
                )?,
            }
        }
        Ok(earliest)
    }

    pub(super) fn defer(
        &self,
        record_id: i64,
        until_ms: i64,
        code: Option<&str>,
        why: &str,
    ) -> Result<()> {
        self.ledger.set_load(
            record_id,
            state::DEFERRED,
            None,
            Some(&ts_from_ms(until_ms).to_string()),
            code,
            Some(why),
            None,
        )
    }

    /// The cap the scheduler counts against: the configured (or org-read) one, lowered by any cap
    /// Genesys named in a cap answer.
    pub(super) fn effective_cap(&self, caps: &[crate::ledger::AgentCap]) -> usize {
        let named = caps
            .iter()
            .filter_map(|c| c.limit_value)
            .filter(|v| *v > 0)
            .min()
            .and_then(|v| usize::try_from(v).ok());
        let cfg = self.cfg.genesys.per_agent_daily_cap as usize;
        named.map_or(cfg, |n| n.min(cfg)).max(1)
    }

    /// Sends every item that may be sent now. Returns the number of creates sent. A failure lets
    /// the requests in flight settle, and records them, before it is returned.
    pub(super) async fn pass(
        &self,
        summary: &mut LoadSummary,
        budget: &mut Option<usize>,
        progress: &indicatif::ProgressBar,
    ) -> Result<usize> {
        let now = self.now_ms();
        let caps = self.ledger.agent_caps()?;
        let cap = self.effective_cap(&caps);
        let mut blocked: HashMap<String, crate::ledger::AgentCap> = caps
            .into_iter()
            .filter(|c| c.until_ms > now)
            .map(|c| (c.agent_user_id.clone(), c))
            .collect();
        let mut windows: BTreeMap<String, VecDeque<i64>> = BTreeMap::new();
        for (agent, t) in self.ledger.recent_sends(now - DAY_MS)? {
            windows.entry(agent).or_default().push_back(t);
        }
        let mut queues: BTreeMap<String, VecDeque<LoadRow>> = BTreeMap::new();
        for item in self.ledger.loads_in(&[state::PLANNED])? {
            queues
                .entry(item.agent_user_id.clone())
                .or_default()
                .push_back(item);
        }
        let concurrency = if self.opts.concurrency == 0 {
            self.cfg.genesys.concurrency
        } else {
            self.opts.concurrency
        }
        .max(1);
        let mut inflight: tokio::task::JoinSet<(
            LoadRow,
            String,
            Result<genesys::models::Evaluation, GenesysError>,
        )> = tokio::task::JoinSet::new();
        let mut sent = 0usize;
        let mut order: VecDeque<String> = queues.keys().cloned().collect();
        let mut failure: Option<anyhow::Error> = None;
        loop {
            // Fill the pipe, agents in turn.
            // During an outage (the client counts failures in a row) one create at a time leaves,
            // the client's probe, backing off; without `--follow`, an outage that outlasts the
            // client's patience ends the pass (and the run, cleanly).
            let outage = self.client.in_outage();
            if outage
                && !self.opts.follow
                && self.client.failures_in_a_row() >= OUTAGE_GIVE_UP
                && failure.is_none()
                && !self.opts.dry_run
            {
                failure = Some(anyhow::Error::new(Outage));
            }
            while failure.is_none()
                && inflight.len() < if outage { 1 } else { concurrency }
                && !self.stopped()
                && budget.is_none_or(|b| b > 0)
            {
                let Some(agent) = order.pop_front() else {
                    break;
                };
                match self
                    .next_request(
                        &agent,
                        cap,
                        &mut blocked,
                        &mut windows,
                        &mut queues,
                        summary,
                    )
                    .await
                {
                    Ok(next) => {
                        if queues.get(&agent).is_some_and(|q| !q.is_empty()) {
                            order.push_back(agent.clone());
                        }
                        let Some((item, body)) = next else {
                            continue;
                        };
                        sent += 1;
                        if let Some(b) = budget.as_mut() {
                            *b -= 1;
                        }
                        progress.inc(1);
                        if self.opts.dry_run {
                            summary.would_send += 1;
                            continue;
                        }
                        let key: uuid::Uuid = match item.idempotency_key.parse() {
                            Ok(k) => k,
                            Err(e) => {
                                failure =
                                    Some(anyhow::Error::new(e).context("ledger idempotency key"));
                                break;
                            }
                        };
                        let now = self.now_ms();
                        if let Err(e) = self.ledger.mark_sending(item.record_id, now) {
                            failure = Some(e);
                            break;
                        }
                        windows.entry(agent.clone()).or_default().push_back(now);
                        let client = self.client.clone();
                        let key_header = self.cfg.genesys.use_idempotency_key.then_some(key);
                        let started = ts_from_ms(now).to_string();
                        inflight.spawn(async move {
                            let r = client
                                .create_evaluation(&item.conversation_id, &body, key_header)
                                .await;
                            (item, started, r)
                        });
                    }
                    Err(e) => failure = Some(e),
                }
            }
            let Some(joined) = inflight.join_next().await else {
                break;
            };
            match joined {
                Ok((item, started, result)) => {
                    match self
                        .settle(item, &started, result, summary, &mut queues, &mut blocked)
                        .await
                    {
                        Ok(Settled::Done) => {}
                        Ok(Settled::Stop(why)) => {
                            failure.get_or_insert(why);
                        }
                        Err(e) => {
                            failure.get_or_insert(e);
                        }
                    }
                }
                Err(e) => {
                    failure.get_or_insert_with(|| {
                        anyhow::Error::new(e).context("a request task failed")
                    });
                }
            }
        }
        match failure {
            Some(e) => {
                Err(e).context("load stopped (the requests in flight were settled and recorded)")
            }
            None => Ok(sent),
        }
    }

    /// The next create of `agent`'s queue that may leave now, with its body; `None` when the agent
    /// has nothing to send now (its queue is empty, or it is at its cap and its items were deferred).
    pub(super) async fn next_request(
        &self,
        agent: &str,
        cap: usize,
        blocked: &mut HashMap<String, crate::ledger::AgentCap>,
        windows: &mut BTreeMap<String, VecDeque<i64>>,
        queues: &mut BTreeMap<String, VecDeque<LoadRow>>,
        summary: &mut LoadSummary,
    ) -> Result<Option<(LoadRow, EvaluationCreateBody)>> {
        let Some(item) = queues.get_mut(agent).and_then(VecDeque::pop_front) else {
            return Ok(None);
        };
        let now = self.now_ms();
        // The org said this agent is full: nothing for it before then.
        if let Some(c) = blocked.get(agent) {
            let why = format!(
                "Genesys answered this agent with its cap ({}); next try {}",
                c.code.as_deref().unwrap_or("per-agent cap"),
                ts_from_ms(c.until_ms)
            );
            self.defer_agent(
                agent,
                item,
                c.until_ms,
                c.code.as_deref(),
                &why,
                queues,
                summary,
            )?;
            return Ok(None);
        }
        let window = windows.entry(agent.to_owned()).or_default();
        while window.front().is_some_and(|t| *t <= now - DAY_MS) {
            window.pop_front();
        }
        if window.len() >= cap {
            // At its cap by our own count: this agent waits, the others go on.
            let until = window.front().copied().unwrap_or(now) + DAY_MS + CAP_MARGIN_MS;
            let why = format!("per-agent cap of {cap} evaluations per 24 h reached");
            self.defer_agent(
                agent,
                item,
                until,
                Some("per.agent.cap"),
                &why,
                queues,
                summary,
            )?;
            return Ok(None);
        }
        if !self.opts.dry_run
            && self.cfg.genesys.on_existing_evaluation != "create"
            && self.other_evaluation(&item, summary).await?
        {
            return Ok(None);
        }
        // The release date belongs to the key generation: fixed at its first send, so every
        // re-send with the same key is byte-identical; a new generation gets a fresh one.
        let release = if self.cfg.form.release_policy == "immediate" {
            let now_text = ts_from_ms(now)
                .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string();
            Some(if self.opts.dry_run {
                now_text
            } else {
                self.ledger.release_date(item.record_id, &now_text)?
            })
        } else {
            None
        };
        let (form_id, map) = match self.ledger.plan_form_name(item.record_id)? {
            None => (&self.form_id, &self.map),
            Some(name) => self
                .mirrors
                .get(&name)
                .map(|(f, m)| (f, m))
                .with_context(|| {
                    format!(
                        "the mirrored form '{name}' is not provisioned: run `qm-migrate provision`"
                    )
                })?,
        };
        let body = create_body(self.cfg, self.ledger, &item, form_id, map, release)?;
        if self.opts.dry_run {
            window.push_back(now);
        }
        Ok(Some((item, body)))
    }

    /// Defers `item` and the rest of its agent's queue until `until`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn defer_agent(
        &self,
        agent: &str,
        item: LoadRow,
        until: i64,
        code: Option<&str>,
        why: &str,
        queues: &mut BTreeMap<String, VecDeque<LoadRow>>,
        summary: &mut LoadSummary,
    ) -> Result<()> {
        let rest = queues
            .get_mut(agent)
            .map(std::mem::take)
            .unwrap_or_default();
        for other in std::iter::once(item).chain(rest) {
            self.defer(other.record_id, until, code, why)?;
            summary.deferred_now += 1;
        }
        Ok(())
    }

    /// `skip` / `fail` for a conversation someone else already evaluated (unverified #2).
    pub(super) async fn other_evaluation(
        &self,
        item: &LoadRow,
        summary: &mut LoadSummary,
    ) -> Result<bool> {
        let others: Vec<String> = evaluations_on(self.client, item)
            .await?
            .iter()
            .filter(|e| !is_ours(e, item))
            .map(|e| e.id.clone())
            .collect();
        if others.is_empty() {
            return Ok(false);
        }
        let msg = format!(
            "conversation {} already has evaluation(s) {} not made for this record",
            item.conversation_id,
            others.join(", ")
        );
        if self.cfg.genesys.on_existing_evaluation == "fail" {
            bail!("{msg} ([genesys] on_existing_evaluation = \"fail\")");
        }
        self.ledger.set_load(
            item.record_id,
            state::REJECTED,
            None,
            None,
            Some("existing.evaluation"),
            Some(&format!(
                "{msg}; skipped ([genesys] on_existing_evaluation = \"skip\")"
            )),
            None,
        )?;
        summary.rejected_now += 1;
        Ok(true)
    }

    /// When the agent of a cap answer may be tried again: the `Retry-After` when Genesys gave one;
    /// else, when our own sends fill the cap Genesys named, 24 h after the oldest of them; else
    /// (live QA, which we cannot see, filled it) after `[genesys] cap_recheck_s`.
    pub(super) fn cap_until(&self, agent: &str, e: &GenesysError) -> Result<i64> {
        let now = self.now_ms();
        if let GenesysError::Throttled { retry_after, .. } = e {
            return Ok(
                now.saturating_add(i64::try_from(retry_after.as_millis()).unwrap_or(i64::MAX))
            );
        }
        let own: Vec<i64> = self
            .ledger
            .recent_sends(now - DAY_MS)?
            .into_iter()
            .filter(|(a, _)| a == agent)
            .map(|(_, t)| t)
            .collect();
        let named = e
            .limit()
            .and_then(|l| l.value)
            .and_then(|v| usize::try_from(v).ok())
            .unwrap_or(self.cfg.genesys.per_agent_daily_cap as usize);
        let recheck = now.saturating_add(
            i64::try_from(self.cfg.genesys.cap_recheck_s).unwrap_or(i64::MAX / 1000) * 1000,
        );
        Ok(match own.first() {
            Some(oldest) if own.len() >= named => oldest + DAY_MS + CAP_MARGIN_MS,
            _ => recheck,
        })
    }

    pub(super) fn eta(&self) -> Result<f64> {
        status_eta(self.cfg, self.ledger, self.now_ms())
    }
}
