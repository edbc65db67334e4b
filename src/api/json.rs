//! Decoding request bodies and encoding answers.
//!
//! Bodies are decoded straight into typed request structs: a missing field, a
//! wrong type or a fractional or oversized number is a 523 whose message says
//! which field, and fields the contract does not name are ignored.
//!
//! Every request struct is read from a JSON object only. Serde's derived
//! structs also take an array of their fields' values in declaration order,
//! which would let `["alice","secret"]` register a user; the body and every
//! struct nested in it go through [`object`] or [`objects`], which refuse that.

use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::{self, DeserializeOwned, DeserializeSeed, Deserializer, SeqAccess, Visitor};
use serde::Serialize;
use serde::{forward_to_deserialize_any, Deserialize};

use crate::error::{Error, Result};

/// A response ready to send.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Body,
}

/// The bytes of an answer: its own, or shared with an answer the server
/// keeps, so that handing a kept answer out again copies nothing.
#[derive(Debug)]
pub enum Body {
    Owned(Vec<u8>),
    Shared(Arc<Vec<u8>>),
}

impl AsRef<[u8]> for Body {
    fn as_ref(&self) -> &[u8] {
        match self {
            Body::Owned(bytes) => bytes,
            Body::Shared(bytes) => bytes,
        }
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Body {
        Body::Owned(bytes)
    }
}

/// An answer's own buffer is kept for a later large answer, once this one
/// has been sent (see [`super::spare`]).
impl Drop for Body {
    fn drop(&mut self) {
        if let Body::Owned(bytes) = self {
            super::spare::give_back(std::mem::take(bytes));
        }
    }
}

pub const JSON: &str = "application/json";

/// `{"message":"ok"}` with 200.
pub fn ok() -> Reply {
    Reply {
        status: 200,
        content_type: JSON,
        body: br#"{"message":"ok"}"#.to_vec().into(),
    }
}

/// 200 with `value` serialised as the body.
pub fn json(value: &impl Serialize) -> Result<Reply> {
    let body = serde_json::to_vec(value).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(Reply {
        status: 200,
        content_type: JSON,
        body: body.into(),
    })
}

/// 200 with a body that is JSON already.
pub fn body(body: Body) -> Reply {
    Reply {
        status: 200,
        content_type: JSON,
        body,
    }
}

/// The answer for a failed request: its code and `{"message": ...}`.
pub fn error(e: &Error) -> Reply {
    let body = serde_json::to_vec(&serde_json::json!({ "message": e.to_string() }))
        .unwrap_or_else(|_| br#"{"message":"error"}"#.to_vec());
    Reply {
        status: e.status(),
        content_type: JSON,
        body: body.into(),
    }
}

/// Decodes a JSON request body, which must be an object, into the struct
/// `T`, or explains why it cannot.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T> {
    match body.trim_ascii_start().first() {
        Some(b'{') => {}
        None => {
            let why = "the request body is empty; a JSON object is expected";
            return Err(Error::invalid(why));
        }
        Some(_) => return Err(Error::invalid("the request body must be a JSON object")),
    }
    let mut input = serde_json::Deserializer::from_slice(body);
    object(&mut input)
        .and_then(|value| input.end().map(|()| value))
        .map_err(|e| match e.classify() {
            serde_json::error::Category::Data => Error::invalid(e),
            _ => Error::invalid(format!("the body is not valid JSON: {e}")),
        })
}

/// Deserialises the struct `T` from a JSON object and nothing else; for a
/// field holding a nested struct (`#[serde(deserialize_with = "object")]`).
pub fn object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    T::deserialize(ObjectOnly(d))
}

/// Deserialises an array whose every item is the struct `T` as a JSON
/// object; for a field holding a list of structs.
pub fn objects<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Items<T>(PhantomData<T>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for Items<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an array of objects")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element_seed(Item(PhantomData))? {
                items.push(item);
            }
            Ok(items)
        }
    }

    struct Item<T>(PhantomData<T>);

    impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Item<T> {
        type Value = T;

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
            object(d)
        }
    }

    d.deserialize_seq(Items(PhantomData))
}

