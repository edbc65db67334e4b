//! The short piece of a book's text shown with a search result, around the
//! first place the keyword occurs.
//!
//! It is cut from the stored text in Rust rather than by FTS5's `snippet()`,
//! which needs the text inside the index and would mark bigrams rather than
//! what the reader typed.

use super::query::Field;
use super::segment::{fold, has_no_case, Term};

/// Characters kept before the match.
const BEFORE: usize = 20;
/// Characters kept from the start of the match on.
const AFTER: usize = 50;

/// Where a reader would rather see the keyword: the description first, the
/// title (shown anyway) last.
const PREFERENCE: [Field; 6] = [
    Field::BookIntro,
    Field::Content,
    Field::Tags,
    Field::Author,
    Field::Title,
    Field::Isbn,
];

/// The excerpt for one book: a window of the first preferred field in
/// which a term occurs, whitespace collapsed, with `…` where text was cut.
/// When no term occurs literally (an ISBN typed with hyphens, say), the
/// start of the description.
///
/// `text_of` gives the text of a field, `None` for one not searched. Fields
/// are asked for in order of preference and none after the first in which
/// a term occurs, so the book's other texts are never read: the excerpts
/// are a large part of what a page of results costs.
pub fn excerpt<'t, E>(
    mut text_of: impl FnMut(Field) -> Result<Option<&'t str>, E>,
    terms: &[Term],
) -> Result<String, E> {
    let mut fallback = None;
    for field in PREFERENCE {
        let Some(text) = text_of(field)? else {
            continue;
        };
        if let Some(at) = first_match(text, terms) {
            return Ok(window(text, at.saturating_sub(BEFORE), at + AFTER));
        }
        if fallback.is_none() && !text.trim().is_empty() {
            fallback = Some(text);
        }
    }
    Ok(window(fallback.unwrap_or(""), 0, BEFORE + AFTER))
}

/// The character position of the earliest occurrence of any term, in
/// time linear in the length of the text whatever the terms.
fn first_match(text: &str, terms: &[Term]) -> Option<usize> {
    // The text as the index folds it, made only if a term needs it.
    let mut folded: Option<String> = None;
    terms
        .iter()
        .filter_map(|term| {
            let needle = term.text();
            if needle.is_empty() {
                return None;
            }
            // A character without case folds only from itself, so such a
            // needle stands in the text exactly as it is, and the text need
            // not be folded. Folding keeps one character for one, so a
            // position in the folded text is a position in the original.
            let haystack = if needle.chars().all(has_no_case) {
                text
            } else {
                folded.get_or_insert_with(|| text.chars().map(fold).collect())
            };
            let at = haystack.find(needle)?;
            Some(haystack[..at].chars().count())
        })
        .min()
}

/// The characters of `text` from position `start` to `end` (clamped) with
/// runs of whitespace as one space and `…` at each end that was cut.
fn window(text: &str, start: usize, end: usize) -> String {
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    let mut chars = text.chars().skip(start);
    let mut last_space = false;
    for c in chars.by_ref().take(end.saturating_sub(start)) {
        let space = c.is_whitespace();
        if !(space && last_space) {
            out.push(if space { ' ' } else { c });
        }
        last_space = space;
    }
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::segment::terms;

    /// The excerpt of a book with these fields searched.
    fn excerpt_of(fields: &[(Field, &str)], keyword: &str) -> String {
        let text_of = |want| Ok::<_, ()>(fields.iter().find(|(f, _)| *f == want).map(|(_, t)| *t));
        excerpt(text_of, &terms(keyword)).unwrap()
    }

    #[test]
    fn the_excerpt_surrounds_the_first_match_in_the_description() {
        let intro = format!("{}历史{}", "甲".repeat(30), "乙".repeat(80));
        let got = excerpt_of(
            &[(Field::Title, "历史书"), (Field::BookIntro, &intro)],
            "历史",
        );
        assert_eq!(got, format!("…{}历史{}…", "甲".repeat(20), "乙".repeat(48)));
    }

    #[test]
    fn latin_matches_ignore_case_and_whitespace_is_collapsed() {
        let got = excerpt_of(&[(Field::Content, "Chapter 1\n\n  HARRY meets")], "harry");
        assert_eq!(got, "Chapter 1 HARRY meets");
    }

    #[test]
    fn without_a_literal_match_the_description_starts_the_excerpt() {
        let got = excerpt_of(
            &[(Field::BookIntro, "简介"), (Field::Isbn, "978-7-5")],
            "97875",
        );
        assert_eq!(got, "简介");
    }

    #[test]
    fn the_earliest_occurrence_of_any_term_wins() {
        let content = format!("{} tower {} harry", "a".repeat(30), "b".repeat(30));
        let got = excerpt_of(&[(Field::Content, &content)], "harry tower");
        assert_eq!(
            got,
            format!("…{} tower {} harry", "a".repeat(19), "b".repeat(30))
        );
        let intro = format!("{}Tower{}", "x ".repeat(30), "y".repeat(10));
        let got = excerpt_of(&[(Field::BookIntro, &intro)], "harry tower");
        assert_eq!(got, format!("…{}Tower{}", "x ".repeat(10), "y".repeat(10)));
    }

    #[test]
    fn a_term_cut_off_by_the_end_of_the_text_does_not_match() {
        let got = excerpt_of(
            &[(Field::BookIntro, "简介"), (Field::Content, "讲历")],
            "历史",
        );
        assert_eq!(got, "简介");
    }

    #[test]
    fn blank_fields_are_passed_over_for_the_fallback() {
        let got = excerpt_of(
            &[(Field::BookIntro, " \n "), (Field::Title, "书名")],
            "历史",
        );
        assert_eq!(got, "书名");
    }

    #[test]
    fn fields_after_the_first_match_are_not_read() {
        let mut asked = Vec::new();
        let text_of = |field| {
            asked.push(field);
            Ok::<_, ()>(Some(if field == Field::Content {
                "历史"
            } else {
                "无关"
            }))
        };
        assert_eq!(excerpt(text_of, &terms("历史")).unwrap(), "历史");
        assert_eq!(asked, [Field::BookIntro, Field::Content]);
    }

    #[test]
    fn positions_count_characters_of_the_text_as_written() {
        let content = format!("{}ＨＡＲＲＹ meets", "甲".repeat(30));
        let got = excerpt_of(&[(Field::Content, &content)], "harry");
        assert_eq!(got, format!("…{}ＨＡＲＲＹ meets", "甲".repeat(20)));
    }
}
