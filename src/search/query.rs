//! A keyword turned into an FTS5 query that cannot be misread.
//!
//! The keyword is segmented exactly as the catalog was ([`segment`]), and
//! each of its terms becomes a double-quoted phrase of index tokens. Tokens
//! hold only letters and digits, so quotes, `*`, `-`, `NEAR`, `AND`, `OR`,
//! `NOT`, `^`, `:` and parentheses in a keyword are either separators or
//! plain words inside quotes: they never reach FTS5 as syntax. All terms
//! must match (in any order, in any of the searched fields).

use super::segment::{self, Term};
use crate::error::{Error, Result};

/// Only this many characters of a keyword are read. A keyword is a few
/// words; the rest of a pasted page would only slow the query down.
pub const MAX_KEYWORD_CHARS: usize = 256;
/// Only the first this many distinct terms of a keyword are used, so a
/// keyword of many common characters cannot make the query slow.
pub const MAX_TERMS: usize = 8;
/// At most this many index tokens over all terms; a longer CJK run is cut
/// (a run of 33 characters needs 32 bigrams).
pub const MAX_TOKENS: usize = 32;

/// A part of a book the keyword may be looked for in. The names are the
/// columns of `book_text` and the contract's field names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Title,
    Author,
    Tags,
    BookIntro,
    Content,
    Isbn,
}

impl Field {
    /// Every field, in the order of the `book_text` columns.
    pub const ALL: [Field; 6] = [
        Field::Title,
        Field::Author,
        Field::Tags,
        Field::BookIntro,
        Field::Content,
        Field::Isbn,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Author => "author",
            Field::Tags => "tags",
            Field::BookIntro => "book_intro",
            Field::Content => "content",
            Field::Isbn => "isbn",
        }
    }

    /// The field called `name`, if there is one.
    pub fn parse(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// What to look for and where.
#[derive(Clone, Debug)]
pub struct Query {
    terms: Vec<Term>,
    fields: Vec<Field>,
}

impl Query {
    /// Reads a keyword; 523 if it is empty or only spaces. A keyword with no
    /// letters or digits at all (such as `"*"`) is valid and matches nothing.
    /// `fields` of `None` means every field.
    pub fn new(keyword: &str, fields: Option<Vec<Field>>) -> Result<Query> {
        if keyword.trim().is_empty() {
            return Err(Error::invalid("keyword is empty"));
        }
        let fields = match fields {
            Some(f) if f.is_empty() => return Err(Error::invalid("fields is an empty list")),
            Some(mut f) => {
                f.sort_by_key(|f| *f as u8);
                f.dedup();
                f
            }
            None => Field::ALL.to_vec(),
        };
        let head: String = keyword.chars().take(MAX_KEYWORD_CHARS).collect();
        Ok(Query {
            terms: bounded(segment::terms(&head)),
            fields,
        })
    }

    /// The terms looked for, for excerpts.
    pub fn terms(&self) -> &[Term] {
        &self.terms
    }

    /// The fields searched.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// Whether `field` is searched.
    pub fn searches(&self, field: Field) -> bool {
        self.fields.contains(&field)
    }

    /// The FTS5 expression over the searched fields, or `None` when the
    /// keyword has no terms and so matches nothing.
    pub fn expression(&self) -> Option<String> {
        self.expression_in(&self.fields)
    }

    /// The FTS5 expression restricted to `fields`.
    pub fn expression_in(&self, fields: &[Field]) -> Option<String> {
        if self.terms.is_empty() {
            return None;
        }
        let phrases: Vec<String> = self
            .terms
            .iter()
            .map(|t| format!("\"{}\"", t.tokens().join(" ")))
            .collect();
        let columns: Vec<&str> = fields.iter().map(|f| f.name()).collect();
        Some(format!(
            "{{{}}} : ({})",
            columns.join(" "),
            phrases.join(" ")
        ))
    }
}

/// Drops repeated terms and keeps within [`MAX_TERMS`] and [`MAX_TOKENS`].
fn bounded(terms: Vec<Term>) -> Vec<Term> {
    let mut kept: Vec<Term> = Vec::new();
    let mut budget = MAX_TOKENS;
    for term in terms {
        if kept.len() == MAX_TERMS || budget == 0 {
            break;
        }
        if kept.contains(&term) {
            continue;
        }
        let term = match term {
            Term::Cjk(run) if run.chars().count() > budget + 1 => {
                Term::Cjk(run.chars().take(budget + 1).collect())
            }
            other => other,
        };
        budget -= term.tokens().len().min(budget);
        kept.push(term);
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expr(keyword: &str) -> Option<String> {
        Query::new(keyword, None).unwrap().expression()
    }

    const ALL: &str = "{title author tags book_intro content isbn}";

    #[test]
    fn terms_become_quoted_phrases_of_tokens() {
        assert_eq!(
            expr("三国演义 Harry").unwrap(),
            format!("{ALL} : (\"三国 国演 演义\" \"harry\")")
        );
        assert_eq!(expr("三").unwrap(), format!("{ALL} : (\"三\")"));
    }

    #[test]
    fn query_syntax_in_a_keyword_is_only_text() {
        assert_eq!(
            expr("\"a\" OR b* NEAR(c) {title}: ^e -f").unwrap(),
            format!("{ALL} : (\"a\" \"or\" \"b\" \"near\" \"c\" \"title\" \"e\" \"f\")")
        );
        assert_eq!(expr("*\"()-"), None);
    }

    #[test]
    fn an_empty_keyword_is_invalid_and_fields_narrow_the_columns() {
        assert!(matches!(Query::new(" ", None), Err(Error::Invalid(_))));
        assert!(matches!(
            Query::new("x", Some(vec![])),
            Err(Error::Invalid(_))
        ));
        let q = Query::new("x", Some(vec![Field::Tags, Field::Title, Field::Tags])).unwrap();
        assert_eq!(q.expression().unwrap(), "{title tags} : (\"x\")");
    }

    #[test]
    fn long_keywords_are_cut_to_a_bounded_query() {
        let q = Query::new(&"历史".repeat(5000), None).unwrap();
        assert_eq!(q.terms().len(), 1);
        assert_eq!(q.terms()[0].tokens().len(), MAX_TOKENS);

        let words: Vec<String> = (0..100).map(|i| format!("w{i}")).collect();
        let q = Query::new(&words.join(" "), None).unwrap();
        assert_eq!(q.terms().len(), MAX_TERMS);
    }
}
