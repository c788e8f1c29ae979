//! Case-insensitive, lenient access to Graph JSON (keys like `error`/`Error`, numbers as strings).

use serde_json::Value;

/// `obj[key]`, trying the exact key first and then any casing.
pub(crate) fn get<'a>(obj: &'a Value, key: &str) -> Option<&'a Value> {
    let map = obj.as_object()?;
    if let Some(v) = map.get(key) {
        return Some(v);
    }
    map.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

/// A string member (non-null).
pub(crate) fn get_str<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    get(obj, key)?.as_str()
}

/// An unsigned integer member, accepting numeric strings (Int64 may be serialised as a string).
pub(crate) fn get_u64(obj: &Value, key: &str) -> Option<u64> {
    match get(obj, key)? {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| *f >= 0.0 && f.is_finite())
                .map(|f| f as u64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `(code, message)` from an error body: Graph's `{"error":{"code","message"}}`, OAuth's
/// `{"error":"..","error_description":".."}`, Outlook REST's `{"Message":".."}`, else the text.
pub(crate) fn error_code_message(body: &[u8]) -> (String, String) {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        let text = String::from_utf8_lossy(&body[..body.len().min(2000)])
            .trim()
            .to_owned();
        return (String::new(), text);
    };
    if let Some(e) = get(&v, "error") {
        if e.is_object() {
            let code = get_str(e, "code").unwrap_or_default().to_owned();
            let message = get_str(e, "message").unwrap_or_default().to_owned();
            return (code, message);
        }
        if let Some(code) = e.as_str() {
            let message = get_str(&v, "error_description")
                .unwrap_or_default()
                .to_owned();
            return (code.to_owned(), message);
        }
    }
    let code = get_str(&v, "code").unwrap_or_default().to_owned();
    let message = get_str(&v, "message").unwrap_or_default().to_owned();
    (code, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_shapes() {
        assert_eq!(
            error_code_message(br#"{"error":{"code":"itemNotFound","message":"nope"}}"#),
            ("itemNotFound".into(), "nope".into())
        );
        assert_eq!(
            error_code_message(br#"{"Error":{"Code":"X","Message":"m"}}"#),
            ("X".into(), "m".into())
        );
        assert_eq!(
            error_code_message(
                br#"{"error":"invalid_client","error_description":"AADSTS7000215"}"#
            ),
            ("invalid_client".into(), "AADSTS7000215".into())
        );
        assert_eq!(
            error_code_message(br#"{"Message":"expected in mailbox MBX:a@b."}"#),
            (String::new(), "expected in mailbox MBX:a@b.".into())
        );
        assert_eq!(
            error_code_message(b"Bad gateway"),
            (String::new(), "Bad gateway".into())
        );
    }

    #[test]
    fn lenient_numbers() {
        let v: Value = serde_json::json!({"Size": "42", "n": 7, "neg": -1});
        assert_eq!(get_u64(&v, "size"), Some(42));
        assert_eq!(get_u64(&v, "n"), Some(7));
        assert_eq!(get_u64(&v, "neg"), None);
    }
}
