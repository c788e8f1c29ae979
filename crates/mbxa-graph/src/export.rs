//! `exportItems`: batches of ≤20, results matched by `itemId`, missing ids retried one by one,
//! archive re-exports followed, per-item errors reported without failing the batch.

use std::collections::{HashMap, HashSet};

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use futures::future::BoxFuture;
use reqwest::Method;
use serde_json::{json, Value};
use url::Url;

use crate::client::{GraphClient, Req};
use crate::error::{Error, Result};
use crate::json::{get, get_str};
use crate::secret::{redact_url, scrub};
use crate::types::{ExportOutcome, ExportResult, INVALID_DATA, NOT_RETURNED};

/// Most item ids Graph accepts in one `exportItems` call.
pub const MAX_EXPORT_BATCH: usize = 20;
/// Bound on one `exportItems` response: room for one ~150 MB item (≈200 MB of base64) plus
/// slack. A multi-item batch that exceeds it is re-exported one item per call.
pub const MAX_EXPORT_RESPONSE: u64 = 320 << 20;
/// Archive re-export hops followed per item.
const MAX_REEXPORT_HOPS: u32 = 5;
/// Per-item error code of an item that lives in another (auto-expanded archive) mailbox.
pub const ARCHIVE_MOVED: &str = "ErrorArchiveFolderMovedPermanently";

/// Base64 as Graph sends it; padding is accepted but not required.
const B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

type Outcomes = HashMap<String, ExportOutcome>;

impl GraphClient {
    /// Exports items (any number: sent in batches of [`MAX_EXPORT_BATCH`]). Returns one result
    /// per input id, in input order. Per-item errors, items Graph never returned
    /// (code [`NOT_RETURNED`]) and undecodable data (code [`INVALID_DATA`]) are `Failed`
    /// outcomes; only whole-call failures (auth, throttling, transport after retries) are `Err`.
    pub async fn export_items(&self, mailbox: &str, ids: &[String]) -> Result<Vec<ExportResult>> {
        let mut unique: Vec<String> = Vec::new();
        let mut seen = HashSet::new();
        for id in ids {
            if id.is_empty() {
                return Err(Error::InvalidArgument {
                    message: "empty item id".into(),
                });
            }
            if seen.insert(id.as_str()) {
                unique.push(id.clone());
            }
        }
        let url = self.graph(&format!(
            "admin/exchange/mailboxes/{}/exportItems",
            crate::api::seg(mailbox)
        ))?;
        if mailbox.is_empty() {
            return Err(Error::InvalidArgument {
                message: "mailbox id is empty".into(),
            });
        }
        let mut outcomes: Outcomes = HashMap::new();
        for chunk in unique.chunks(MAX_EXPORT_BATCH) {
            self.export_batch(url.clone(), chunk.to_vec(), &mut outcomes, 0, true)
                .await?;
        }
        let mut out = Vec::with_capacity(ids.len());
        let mut first: HashMap<&str, usize> = HashMap::new();
        for id in ids {
            let outcome = match first.get(id.as_str()) {
                Some(&i) => out.get(i).map(|r: &ExportResult| r.outcome.clone()),
                None => outcomes.remove(id),
            }
            .unwrap_or_else(|| ExportOutcome::Failed {
                code: NOT_RETURNED.into(),
                message: "exportItems did not return this item".into(),
            });
            first.entry(id.as_str()).or_insert(out.len());
            out.push(ExportResult {
                item_id: id.clone(),
                outcome,
            });
        }
        Ok(out)
    }

