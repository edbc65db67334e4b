//! The JSON shape of an order in `query_orders` answers, shared by the buyer
//! and seller views, and the paging fields both accept.

use serde::Deserialize;

use crate::clock::write_rfc3339;
use crate::error::{Error, Result};
use crate::model::history::{OrderQuery, OrderView};
use crate::model::types::{CancelReason, Status};

/// The most orders one page may hold.
pub const MAX_PAGE_SIZE: i64 = 1000;
/// The page size when `page` is given without `page_size`.
pub const DEFAULT_PAGE_SIZE: i64 = 100;

/// Optional filter and paging fields of both `query_orders`.
#[derive(Deserialize, Default)]
pub struct Paging {
    status: Option<String>,
    page: Option<i64>,
    page_size: Option<i64>,
}

impl Paging {
    /// The validated query. Without `page` and `page_size` every order is
    /// listed, as the course clients expect.
    pub fn query(&self) -> Result<OrderQuery> {
        let status = match &self.status {
            None => None,
            Some(s) => Some(Status::parse(s).ok_or_else(|| {
                Error::invalid(format!(
                    "status must be unpaid, paid, shipped, received or cancelled, not {s:?}"
                ))
            })?),
        };
        if self.page.is_none() && self.page_size.is_none() {
            return Ok(OrderQuery {
                status,
                offset: 0,
                limit: None,
            });
        }
        let page = self.page.unwrap_or(1);
        let size = self.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        if page < 1 {
            return Err(Error::invalid("page counts from 1"));
        }
        if !(1..=MAX_PAGE_SIZE).contains(&size) {
            return Err(Error::invalid(format!(
                "page_size must be from 1 to {MAX_PAGE_SIZE}"
            )));
        }
        let offset = (page - 1)
            .checked_mul(size)
            .ok_or_else(|| Error::invalid("page is too large"))?;
        Ok(OrderQuery {
            status,
            offset,
            limit: Some(size),
        })
    }
}

/// A whole list as the bare array both queries answer with: each order in
/// the seed's shape plus its state and the time of each step.
///
/// Written by hand rather than through serde: a history of a thousand
/// orders is 600 KB of JSON, and building a value per order and escaping
/// each string byte by byte took a third of the time of answering it.
pub struct OrdersJson {
    out: Vec<u8>,
    empty: bool,
    /// The earliest deadline of an unpaid order listed: at that time the
    /// list stops being true, as the order is then cancelled.
    due: Option<i64>,
}

impl OrdersJson {
    /// A list with room for `orders` orders, if that is known. Growing a
    /// buffer to 640 KB step by step copied it several times over, a tenth
    /// of the time of writing a page of a thousand orders. A large buffer
    /// is one kept from an earlier answer if there is one.
    pub fn with_room_for(orders: Option<i64>) -> OrdersJson {
        /// About the size of an order of a few lines.
        const ORDER_BYTES: usize = 700;
        let room = orders.map_or(4096, |n| (n.max(0) as usize).saturating_mul(ORDER_BYTES));
        OrdersJson {
            out: super::spare::take(room.min(1 << 20)),
            empty: true,
            due: None,
        }
    }

    /// Adds one order to the list.
    pub fn push(&mut self, order: &OrderView<'_>) {
        self.out.push(if self.empty { b'[' } else { b',' });
        self.empty = false;
        if order.status == Status::Unpaid {
            self.due = Some(
                self.due
                    .map_or(order.expires_at, |d| d.min(order.expires_at)),
            );
        }
        write_order(&mut self.out, order);
    }

    /// The earliest time at which an order listed so far is cancelled by
    /// its deadline, if any is unpaid.
    pub fn due(&self) -> Option<i64> {
        self.due
    }

    /// The finished body.
    pub fn finish(mut self) -> Vec<u8> {
        if self.empty {
            self.out.push(b'[');
        }
        self.out.push(b']');
        self.out
    }
}

fn write_order(out: &mut Vec<u8>, o: &OrderView<'_>) {
    let paid = matches!(o.status, Status::Paid | Status::Shipped | Status::Received);
    field(out, "{\"order_id\":", |out| string(out, o.order_id));
    field(out, ",\"store_id\":", |out| string(out, o.store_id));
    field(out, ",\"buyer_id\":", |out| string(out, o.buyer_id));
    field(out, ",\"order_time\":", |out| time(out, Some(o.created_at)));
    field(out, ",\"total_price\":", |out| integer(out, o.total_price));
    field(out, ",\"paid\":", |out| boolean(out, paid));
    field(out, ",\"cancelled\":", |out| {
        boolean(out, o.status == Status::Cancelled)
    });
    field(out, ",\"status\":", |out| string(out, o.status.as_str()));
    field(out, ",\"paid_time\":", |out| time(out, o.paid_at));
    field(out, ",\"shipped_time\":", |out| time(out, o.shipped_at));
    field(out, ",\"received_time\":", |out| time(out, o.received_at));
    field(out, ",\"cancelled_time\":", |out| time(out, o.cancelled_at));
    field(out, ",\"cancel_reason\":", |out| {
        match o.cancel_reason.map(CancelReason::as_str) {
            Some(reason) => string(out, reason),
            None => out.extend_from_slice(b"null"),
        }
    });
    // Stored with the order in this very shape (see `books` in schema.sql).
    field(out, ",\"order_books\":", |out| {
        out.extend_from_slice(o.books)
    });
    out.push(b'}');
}

