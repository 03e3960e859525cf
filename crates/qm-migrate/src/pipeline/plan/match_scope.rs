//! What `match` may spend: no analytics request for time in which Genesys cannot hold a
//! conversation. Before the org's first conversation (`[link] match_from`, or found by `plan` with
//! one detail query, ascending by start, a page of one) nothing can match; older than Genesys'
//! analytics search window (`[link] match_max_age_days`, help pages: five years) nothing can be
//! found. What is left is estimated (one request per agent-day, at the org's request rate) and
//! stated before the first request; `[link] match_budget` stops `match` early, with the reason.

use super::*;

/// How long a conversation detail query may span when Genesys refuses a longer one (undocumented:
/// the scan for the first conversation falls back to windows this long).
const FALLBACK_WINDOW_DAYS: i64 = 31;

/// The ledger's cache key of the org's first conversation (the `match` cache's agent column).
const ORG: &str = "(org: first conversation)";

/// Where `match` may look.
#[derive(Debug, Clone)]
pub(super) struct Scope {
    /// No conversation starts before this (epoch ms), and why.
    pub(super) from: Option<(i64, String)>,
    /// Nothing older than this (epoch ms) can be searched.
    pub(super) oldest: i64,
}

impl Scope {
    /// Why an agent-day starting at `day_start` (epoch ms) ending at `day_end` is not queried.
    pub(super) fn skip(&self, cfg: &Config, day_start: i64, day_end: i64) -> Option<String> {
        if day_end < self.oldest {
            return Some(format!(
                "match: not queried: older than Genesys' analytics search window ({} days, [link] match_max_age_days); such conversations cannot be found",
                cfg.link.match_max_age_days
            ));
        }
        match &self.from {
            Some((first, why)) if day_end < *first => Some(format!(
                "match: not queried: before {why}; Genesys holds no conversation then"
            )),
            _ => {
                let _ = day_start;
                None
            }
        }
    }
}

/// The scope of `match` for needs whose contacts start between `earliest` and `latest` (epoch ms).
///
/// # Errors
/// Ledger errors, or a failed query other than a refusal of the interval.
pub(super) async fn scope(
    cfg: &Config,
    client: &GenesysClient,
    ledger: &Ledger,
    earliest: i64,
    latest: i64,
    summary: &mut PlanSummary,
) -> Result<Scope> {
    let now = client.clock().now_unix_ms();
    let max_age_ms = i64::try_from(cfg.link.match_max_age_days)
        .unwrap_or(i64::MAX / 86_400_000)
        .saturating_mul(86_400_000);
    let oldest = now.saturating_sub(max_age_ms);
    let ts = |ms: i64| jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    if let Some(day) = &cfg.link.match_from {
        let date: jiff::civil::Date = day.parse().context("[link] match_from")?;
        let at = jiff::tz::TimeZone::UTC
            .to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
            .context("[link] match_from")?;
        return Ok(Scope {
            from: Some((at.as_millisecond(), format!("{day} ([link] match_from)"))),
            oldest,
        });
    }
    let tol = i64::try_from(cfg.link.match_tolerance_s)
        .unwrap_or(0)
        .saturating_mul(1000);
    // The needs' whole range (not clamped to the search window: the cache key stays the same from
    // one plan to the next, and Genesys answers only what it can search anyway).
    let start = earliest - tol;
    let end = latest + tol + 86_400_000;
    if start >= end {
        return Ok(Scope { from: None, oldest });
    }
    let interval = format!("{}/{}", ts(start), ts(end));
    let first: Option<i64> = match ledger.match_cache(ORG, &interval)? {
        Some(json) => {
            summary.match_cache_hits += 1;
            serde_json::from_str(&json)?
        }
        None => {
            let before = client.requests_sent();
            let found = first_conversation(client, start, end).await?;
            let spent = client.requests_sent().saturating_sub(before);
            summary.analytics_requests += spent;
            summary.match_scope_requests += spent;
            ledger.put_match_cache(ORG, &interval, &serde_json::to_string(&found)?)?;
            found
        }
    };
    let from = match first {
        Some(at) => (
            at,
            format!(
                "the org's first conversation in Genesys ({})",
                ts(at).strftime("%Y-%m-%d %H:%M UTC")
            ),
        ),
        // None at all in the range: nothing can match.
        None => (
            end,
            format!(
                "any conversation: Genesys holds none between {} and {}",
                ts(start).strftime("%Y-%m-%d"),
                ts(end).strftime("%Y-%m-%d")
            ),
        ),
    };
    summary.match_first_conversation = first.map(|at| ts(at).to_string());
    Ok(Scope {
        from: Some(from),
        oldest,
    })
}

/// The start (epoch ms) of the org's first conversation between `start` and `end`: one query over
/// the whole range; if Genesys refuses so long an interval (a 400), windows of
/// [`FALLBACK_WINDOW_DAYS`] from the start until one holds a conversation.
async fn first_conversation(client: &GenesysClient, start: i64, end: i64) -> Result<Option<i64>> {
    let ts = |ms: i64| jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let started = |c: Option<AnalyticsConversation>| {
        c.and_then(|c| c.conversation_start)
            .and_then(|s| s.parse::<jiff::Timestamp>().ok())
            .map(jiff::Timestamp::as_millisecond)
    };
    match client
        .first_conversation(&format!("{}/{}", ts(start), ts(end)))
        .await
    {
        Ok(c) => return Ok(started(c)),
        Err(genesys::GenesysError::Api { status: 400, .. }) => {}
        Err(e) => {
            return Err(e).context(
                "cannot find the org's first conversation (POST /api/v2/analytics/conversations/details/query)",
            );
        }
    }
    let window = FALLBACK_WINDOW_DAYS * 86_400_000;
    let mut from = start;
    while from < end {
        let to = (from + window).min(end);
        let c = client
            .first_conversation(&format!("{}/{}", ts(from), ts(to)))
            .await
            .context("cannot find the org's first conversation (POST /api/v2/analytics/conversations/details/query)")?;
        if let Some(at) = started(c) {
            return Ok(Some(at));
        }
        from = to;
    }
    Ok(None)
}

/// What `match` is about to spend, stated before its first request.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MatchEstimate {
    /// Agent-days with a record to match.
    pub agent_days: u64,
    /// Of them, before the org's first conversation (not queried).
    pub before_first_conversation: u64,
    /// Of them, older than Genesys' analytics search window (not queried).
    pub outside_window: u64,
    /// Of them, answered from the ledger's cache of earlier queries.
    pub cached: u64,
    /// Requests expected (one per agent-day left; more when a day holds over 100 conversations).
    pub requests: u64,
    /// The org's request rate they are sent at, a minute.
    pub requests_per_minute: u32,
    /// How long they take at that rate, seconds.
    pub seconds: f64,
    /// The budget (`[link] match_budget`), when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<u64>,
}

impl MatchEstimate {
    /// The estimate in one line.
    pub fn line(&self) -> String {
        format!(
            "match: {} agent-days to look through; {} before the org's first conversation and {} outside Genesys' analytics search window are not queried, {} answered from earlier queries: about {} requests, {} at {} a minute{}",
            self.agent_days,
            self.before_first_conversation,
            self.outside_window,
            self.cached,
            self.requests,
            crate::load::human_duration(self.seconds),
            self.requests_per_minute,
            match self.budget {
                Some(b) if b < self.requests => format!(
                    "; the budget of {b} ([link] match_budget) stops it early, the rest stays in the history"
                ),
                Some(b) => format!(" (budget {b})"),
                None => String::new(),
            }
        )
    }
}
