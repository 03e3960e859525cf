//! Deterministic identifiers.
//!
//! The `Idempotency-Key` sent with every create is a UUID v5 of (source system, evaluation id, target
//! form), so a retry after a crash carries the same key as the first attempt (DESIGN §2).

use uuid::Uuid;

/// Namespace of qm-migrate's v5 UUIDs (a fixed random UUID; never change it: keys must stay stable).
pub const NAMESPACE: Uuid = Uuid::from_u128(0x6a1f_3c52_8d4e_4b7a_9c0e_51d2_7f3a_b8e4);

/// The idempotency key of one evaluation create.
pub fn idempotency_key(source_system: &str, evaluation_id: &str, target_form: &str) -> Uuid {
    let name = format!("{source_system}\u{1f}{evaluation_id}\u{1f}{target_form}");
    Uuid::new_v5(&NAMESPACE, name.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_stable_and_distinguishes_inputs() {
        let a = idempotency_key("calabrio_one", "80517", "Legacy Migration Form");
        assert_eq!(
            a,
            idempotency_key("calabrio_one", "80517", "Legacy Migration Form")
        );
        assert_eq!(a.get_version_num(), 5);
        assert_ne!(
            a,
            idempotency_key("calabrio_one", "80518", "Legacy Migration Form")
        );
        assert_ne!(a, idempotency_key("calabrio_one", "80517", "Other"));
        // The separator keeps ("a","bc") and ("ab","c") apart.
        assert_ne!(
            idempotency_key("s", "a", "bc"),
            idempotency_key("s", "ab", "c")
        );
    }
}