    /// One POST at `url` for `ids`, then: missing ids one by one (if `retry_missing`),
    /// archive-moved ids at the URL Graph names.
    fn export_batch<'a>(
        &'a self,
        url: Url,
        ids: Vec<String>,
        outcomes: &'a mut Outcomes,
        hops: u32,
        retry_missing: bool,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let elems = match self.post_export(&url, &ids).await {
                Ok(v) => v,
                Err(
                    e
                    @ (Error::Http { .. } | Error::ResponseTooLarge { .. } | Error::Decode { .. }),
                ) if ids.len() > 1 => {
                    // One bad id (or one huge item) must not sink its batch-mates.
                    let _ = e;
                    for id in ids {
                        self.export_batch(url.clone(), vec![id], outcomes, hops, false)
                            .await?;
                    }
                    return Ok(());
                }
                Err(Error::Http {
                    code,
                    message,
                    status,
                    ..
                }) => {
                    let code = if code.is_empty() {
                        format!("HTTP{status}")
                    } else {
                        code
                    };
                    for id in ids {
                        outcomes.insert(
                            id,
                            ExportOutcome::Failed {
                                code: code.clone(),
                                message: message.clone(),
                            },
                        );
                    }
                    return Ok(());
                }
                Err(e @ (Error::ResponseTooLarge { .. } | Error::Decode { .. })) => {
                    for id in ids {
                        outcomes.insert(
                            id,
                            ExportOutcome::Failed {
                                code: INVALID_DATA.into(),
                                message: e.to_string(),
                            },
                        );
                    }
                    return Ok(());
                }
                Err(e) => return Err(e),
            };
            let requested: HashSet<&str> = ids.iter().map(String::as_str).collect();
            let mut answered: HashSet<String> = HashSet::new();
            let mut moved: HashMap<String, Vec<String>> = HashMap::new();
            for mut e in elems {
                let Some(item_id) = get_str(&e, "itemId").map(str::to_owned) else {
                    continue;
                };
                if !requested.contains(item_id.as_str()) || !answered.insert(item_id.clone()) {
                    continue; // unasked-for or duplicate entries are ignored
                }
                match element_outcome(&mut e) {
                    Elem::Moved(target) => moved.entry(target).or_default().push(item_id),
                    Elem::Done(o) => {
                        outcomes.insert(item_id, o);
                    }
                }
            }
            let missing: Vec<String> = ids
                .iter()
                .filter(|i| !answered.contains(*i))
                .cloned()
                .collect();
            for id in missing {
                if retry_missing {
                    self.export_batch(url.clone(), vec![id], outcomes, hops, false)
                        .await?;
                } else {
                    outcomes.insert(
                        id,
                        ExportOutcome::Failed {
                            code: NOT_RETURNED.into(),
                            message: "exportItems did not return this item, even alone".into(),
                        },
                    );
                }
            }
            for (target, moved_ids) in moved {
                let next = if hops + 1 > MAX_REEXPORT_HOPS {
                    Err(format!(
                        "more than {MAX_REEXPORT_HOPS} archive re-export hops"
                    ))
                } else {
                    match self.trusted(target.trim()) {
                        Ok(u) if u.path().to_ascii_lowercase().ends_with("/exportitems") => Ok(u),
                        Ok(_) => Err(format!(
                            "re-export URL is not an exportItems URL: {}",
                            redact_url(target.trim())
                        )),
                        Err(e) => Err(e.to_string()),
                    }
                };
                match next {
                    Ok(u) => {
                        self.export_batch(u, moved_ids, outcomes, hops + 1, true)
                            .await?;
                    }
                    Err(message) => {
                        for id in moved_ids {
                            outcomes.insert(
                                id,
                                ExportOutcome::Failed {
                                    code: ARCHIVE_MOVED.into(),
                                    message: message.clone(),
                                },
                            );
                        }
                    }
                }
            }
            Ok(())
        })
    }

    async fn post_export(&self, url: &Url, ids: &[String]) -> Result<Vec<Value>> {
        let mut req = Req::graph(Method::POST, url.clone()).json_body(&json!({ "itemIds": ids }));
        req.idempotent = true; // exporting is a read
        req.max_body = MAX_EXPORT_RESPONSE;
        let mut resp = self.execute(req).await?;
        let path = resp.url.path().to_owned();
        resp.raw = bytes::Bytes::new(); // the parsed copy is enough; free the raw body early
        let value = match &mut resp.json {
            Value::Object(map) => {
                let key = map
                    .keys()
                    .find(|k| k.eq_ignore_ascii_case("value"))
                    .cloned();
                key.and_then(|k| map.remove(&k))
            }
            _ => None,
        };
        match value {
            Some(Value::Array(a)) => Ok(a),
            _ => Err(Error::Decode {
                url_path: path,
                message: "exportItems response has no `value` array".into(),
            }),
        }
    }
}

enum Elem {
    Done(ExportOutcome),
    Moved(String),
}

/// The outcome of one `exportItemResponse` (takes `data` out of `e` to avoid a copy).
fn element_outcome(e: &mut Value) -> Elem {
    if let Some(err) = get(e, "error").filter(|v| !v.is_null()) {
        let code = get_str(err, "code").unwrap_or_default().to_owned();
        let raw_message = get_str(err, "message").unwrap_or_default().to_owned();
        if code.eq_ignore_ascii_case(ARCHIVE_MOVED) {
            return Elem::Moved(raw_message);
        }
        return Elem::Done(ExportOutcome::Failed {
            code: if code.is_empty() {
                "ExportError".into()
            } else {
                code
            },
            message: scrub(&raw_message, &[]),
        });
    }
    let change_key = get_str(e, "changeKey").unwrap_or_default().to_owned();
    let data = match e {
        Value::Object(map) => {
            let key = map.keys().find(|k| k.eq_ignore_ascii_case("data")).cloned();
            key.and_then(|k| map.remove(&k))
        }
        _ => None,
    };
    match data {
        Some(Value::String(s)) => match B64.decode(s.as_bytes()) {
            Ok(data) => Elem::Done(ExportOutcome::Data { change_key, data }),
            Err(err) => Elem::Done(ExportOutcome::Failed {
                code: INVALID_DATA.into(),
                message: format!("`data` is not base64: {err}"),
            }),
        },
        _ => Elem::Done(ExportOutcome::Failed {
            code: INVALID_DATA.into(),
            message: "export result has neither `data` nor `error`".into(),
        }),
    }
}
