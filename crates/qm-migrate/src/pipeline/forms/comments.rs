//! Comments within Genesys' published limits, nothing lost (reference/genesys-api.md §13).
//!
//! Genesys' help pages say that evaluations created since 2024-02-19 take at most 4000 characters of
//! overall and agent comments and 2000 of private comments and of each answer's comments; a longer
//! one is refused and the evaluation is not created. Calabrio coaching notes are often longer. So a
//! comment that does not fit keeps its first line (the provenance line, on the overall comments) and
//! as much of the text as fits, and ends with a plain note saying how many characters follow and
//! where the full text is: the migration history, under the Calabrio evaluation id. The history, the
//! report and the exceptions keep the full text.
//!
//! Lengths are counted in UTF-16 code units, which is what a Java `String.length()` counts and is
//! never less than the number of characters: a comment that fits by that count fits by any
//! reasonable reading of "characters" (an assumption: the help pages do not say how they count).

use genesys::models::ScoringSet;

/// The documented limits, from `[form] comment_limit` and `[form] answer_comment_limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Overall (`answers.comments`) and agent comments.
    pub comments: usize,
    /// Private comments and each answer's comments.
    pub answer: usize,
}

impl Limits {
    /// Genesys' comment limits as `[form]` configures them.
    pub fn of(form: &crate::config::FormConfig) -> Limits {
        Limits {
            comments: form.comment_limit,
            answer: form.answer_comment_limit,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            comments: 4000,
            answer: 2000,
        }
    }
}

/// Room kept free in the overall comments for the line a sync adds ("Updated from Calabrio on
/// YYYY-MM-DD."), so an update never pushes a comment that fitted over the limit.
pub const UPDATE_NOTE_ROOM: usize = 40;

/// The length Genesys is taken to count: UTF-16 code units.
pub fn length(text: &str) -> usize {
    text.encode_utf16().count()
}

/// The note that ends a shortened comment.
fn note(cut_chars: usize, whose: &str) -> String {
    format!(
        "\n[… {cut_chars} more characters: the full text is in the migration history of {whose}]"
    )
}

/// `text` within `limit` (UTF-16 units): unchanged when it fits; else, when `keep_first_line`, its
/// first line and as much of the rest as fits, ending with the note naming `whose` (the source
/// system and Calabrio evaluation id) and how many characters were left out. Returns the text and
/// the number of characters left out (0 when it fitted).
pub fn fit(text: &str, limit: usize, keep_first_line: bool, whose: &str) -> (String, usize) {
    if length(text) <= limit {
        return (text.to_owned(), 0);
    }
    let (head, body) = match text.split_once('\n') {
        Some((h, b)) if keep_first_line => (h, b),
        _ => ("", text),
    };
    let total_chars = text.chars().count();
    // The note is sized for the largest count it can say, so the text cut to fit it always fits.
    let room_for_note = length(&note(total_chars, whose));
    let head_len = if head.is_empty() { 0 } else { length(head) + 1 };
    let (kept_head, budget) = if head_len + room_for_note < limit {
        (head, limit - head_len - room_for_note)
    } else {
        // The first line alone does not leave room: the whole text is cut as one.
        ("", limit.saturating_sub(room_for_note))
    };
    let body = if kept_head.is_empty() { text } else { body };
    let mut used = 0;
    let mut end = 0;
    for (i, c) in body.char_indices() {
        let w = c.len_utf16();
        if used + w > budget {
            break;
        }
        used += w;
        end = i + c.len_utf8();
    }
    // Prefer to cut at a space or line end within the last 40 characters, so no word is broken.
    let cut = body[..end]
        .char_indices()
        .rev()
        .take(40)
        .find(|(_, c)| c.is_whitespace())
        .map_or(end, |(i, _)| i);
    let kept = body[..cut].trim_end();
    let mut out = String::new();
    if !kept_head.is_empty() {
        out.push_str(kept_head);
        out.push('\n');
    }
    out.push_str(kept);
    let left_out = total_chars - out.chars().count();
    out.push_str(&note(left_out, whose));
    debug_assert!(length(&out) <= limit, "{} > {limit}", length(&out));
    (out, left_out)
}

