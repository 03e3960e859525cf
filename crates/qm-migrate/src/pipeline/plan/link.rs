//! Linking, the part of planning that asks Genesys: the check of each conversation a record was
//! linked to by `field` or `mapping` (it must exist, with the record's agent as an agent
//! participant), and the `match` strategy's queries (one per agent and UTC day).
//!
//! A linked record waits here, unwritten, until its conversation's answer is in; then it is
//! written once, as an evaluation or as history with the reason. A record `match` is to link
//! waits until the end of the pass, when its agent's day has been queried.

use std::collections::VecDeque;

use super::writer::{Load, Writer};
use super::*;

/// Conversations asked in one request (the API takes up to 100 ids).
const BATCH: usize = 100;

/// A conversation id: a UUID (16 bytes) as Genesys ids are, else the text.
#[derive(Clone, PartialEq, Eq, Hash)]
enum ConvId {
    Uuid(uuid::Uuid),
    Text(Box<str>),
}

impl ConvId {
    fn new(id: &str) -> Self {
        match uuid::Uuid::try_parse(id) {
            Ok(u) if u.to_string() == id => ConvId::Uuid(u),
            _ => ConvId::Text(id.into()),
        }
    }
}

impl std::fmt::Display for ConvId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConvId::Uuid(u) => write!(f, "{u}"),
            ConvId::Text(t) => f.write_str(t),
        }
    }
}

/// What Genesys answered about each conversation asked: absent, or its start and the users who took
/// part as agents. Kept for the whole plan (so each conversation is asked once however far apart
/// its records are) and kept small: at a million records it holds some 800,000 conversations, about
/// 38 bytes each (a UUID key and an offset into one array of start seconds and user indexes).
#[derive(Default)]
struct Answers {
    by_uuid: HashMap<[u8; 16], u32>,
    by_text: HashMap<Box<str>, u32>,
    /// At each offset: the number of agents, the start (seconds since the epoch, low then high
    /// half), then the agents' user indexes.
    agents: Vec<u32>,
}

/// A conversation as its check found it: its start (seconds since the epoch, when given) and its
/// agents.
struct Found<'a> {
    start: Option<i64>,
    agents: &'a [u32],
}

/// No start given.
const NO_START: i64 = i64::MIN;

/// The offset of a conversation that does not exist.
const ABSENT: u32 = u32::MAX;

impl Answers {
    fn offset(&self, id: &ConvId) -> Option<u32> {
        match id {
            ConvId::Uuid(u) => self.by_uuid.get(u.as_bytes()).copied(),
            ConvId::Text(t) => self.by_text.get(t).copied(),
        }
    }

    fn contains(&self, id: &ConvId) -> bool {
        self.offset(id).is_some()
    }

    /// `None`: not asked; `Some(None)`: absent; `Some(Some(found))`: its start and agents.
    fn get(&self, id: &ConvId) -> Option<Option<Found<'_>>> {
        self.offset(id).map(|at| {
            (at != ABSENT).then(|| {
                let at = at as usize;
                let n = self.agents.get(at).copied().unwrap_or(0) as usize;
                let half = |i: usize| u64::from(self.agents.get(at + i).copied().unwrap_or(0));
                let start = ((half(2) << 32) | half(1)) as i64;
                Found {
                    start: (start != NO_START).then_some(start),
                    agents: self.agents.get(at + 3..at + 3 + n).unwrap_or_default(),
                }
            })
        })
    }

    fn insert(&mut self, id: ConvId, found: Option<(Option<i64>, Vec<u32>)>) {
        let at = match found {
            None => ABSENT,
            Some((start, list)) => {
                let at = u32::try_from(self.agents.len()).unwrap_or(ABSENT);
                let start = start.unwrap_or(NO_START) as u64;
                self.agents
                    .push(u32::try_from(list.len()).unwrap_or(u32::MAX));
                self.agents.push(start as u32);
                self.agents.push((start >> 32) as u32);
                self.agents.extend(list);
                at
            }
        };
        match id {
            ConvId::Uuid(u) => {
                self.by_uuid.insert(u.into_bytes(), at);
            }
            ConvId::Text(t) => {
                self.by_text.insert(t, at);
            }
        }
    }
}

/// Genesys users by index: each id and label is held once, however many records name it.
#[derive(Default)]
struct Users {
    list: Vec<(String, String)>,
    index: HashMap<String, u32>,
}

