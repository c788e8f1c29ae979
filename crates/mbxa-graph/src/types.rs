//! Public data types returned by the client, and their lenient parsing from Graph JSON.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::json::{get, get_str, get_u64};
use crate::secret::SecretString;

/// A user's mailbox ids (`GET /users/{id}/settings/exchange`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExchangeSettings {
    /// `primaryMailboxId`.
    pub primary_mailbox_id: String,
    /// `inPlaceArchiveMailboxId` (beta only), `None` when absent or empty.
    pub archive_mailbox_id: Option<String>,
}

/// A `mailboxFolder`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MailboxFolder {
    /// `id`.
    pub id: String,
    /// `parentFolderId` (`None` when absent, null or empty).
    pub parent_folder_id: Option<String>,
    /// `displayName`.
    pub display_name: String,
    /// `type`, the folder class, e.g. `IPF.Note`.
    pub folder_type: String,
    /// `wellKnownName`, e.g. `inbox`; `None` for user folders.
    pub well_known_name: Option<String>,
    /// `totalItemCount`; `None` when the answer did not carry it (delta pages may not).
    pub total_item_count: Option<u64>,
    /// `childFolderCount`.
    pub child_folder_count: u64,
}

/// A `mailboxItem` (metadata only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MailboxItem {
    /// `id`.
    pub id: String,
    /// `changeKey` (falls back to the `@odata.etag` value).
    pub change_key: String,
    /// `createdDateTime` as given.
    pub created: String,
    /// `lastModifiedDateTime` as given.
    pub last_modified: String,
    /// `size` in bytes.
    pub size: u64,
    /// `type`, the message class, e.g. `IPM.Note`.
    pub item_type: String,
}

/// The result of following a delta query to its end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delta<T> {
    /// Entries new or changed since the previous delta link (everything for an initial sync).
    pub changed: Vec<T>,
    /// Ids reported with `@removed`.
    pub removed: Vec<String>,
    /// The `@odata.deltaLink` to pass next time.
    pub delta_link: String,
}

/// One page of a listing or delta query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    /// Entries on this page.
    pub items: Vec<T>,
    /// Ids reported with `@removed` on this page (delta only).
    pub removed: Vec<String>,
    /// Set on the last page of a delta query.
    pub delta_link: Option<String>,
}

/// What exporting one item produced.
#[derive(Clone, PartialEq, Eq)]
pub enum ExportOutcome {
    /// The item's opaque FastTransfer stream (base64-decoded `data`).
    Data {
        /// `changeKey` of the exported version.
        change_key: String,
        /// The exact bytes.
        data: Vec<u8>,
    },
    /// Graph reported an error for this item, or never returned it (`code` = `NotReturned`).
    Failed {
        /// Error code, e.g. `ErrorItemNotFound`.
        code: String,
        /// Scrubbed message.
        message: String,
    },
}

impl std::fmt::Debug for ExportOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExportOutcome::Data { change_key, data } => f
                .debug_struct("Data")
                .field("change_key", change_key)
                .field("len", &data.len())
                .finish(),
            ExportOutcome::Failed { code, message } => f
                .debug_struct("Failed")
                .field("code", code)
                .field("message", message)
                .finish(),
        }
    }
}

/// One exported item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportResult {
    /// The requested item id.
    pub item_id: String,
    /// Data or per-item failure.
    pub outcome: ExportOutcome,
}

/// Per-item failure code used when Graph silently left an item out of the response.
pub const NOT_RETURNED: &str = "NotReturned";
/// Per-item failure code used when `data` was not valid base64.
pub const INVALID_DATA: &str = "InvalidExportData";

/// An import session: the pre-authenticated `importUrl` (a secret) and when it expires.
#[derive(Clone)]
pub struct ImportSession {
    pub(crate) mailbox_id: String,
    pub(crate) import_url: SecretString,
    pub(crate) expires_at: DateTime<Utc>,
}

impl ImportSession {
    /// When the session's URL stops working (`expirationDateTime`).
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.expires_at
    }

    /// The mailbox the session was created for (imports count toward its limiter).
    pub fn mailbox_id(&self) -> &str {
        &self.mailbox_id
    }

    /// True when fewer than `margin` remain before expiry: recreate the session before using it.
    pub fn expires_within(&self, margin: std::time::Duration) -> bool {
        let margin = chrono::Duration::from_std(margin).unwrap_or(chrono::Duration::MAX);
        Utc::now() + margin >= self.expires_at
    }
}

impl std::fmt::Debug for ImportSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportSession")
            .field("mailbox_id", &self.mailbox_id)
            .field("import_url", &self.import_url)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// The item created by an import.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ImportedItem {
    /// New item id in the target mailbox.
    pub item_id: String,
    /// Its changeKey.
    pub change_key: String,
}

