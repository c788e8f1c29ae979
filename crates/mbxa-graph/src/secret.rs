//! Redacting wrapper for secrets and the scrubbers that keep tokens and query strings out of errors.

use std::fmt;

/// A secret string (client secret, PEM private key, access token, import URL).
///
/// `Debug` and `Display` print `[redacted]`; the only way to the value is [`SecretString::expose_secret`].
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        SecretString(s.into())
    }

    /// The secret itself. Call sites are few and never log the value.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// True when the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for SecretString {
    fn from(s: String) -> Self {
        SecretString(s)
    }
}

impl From<&str> for SecretString {
    fn from(s: &str) -> Self {
        SecretString(s.to_owned())
    }
}

/// A URL with its query string, fragment and user info removed: safe to show.
///
/// Unparseable input is cut at the first `?` or `#`.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            u.set_query(None);
            u.set_fragment(None);
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => cut_query(url).to_owned(),
    }
}

/// The path of a URL (percent-encoded as sent), for error messages.
pub(crate) fn url_path(url: &url::Url) -> String {
    url.path().to_owned()
}

fn cut_query(s: &str) -> &str {
    let end = s.find(['?', '#']).unwrap_or(s.len());
    &s[..end]
}

/// Upper bound on a server-provided message kept in an error.
const MAX_MESSAGE_CHARS: usize = 1000;

/// Keys whose values are credentials when they appear as `key=value` or `"key":"value"`.
const SECRET_KEYS: &[&str] = &[
    "authtoken",
    "access_token",
    "client_secret",
    "client_assertion",
    "token",
    "sig",
];

/// Scrubs a server-provided text before it goes into an [`crate::Error`]: known secrets are
/// replaced, URL query strings are dropped, `authtoken=…`-style values and `Bearer …` tokens are
/// redacted, and the text is bounded.
pub(crate) fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for s in secrets {
        if s.len() >= 4 && out.contains(s) {
            out = out.replace(s, "[redacted]");
        }
    }
    out = strip_url_queries(&out);
    out = redact_key_values(&out);
    out = redact_bearer(&out);
    out = redact_jwts(&out);
    if out.chars().count() > MAX_MESSAGE_CHARS {
        out = out.chars().take(MAX_MESSAGE_CHARS).collect::<String>() + "…";
    }
    out
}

fn is_url_end(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`')
}

fn strip_url_queries(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let lower = rest.to_ascii_lowercase();
        let pos = match (lower.find("http://"), lower.find("https://")) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => break,
        };
        out.push_str(&rest[..pos]);
        let url_part = &rest[pos..];
        let end = url_part.find(is_url_end).unwrap_or(url_part.len());
        out.push_str(cut_query(&url_part[..end]));
        rest = &url_part[end..];
    }
    out.push_str(rest);
    out
}

fn redact_key_values(text: &str) -> String {
    let mut out = text.to_owned();
    for key in SECRET_KEYS {
        let mut search_from = 0;
        loop {
            let lower = out.to_ascii_lowercase();
            let Some(rel) = lower[search_from..].find(key) else {
                break;
            };
            let start = search_from + rel;
            let after_key = start + key.len();
            // Only whole keys: the previous char must not be alphanumeric or '_'.
            let prev_ok = out[..start]
                .chars()
                .next_back()
                .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'));
            let tail = &out[after_key..];
            let sep_len = if tail.starts_with('=') {
                1
            } else if tail.starts_with("\":\"") {
                3
            } else if tail.starts_with("\": \"") {
                4
            } else {
                0
            };
            if !prev_ok || sep_len == 0 {
                search_from = after_key;
                continue;
            }
            let value_start = after_key + sep_len;
            let value_len = out[value_start..]
                .find(|c: char| {
                    c.is_whitespace() || matches!(c, '&' | '"' | '\'' | ',' | ';' | ')')
                })
                .unwrap_or(out.len() - value_start);
            if value_len == 0 {
                search_from = value_start;
                continue;
            }
            out.replace_range(value_start..value_start + value_len, "[redacted]");
            search_from = value_start + "[redacted]".len();
        }
    }
    out
}

/// Any `eyJ…` run (the base64url of `{"`, how every JWT starts) of 16+ token characters is
/// taken for a token, whoever issued it.
fn redact_jwts(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("eyJ") {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        let len = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '=')))
            .unwrap_or(tail.len());
        if len >= 16 {
            out.push_str("[redacted]");
        } else {
            out.push_str(&tail[..len]);
        }
        rest = &tail[len..];
    }
    out.push_str(rest);
    out
}

fn redact_bearer(text: &str) -> String {
    let mut out = text.to_owned();
    let mut from = 0;
    loop {
        let lower = out.to_ascii_lowercase();
        let Some(rel) = lower[from..].find("bearer ") else {
            break;
        };
        let start = from + rel + "bearer ".len();
        let len = out[start..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ','))
            .unwrap_or(out.len() - start);
        if len > 0 {
            out.replace_range(start..start + len, "[redacted]");
        }
        from = start + "[redacted]".len().min(out.len() - start);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_string_redacts() {
        let s = SecretString::new("hunter2-very-secret");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(s.expose_secret(), "hunter2-very-secret");
    }

    #[test]
    fn redact_url_strips_query_and_userinfo() {
        let u = "https://user:pw@outlook.office365.com/api/gbeta/Mailboxes('MBX:a@b')/importItem?authtoken=eyJSECRET#frag";
        let r = redact_url(u);
        assert!(!r.contains("eyJSECRET"), "{r}");
        assert!(!r.contains("pw"), "{r}");
        assert!(r.contains("/importItem"), "{r}");
        assert_eq!(redact_url("not a url?token=abc"), "not a url");
    }

    #[test]
    fn scrub_removes_secrets_queries_and_tokens() {
        let text =
            "failed https://x.example/api/importItem?authtoken=eyJABC&x=1 with authtoken=eyJDEF; \
                    Bearer eyJGHI and the SUPERSECRET plus {\"access_token\":\"eyJJKL\"}";
        let s = scrub(text, &["SUPERSECRET"]);
        for bad in ["eyJABC", "eyJDEF", "eyJGHI", "SUPERSECRET", "eyJJKL"] {
            assert!(!s.contains(bad), "{bad} leaked in {s}");
        }
        assert!(s.contains("https://x.example/api/importItem"), "{s}");
    }

    #[test]
    fn scrub_bounds_length() {
        let long = "a".repeat(10_000);
        assert!(scrub(&long, &[]).chars().count() <= MAX_MESSAGE_CHARS + 1);
    }
}
