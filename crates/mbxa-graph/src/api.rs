//! The Graph endpoints: settings, folders, items, delta, paging, folder/item writes, search keys.

use std::collections::{HashMap, HashSet, VecDeque};

use base64::Engine;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::Method;
use serde_json::{json, Value};
use url::Url;

use crate::client::{GraphClient, Req};
use crate::error::{Error, Result};
use crate::json::{get, get_str};
use crate::secret::url_path;
use crate::types::{
    parse_folder, parse_item, parse_settings, removed_id, Delta, DisposalType, ExchangeSettings,
    MailboxFolder, MailboxItem, Page,
};

/// Characters escaped in a path segment: everything but unreserved characters and the
/// sub-delimiters ids are known to contain (`:`, `@`, `=`), so `MBX:a@b` and `AAMk…AAA=` stay
/// readable while `/`, `+`, `?`, `#`, `%` and spaces are escaped.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b':')
    .remove(b'@')
    .remove(b'=');

/// Characters escaped in a query value (`$` is kept: OData option names start with it).
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'$');

/// Page size asked for with `$top` on listings and `Prefer: odata.maxpagesize` on delta.
pub(crate) const PAGE_SIZE: u32 = 1000;
/// Bound on the number of pages followed in one enumeration (a server looping nextLinks).
const MAX_PAGES: usize = 1_000_000;
/// Bound on folders gathered in one tree walk.
const MAX_FOLDERS: usize = 1_000_000;

/// Escapes one path segment.
pub(crate) fn seg(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

fn q(s: &str) -> String {
    utf8_percent_encode(s, QUERY).to_string()
}

fn nonempty<'a>(what: &str, s: &'a str) -> Result<&'a str> {
    if s.is_empty() {
        return Err(Error::InvalidArgument {
            message: format!("{what} is empty"),
        });
    }
    Ok(s)
}

fn mailbox_path(mailbox: &str) -> Result<String> {
    Ok(format!(
        "admin/exchange/mailboxes/{}",
        seg(nonempty("mailbox id", mailbox)?)
    ))
}

fn decode_err(url: &Url, message: impl Into<String>) -> Error {
    Error::Decode {
        url_path: url_path(url),
        message: message.into(),
    }
}

/// Which kind of entries a [`Pager`] yields.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Folder,
    Item,
}

/// Follows `@odata.nextLink` page by page, so a huge folder need not be held at once.
///
/// Obtained from [`GraphClient::folders_delta_pages`], [`GraphClient::items_delta_pages`],
/// [`GraphClient::list_items_pages`] and friends. Each `next_page` is one request (with retries).
pub struct Pager<T> {
    client: GraphClient,
    next: Option<Url>,
    prefer: Option<String>,
    delta: bool,
    pages: usize,
    parse: fn(&Value) -> Option<T>,
    kind: Kind,
}

impl<T> std::fmt::Debug for Pager<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pager")
            .field("kind", &self.kind)
            .field("delta", &self.delta)
            .field("pages", &self.pages)
            .field("done", &self.next.is_none())
            .finish()
    }
}

impl<T: Send + 'static> Pager<T> {
    /// The next page, or `None` after the last one. On a delta query the last page carries
    /// `delta_link`; a delta enumeration that ends without one is a `Decode` error.
    pub async fn next_page(&mut self) -> Result<Option<Page<T>>> {
        let Some(url) = self.next.take() else {
            return Ok(None);
        };
        self.pages += 1;
        if self.pages > MAX_PAGES {
            return Err(decode_err(&url, "too many pages (nextLink loop?)"));
        }
        let mut req = Req::graph(Method::GET, url.clone());
        req.prefer = self.prefer.clone();
        let resp = self.client.execute(req).await?;
        let v = &resp.json;
        let values = get(v, "value")
            .and_then(Value::as_array)
            .ok_or_else(|| decode_err(&url, "no `value` array"))?;
        let mut items = Vec::with_capacity(values.len());
        let mut removed = Vec::new();
        for e in values {
            if self.delta {
                if let Some(id) = removed_id(e) {
                    removed.push(id.ok_or_else(|| decode_err(&url, "@removed entry without id"))?);
                    continue;
                }
            }
            let kind = self.kind;
            items.push(
                (self.parse)(e)
                    .ok_or_else(|| decode_err(&url, format!("{kind:?} entry without id")))?,
            );
        }
        let next_link = get_str(v, "@odata.nextLink");
        let delta_link = get_str(v, "@odata.deltaLink").map(str::to_owned);
        if let Some(link) = next_link {
            self.next = Some(self.client.trusted(link)?);
        } else if self.delta && delta_link.is_none() {
            return Err(decode_err(
                &url,
                "delta page has neither @odata.nextLink nor @odata.deltaLink",
            ));
        }
        Ok(Some(Page {
            items,
            removed,
            delta_link: if self.next.is_none() {
                delta_link
            } else {
                None
            },
        }))
    }

    /// The pages as a `Stream`.
    pub fn into_stream(self) -> impl futures::Stream<Item = Result<Page<T>>> + Send {
        futures::stream::try_unfold(self, |mut p| async move {
            Ok(p.next_page().await?.map(|page| (page, p)))
        })
    }

    /// Follows every page and gathers the result.
    pub async fn collect_delta(mut self) -> Result<Delta<T>> {
        let mut changed = Vec::new();
        let mut removed = Vec::new();
        let mut delta_link = None;
        while let Some(page) = self.next_page().await? {
            changed.extend(page.items);
            removed.extend(page.removed);
            if page.delta_link.is_some() {
                delta_link = page.delta_link;
            }
        }
        Ok(Delta {
            changed,
            removed,
            delta_link: delta_link.unwrap_or_default(),
        })
    }

    /// Follows every page and returns all entries.
    pub async fn collect_all(mut self) -> Result<Vec<T>> {
        let mut all = Vec::new();
        while let Some(page) = self.next_page().await? {
            all.extend(page.items);
        }
        Ok(all)
    }
}