impl Users {
    /// The index of user `id`, added when first seen; a label given later fills an empty one.
    fn intern(&mut self, id: &str, label: &str) -> u32 {
        if let Some(&i) = self.index.get(id) {
            let known = &mut self.list[i as usize].1;
            if known.is_empty() && !label.is_empty() {
                label.clone_into(known);
            }
            return i;
        }
        let i = u32::try_from(self.list.len()).unwrap_or(u32::MAX);
        self.list.push((id.to_owned(), label.to_owned()));
        self.index.insert(id.to_owned(), i);
        i
    }

    fn get(&self, i: u32) -> (&str, &str) {
        self.list
            .get(i as usize)
            .map_or(("", ""), |(id, label)| (id.as_str(), label.as_str()))
    }
}

/// A record linked to a conversation, waiting for the conversation's check.
struct Waiting {
    row: PlanRow,
    conversation: ConvId,
    agent: u32,
    key: uuid::Uuid,
}

/// A request for up to [`BATCH`] conversations, and the records waiting for it.
#[derive(Default)]
struct Batch {
    ids: Vec<String>,
    waiting: Vec<Waiting>,
}

/// A request in flight, or none when every conversation of the batch's records was asked before.
type Answer =
    Option<tokio::task::JoinHandle<Result<Vec<AnalyticsConversation>, genesys::GenesysError>>>;

/// A record `match` is to link: its agent and contact start (epoch ms).
struct MatchNeed {
    record_id: i64,
    agent: u32,
    at: i64,
}

/// The conversation checks in flight and the records waiting for them, and the records waiting
/// for `match`.
pub(super) struct Links {
    client: GenesysClient,
    /// Requests in flight at most (`[genesys] concurrency`).
    concurrency: usize,
    users: Users,
    /// Conversations answered.
    known: Answers,
    /// Conversations asked and not yet answered (in `open` or in `sent`).
    asked: HashSet<ConvId>,
    /// The request being filled.
    open: Batch,
    /// Requests sent, oldest first, with their records.
    sent: VecDeque<(Batch, Answer)>,
    /// Distinct conversations asked.
    pub(super) checked: usize,
    needs: Vec<MatchNeed>,
    /// Say what `match` will spend on stderr before it starts.
    pub(super) announce: bool,
}

impl Drop for Links {
    fn drop(&mut self) {
        // A plan that failed leaves no request running behind it.
        for answer in self.sent.iter().filter_map(|(_, a)| a.as_ref()) {
            answer.abort();
        }
    }
}

impl Links {
    pub(super) fn new(client: &GenesysClient, concurrency: usize) -> Self {
        Self {
            client: client.clone(),
            concurrency: concurrency.max(1),
            users: Users::default(),
            known: Answers::default(),
            asked: HashSet::new(),
            open: Batch::default(),
            sent: VecDeque::new(),
            checked: 0,
            needs: Vec::new(),
            announce: false,
        }
    }

    /// Records waiting for a conversation check.
    pub(super) fn waiting(&self) -> usize {
        self.open.waiting.len()
            + self
                .sent
                .iter()
                .map(|(b, _)| b.waiting.len())
                .sum::<usize>()
    }

    /// Takes record `p`, linked to `conversation` for `agent` (id, label): written at once if the
    /// conversation was answered before, else when its request comes back. Writes the records of
    /// the requests that came back meanwhile.
    ///
    /// # Errors
    /// Ledger errors, or a failed request (nothing is guessed).
    pub(super) async fn check(
        &mut self,
        row: PlanRow,
        conversation: &str,
        agent: (&str, &str),
        key: uuid::Uuid,
        writer: &mut Writer<'_>,
    ) -> Result<()> {
        let w = Waiting {
            row,
            conversation: ConvId::new(conversation),
            agent: self.users.intern(agent.0, agent.1),
            key,
        };
        if self.known.contains(&w.conversation) {
            return self.settle(w, writer);
        }
        if self.asked.insert(w.conversation.clone()) {
            self.open.ids.push(w.conversation.to_string());
        }
        self.open.waiting.push(w);
        if self.open.ids.len() >= BATCH {
            self.send();
        }
        // Write what has come back; wait only when too many requests are in flight.
        while self
            .sent
            .front()
            .is_some_and(|(_, answer)| answer.as_ref().is_none_or(|a| a.is_finished()))
            || self.sent.len() > self.concurrency
        {
            self.receive(writer).await?;
        }
        Ok(())
    }

