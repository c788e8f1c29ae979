//! `createImportSession` and uploads to the pre-authenticated `importUrl` (no bearer token).

use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use reqwest::Method;
use url::Url;

use crate::client::{GraphClient, Req, Target};
use crate::error::{Error, Result};
use crate::json::get_str;
use crate::secret::SecretString;
use crate::types::{ImportSession, ImportedItem};

/// Assumed session lifetime when `expirationDateTime` is absent or unparseable (the real
/// lifetime is undocumented; a short guess makes callers renew early rather than late).
const FALLBACK_SESSION_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// Bound on an import response (a small JSON object).
const MAX_IMPORT_RESPONSE: u64 = 1 << 20;

impl GraphClient {
    /// `POST …/mailboxes/{id}/createImportSession` (no body; 200 or 201).
    pub async fn create_import_session(&self, mailbox: &str) -> Result<ImportSession> {
        if mailbox.is_empty() {
            return Err(Error::InvalidArgument {
                message: "mailbox id is empty".into(),
            });
        }
        let url = self.graph(&format!(
            "admin/exchange/mailboxes/{}/createImportSession",
            crate::api::seg(mailbox)
        ))?;
        let mut req = Req::graph(Method::POST, url.clone());
        req.idempotent = true; // an unused extra session is harmless
        let resp = self.execute(req).await?;
        let decode = |m: &str| Error::Decode {
            url_path: url.path().to_owned(),
            message: m.to_owned(),
        };
        let import_url = get_str(&resp.json, "importUrl").ok_or_else(|| decode("no importUrl"))?;
        match Url::parse(import_url) {
            Ok(u) if u.scheme() == "https" || u.scheme() == "http" => {}
            _ => return Err(decode("importUrl is not an http(s) URL")),
        }
        let expires_at = get_str(&resp.json, "expirationDateTime")
            .and_then(|s| DateTime::parse_from_rfc3339(s.trim()).ok())
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_else(|| {
                Utc::now()
                    + chrono::Duration::from_std(FALLBACK_SESSION_LIFETIME)
                        .unwrap_or(chrono::Duration::zero())
            });
        Ok(ImportSession {
            mailbox_id: mailbox.to_owned(),
            import_url: SecretString::new(import_url),
            expires_at,
        })
    }

    /// Uploads one item (`Mode: create`) into `folder_id` through the session's `importUrl`,
    /// without an `Authorization` header. The upload counts toward the session mailbox's limiter.
    ///
    /// Retried only when the service certainly did not apply it (429/503 honouring
    /// `Retry-After`, connect failures). After a timeout, dropped connection or 5xx the outcome is
    /// unknown and `Error::Transport`/`Error::Http` is returned: check the target (e.g. by
    /// search key) before uploading again. 401/403 → `ImportSessionExpired`;
    /// 409 → `ImportWrongMailbox`.
    pub async fn import_item(
        &self,
        session: &ImportSession,
        folder_id: &str,
        data: &[u8],
    ) -> Result<ImportedItem> {
        if folder_id.is_empty() {
            return Err(Error::InvalidArgument {
                message: "folder id is empty".into(),
            });
        }
        let url =
            Url::parse(session.import_url.expose_secret()).map_err(|_| Error::InvalidArgument {
                message: "import session URL does not parse".into(),
            })?;
        // Built by hand into one buffer: base64 needs no JSON escaping and items can be ~150 MB.
        let folder_json = serde_json::to_string(folder_id).map_err(|e| Error::InvalidArgument {
            message: format!("folder id: {e}"),
        })?;
        let b64_len = data.len().div_ceil(3) * 4;
        let mut body = Vec::with_capacity(b64_len + folder_json.len() + 48);
        body.extend_from_slice(b"{\"FolderId\":");
        body.extend_from_slice(folder_json.as_bytes());
        body.extend_from_slice(b",\"Mode\":\"create\",\"Data\":\"");
        let start = body.len();
        body.resize(start + b64_len, 0);
        let written = base64::engine::general_purpose::STANDARD
            .encode_slice(data, &mut body[start..])
            .map_err(|e| Error::InvalidArgument {
                message: format!("cannot encode item data: {e}"),
            })?;
        body.truncate(start + written);
        body.extend_from_slice(b"\"}");
        let req = Req {
            method: Method::POST,
            url,
            body: Some((Bytes::from(body), "application/json")),
            target: Target::Import,
            limiter_key: Some(session.mailbox_id.clone()),
            idempotent: false,
            max_body: MAX_IMPORT_RESPONSE,
            prefer: None,
            expect_json: true,
        };
        let resp = self.execute(req).await?;
        let item_id = get_str(&resp.json, "itemId").filter(|s| !s.is_empty());
        match item_id {
            Some(id) => Ok(ImportedItem {
                item_id: id.to_owned(),
                change_key: get_str(&resp.json, "changeKey")
                    .unwrap_or_default()
                    .to_owned(),
            }),
            None => Err(Error::Decode {
                url_path: "importItem".into(),
                message: "import response has no itemId (the item may have been created)".into(),
            }),
        }
    }
}
