//! Client-credentials auth: client secret or RS256 JWT client assertion signed with a certificate's key.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use sha1::{Digest, Sha1};

use crate::config::{ClientAuth, GRAPH_SCOPE};
use crate::error::{Error, Result};
use crate::secret::SecretString;

/// Lifetime of a client assertion (Microsoft accepts up to 10 minutes of validity).
const ASSERTION_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// A credential ready to use: the PEM is parsed once, at client construction.
pub(crate) enum Credential {
    Secret(SecretString),
    Certificate { key: EncodingKey, x5t: String },
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Secret(_) => f.write_str("Credential::Secret([redacted])"),
            Credential::Certificate { x5t, .. } => {
                write!(
                    f,
                    "Credential::Certificate {{ x5t: {x5t}, key: [redacted] }}"
                )
            }
        }
    }
}

impl Credential {
    pub(crate) fn prepare(auth: &ClientAuth) -> Result<Credential> {
        match auth {
            ClientAuth::Secret(s) => {
                if s.is_empty() {
                    return Err(Error::Credentials {
                        message: "the client secret is empty".into(),
                    });
                }
                Ok(Credential::Secret(s.clone()))
            }
            ClientAuth::Certificate { pem } => prepare_certificate(pem.expose_secret()),
        }
    }

    /// The secret text, for scrubbing error messages from the token endpoint.
    pub(crate) fn secret_text(&self) -> Option<&str> {
        match self {
            Credential::Secret(s) => Some(s.expose_secret()),
            Credential::Certificate { .. } => None,
        }
    }
}

fn prepare_certificate(pem_text: &str) -> Result<Credential> {
    let blocks = pem::parse_many(pem_text.as_bytes()).map_err(|e| Error::Credentials {
        message: format!("client certificate PEM does not parse: {e}"),
    })?;
    let cert = blocks
        .iter()
        .find(|b| b.tag() == "CERTIFICATE")
        .ok_or_else(|| Error::Credentials {
            message: "client certificate PEM has no CERTIFICATE block".into(),
        })?;
    let key_block = blocks
        .iter()
        .find(|b| b.tag() == "PRIVATE KEY" || b.tag() == "RSA PRIVATE KEY")
        .ok_or_else(|| Error::Credentials {
            message: "client certificate PEM has no (unencrypted RSA) PRIVATE KEY block".into(),
        })?;
    // jsonwebtoken wants exactly one PEM block; re-encode the key alone.
    let key_pem = pem::encode(key_block);
    let key = EncodingKey::from_rsa_pem(key_pem.as_bytes()).map_err(|e| Error::Credentials {
        message: format!("private key is not a usable RSA key: {e}"),
    })?;
    Ok(Credential::Certificate {
        key,
        x5t: x5t_of_der(cert.contents()),
    })
}

/// `x5t`: base64url (unpadded) SHA-1 of the certificate's DER bytes.
pub fn x5t_of_der(der: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha1::digest(der))
}

#[derive(Serialize)]
struct AssertionClaims<'a> {
    aud: &'a str,
    iss: &'a str,
    sub: &'a str,
    jti: String,
    nbf: u64,
    iat: u64,
    exp: u64,
}

/// A signed RS256 client assertion for `client_id` at `token_url`.
pub(crate) fn client_assertion(
    key: &EncodingKey,
    x5t: &str,
    client_id: &str,
    token_url: &str,
) -> Result<String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let mut header = Header::new(Algorithm::RS256);
    header.x5t = Some(x5t.to_owned());
    let jti_bytes: [u8; 16] = rand::random();
    let claims = AssertionClaims {
        aud: token_url,
        iss: client_id,
        sub: client_id,
        jti: hex_lower(&jti_bytes),
        nbf: now,
        iat: now,
        exp: now + ASSERTION_LIFETIME.as_secs(),
    };
    jsonwebtoken::encode(&header, &claims, key).map_err(|e| Error::Credentials {
        message: format!("cannot sign the client assertion: {e}"),
    })
}

fn hex_lower(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The form body of a token request (it contains the secret: never log it).
pub(crate) fn token_request_body(
    cred: &Credential,
    client_id: &str,
    token_url: &str,
) -> Result<SecretString> {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    ser.append_pair("client_id", client_id);
    ser.append_pair("scope", GRAPH_SCOPE);
    ser.append_pair("grant_type", "client_credentials");
    match cred {
        Credential::Secret(s) => {
            ser.append_pair("client_secret", s.expose_secret());
        }
        Credential::Certificate { key, x5t } => {
            let jwt = client_assertion(key, x5t, client_id, token_url)?;
            ser.append_pair(
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            );
            ser.append_pair("client_assertion", &jwt);
        }
    }
    Ok(SecretString::new(ser.finish()))
}

/// A cached access token and when to stop using it.
pub(crate) struct CachedToken {
    pub(crate) token: SecretString,
    pub(crate) refresh_at: Instant,
    pub(crate) generation: u64,
}

/// When to refresh a token that lives `lifetime`: 5 minutes early, or a quarter early for short
/// lifetimes (test emulators hand out tokens of seconds).
pub(crate) fn refresh_margin(lifetime: Duration) -> Duration {
    (lifetime / 4).min(Duration::from_secs(300))
}

/// Parses a token response: `(access_token, lifetime)`.
pub(crate) fn parse_token_response(body: &[u8]) -> Option<(SecretString, Duration)> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let token = crate::json::get_str(&v, "access_token")?;
    if token.is_empty() {
        return None;
    }
    let secs = crate::json::get_u64(&v, "expires_in")
        .unwrap_or(3599)
        .min(86_400 * 7);
    Some((SecretString::new(token), Duration::from_secs(secs)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margin_is_bounded() {
        assert_eq!(
            refresh_margin(Duration::from_secs(3599)),
            Duration::from_secs(300)
        );
        assert_eq!(
            refresh_margin(Duration::from_secs(8)),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn bad_pem_is_a_credentials_error_without_the_text() {
        let secret_pem =
            "-----BEGIN PRIVATE KEY-----\nU0VDUkVUU0VDUkVU\n-----END PRIVATE KEY-----\n";
        let err = Credential::prepare(&ClientAuth::Certificate {
            pem: SecretString::new(secret_pem),
        })
        .unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(matches!(err, Error::Credentials { .. }));
        assert!(!shown.contains("U0VDUkVU"), "{shown}");
    }

    #[test]
    fn token_response_parsing() {
        let (t, d) = parse_token_response(
            br#"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ"}"#,
        )
        .unwrap();
        assert_eq!(t.expose_secret(), "eyJ");
        assert_eq!(d, Duration::from_secs(3599));
        assert!(parse_token_response(br#"{"expires_in":1}"#).is_none());
    }
}