    /// Sends the open request (none if it asks nothing: its records wait for earlier ones).
    fn send(&mut self) {
        let batch = std::mem::take(&mut self.open);
        self.checked += batch.ids.len();
        let answer = (!batch.ids.is_empty()).then(|| {
            let client = self.client.clone();
            let ids = batch.ids.clone();
            tokio::spawn(async move { client.conversation_details(&ids).await })
        });
        self.sent.push_back((batch, answer));
    }

    /// Waits for the oldest request in flight and writes its records.
    async fn receive(&mut self, writer: &mut Writer<'_>) -> Result<()> {
        let Some((batch, answer)) = self.sent.pop_front() else {
            return Ok(());
        };
        let found = match answer {
            Some(answer) => answer
                .await
                .context("a conversation check stopped")?
                .context(
                    "cannot check conversations (GET /api/v2/analytics/conversations/details)",
                )?,
            None => Vec::new(),
        };
        let mut answered: HashMap<String, &AnalyticsConversation> = found
            .iter()
            .map(|c| (c.conversation_id.clone(), c))
            .collect();
        for id in &batch.ids {
            let conversation = ConvId::new(id);
            let agents = answered.remove(id).map(|c| {
                let start = c
                    .conversation_start
                    .as_deref()
                    .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                    .map(jiff::Timestamp::as_second);
                let agents = c
                    .participants
                    .iter()
                    .filter(|p| p.purpose.as_deref() == Some("agent"))
                    .filter_map(|p| p.user_id.as_deref())
                    .map(|u| self.users.intern(u, ""))
                    .collect::<Vec<u32>>();
                (start, agents)
            });
            self.asked.remove(&conversation);
            self.known.insert(conversation, agents);
        }
        for w in batch.waiting {
            self.settle(w, writer)?;
        }
        Ok(())
    }

    /// Sends what is left and writes every record still waiting for a check.
    ///
    /// # Errors
    /// Ledger errors, or a failed request.
    pub(super) async fn finish_checks(&mut self, writer: &mut Writer<'_>) -> Result<()> {
        if !self.open.waiting.is_empty() {
            self.send();
        }
        while !self.sent.is_empty() {
            self.receive(writer).await?;
        }
        Ok(())
    }

    /// Writes record `w` with what its conversation's check found.
    fn settle(&self, w: Waiting, writer: &mut Writer<'_>) -> Result<()> {
        let Waiting {
            mut row,
            conversation,
            agent,
            key,
        } = w;
        let (agent_id, agent_label) = self.users.get(agent);
        let strategy = row.link_strategy.as_deref().unwrap_or_default();
        let history = match self.known.get(&conversation) {
            Some(Some(found)) if found.agents.contains(&agent) => {
                row.conversation_start = found
                    .start
                    .and_then(|s| jiff::Timestamp::from_second(s).ok())
                    .map(|t| t.to_string());
                None
            }
            Some(Some(_)) => Some(format!(
                "agent {agent_label} ({agent_id}) did not take part in conversation {conversation} as an agent, so Genesys cannot hold this evaluation; kept in the history"
            )),
            _ => Some(format!(
                "conversation {conversation} (from {strategy}) does not exist in Genesys (never a Genesys interaction, or removed by retention); kept in the history"
            )),
        };
        if let Some(reason) = history {
            row.disposition = Some(Disposition::History);
            row.reason = reason;
            row.answers = None;
            row.predicted = None;
            row.form_name = None;
            return writer.write(&row, None);
        }
        let conversation = conversation.to_string();
        writer.write(
            &row,
            Some(Load {
                key,
                conversation: &conversation,
                agent: agent_id,
            }),
        )
    }

    /// Records waiting for `match`.
    pub(super) fn deferred(&self) -> usize {
        self.needs.len()
    }

    /// Holds record `record_id` for `match`: agent (id, label) and contact start (epoch ms).
    pub(super) fn defer_match(&mut self, record_id: i64, agent: (&str, &str), at: i64) {
        let agent = self.users.intern(agent.0, agent.1);
        self.needs.push(MatchNeed {
            record_id,
            agent,
            at,
        });
    }