/// Every comment of `answers` within `limits`: the overall comments keep their first line (the
/// provenance) and room for a later sync's note; private, agent and answer comments are cut on their
/// own. Returns how many comments were shortened.
pub fn fit_answers(answers: &mut ScoringSet, limits: Limits, whose: &str) -> usize {
    let mut shortened = 0;
    let mut apply = |slot: &mut Option<String>, limit: usize, keep_first_line: bool| {
        if let Some(text) = slot.as_deref() {
            let (fitted, left_out) = fit(text, limit, keep_first_line, whose);
            if left_out > 0 {
                shortened += 1;
                *slot = Some(fitted);
            }
        }
    };
    apply(
        &mut answers.comments,
        limits.comments.saturating_sub(UPDATE_NOTE_ROOM),
        true,
    );
    apply(&mut answers.agent_comments, limits.comments, false);
    apply(&mut answers.private_comments, limits.answer, false);
    for g in &mut answers.question_group_scores {
        for q in &mut g.question_scores {
            apply(&mut q.comments, limits.answer, false);
        }
    }
    shortened
}

#[cfg(test)]
mod tests {
    use super::*;

    const WHOSE: &str = "calabrio_one evaluation 80017";

    #[test]
    fn a_comment_that_fits_is_unchanged() {
        let t = "line one\nline two";
        assert_eq!(fit(t, 100, true, WHOSE), (t.to_owned(), 0));
        let exact = "x".repeat(50);
        assert_eq!(fit(&exact, 50, false, WHOSE).1, 0);
    }

    #[test]
    fn a_long_comment_keeps_its_first_line_and_says_what_is_left_out() {
        let head = "[Migrated from Calabrio ONE] evaluation 80017 · contact 6000017";
        let body = "word ".repeat(900); // 4500 characters
        let text = format!("{head}\n{body}");
        let (out, left) = fit(&text, 4000, true, WHOSE);
        assert!(length(&out) <= 4000, "{}", length(&out));
        assert!(
            out.starts_with(&format!("{head}\n")),
            "the provenance line stays"
        );
        assert!(left > 500 && left < 700, "{left}");
        assert!(
            out.ends_with(&format!(
                "[… {left} more characters: the full text is in the migration history of {WHOSE}]"
            )),
            "{}",
            &out[out.len() - 120..]
        );
        // What stays plus what is said to be left out is the whole text.
        let kept = out.rsplit_once("\n[… ").unwrap().0;
        assert_eq!(kept.chars().count() + left, text.chars().count());
        assert!(body.starts_with(kept.strip_prefix(&format!("{head}\n")).unwrap()));
    }

    #[test]
    fn lengths_are_counted_in_utf16_units() {
        // 1500 emoji are 1500 characters but 3000 UTF-16 units: over a limit of 2000.
        let text = "😀".repeat(1500);
        let (out, left) = fit(&text, 2000, false, WHOSE);
        assert!(length(&out) <= 2000);
        assert!(left > 500, "{left}");
        assert!(!out.contains('\u{FFFD}'));
    }

    #[test]
    fn a_first_line_too_long_to_keep_is_cut_with_the_rest() {
        let text = format!("{}\nrest", "h".repeat(300));
        let (out, left) = fit(&text, 200, true, WHOSE);
        assert!(length(&out) <= 200);
        assert!(left > 100);
        assert!(out.starts_with("hhh"));
    }

    #[test]
    fn every_comment_of_an_answer_set_fits() {
        let mut a = ScoringSet {
            comments: Some(format!("provenance\n{}", "a".repeat(3990))),
            private_comments: Some("marker".into()),
            question_group_scores: vec![genesys::models::GroupScore {
                question_scores: vec![genesys::models::QuestionScore {
                    comments: Some("q".repeat(2100)),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(fit_answers(&mut a, Limits::default(), WHOSE), 2);
        let overall = a.comments.as_deref().unwrap();
        assert!(length(overall) <= 4000 - UPDATE_NOTE_ROOM);
        assert!(overall.starts_with("provenance\n"));
        assert_eq!(a.private_comments.as_deref(), Some("marker"));
        let q = a.question_group_scores[0].question_scores[0]
            .comments
            .as_deref()
            .unwrap();
        assert!(length(q) <= 2000 && q.contains(WHOSE));
    }
}