impl GraphClient {
    fn pager<T>(
        &self,
        start: Url,
        delta: bool,
        parse: fn(&Value) -> Option<T>,
        kind: Kind,
    ) -> Pager<T> {
        Pager {
            client: self.clone(),
            next: Some(start),
            prefer: delta.then(|| format!("odata.maxpagesize={PAGE_SIZE}")),
            delta,
            pages: 0,
            parse,
            kind,
        }
    }

    /// `GET /users/{user}/settings/exchange`: the user's primary and archive mailbox ids.
    pub async fn exchange_settings(&self, user: &str) -> Result<ExchangeSettings> {
        let url = self.graph(&format!(
            "users/{}/settings/exchange",
            seg(nonempty("user", user)?)
        ))?;
        let resp = self.execute(Req::graph(Method::GET, url.clone())).await?;
        parse_settings(&resp.json).ok_or_else(|| decode_err(&url, "no primaryMailboxId"))
    }

    /// `GET …/folders/{id}`.
    pub async fn get_folder(&self, mailbox: &str, folder_id: &str) -> Result<MailboxFolder> {
        let url = self.graph(&format!(
            "{}/folders/{}",
            mailbox_path(mailbox)?,
            seg(nonempty("folder id", folder_id)?)
        ))?;
        let resp = self.execute(Req::graph(Method::GET, url.clone())).await?;
        parse_folder(&resp.json).ok_or_else(|| decode_err(&url, "folder without id"))
    }

    /// Pages of `GET …/folders` (top level, or whatever the service returns).
    pub fn list_folders_pages(&self, mailbox: &str) -> Result<Pager<MailboxFolder>> {
        let url = self.graph(&format!(
            "{}/folders?$top={PAGE_SIZE}",
            mailbox_path(mailbox)?
        ))?;
        Ok(self.pager(url, false, parse_folder, Kind::Folder))
    }

    /// Pages of `GET …/folders/{id}/childFolders`.
    pub fn child_folders_pages(
        &self,
        mailbox: &str,
        folder_id: &str,
    ) -> Result<Pager<MailboxFolder>> {
        let url = self.graph(&format!(
            "{}/folders/{}/childFolders?$top={PAGE_SIZE}",
            mailbox_path(mailbox)?,
            seg(nonempty("folder id", folder_id)?)
        ))?;
        Ok(self.pager(url, false, parse_folder, Kind::Folder))
    }

    /// The whole folder tree: `…/folders` then `childFolders` of every folder whose children are
    /// not all known yet, de-duplicated by id (the service may already list descendants), in
    /// discovery order (parents before children).
    pub async fn list_folders(&self, mailbox: &str) -> Result<Vec<MailboxFolder>> {
        let mut seen: HashSet<String> = HashSet::new();
        let mut out: Vec<MailboxFolder> = Vec::new();
        let mut children_known: HashMap<String, u64> = HashMap::new();
        let mut queue: VecDeque<usize> = VecDeque::new();
        let add = |f: MailboxFolder,
                   seen: &mut HashSet<String>,
                   out: &mut Vec<MailboxFolder>,
                   children_known: &mut HashMap<String, u64>,
                   queue: &mut VecDeque<usize>| {
            if seen.insert(f.id.clone()) {
                if let Some(p) = &f.parent_folder_id {
                    *children_known.entry(p.clone()).or_default() += 1;
                }
                queue.push_back(out.len());
                out.push(f);
            }
        };
        for f in self.list_folders_pages(mailbox)?.collect_all().await? {
            add(f, &mut seen, &mut out, &mut children_known, &mut queue);
        }
        while let Some(i) = queue.pop_front() {
            let (id, want) = (out[i].id.clone(), out[i].child_folder_count);
            if want == 0 || children_known.get(&id).copied().unwrap_or(0) >= want {
                continue;
            }
            if out.len() > MAX_FOLDERS {
                return Err(Error::Decode {
                    url_path: format!("/{}/folders", mailbox_path(mailbox)?),
                    message: format!("more than {MAX_FOLDERS} folders"),
                });
            }
            let mut pager = self.child_folders_pages(mailbox, &id)?;
            while let Some(page) = pager.next_page().await? {
                for mut f in page.items {
                    if f.parent_folder_id.is_none() {
                        f.parent_folder_id = Some(id.clone());
                    }
                    add(f, &mut seen, &mut out, &mut children_known, &mut queue);
                }
            }
        }
        Ok(out)
    }

