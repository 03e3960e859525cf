//! What tests and rehearsals stage at run time: throttling, an outage, one evaluation's refusal,
//! analytics that has not caught up, a stale index, update answers lost.

use jiff::{SignedDuration, Timestamp};

use super::EmulatorState;

impl EmulatorState {
    /// `d` from now on the emulator's clock.
    fn after(&self, d: std::time::Duration) -> Timestamp {
        self.inner
            .clock
            .now()
            .checked_add(SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX))
            .unwrap_or(Timestamp::MAX)
    }

    /// From now on, for `d` of the emulator's clock, every API request is answered 429
    /// `too.many.requests` without `Retry-After` (tests).
    pub fn throttle_without_retry_after(&self, d: std::time::Duration) {
        self.store().throttled_until = Some(self.after(d));
    }

    /// Analytics has not processed evaluation `id` yet: the aggregates leave it out until
    /// [`EmulatorState::release_to_analytics`] (tests).
    pub fn hold_from_analytics(&self, id: &str) {
        self.store().held_from_analytics.insert(id.to_owned());
    }

    /// Analytics has processed evaluation `id`.
    pub fn release_to_analytics(&self, id: &str) {
        self.store().held_from_analytics.remove(id);
    }

    /// From now on, every `method` (`GET`, `PUT`, `DELETE`) of evaluation `id` is answered
    /// `status` with `code`, for that evaluation alone (tests of one item's refusal).
    pub fn refuse(&self, method: &str, id: &str, status: u16, code: &str) {
        self.store().refusals.insert(
            (method.to_owned(), id.to_owned()),
            (status, code.to_owned()),
        );
    }

    /// A refusal staged with [`EmulatorState::refuse`], as its answer.
    pub(crate) fn refusal(&self, method: &str, id: &str) -> Option<(u16, String)> {
        self.store()
            .refusals
            .get(&(method.to_owned(), id.to_owned()))
            .cloned()
    }

    /// From now on, for `d` of the emulator's clock, every route (tokens included) answers 503
    /// `service.unavailable`: an outage (tests).
    pub fn outage(&self, d: std::time::Duration) {
        self.store().outage_until = Some(self.after(d));
    }

    /// Fault, switched at run time: every evaluation update is applied and its connection dropped
    /// (the client cannot know it was applied).
    pub fn drop_update_answers(&self, on: bool) {
        self.store().drop_update_answers = on;
    }

    /// A stale index: evaluation `id` is left out of queries by agent or evaluator (still found by
    /// conversation), as a page read while the index catches up could miss it (tests).
    pub fn hide_from_paged_queries(&self, id: &str) {
        self.store().hidden_from_pages.insert(id.to_owned());
    }
}
