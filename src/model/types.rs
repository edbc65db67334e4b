//! Validated values. Each type can only hold what the contract allows, so
//! once a request has been decoded into them the rules need no more checks
//! of shape or range.

use crate::error::{Error, Result};

/// The longest id (user, store, book, order) accepted, in characters.
pub const MAX_ID_CHARS: usize = 200;
/// The longest password accepted, in bytes.
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// The longest terminal name accepted, in characters.
pub const MAX_TERMINAL_CHARS: usize = 200;

/// A non-empty id of at most [`MAX_ID_CHARS`] characters with no control
/// characters.
pub fn check_id<'a>(field: &str, id: &'a str) -> Result<&'a str> {
    if id.is_empty() {
        return Err(Error::invalid(format!("{field} is empty")));
    }
    if id.chars().count() > MAX_ID_CHARS {
        return Err(Error::invalid(format!(
            "{field} is longer than {MAX_ID_CHARS} characters"
        )));
    }
    if id.chars().any(char::is_control) {
        return Err(Error::invalid(format!(
            "{field} contains control characters"
        )));
    }
    Ok(id)
}

/// A password: any text up to [`MAX_PASSWORD_BYTES`], so the hash cost of an
/// attacker's huge password stays bounded.
pub fn check_password<'a>(field: &str, password: &'a str) -> Result<&'a str> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(Error::invalid(format!(
            "{field} is longer than {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    Ok(password)
}

/// A terminal name: at most [`MAX_TERMINAL_CHARS`] characters.
pub fn check_terminal(terminal: &str) -> Result<&str> {
    if terminal.chars().count() > MAX_TERMINAL_CHARS {
        return Err(Error::invalid(format!(
            "terminal is longer than {MAX_TERMINAL_CHARS} characters"
        )));
    }
    Ok(terminal)
}

/// A count of copies in an order line: at least one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quantity(i64);

impl Quantity {
    pub fn new(n: i64) -> Result<Quantity> {
        if n < 1 {
            return Err(Error::invalid(format!("count must be at least 1, got {n}")));
        }
        Ok(Quantity(n))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// A non-negative amount of money in cents, or a non-negative stock level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NonNegative(i64);

impl NonNegative {
    pub fn new(field: &str, n: i64) -> Result<NonNegative> {
        if n < 0 {
            return Err(Error::invalid(format!(
                "{field} must not be negative, got {n}"
            )));
        }
        Ok(NonNegative(n))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// A signed change that must not be zero: funds added (negative to withdraw)
/// or stock added (negative to remove).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delta(i64);

impl Delta {
    pub fn new(field: &str, n: i64) -> Result<Delta> {
        if n == 0 {
            return Err(Error::invalid(format!("{field} must not be zero")));
        }
        Ok(Delta(n))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// One line of a new order, before it is checked against the store.
#[derive(Clone, Debug)]
pub struct OrderLine {
    pub book_id: String,
    pub count: Quantity,
}

/// Merges lines that name the same book by adding their counts, keeping the
/// order in which each book first appears. Fails if a sum overflows.
pub fn merge_lines(lines: Vec<OrderLine>) -> Result<Vec<OrderLine>> {
    let mut merged: Vec<OrderLine> = Vec::with_capacity(lines.len());
    for line in lines {
        match merged.iter_mut().find(|m| m.book_id == line.book_id) {
            Some(m) => {
                let sum = m.count.get().checked_add(line.count.get());
                m.count = Quantity::new(sum.ok_or_else(|| Error::invalid("count is too large"))?)?;
            }
            None => merged.push(line),
        }
    }
    Ok(merged)
}

/// A book as a seller describes it. Only `id`, `title` and `price` are
/// required; pictures are raw image bytes, already decoded from base64.
#[derive(Clone, Debug, Default)]
pub struct NewBook {
    pub id: String,
    pub title: String,
    pub price: i64,
    pub author: Option<String>,
    pub publisher: Option<String>,
    pub original_title: Option<String>,
    pub translator: Option<String>,
    pub pub_year: Option<String>,
    pub pages: Option<i64>,
    pub binding: Option<String>,
    pub isbn: Option<String>,
    pub currency_unit: Option<String>,
    pub author_intro: Option<String>,
    pub book_intro: Option<String>,
    pub content: Option<String>,
    pub tags: Vec<String>,
    pub pictures: Vec<Vec<u8>>,
}

/// Order states, as stored and as reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Unpaid,
    Paid,
    Shipped,
    Received,
    Cancelled,
}

impl Status {
    /// Reads a state as the database stores it. Anything else means the
    /// file was changed behind the server's back: an internal error.
    pub fn from_stored(s: &str) -> Result<Status> {
        Status::parse(s).ok_or_else(|| Error::Internal(format!("unknown order status {s:?}")))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unpaid => "unpaid",
            Status::Paid => "paid",
            Status::Shipped => "shipped",
            Status::Received => "received",
            Status::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "unpaid" => Status::Unpaid,
            "paid" => Status::Paid,
            "shipped" => Status::Shipped,
            "received" => Status::Received,
            "cancelled" => Status::Cancelled,
            _ => return None,
        })
    }
}

/// Why an order was cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelReason {
    /// The buyer asked.
    Buyer,
    /// It stayed unpaid past its deadline.
    Timeout,
    /// The buyer's or the seller's account was closed.
    Closed,
}

impl CancelReason {
    /// Reads a reason as the database stores it (see [`Status::from_stored`]).
    pub fn from_stored(s: &str) -> Result<CancelReason> {
        CancelReason::parse(s)
            .ok_or_else(|| Error::Internal(format!("unknown cancel reason {s:?}")))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CancelReason::Buyer => "buyer",
            CancelReason::Timeout => "timeout",
            CancelReason::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<CancelReason> {
        Some(match s {
            "buyer" => CancelReason::Buyer,
            "timeout" => CancelReason::Timeout,
            "closed" => CancelReason::Closed,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_adds_counts_of_the_same_book_and_keeps_first_order() {
        let line = |id: &str, n| OrderLine {
            book_id: id.into(),
            count: Quantity::new(n).unwrap(),
        };
        let merged = merge_lines(vec![line("b", 1), line("a", 2), line("b", 3)]).unwrap();
        let got: Vec<_> = merged
            .iter()
            .map(|l| (l.book_id.as_str(), l.count.get()))
            .collect();
        assert_eq!(got, [("b", 4), ("a", 2)]);
    }

    #[test]
    fn merging_refuses_a_sum_beyond_64_bits() {
        let line = |n| OrderLine {
            book_id: "a".into(),
            count: Quantity::new(n).unwrap(),
        };
        assert!(merge_lines(vec![line(i64::MAX), line(1)]).is_err());
    }

    #[test]
    fn ids_must_be_short_non_empty_and_printable() {
        assert!(check_id("user_id", "").is_err());
        assert!(check_id("user_id", &"x".repeat(MAX_ID_CHARS + 1)).is_err());
        assert!(check_id("user_id", "a\u{0}b").is_err());
        assert!(check_id("user_id", "书店'; DROP TABLE users;--").is_ok());
    }
}