    /// Pages of `GET …/folders/delta` (from `delta_link` if given).
    pub fn folders_delta_pages(
        &self,
        mailbox: &str,
        delta_link: Option<&str>,
    ) -> Result<Pager<MailboxFolder>> {
        let url = match delta_link {
            Some(l) => self.trusted(l)?,
            None => self.graph(&format!("{}/folders/delta", mailbox_path(mailbox)?))?,
        };
        Ok(self.pager(url, true, parse_folder, Kind::Folder))
    }

    /// Follows `…/folders/delta` to its delta link. `Error::DeltaExpired` means: call again with
    /// `None`.
    pub async fn folders_delta(
        &self,
        mailbox: &str,
        delta_link: Option<&str>,
    ) -> Result<Delta<MailboxFolder>> {
        self.folders_delta_pages(mailbox, delta_link)?
            .collect_delta()
            .await
    }

    /// Pages of `GET …/folders/{id}/items/delta` (from `delta_link` if given).
    pub fn items_delta_pages(
        &self,
        mailbox: &str,
        folder_id: &str,
        delta_link: Option<&str>,
    ) -> Result<Pager<MailboxItem>> {
        let url = match delta_link {
            Some(l) => self.trusted(l)?,
            None => self.graph(&format!(
                "{}/folders/{}/items/delta",
                mailbox_path(mailbox)?,
                seg(nonempty("folder id", folder_id)?)
            ))?,
        };
        Ok(self.pager(url, true, parse_item, Kind::Item))
    }

    /// Follows `…/folders/{id}/items/delta` to its delta link.
    pub async fn items_delta(
        &self,
        mailbox: &str,
        folder_id: &str,
        delta_link: Option<&str>,
    ) -> Result<Delta<MailboxItem>> {
        self.items_delta_pages(mailbox, folder_id, delta_link)?
            .collect_delta()
            .await
    }

    /// Pages of `GET …/folders/{id}/items`.
    pub fn list_items_pages(&self, mailbox: &str, folder_id: &str) -> Result<Pager<MailboxItem>> {
        let url = self.graph(&format!(
            "{}/folders/{}/items?$top={PAGE_SIZE}",
            mailbox_path(mailbox)?,
            seg(nonempty("folder id", folder_id)?)
        ))?;
        Ok(self.pager(url, false, parse_item, Kind::Item))
    }

    /// All items of a folder (`GET …/folders/{id}/items`, every page).
    pub async fn list_items(&self, mailbox: &str, folder_id: &str) -> Result<Vec<MailboxItem>> {
        self.list_items_pages(mailbox, folder_id)?
            .collect_all()
            .await
    }

