//! The Entra ID token endpoint (client credentials: secret or RS256 client assertion) and
//! bearer-token checks.

use base64::Engine;
use serde::Deserialize;
use serde_json::json;
use sha1::{Digest, Sha1};

use crate::model::{AccessToken, CertKey, State};

/// `client_assertion_type` for certificate credentials.
pub(crate) const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// An Entra ID error answer: status and the AAD body.
pub(crate) struct AadError {
    pub status: u16,
    pub body: serde_json::Value,
}

fn aad(status: u16, error: &str, code: u32, text: &str, now_ms: i64) -> AadError {
    AadError {
        status,
        body: json!({
            "error": error,
            "error_description": format!("AADSTS{code}: {text} Trace ID: 00000000-0000-0000-0000-000000000000 Correlation ID: 00000000-0000-0000-0000-000000000000 Timestamp: {}", crate::model::rfc3339(now_ms)),
            "error_codes": [code],
            "timestamp": crate::model::rfc3339(now_ms).replace('T', " ").replace('Z', ""),
            "trace_id": "00000000-0000-0000-0000-000000000000",
            "correlation_id": "00000000-0000-0000-0000-000000000000",
        }),
    }
}

/// Extracts the SHA-1 thumbprint (`x5t`, base64url) and the PKCS#1 RSA public key of a PEM
/// certificate (walking the DER: Certificate → tbsCertificate → subjectPublicKeyInfo).
pub(crate) fn cert_key(pem_text: &str) -> Result<CertKey, String> {
    let blocks = pem::parse_many(pem_text.as_bytes()).map_err(|e| e.to_string())?;
    let cert = blocks
        .iter()
        .find(|b| b.tag() == "CERTIFICATE")
        .ok_or("no CERTIFICATE block")?;
    let der = cert.contents();
    let x5t = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha1::digest(der));
    let x5t_s256 =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(der));
    let (cert_body, _) = der_seq(der).ok_or("certificate is not a DER sequence")?;
    let (tbs, _) = der_seq(cert_body).ok_or("no tbsCertificate")?;
    let mut rest = tbs;
    // Optional [0] version, then serial, signature alg, issuer, validity, subject, SPKI.
    let (tag, _, after) = der_tlv(rest).ok_or("empty tbsCertificate")?;
    if tag == 0xA0 {
        rest = after;
    }
    for _ in 0..5 {
        let (_, _, after) = der_tlv(rest).ok_or("truncated tbsCertificate")?;
        rest = after;
    }
    let (spki, _) = der_seq(rest).ok_or("no subjectPublicKeyInfo")?;
    let (_, _, after_alg) = der_tlv(spki).ok_or("no algorithm")?;
    let (tag, bits, _) = der_tlv(after_alg).ok_or("no public key")?;
    if tag != 0x03 || bits.first() != Some(&0) {
        return Err("public key is not a BIT STRING".into());
    }
    Ok(CertKey {
        x5t,
        x5t_s256,
        pkcs1: bits[1..].to_vec(),
    })
}

/// (tag, content, rest) of one DER element; bounded by the input.
fn der_tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *b.first()?;
    let l0 = *b.get(1)? as usize;
    let (len, hdr) = if l0 < 0x80 {
        (l0, 2)
    } else {
        let n = l0 & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *b.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let end = hdr.checked_add(len)?;
    if end > b.len() {
        return None;
    }
    Some((tag, &b[hdr..end], &b[end..]))
}

fn der_seq(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let (tag, c, rest) = der_tlv(b)?;
    (tag == 0x30).then_some((c, rest))
}

#[derive(Deserialize)]
struct AssertionClaims {
    aud: serde_json::Value,
    iss: Option<String>,
    sub: Option<String>,
    exp: Option<i64>,
    nbf: Option<i64>,
}

