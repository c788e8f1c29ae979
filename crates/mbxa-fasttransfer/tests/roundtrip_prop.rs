//! Property-based round trips: random message trees → encode → parse → the same tree.

use mbxa_fasttransfer::{
    eml::to_eml, encode_message, parse, parse_partial, ptype, Attachment, EncodeOptions, Message,
    NamedKind, PropKey, PropValue, Property, Recipient,
};
use proptest::prelude::*;
use std::collections::BTreeMap;

fn finite_f64() -> impl Strategy<Value = f64> {
    any::<f64>().prop_filter("finite", |f| f.is_finite())
}

fn text() -> impl Strategy<Value = String> {
    // Any Unicode scalar except NUL (strings are NUL-terminated on the wire).
    proptest::collection::vec(any::<char>().prop_filter("no NUL", |c| *c != '\0'), 0..40)
        .prop_map(|v| v.into_iter().collect())
}

/// A (wire type, value) pair that the encoder writes and the parser reads back identically.
fn typed_value() -> impl Strategy<Value = (u16, PropValue)> {
    prop_oneof![
        any::<i16>().prop_map(|v| (ptype::I16, PropValue::I16(v))),
        any::<i32>().prop_map(|v| (ptype::I32, PropValue::I32(v))),
        any::<f32>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|v| (ptype::F32, PropValue::F32(v))),
        finite_f64().prop_map(|v| (ptype::F64, PropValue::F64(v))),
        any::<i64>().prop_map(|v| (ptype::CURRENCY, PropValue::Currency(v))),
        finite_f64().prop_map(|v| (ptype::APPTIME, PropValue::AppTime(v))),
        any::<u32>().prop_map(|v| (ptype::ERROR, PropValue::Error(v))),
        any::<bool>().prop_map(|v| (ptype::BOOLEAN, PropValue::Bool(v))),
        any::<i64>().prop_map(|v| (ptype::I64, PropValue::I64(v))),
        text().prop_map(|s| (ptype::CP_UTF16, PropValue::String(s))),
        "[ -~]{0,30}".prop_map(|s| (ptype::CP_1252, PropValue::String(s))),
        proptest::collection::vec(any::<u8>(), 0..300)
            .prop_map(|b| (ptype::BINARY, PropValue::Binary(b))),
        any::<[u8; 16]>().prop_map(|g| (ptype::GUID, PropValue::Guid(g))),
        any::<u64>().prop_map(|t| (ptype::SYSTIME, PropValue::SysTime(t))),
        proptest::collection::vec(any::<u8>(), 0..20)
            .prop_map(|b| (ptype::SERVERID, PropValue::ServerId(b))),
        proptest::collection::vec(any::<u8>(), 0..50)
            .prop_map(|b| (ptype::OBJECT, PropValue::Object(b))),
        proptest::collection::vec(any::<i32>(), 0..8).prop_map(|v| (
            0x1003,
            PropValue::Multi(v.into_iter().map(PropValue::I32).collect())
        )),
        proptest::collection::vec(any::<u64>(), 0..8).prop_map(|v| (
            0x1040,
            PropValue::Multi(v.into_iter().map(PropValue::SysTime).collect())
        )),
        proptest::collection::vec(text(), 0..5).prop_map(|v| (
            ptype::MV_CP_UTF16,
            PropValue::Multi(v.into_iter().map(PropValue::String).collect())
        )),
        proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..20), 0..5).prop_map(
            |v| (
                0x1102,
                PropValue::Multi(v.into_iter().map(PropValue::Binary).collect())
            )
        ),
        proptest::collection::vec(any::<[u8; 16]>(), 0..4).prop_map(|v| (
            0x1048,
            PropValue::Multi(v.into_iter().map(PropValue::Guid).collect())
        )),
    ]
}

fn key() -> impl Strategy<Value = PropKey> {
    prop_oneof![
        3 => (1u16..0x4000).prop_map(PropKey::Tagged),
        1 => (any::<[u8; 16]>(), any::<u32>()).prop_map(|(guid, d)| PropKey::Named {
            guid,
            name: NamedKind::Id(d)
        }),
        1 => (any::<[u8; 16]>(), text()).prop_map(|(guid, n)| PropKey::Named {
            guid,
            name: NamedKind::Name(n)
        }),
    ]
}

fn props() -> impl Strategy<Value = Vec<Property>> {
    // Keyed map: one property per key, as a well-formed producer writes.
    proptest::collection::btree_map(key(), typed_value(), 0..12).prop_map(|m: BTreeMap<_, _>| {
        m.into_iter()
            .map(|(key, (ptype, value))| Property { key, ptype, value })
            .collect()
    })
}

fn message(depth: u32) -> BoxedStrategy<Message> {
    let leaf_attach = props().prop_map(|properties| Attachment {
        properties,
        embedded: None,
    });
    let attach = if depth == 0 {
        leaf_attach.boxed()
    } else {
        prop_oneof![
            3 => leaf_attach,
            1 => (props(), message(depth - 1)).prop_map(|(properties, m)| Attachment {
                properties,
                embedded: Some(Box::new(m)),
            }),
        ]
        .boxed()
    };
    (
        props(),
        proptest::collection::vec(
            props().prop_map(|properties| Recipient { properties }),
            0..3,
        ),
        proptest::collection::vec(attach, 0..3),
    )
        .prop_map(|(properties, recipients, attachments)| Message {
            properties,
            recipients,
            attachments,
        })
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn encode_parse_round_trip(m in message(2), framed in any::<bool>(), rec in 16usize..2000) {
        let opts = EncodeOptions { framed, record_size: rec, export_strings: true };
        let bytes = encode_message(&m, &opts);
        let back = parse(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back, m);
    }

    #[test]
    fn any_parsed_tree_converts_to_eml(m in message(1)) {
        let bytes = encode_message(&m, &EncodeOptions::default());
        let back = parse(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let eml = to_eml(&back).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(eml.windows(4).any(|w| w == b"\r\n\r\n"));
    }

    #[test]
    fn mutated_streams_never_panic(m in message(1), edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6)) {
        let mut bytes = encode_message(&m, &EncodeOptions::default());
        for (i, b) in edits {
            let n = bytes.len();
            bytes[i % n] = b;
        }
        let (partial, _err) = parse_partial(&bytes);
        let _ = to_eml(&partial);
    }
}