    /// `(item id, PR_SEARCH_KEY bytes)` for every item of a folder that has a search key, via
    /// `$expand=singleValueExtendedProperties($filter=id eq 'Binary 0x300B')`.
    pub async fn item_search_keys(
        &self,
        mailbox: &str,
        folder_id: &str,
    ) -> Result<Vec<(String, Vec<u8>)>> {
        let url = self.graph(&format!(
            "{}/folders/{}/items?$top={PAGE_SIZE}&$expand={}",
            mailbox_path(mailbox)?,
            seg(nonempty("folder id", folder_id)?),
            q("singleValueExtendedProperties($filter=id eq 'Binary 0x300B')")
        ))?;
        let mut next = Some(url);
        let mut out = Vec::new();
        let mut pages = 0usize;
        while let Some(url) = next.take() {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(decode_err(&url, "too many pages (nextLink loop?)"));
            }
            let resp = self.execute(Req::graph(Method::GET, url.clone())).await?;
            let values = get(&resp.json, "value")
                .and_then(Value::as_array)
                .ok_or_else(|| decode_err(&url, "no `value` array"))?;
            for e in values {
                let Some(id) = get_str(e, "id").filter(|s| !s.is_empty()) else {
                    return Err(decode_err(&url, "item entry without id"));
                };
                if let Some(key) = search_key_of(e) {
                    out.push((id.to_owned(), key));
                }
            }
            if let Some(link) = get_str(&resp.json, "@odata.nextLink") {
                next = Some(self.trusted(link)?);
            }
        }
        Ok(out)
    }

    /// `POST …/folders` (top level) or `POST …/folders/{parent}/childFolders`; 201 expected.
    pub async fn create_folder(
        &self,
        mailbox: &str,
        parent_id: Option<&str>,
        display_name: &str,
        folder_type: &str,
    ) -> Result<MailboxFolder> {
        let path = match parent_id {
            Some(p) => format!(
                "{}/folders/{}/childFolders",
                mailbox_path(mailbox)?,
                seg(nonempty("parent folder id", p)?)
            ),
            None => format!("{}/folders", mailbox_path(mailbox)?),
        };
        let url = self.graph(&path)?;
        let body =
            json!({"displayName": nonempty("display name", display_name)?, "type": folder_type});
        let resp = self
            .execute(Req::graph(Method::POST, url.clone()).json_body(&body))
            .await?;
        parse_folder(&resp.json).ok_or_else(|| decode_err(&url, "created folder without id"))
    }

    /// `PATCH …/folders/{id}` with a new display name (the folder class cannot change).
    pub async fn rename_folder(
        &self,
        mailbox: &str,
        folder_id: &str,
        display_name: &str,
    ) -> Result<MailboxFolder> {
        let url = self.graph(&format!(
            "{}/folders/{}",
            mailbox_path(mailbox)?,
            seg(nonempty("folder id", folder_id)?)
        ))?;
        let body = json!({"displayName": nonempty("display name", display_name)?});
        let mut req = Req::graph(Method::PATCH, url.clone()).json_body(&body);
        // Renaming to the same name twice is harmless.
        req.idempotent = true;
        let resp = self.execute(req).await?;
        parse_folder(&resp.json).ok_or_else(|| decode_err(&url, "renamed folder without id"))
    }

    /// `DELETE …/folders/{id}` (204). A folder already gone (404) is success.
    pub async fn delete_folder(&self, mailbox: &str, folder_id: &str) -> Result<()> {
        let url = self.graph(&format!(
            "{}/folders/{}",
            mailbox_path(mailbox)?,
            seg(nonempty("folder id", folder_id)?)
        ))?;
        ok_if_gone(self.execute(Req::graph(Method::DELETE, url)).await)
    }

    /// `DELETE …/folders/{f}/items/{i}?disposalType=…` (204). An item already gone (404) is success.
    pub async fn delete_item(
        &self,
        mailbox: &str,
        folder_id: &str,
        item_id: &str,
        disposal: DisposalType,
    ) -> Result<()> {
        let url = self.graph(&format!(
            "{}/folders/{}/items/{}?disposalType={}",
            mailbox_path(mailbox)?,
            seg(nonempty("folder id", folder_id)?),
            seg(nonempty("item id", item_id)?),
            disposal.as_str()
        ))?;
        ok_if_gone(self.execute(Req::graph(Method::DELETE, url)).await)
    }
}

fn ok_if_gone<T>(r: Result<T>) -> Result<()> {
    match r {
        Ok(_) | Err(Error::Http { status: 404, .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The decoded `Binary 0x300B` value of an item entry, if present.
fn search_key_of(e: &Value) -> Option<Vec<u8>> {
    let props = get(e, "singleValueExtendedProperties")?.as_array()?;
    props.iter().find_map(|p| {
        let id = get_str(p, "id")?;
        if !id
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .eq_ignore_ascii_case("Binary 0x300B")
        {
            return None;
        }
        base64::engine::general_purpose::STANDARD
            .decode(get_str(p, "value")?.trim())
            .ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_escape_only_what_they_must() {
        assert_eq!(seg("MBX:e0643f21@a7809c93"), "MBX:e0643f21@a7809c93");
        assert_eq!(seg("AAMk+a/b=="), "AAMk%2Ba%2Fb==");
        assert_eq!(seg("a b?c#d%"), "a%20b%3Fc%23d%25");
        assert_eq!(
            q("singleValueExtendedProperties($filter=id eq 'Binary 0x300B')"),
            "singleValueExtendedProperties%28$filter%3Did%20eq%20%27Binary%200x300B%27%29"
        );
    }

    #[test]
    fn search_key_extraction() {
        let e = json!({"id":"i","singleValueExtendedProperties":[
            {"id":"String 0x0037","value":"subj"},
            {"id":"binary 0x300b","value":"AAECAw=="}]});
        assert_eq!(search_key_of(&e), Some(vec![0, 1, 2, 3]));
        assert_eq!(search_key_of(&json!({"id":"i"})), None);
    }
}