/// Handles `POST /{tenant}/oauth2/v2.0/token`: returns the token JSON or an AAD error.
///
/// `endpoint_urls` are the audiences accepted in a client assertion.
#[allow(clippy::too_many_arguments)]
pub(crate) fn token(
    state: &mut State,
    tenant_key: &str,
    form: &[(String, String)],
    basic: Option<(String, String)>,
    endpoint_urls: &[String],
    now_ms: i64,
    lifetime_secs: u64,
) -> Result<serde_json::Value, AadError> {
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let Some(ti) = state.tenants.iter().position(|t| {
        t.tenant_id.eq_ignore_ascii_case(tenant_key) || t.domain.eq_ignore_ascii_case(tenant_key)
    }) else {
        return Err(aad(
            400,
            "invalid_request",
            90002,
            &format!("Tenant '{tenant_key}' not found."),
            now_ms,
        ));
    };
    if get("grant_type") != Some("client_credentials") {
        return Err(aad(
            400,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.",
            now_ms,
        ));
    }
    let (basic_id, basic_secret) = match basic {
        Some((i, s)) => (Some(i), Some(s)),
        None => (None, None),
    };
    let client_id = get("client_id").map(str::to_string).or(basic_id);
    let Some(client_id) = client_id else {
        return Err(aad(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
            now_ms,
        ));
    };
    let tenant = &state.tenants[ti];
    if !tenant.client_id.eq_ignore_ascii_case(&client_id) {
        return Err(aad(
            400,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{client_id}' was not found in the directory '{}'.",
                tenant.tenant_id
            ),
            now_ms,
        ));
    }
    match get("scope") {
        Some(s) if s.ends_with("/.default") && !s.contains(' ') => {}
        _ => {
            return Err(aad(
                400,
                "invalid_scope",
                1002012,
                "The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).",
                now_ms,
            ))
        }
    }
    let secret = get("client_secret").map(str::to_string).or(basic_secret);
    if let Some(secret) = secret {
        if secret != tenant.client_secret {
            return Err(aad(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app.",
                now_ms,
            ));
        }
    } else if let Some(assertion) = get("client_assertion") {
        if get("client_assertion_type") != Some(ASSERTION_TYPE) {
            return Err(aad(
                400,
                "invalid_request",
                700023,
                "Client assertion type is missing or invalid.",
                now_ms,
            ));
        }
        check_assertion(tenant, &client_id, assertion, endpoint_urls, now_ms)?;
    } else {
        return Err(aad(
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            now_ms,
        ));
    }
    let tenant_client = tenant.client_id.clone();
    let access = format!("eyJ0eXAiOiJKV1QiLCJlbXUiOnRydWV9.{}", state.secret_token());
    state.tokens.insert(
        access.clone(),
        AccessToken {
            tenant: ti,
            client_id: tenant_client,
            expires_ms: now_ms + lifetime_secs as i64 * 1000,
        },
    );
    // Forget long-expired tokens so a long-running emulator does not grow without bound.
    state
        .tokens
        .retain(|_, t| t.expires_ms > now_ms - 3_600_000);
    Ok(json!({
        "token_type": "Bearer",
        "expires_in": lifetime_secs,
        "ext_expires_in": lifetime_secs,
        "access_token": access,
    }))
}

fn check_assertion(
    tenant: &crate::model::Tenant,
    client_id: &str,
    assertion: &str,
    endpoint_urls: &[String],
    now_ms: i64,
) -> Result<(), AadError> {
    let bad = |code: u32, text: &str| aad(401, "invalid_client", code, text, now_ms);
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|_| bad(50027, "JWT token is invalid or malformed."))?;
    if header.alg != jsonwebtoken::Algorithm::RS256 {
        return Err(bad(
            5002738,
            "Invalid JWT token. Unsupported key for the signing algorithm.",
        ));
    }
    let key = match (header.x5t.as_deref(), header.x5t_s256.as_deref()) {
        (Some(t), _) => tenant.certs.iter().find(|c| c.x5t == t),
        (None, Some(t)) => tenant.certs.iter().find(|c| c.x5t_s256 == t),
        (None, None) => return Err(bad(
            700027,
            "Client assertion contains an invalid signature. [Reason - The key used is not found.]",
        )),
    };
    let Some(key) = key else {
        let x5t = header.x5t.or(header.x5t_s256).unwrap_or_default();
        return Err(bad(700027, &format!("Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of key used by client: '{x5t}']")));
    };
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.validate_exp = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<AssertionClaims>(
        assertion,
        &jsonwebtoken::DecodingKey::from_rsa_der(&key.pkcs1),
        &v,
    )
    .map_err(|_| bad(700027, "Client assertion contains an invalid signature."))?;
    let c = data.claims;
    let auds: Vec<String> = match &c.aud {
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Array(a) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => vec![],
    };
    if !auds.iter().any(|a| endpoint_urls.iter().any(|e| e == a)) {
        return Err(bad(
            700212,
            "No matching federated identity record found for presented assertion audience.",
        ));
    }
    if c.iss.as_deref() != Some(client_id) || c.sub.as_deref() != Some(client_id) {
        return Err(bad(
            700021,
            "Client assertion application identifier doesn't match 'client_id' parameter.",
        ));
    }
    let now = now_ms / 1000;
    match c.exp {
        Some(exp) if exp > now => {}
        _ => {
            return Err(bad(
                700024,
                "Client assertion is not within its valid time range.",
            ))
        }
    }
    if c.nbf.is_some_and(|nbf| nbf > now + 300) {
        return Err(bad(
            700024,
            "Client assertion is not within its valid time range.",
        ));
    }
    Ok(())
}

/// Why a bearer token was refused (all answer 401 `InvalidAuthenticationToken`).
pub(crate) enum BearerError {
    Missing,
    Invalid,
    Expired,
}

/// Looks up `Authorization: Bearer …`.
pub(crate) fn bearer(
    state: &State,
    header: Option<&str>,
    now_ms: i64,
) -> Result<AccessToken, BearerError> {
    let h = header.ok_or(BearerError::Missing)?;
    let (scheme, tok) = h.split_once(' ').ok_or(BearerError::Invalid)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(BearerError::Invalid);
    }
    let t = state.tokens.get(tok.trim()).ok_or(BearerError::Invalid)?;
    if t.expires_ms <= now_ms {
        return Err(BearerError::Expired);
    }
    Ok(t.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_walker_is_bounded() {
        assert!(der_tlv(&[0x30, 0x85, 1, 1, 1, 1, 1]).is_none());
        assert!(der_tlv(&[0x30, 0x05, 1]).is_none());
        assert!(cert_key("not pem").is_err());
        let junk = "-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n";
        assert!(cert_key(junk).is_err());
    }
}
