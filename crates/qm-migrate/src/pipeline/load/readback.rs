//! Reading our evaluations back from Genesys in pages: the requests that `verify`, the adoption of
//! a lost ledger's evaluations and the reconcile of many `unknown` creates share.
//!
//! One `GET /api/v2/quality/evaluations/query` per page of `[genesys] query_page_size` evaluations of
//! one person on one of our forms (`formContextId`, every version), with `expandAnswerTotalScores`
//! and `includeDeletedUsers`, instead of one request per conversation. The grouping — by evaluator
//! or by agent — is the one that needs fewer pages for the items at hand; by agent is not used when
//! evaluations are never released, as that query leaves them out (reference/genesys-api.md §6.1).
//! No time window is sent: its semantics are undocumented, and the form context already narrows the
//! pages to the migration's own evaluations. A page can be stale (the query may lag, an index may be
//! rebuilt), so whoever reads pages looks up per conversation whatever the pages did not show.

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context, Result};
use genesys::models::Evaluation;
use genesys::{EvaluationsOf, GenesysClient};

/// Who to read, on which form context: (person, context) → how many of our items.
pub type Wanted = BTreeMap<(EvaluationsOf, String), usize>;

/// The pages to read for `items` — (evaluator, agent, form context) each — in whichever grouping
/// needs fewer requests; `evaluator` is `None` when the plan does not know it.
pub fn grouping(
    items: &[(Option<String>, String, String)],
    page_size: u32,
    never_released: bool,
) -> Wanted {
    let mut by_evaluator: Wanted = BTreeMap::new();
    let mut by_agent: Wanted = BTreeMap::new();
    let mut evaluator_complete = true;
    for (evaluator, agent, context) in items {
        match evaluator {
            Some(e) => {
                *by_evaluator
                    .entry((EvaluationsOf::Evaluator(e.clone()), context.clone()))
                    .or_insert(0) += 1;
            }
            None => evaluator_complete = false,
        }
        *by_agent
            .entry((EvaluationsOf::Agent(agent.clone()), context.clone()))
            .or_insert(0) += 1;
    }
    let pages = |w: &Wanted| -> usize {
        w.values()
            .map(|n| n.div_ceil(page_size.max(1) as usize))
            .sum()
    };
    match (evaluator_complete, never_released) {
        (true, true) => by_evaluator,
        (false, true) => {
            // Never released and some evaluator unknown: by evaluator where known; the rest is looked
            // up per conversation by the caller.
            by_evaluator
        }
        (false, false) => by_agent,
        (true, false) => {
            if pages(&by_agent) < pages(&by_evaluator) {
                by_agent
            } else {
                by_evaluator
            }
        }
    }
}

/// What a page read found.
#[derive(Debug, Default)]
pub struct Pages {
    /// Every evaluation read, by id.
    pub by_id: HashMap<String, Evaluation>,
    /// Requests sent.
    pub requests: u64,
    /// The page size that worked (halved on `response.entity.too.large`).
    pub page_size: u32,
}

/// Reads every page of `wanted`.
///
/// # Errors
/// Genesys errors.
pub async fn read(client: &GenesysClient, wanted: &Wanted, page_size: u32) -> Result<Pages> {
    let before = client.requests_sent();
    let mut pages = Pages {
        page_size: page_size.max(1),
        ..Pages::default()
    };
    for (who, context) in wanted.keys() {
        let (found, size) = client
            .evaluations_of(who, context, pages.page_size)
            .await
            .with_context(|| {
                format!("cannot read the evaluations of {who:?} on form context {context}")
            })?;
        pages.page_size = size;
        for e in found {
            pages.by_id.insert(e.id.clone(), e);
        }
    }
    pages.requests = client.requests_sent().saturating_sub(before);
    Ok(pages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grouping_with_fewer_pages_wins_and_never_released_reads_by_evaluator() {
        // Two evaluators, six agents: by evaluator is two pages, by agent six.
        let items: Vec<(Option<String>, String, String)> = (0..6)
            .map(|i| {
                (
                    Some(format!("e{}", i % 2)),
                    format!("a{i}"),
                    "ctx".to_owned(),
                )
            })
            .collect();
        let w = grouping(&items, 100, false);
        assert_eq!(w.len(), 2);
        assert!(
            w.keys()
                .all(|(k, _)| matches!(k, EvaluationsOf::Evaluator(_)))
        );
        // One agent, many evaluators: by agent.
        let items: Vec<(Option<String>, String, String)> = (0..6)
            .map(|i| (Some(format!("e{i}")), "a".to_owned(), "ctx".to_owned()))
            .collect();
        let w = grouping(&items, 100, false);
        assert_eq!(w.keys().next().unwrap().0, EvaluationsOf::Agent("a".into()));
        // … unless evaluations are never released: the agent query leaves them out.
        let w = grouping(&items, 100, true);
        assert_eq!(w.len(), 6);
    }
}