/// `disposalType` of an item delete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DisposalType {
    /// Move to Recoverable Items (`softDelete`).
    SoftDelete,
    /// Purge (`hardDelete`); 403 for protected items.
    HardDelete,
}

impl DisposalType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DisposalType::SoftDelete => "softDelete",
            DisposalType::HardDelete => "hardDelete",
        }
    }
}

fn opt_string(v: &Value, key: &str) -> Option<String> {
    get_str(v, key).filter(|s| !s.is_empty()).map(str::to_owned)
}

pub(crate) fn parse_settings(v: &Value) -> Option<ExchangeSettings> {
    Some(ExchangeSettings {
        primary_mailbox_id: opt_string(v, "primaryMailboxId")?,
        archive_mailbox_id: opt_string(v, "inPlaceArchiveMailboxId"),
    })
}

pub(crate) fn parse_folder(v: &Value) -> Option<MailboxFolder> {
    Some(MailboxFolder {
        id: opt_string(v, "id")?,
        parent_folder_id: opt_string(v, "parentFolderId"),
        display_name: get_str(v, "displayName").unwrap_or_default().to_owned(),
        folder_type: get_str(v, "type").unwrap_or_default().to_owned(),
        well_known_name: opt_string(v, "wellKnownName"),
        // Absent (delta pages may carry only a few properties) is not "empty".
        total_item_count: get_u64(v, "totalItemCount"),
        child_folder_count: get_u64(v, "childFolderCount").unwrap_or(0),
    })
}

pub(crate) fn parse_item(v: &Value) -> Option<MailboxItem> {
    let change_key = opt_string(v, "changeKey").or_else(|| {
        get_str(v, "@odata.etag").map(|e| e.trim_start_matches("W/").trim_matches('"').to_owned())
    });
    Some(MailboxItem {
        id: opt_string(v, "id")?,
        change_key: change_key.unwrap_or_default(),
        created: get_str(v, "createdDateTime").unwrap_or_default().to_owned(),
        last_modified: get_str(v, "lastModifiedDateTime")
            .unwrap_or_default()
            .to_owned(),
        size: get_u64(v, "size").unwrap_or(0),
        item_type: get_str(v, "type").unwrap_or_default().to_owned(),
    })
}

/// `@removed` entries carry just the id.
pub(crate) fn removed_id(v: &Value) -> Option<Option<String>> {
    get(v, "@removed")?;
    Some(opt_string(v, "id"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_from_doc_example() {
        let v: Value = serde_json::from_str(r##"{"@odata.type":"#microsoft.graph.mailboxFolder","id":"EDSVrdi3lRAACgfQBAAA=","displayName":"Archive",
   "parentFolderId":"NJWt2LeVEAAAIBCAAAAA==","parentMailboxUrl":"https://graph.microsoft.com/beta/admin/exchange/mailboxes/MBX:e0643f21@a7809c93",
   "childFolderCount":0,"totalItemCount":2,"wellKnownName":"archive","type":"IPF.Note"}"##).unwrap();
        let f = parse_folder(&v).unwrap();
        assert_eq!(f.id, "EDSVrdi3lRAACgfQBAAA=");
        assert_eq!(
            f.parent_folder_id.as_deref(),
            Some("NJWt2LeVEAAAIBCAAAAA==")
        );
        assert_eq!(f.well_known_name.as_deref(), Some("archive"));
        assert_eq!((f.total_item_count, f.child_folder_count), (Some(2), 0));
        assert_eq!(f.folder_type, "IPF.Note");
        let v: Value = serde_json::json!({"id":"x","wellKnownName":null,"parentFolderId":""});
        let f = parse_folder(&v).unwrap();
        assert_eq!((f.well_known_name, f.parent_folder_id), (None, None));
        assert_eq!(
            f.total_item_count, None,
            "absent count is unknown, not zero"
        );
        assert!(parse_folder(&serde_json::json!({"displayName":"no id"})).is_none());
    }

    #[test]
    fn item_change_key_falls_back_to_etag() {
        let v = serde_json::json!({"id":"i","@odata.etag":"W/\"CQAAAB\"","size":"12","type":"IPM.Note"});
        let i = parse_item(&v).unwrap();
        assert_eq!(i.change_key, "CQAAAB");
        assert_eq!(i.size, 12);
    }

    #[test]
    fn import_session_debug_redacts_url() {
        let s = ImportSession {
            mailbox_id: "MBX:a@b".into(),
            import_url: SecretString::new("https://o/importItem?authtoken=eyJSECRET"),
            expires_at: Utc::now(),
        };
        let d = format!("{s:?}");
        assert!(!d.contains("eyJSECRET") && !d.contains("importItem"), "{d}");
        assert!(s.expires_within(std::time::Duration::from_secs(1)));
    }
}