    /// `match`: one analytics query per agent and UTC day (plus pages), however many of that
    /// agent's evaluations fall on the day; then each waiting record is planned with what the
    /// query found, and written.
    ///
    /// # Errors
    /// Ledger errors, or a failed query.
    pub(super) async fn run_matches(
        &mut self,
        planner: &Planner,
        writer: &mut Writer<'_>,
        summary: &mut PlanSummary,
    ) -> Result<()> {
        let cfg = &planner.ctx.cfg;
        let ledger = writer.ledger;
        let mut needs = std::mem::take(&mut self.needs);
        summary.match_tried = needs.len() as u64;
        if needs.is_empty() {
            return Ok(());
        }
        let tol_ms = i64::try_from(cfg.link.match_tolerance_s)
            .unwrap_or(i64::MAX / 2_000)
            .saturating_mul(1000);
        let day_of = |ms: i64| ms.div_euclid(86_400_000);
        needs.sort_by_key(|n| (n.agent, day_of(n.at), n.at));
        let ts =
            |ms: i64| jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let secs = |d: i64| format!("{:+} s", d / 1000);
        let earliest = needs.iter().map(|n| n.at).min().unwrap_or(0);
        let latest = needs.iter().map(|n| n.at).max().unwrap_or(0);
        let scope =
            super::match_scope::scope(cfg, &self.client, ledger, earliest, latest, summary).await?;
        let days: Vec<&[MatchNeed]> = needs
            .chunk_by(|a, b| a.agent == b.agent && day_of(a.at) == day_of(b.at))
            .collect();
        let interval_of = |day: &[MatchNeed]| {
            let (first, last) = (&day[0], &day[day.len() - 1]);
            format!("{}/{}", ts(first.at - tol_ms), ts(last.at + tol_ms))
        };
        // What each agent-day will cost, stated before the first request.
        let mut estimate = super::match_scope::MatchEstimate {
            agent_days: days.len() as u64,
            budget: cfg.link.match_budget,
            requests_per_minute: cfg.genesys.requests_per_minute.max(1),
            ..Default::default()
        };
        let mut skip: Vec<Option<String>> = Vec::with_capacity(days.len());
        let mut to_query: Vec<usize> = Vec::new();
        for (i, day) in days.iter().enumerate() {
            let (first, last) = (&day[0], &day[day.len() - 1]);
            let why = scope.skip(cfg, first.at - tol_ms, last.at + tol_ms);
            match &why {
                Some(w) if w.contains("analytics search window") => estimate.outside_window += 1,
                Some(_) => estimate.before_first_conversation += 1,
                None => {
                    let (agent_id, _) = self.users.get(first.agent);
                    if ledger.match_cache(agent_id, &interval_of(day))?.is_some() {
                        estimate.cached += 1;
                    } else {
                        to_query.push(i);
                    }
                }
            }
            skip.push(why);
        }
        estimate.requests = to_query.len() as u64;
        estimate.seconds =
            estimate.requests as f64 * 60.0 / f64::from(estimate.requests_per_minute);
        // Over the budget: the newest agent-days are asked, the rest stays in the history.
        if let Some(budget) = cfg.link.match_budget {
            to_query.sort_by_key(|&i| std::cmp::Reverse(days[i][0].at));
            for &i in to_query
                .iter()
                .skip(usize::try_from(budget).unwrap_or(usize::MAX))
            {
                skip[i] = Some(format!(
                    "match: not queried: the budget of {budget} analytics requests ([link] match_budget) was spent on newer agent-days ({} were needed)",
                    estimate.requests
                ));
                summary.match_over_budget += days[i].len() as u64;
            }
        }
        if self.announce {
            eprintln!("{}", estimate.line());
        }
        tracing::info!(estimate = %estimate.line(), "Plan: match.");
        summary.match_estimate = Some(estimate);
        for (day, why) in days.iter().zip(skip) {
            let (first, last) = (&day[0], &day[day.len() - 1]);
            let (agent_id, agent_label) = self.users.get(first.agent);
            let interval = format!("{}/{}", ts(first.at - tol_ms), ts(last.at + tol_ms));
            if let Some(why) = why {
                for n in day.iter() {
                    let text = ledger.canonical_of(n.record_id)?.with_context(|| {
                        format!(
                            "ledger record {} lost its canonical JSON during the plan",
                            n.record_id
                        )
                    })?;
                    let ev: CanonicalEvaluation = serde_json::from_str(&text)?;
                    let locator = ledger.locator_of(n.record_id)?;
                    let mut p = planner.plan(n.record_id, &locator, ev, None);
                    p.row.record_hash = Some(ledger.hash_of(n.record_id)?);
                    if p.row.disposition == Some(Disposition::History) {
                        let notes = p.row.link_detail.as_deref().unwrap_or_default();
                        let detail = if notes.is_empty() {
                            why.clone()
                        } else {
                            format!("{notes}; {why}")
                        };
                        p.row.reason = format!(
                            "no Genesys conversation to attach it to ({detail}); kept in the history"
                        );
                        p.row.link_detail = Some(detail);
                    }
                    writer.write(&p.row, None)?;
                }
                continue;
            }
            let found: Vec<AnalyticsConversation> = match ledger.match_cache(agent_id, &interval)? {
                Some(json) => {
                    summary.match_cache_hits += 1;
                    serde_json::from_str(&json)?
                }
                None => {
                    let before = self.client.requests_sent();
                    let found = self
                        .client
                        .conversations_of_user(agent_id, &interval)
                        .await
                        .context("cannot query conversations (POST /api/v2/analytics/conversations/details/query)")?;
                    summary.analytics_requests +=
                        self.client.requests_sent().saturating_sub(before);
                    ledger.put_match_cache(agent_id, &interval, &serde_json::to_string(&found)?)?;
                    found
                }
            };
            let starts: Vec<(&str, i64)> = found
                .iter()
                .filter(|c| c.has_agent(agent_id))
                .filter_map(|c| {
                    let t = c
                        .conversation_start
                        .as_deref()?
                        .parse::<jiff::Timestamp>()
                        .ok()?;
                    Some((c.conversation_id.as_str(), t.as_millisecond()))
                })
                .collect();
            for n in day.iter() {
                let mut near: Vec<(&str, i64)> = starts
                    .iter()
                    .map(|(id, t)| (*id, t - n.at))
                    .filter(|(_, d)| d.abs() <= tol_ms)
                    .collect();
                near.sort_by_key(|(_, d)| d.abs());
                let text = ledger.canonical_of(n.record_id)?.with_context(|| {
                    format!(
                        "ledger record {} lost its canonical JSON during the plan",
                        n.record_id
                    )
                })?;
                let ev: CanonicalEvaluation = serde_json::from_str(&text)?;
                let locator = ledger.locator_of(n.record_id)?;
                let hash = ledger.hash_of(n.record_id)?;
                let linked = match near.as_slice() {
                    [(cid, delta)] => Some((
                        (*cid).to_owned(),
                        format!("match ({} from the contact start)", secs(*delta)),
                    )),
                    _ => None,
                };
                let mut p = planner.plan(n.record_id, &locator, ev, linked);
                p.row.record_hash = Some(hash);
                if let [(_, delta)] = near.as_slice() {
                    p.row.conversation_start = jiff::Timestamp::from_millisecond(n.at + delta)
                        .ok()
                        .map(|t| t.to_string());
                }
                match (&p.candidate, near.as_slice()) {
                    (Some((cid, _)), _) => {
                        let evaluation = p.row.disposition == Some(Disposition::Evaluation);
                        if evaluation {
                            summary.match_linked += 1;
                        }
                        writer.write(
                            &p.row,
                            Some(Load {
                                key: create_key(cfg, &p.evaluation_id),
                                conversation: cid,
                                agent: agent_id,
                            }),
                        )?;
                    }
                    (None, near) => {
                        // Not linked: the reason says what the query found.
                        let notes = p.row.link_detail.as_deref().unwrap_or_default();
                        let prior = if notes.is_empty() {
                            String::new()
                        } else {
                            format!("{notes}; ")
                        };
                        let (detail, reason) = if near.is_empty() {
                            let nearest = starts
                                .iter()
                                .map(|(id, t)| (*id, t - n.at))
                                .min_by_key(|(_, d)| d.abs())
                                .map(|(id, d)| {
                                    format!("; the nearest, {id}, started {} from it", secs(d))
                                })
                                .unwrap_or_default();
                            let detail = format!(
                                "{prior}match: no conversation of agent {agent_label} started within ±{} s of the contact start {}{nearest}",
                                cfg.link.match_tolerance_s,
                                ts(n.at)
                            );
                            let reason = format!(
                                "no Genesys conversation to attach it to ({detail}); kept in the history"
                            );
                            (detail, reason)
                        } else {
                            let list = near
                                .iter()
                                .map(|(id, d)| format!("{id} ({})", secs(*d)))
                                .collect::<Vec<_>>()
                                .join(", ");
                            let detail = format!(
                                "{prior}match: {} conversations of agent {agent_label} started within ±{} s of the contact start {}: {list}",
                                near.len(),
                                cfg.link.match_tolerance_s,
                                ts(n.at),
                            );
                            let reason = format!(
                                "not linked, never guessed ({detail}); kept in the history"
                            );
                            (detail, reason)
                        };
                        if p.row.disposition == Some(Disposition::History) {
                            p.row.reason = reason;
                            p.row.link_detail = Some(detail);
                        }
                        writer.write(&p.row, None)?;
                    }
                }
            }
        }
        Ok(())
    }
}
