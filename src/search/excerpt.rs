//! The short piece of a book's text shown with a search result, around the
//! first place the keyword occurs.
//!
//! It is cut from the stored text in Rust rather than by FTS5's `snippet()`,
//! which needs the text inside the index and would mark bigrams rather than
//! what the reader typed.

use super::query::Field;
use super::segment::{fold, Term};

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

/// The excerpt for one book: a window of the first preferred field (among
/// `fields`, the text of each searched field) in which a term occurs,
/// whitespace collapsed, with `…` where text was cut. When no term occurs
/// literally (an ISBN typed with hyphens, say), the start of the
/// description.
pub fn excerpt(fields: &[(Field, &str)], terms: &[Term]) -> String {
    let text_of = |want: Field| fields.iter().find(|(f, _)| *f == want).map(|(_, t)| *t);
    for field in PREFERENCE {
        let Some(text) = text_of(field) else { continue };
        let chars: Vec<char> = text.chars().collect();
        if let Some(at) = first_match(&chars, terms) {
            return window(&chars, at.saturating_sub(BEFORE), at + AFTER);
        }
    }
    let fallback = PREFERENCE
        .iter()
        .filter_map(|f| text_of(*f))
        .find(|t| !t.trim().is_empty())
        .unwrap_or("");
    window(&fallback.chars().collect::<Vec<_>>(), 0, BEFORE + AFTER)
}

/// The character position of the earliest occurrence of any term.
fn first_match(chars: &[char], terms: &[Term]) -> Option<usize> {
    let folded: Vec<char> = chars.iter().map(|c| fold(*c)).collect();
    terms
        .iter()
        .filter_map(|t| {
            let needle: Vec<char> = t.text().chars().collect();
            if needle.is_empty() || needle.len() > folded.len() {
                return None;
            }
            folded.windows(needle.len()).position(|w| w == needle)
        })
        .min()
}

/// `chars[start..end]` (clamped) with runs of whitespace as one space and
/// `…` at each end that was cut.
fn window(chars: &[char], start: usize, end: usize) -> String {
    let end = end.min(chars.len());
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    let mut last_space = false;
    for &c in &chars[start.min(end)..end] {
        let space = c.is_whitespace();
        if !(space && last_space) {
            out.push(if space { ' ' } else { c });
        }
        last_space = space;
    }
    if end < chars.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::segment::terms;

    #[test]
    fn the_excerpt_surrounds_the_first_match_in_the_description() {
        let intro = format!("{}历史{}", "甲".repeat(30), "乙".repeat(80));
        let got = excerpt(
            &[(Field::Title, "历史书"), (Field::BookIntro, &intro)],
            &terms("历史"),
        );
        assert_eq!(got, format!("…{}历史{}…", "甲".repeat(20), "乙".repeat(48)));
    }

    #[test]
    fn latin_matches_ignore_case_and_whitespace_is_collapsed() {
        let got = excerpt(
            &[(Field::Content, "Chapter 1\n\n  HARRY meets")],
            &terms("harry"),
        );
        assert_eq!(got, "Chapter 1 HARRY meets");
    }

    #[test]
    fn without_a_literal_match_the_description_starts_the_excerpt() {
        let got = excerpt(
            &[(Field::BookIntro, "简介"), (Field::Isbn, "978-7-5")],
            &terms("97875"),
        );
        assert_eq!(got, "简介");
    }
}