/// Writes `name` (already quoted, with its separators) and then the value.
fn field(out: &mut Vec<u8>, name: &str, value: impl FnOnce(&mut Vec<u8>)) {
    out.extend_from_slice(name.as_bytes());
    value(out);
}

/// A JSON string, escaped as serde_json escapes it. Ids and names rarely
/// need escaping, so a string is first checked as a whole and then copied.
fn string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    // Without an early exit, so the check runs over many bytes at a time.
    let special = |b: u8| u8::from(b < 0x20 || b == b'"' || b == b'\\');
    if s.bytes().fold(0, |found, b| found | special(b)) == 0 {
        out.extend_from_slice(s.as_bytes());
    } else {
        for &b in s.as_bytes() {
            match b {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                0x08 => out.extend_from_slice(b"\\b"),
                0x0c => out.extend_from_slice(b"\\f"),
                0..=0x1f => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    out.extend_from_slice(b"\\u00");
                    out.push(HEX[usize::from(b >> 4)]);
                    out.push(HEX[usize::from(b & 0xf)]);
                }
                _ => out.push(b),
            }
        }
    }
    out.push(b'"');
}

fn integer(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    let mut digits = [0u8; 20];
    let mut rest = n.unsigned_abs();
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

fn boolean(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

/// A time as an RFC 3339 string, or `null`.
fn time(out: &mut Vec<u8>, seconds: Option<i64>) {
    match seconds {
        Some(seconds) => {
            out.push(b'"');
            write_rfc3339(out, seconds);
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::model::orders::books_json;

    const BUYER: &str = "buyer \"one\"\\\u{1}\u{8}\u{c}\n\r\t\u{1f}";

    fn order<'a>(
        id: &'a str,
        status: Status,
        reason: Option<CancelReason>,
        books: &'a [u8],
    ) -> OrderView<'a> {
        OrderView {
            order_id: id,
            buyer_id: BUYER,
            store_id: "书店\u{7f}",
            total_price: i64::MAX,
            status,
            created_at: 0,
            expires_at: 900,
            paid_at: Some(86_400 * 365),
            shipped_at: None,
            received_at: None,
            cancelled_at: reason.map(|_| 253_402_300_799),
            cancel_reason: reason,
            books,
        }
    }

    #[test]
    fn the_written_json_is_what_serde_json_reads_and_writes() {
        let lines = books_json([("b/1", 2, -3), ("", 0, i64::MIN)]);
        let mut list = OrdersJson::with_room_for(None);
        list.push(&order("o1", Status::Paid, None, lines.as_bytes()));
        let timeout = Some(CancelReason::Timeout);
        list.push(&order("o2", Status::Cancelled, timeout, lines.as_bytes()));
        let written = list.finish();

        let read: Value = serde_json::from_slice(&written).unwrap();
        let text = String::from_utf8(written.clone()).unwrap();
        // Escaped exactly as serde_json escapes, fields in the seed's order.
        let escaped = serde_json::to_string(BUYER).unwrap();
        let start = "[{\"order_id\":\"o1\",\"store_id\":\"书店\u{7f}\",\"buyer_id\":";
        assert!(text.starts_with(&format!("{start}{escaped},")), "{text}");
        assert_eq!(read[0]["buyer_id"], BUYER);
        assert_eq!(read[0]["store_id"], "书店\u{7f}");
        assert_eq!(read[0]["order_time"], "1970-01-01T00:00:00Z");
        assert_eq!(read[0]["paid_time"], "1971-01-01T00:00:00Z");
        assert_eq!(read[0]["paid"], true);
        assert_eq!(read[0]["total_price"], i64::MAX);
        assert_eq!(read[0]["cancel_reason"], Value::Null);
        assert_eq!(read[1]["cancelled"], true);
        assert_eq!(read[1]["cancelled_time"], "9999-12-31T23:59:59Z");
        assert_eq!(read[1]["cancel_reason"], "timeout");
        assert_eq!(
            read[1]["order_books"],
            json!([{"book_id": "b/1", "count": 2, "price": -3},
                   {"book_id": "", "count": 0, "price": i64::MIN}])
        );
        assert_eq!(list_due(&[]), None);
        assert_eq!(OrdersJson::with_room_for(None).finish(), b"[]");
    }

    fn list_due(orders: &[OrderView<'_>]) -> Option<i64> {
        let mut list = OrdersJson::with_room_for(None);
        orders.iter().for_each(|o| list.push(o));
        list.due()
    }

    #[test]
    fn the_list_is_due_at_the_earliest_deadline_of_an_unpaid_order() {
        let early = OrderView {
            expires_at: 100,
            ..order("o1", Status::Unpaid, None, b"[]")
        };
        let late = OrderView {
            expires_at: 200,
            ..order("o2", Status::Unpaid, None, b"[]")
        };
        let paid = OrderView {
            expires_at: 50,
            ..order("o3", Status::Paid, None, b"[]")
        };
        assert_eq!(list_due(&[paid]), None);
        assert_eq!(list_due(&[late, paid, early]), Some(100));
    }
}