/// A deserializer that reads a struct as a map, so that an array in its
/// place is a wrong type. Only derived structs are read through it, and they
/// ask for nothing but `deserialize_struct`; anything else is passed to the
/// wrapped deserializer's `deserialize_any`, which JSON, describing itself,
/// can answer.
struct ObjectOnly<D>(D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for ObjectOnly<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_any(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(visitor)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

/// Deserialises an integer given either as a JSON integer or as a string of
/// decimal digits (the seed's tables type some counts as strings).
pub fn int_or_digits<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<i64, D::Error> {
    struct IntOrDigits;

    impl Visitor<'_> for IntOrDigits {
        type Value = i64;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an integer or a string of decimal digits")
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<i64, E> {
            Ok(v)
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<i64, E> {
            i64::try_from(v).map_err(|_| E::custom(format!("{v} is too large")))
        }

        fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<i64, E> {
            let digits = v.strip_prefix('-').unwrap_or(v);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(E::custom(format!("{v:?} is not a whole number")));
            }
            v.parse()
                .map_err(|_| E::custom(format!("{v} is out of range")))
        }
    }

    d.deserialize_any(IntOrDigits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    struct Line {
        #[serde(deserialize_with = "int_or_digits")]
        count: i64,
    }

    fn count(body: &str) -> Result<i64> {
        decode::<Line>(body.as_bytes()).map(|l| l.count)
    }

    #[test]
    fn counts_may_be_integers_or_digit_strings() {
        assert_eq!(count(r#"{"count": 3}"#).unwrap(), 3);
        assert_eq!(count(r#"{"count": "12"}"#).unwrap(), 12);
        assert_eq!(count(r#"{"count": "-2"}"#).unwrap(), -2);
    }

    #[test]
    fn counts_reject_fractions_floats_and_overflow() {
        for bad in [
            r#"{"count": 1.5}"#,
            r#"{"count": 1e3}"#,
            r#"{"count": "1.0"}"#,
            r#"{"count": ""}"#,
            r#"{"count": "abc"}"#,
            r#"{"count": 9223372036854775808}"#,
            r#"{"count": 99999999999999999999999}"#,
            r#"{"count": "99999999999999999999999"}"#,
            r#"{"count": null}"#,
            r#"{"count": true}"#,
        ] {
            assert!(
                matches!(count(bad), Err(Error::Invalid(_))),
                "{bad} was accepted"
            );
        }
    }

    #[test]
    fn a_body_that_is_not_json_is_invalid() {
        for bad in [
            "",
            "  ",
            "{",
            "null",
            "[]",
            "\"text\"",
            "{\"count\":1}garbage",
        ] {
            assert!(
                matches!(count(bad), Err(Error::Invalid(_))),
                "{bad:?} was accepted"
            );
        }
    }

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Order {
        store: String,
        #[serde(deserialize_with = "objects")]
        lines: Vec<Item>,
        #[serde(deserialize_with = "object")]
        first: Item,
    }

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Item {
        id: String,
        count: i64,
    }

    #[test]
    fn structs_are_read_from_objects_at_every_depth() {
        let good = r#"{"store":"s","lines":[{"id":"a","count":1}],"first":{"id":"b","count":2}}"#;
        let order: Order = decode(good.as_bytes()).unwrap();
        assert_eq!(
            order.lines,
            [Item {
                id: "a".into(),
                count: 1
            }]
        );
        assert_eq!(
            order.first,
            Item {
                id: "b".into(),
                count: 2
            }
        );

        for bad in [
            r#"["s",[{"id":"a","count":1}],{"id":"b","count":2}]"#,
            r#"{"store":"s","lines":[["a",1]],"first":{"id":"b","count":2}}"#,
            r#"{"store":"s","lines":[{"id":"a","count":1}],"first":["b",2]}"#,
            r#"{"store":"s","lines":{"id":"a","count":1},"first":{"id":"b","count":2}}"#,
        ] {
            let refused = decode::<Order>(bad.as_bytes());
            assert!(
                matches!(&refused, Err(Error::Invalid(_))),
                "{bad} was accepted: {refused:?}"
            );
        }
        let Err(Error::Invalid(why)) = decode::<Order>(b" [1]") else {
            panic!("an array body was accepted");
        };
        assert_eq!(why, "the request body must be a JSON object");
    }
}
