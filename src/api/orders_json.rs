//! The JSON shape of an order in `query_orders` answers, shared by the buyer
//! and seller views, and the paging fields both accept.

use serde::{Deserialize, Serialize};

use crate::clock::rfc3339;
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

#[derive(Serialize)]
pub struct OrderJson<'a> {
    order_id: &'a str,
    store_id: &'a str,
    buyer_id: &'a str,
    order_time: String,
    total_price: i64,
    paid: bool,
    cancelled: bool,
    status: &'static str,
    paid_time: Option<String>,
    shipped_time: Option<String>,
    received_time: Option<String>,
    cancelled_time: Option<String>,
    cancel_reason: Option<&'static str>,
    order_books: Vec<LineJson<'a>>,
}

#[derive(Serialize)]
struct LineJson<'a> {
    book_id: &'a str,
    count: i64,
    price: i64,
}

/// The seed's shape plus the state and the time of each step.
pub fn order_json(o: &OrderView) -> OrderJson<'_> {
    OrderJson {
        order_id: &o.order_id,
        store_id: &o.store_id,
        buyer_id: &o.buyer_id,
        order_time: rfc3339(o.created_at),
        total_price: o.total_price,
        paid: matches!(o.status, Status::Paid | Status::Shipped | Status::Received),
        cancelled: o.status == Status::Cancelled,
        status: o.status.as_str(),
        paid_time: o.paid_at.map(rfc3339),
        shipped_time: o.shipped_at.map(rfc3339),
        received_time: o.received_at.map(rfc3339),
        cancelled_time: o.cancelled_at.map(rfc3339),
        cancel_reason: o.cancel_reason.map(CancelReason::as_str),
        order_books: o
            .lines
            .iter()
            .map(|l| LineJson {
                book_id: &l.book_id,
                count: l.count,
                price: l.price,
            })
            .collect(),
    }
}

/// A whole list, as the bare array both queries answer with.
pub fn orders_json(orders: &[OrderView]) -> Vec<OrderJson<'_>> {
    orders.iter().map(order_json).collect()
}
