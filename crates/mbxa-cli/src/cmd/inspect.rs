//! `mbxa show` and `mbxa extract`: items as parsed properties, .eml or raw bytes.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use mbxa_fasttransfer::tags::prop_name;
use mbxa_fasttransfer::{
    guid_to_string, parse_detailed, parse_reader, Attachment, Limits, Message, NamedKind, PropKey,
    PropValue, Property,
};
use mbxa_format::{ArchiveReader, Item, ItemContent, Manifest};
use serde_json::{json, Value};

use crate::exit::Outcome;
use crate::output::Output;

/// Arguments of `mbxa show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The archive (.mbxa).
    pub archive: PathBuf,
    /// The item id (as in `mbxa ls --items`); a unique prefix is enough.
    pub item_id: String,
}

/// Longest value shown whole in human output; longer ones are cut with a note.
const SHOW_TEXT: usize = 300;
/// Binary bytes shown (hex) per value.
const SHOW_BYTES: usize = 64;

/// Display-name paths of every folder, by folder id (parents first, `/`-joined components).
pub(crate) fn folder_paths(m: &Manifest) -> HashMap<String, Vec<String>> {
    let by_id: HashMap<&str, &mbxa_format::Folder> =
        m.folders.iter().map(|f| (f.id.as_str(), f)).collect();
    let mut out = HashMap::new();
    for f in &m.folders {
        let mut comps = vec![f.display_name.clone()];
        let mut seen = HashSet::from([f.id.as_str()]);
        let mut cur = f.parent_id.as_deref();
        // Bounded walk: a parent cycle in a damaged manifest must not loop.
        while let Some(pid) = cur {
            let Some(p) = by_id.get(pid) else { break };
            if !seen.insert(pid) || comps.len() > 256 {
                break;
            }
            comps.push(p.display_name.clone());
            cur = p.parent_id.as_deref();
        }
        comps.reverse();
        out.insert(f.id.clone(), comps);
    }
    out
}

fn find_item<'a>(m: &'a Manifest, id: &str) -> anyhow::Result<&'a Item> {
    if let Some(it) = m.items.iter().find(|i| i.id == id) {
        return Ok(it);
    }
    let matches: Vec<&Item> = m.items.iter().filter(|i| i.id.starts_with(id)).collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => bail!("no item with id {id:?} in the archive"),
        many => bail!(
            "item id prefix {id:?} matches {} items; give more of it",
            many.len()
        ),
    }
}

fn time_str(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| secs.to_string())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn key_label(k: &PropKey) -> String {
    match k {
        PropKey::Tagged(id) => match prop_name(*id) {
            Some(n) => format!("0x{id:04X} {n}"),
            None => format!("0x{id:04X}"),
        },
        PropKey::Named { guid, name } => match name {
            NamedKind::Id(d) => format!("{{{}}}/0x{d:04X}", guid_to_string(guid)),
            NamedKind::Name(n) => format!("{{{}}}/{n:?}", guid_to_string(guid)),
        },
    }
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return format!("{s:?}");
    }
    let head: String = s.chars().take(max).collect();
    format!("{head:?}… ({} chars)", s.chars().count())
}

fn value_text(v: &PropValue) -> String {
    match v {
        PropValue::String(s) => cut(s, SHOW_TEXT),
        PropValue::Binary(b) | PropValue::Object(b) | PropValue::ServerId(b) => {
            if b.len() <= SHOW_BYTES {
                format!("0x{} ({} bytes)", hex(b), b.len())
            } else {
                format!("0x{}… ({} bytes)", hex(&b[..SHOW_BYTES]), b.len())
            }
        }
        PropValue::SysTime(t) => match *t {
            0 => "none (0)".into(),
            t if t >= 0x7FFF_FFFF_FFFF_FFFF => format!("none (0x{t:X})"),
            t => time_str(mbxa_fasttransfer::filetime_to_unix(t)),
        },
        PropValue::Guid(g) => format!("{{{}}}", guid_to_string(g)),
        PropValue::Error(e) => format!("error 0x{e:08X}"),
        PropValue::Multi(vs) => {
            let parts: Vec<String> = vs.iter().map(value_text).collect();
            format!("[{}]", parts.join(", "))
        }
        PropValue::RawString { codepage, bytes } => {
            format!(
                "undecoded (code page {codepage}) 0x{}",
                hex(&bytes[..bytes.len().min(SHOW_BYTES)])
            )
        }
        PropValue::I16(x) => x.to_string(),
        PropValue::I32(x) => format!("{x} (0x{x:X})"),
        PropValue::I64(x) => x.to_string(),
        PropValue::Currency(x) => format!("{}.{:04}", x / 10_000, (x % 10_000).abs()),
        PropValue::F32(x) => x.to_string(),
        PropValue::F64(x) | PropValue::AppTime(x) => x.to_string(),
        PropValue::Bool(b) => b.to_string(),
    }
}

fn value_json(v: &PropValue) -> Value {
    match v {
        PropValue::I16(x) => json!(x),
        PropValue::I32(x) => json!(x),
        PropValue::I64(x) | PropValue::Currency(x) => json!(x),
        PropValue::F32(x) => json!(x),
        PropValue::F64(x) | PropValue::AppTime(x) => json!(x),
        PropValue::Error(e) => json!({ "error": format!("0x{e:08X}") }),
        PropValue::Bool(b) => json!(b),
        PropValue::String(s) => json!(s),
        PropValue::Binary(b) | PropValue::Object(b) | PropValue::ServerId(b) => {
            let shown = &b[..b.len().min(1024)];
            json!({ "len": b.len(), "hex": hex(shown), "truncated": shown.len() < b.len() })
        }
        PropValue::Guid(g) => json!(guid_to_string(g)),
        PropValue::SysTime(t) => {
            if *t == 0 || *t >= 0x7FFF_FFFF_FFFF_FFFF {
                json!({ "filetime": t })
            } else {
                json!({ "filetime": t, "utc": time_str(mbxa_fasttransfer::filetime_to_unix(*t)) })
            }
        }
        PropValue::Multi(vs) => Value::Array(vs.iter().map(value_json).collect()),
        PropValue::RawString { codepage, bytes } => {
            json!({ "codepage": codepage, "hex": hex(bytes) })
        }
    }
}

fn props_json(props: &[Property]) -> Value {
    Value::Array(
        props
            .iter()
            .map(|p| {
                let mut o =
                    json!({ "type": format!("0x{:04X}", p.ptype), "value": value_json(&p.value) });
                match &p.key {
                    PropKey::Tagged(id) => {
                        o["id"] = json!(format!("0x{id:04X}"));
                        if let Some(n) = prop_name(*id) {
                            o["name"] = json!(n);
                        }
                    }
                    PropKey::Named { guid, name } => {
                        o["guid"] = json!(guid_to_string(guid));
                        match name {
                            NamedKind::Id(d) => o["dispid"] = json!(format!("0x{d:04X}")),
                            NamedKind::Name(n) => o["name"] = json!(n),
                        }
                    }
                }
                o
            })
            .collect(),
    )
}

fn message_json(m: &Message) -> Value {
    json!({
        "message_class": m.message_class(),
        "subject": m.subject(),
        "from": m.from().map(|x| json!({"name": x.name, "email": x.email})),
        "sender": m.sender().map(|x| json!({"name": x.name, "email": x.email})),
        "date": m.date().map(time_str),
        "internet_message_id": m.internet_message_id(),
        "properties": props_json(&m.properties),
        "recipients": m.recipients.iter().map(|r| json!({
            "kind": format!("{:?}", r.kind()),
            "name": r.name(),
            "email": r.email(),
            "properties": props_json(&r.properties),
        })).collect::<Vec<_>>(),
        "attachments": m.attachments.iter().map(attachment_json).collect::<Vec<_>>(),
    })
}

fn attachment_json(a: &Attachment) -> Value {
    json!({
        "method": format!("{:?}", a.method()),
        "filename": a.filename(),
        "mime_type": a.mime_type(),
        "content_id": a.content_id(),
        "inline": a.is_inline(),
        "size": a.data().map(<[u8]>::len),
        "properties": props_json(&a.properties),
        "embedded": a.embedded_message().map(message_json),
    })
}

fn print_props(out: &Output, indent: &str, props: &[Property]) {
    for p in props {
        out.line(&format!(
            "{indent}{} [{:04X}] = {}",
            key_label(&p.key),
            p.ptype,
            value_text(&p.value)
        ));
    }
}

fn print_message(out: &Output, indent: &str, m: &Message) {
    let head = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            out.line(&format!("{indent}{k:<11}{v}"));
        }
    };
    head("class", m.message_class().map(str::to_string));
    head("subject", m.subject().map(str::to_string));
    head(
        "from",
        m.from().map(|x| format!("{} <{}>", x.name, x.email)),
    );
    head(
        "sender",
        m.sender().map(|x| format!("{} <{}>", x.name, x.email)),
    );
    head("date", m.date().map(time_str));
    head("message-id", m.internet_message_id().map(str::to_string));
    out.line(&format!("{indent}properties ({}):", m.properties.len()));
    print_props(out, &format!("{indent}  "), &m.properties);
    out.line(&format!("{indent}recipients ({}):", m.recipients.len()));
    for r in &m.recipients {
        out.line(&format!(
            "{indent}  {:?}: {} <{}>",
            r.kind(),
            r.name().unwrap_or(""),
            r.email().unwrap_or("")
        ));
        print_props(out, &format!("{indent}    "), &r.properties);
    }
    out.line(&format!("{indent}attachments ({}):", m.attachments.len()));
    for (i, a) in m.attachments.iter().enumerate() {
        out.line(&format!(
            "{indent}  [{i}] {} ({:?}, {}, {} bytes{})",
            a.filename().unwrap_or("(no name)"),
            a.method(),
            a.mime_type().unwrap_or("no MIME type"),
            a.data().map_or(0, <[u8]>::len),
            a.content_id()
                .map(|c| format!(", cid {c}"))
                .unwrap_or_default()
        ));
        print_props(out, &format!("{indent}      "), &a.properties);
        if let Some(e) = a.embedded_message() {
            out.line(&format!("{indent}      embedded message:"));
            print_message(out, &format!("{indent}        "), e);
        }
    }
}

/// Runs `mbxa show`.
pub fn show(args: ShowArgs, out: &Output) -> anyhow::Result<Outcome> {
    let mut reader = ArchiveReader::open_path(&args.archive)
        .with_context(|| format!("opening {}", args.archive.display()))?;
    let manifest = reader.manifest().clone();
    let item = find_item(&manifest, &args.item_id)?;
    let paths = folder_paths(&manifest);
    let folder = paths
        .get(&item.folder_id)
        .map(|p| p.join("/"))
        .unwrap_or_else(|| item.folder_id.clone());
    let (blob, len) = match &item.content {
        ItemContent::Blob { id, len } => (*id, *len),
        ItemContent::ExportFailed { code, message } => {
            bail!(
                "item {} was not captured (export failed: {code}: {message})",
                item.id
            )
        }
    };
    let bytes = reader
        .read_blob(&blob)
        .with_context(|| format!("reading item {} (blob {blob})", item.id))?;
    let parsed = parse_detailed(&bytes, Limits::default());
    if out.is_json() {
        out.json(&json!({
            "id": item.id,
            "folder": folder,
            "folder_id": item.folder_id,
            "message_class": item.message_class,
            "size": item.size,
            "blob": blob.to_hex(),
            "blob_len": len,
            "framed": parsed.framed,
            "error": parsed.error.as_ref().map(|e| e.to_string()),
            "warnings": parsed.warnings.iter().map(|w| format!("at byte {}: {:?}", w.offset, w.kind)).collect::<Vec<_>>(),
            "message": message_json(&parsed.message),
        }))?;
    } else {
        out.line(&format!("item       {}", item.id));
        out.line(&format!("folder     {folder}"));
        out.line(&format!("blob       {} ({len} bytes)", blob.to_hex()));
        print_message(out, "", &parsed.message);
        for w in &parsed.warnings {
            out.warn(&format!(
                "item {}: at byte {}: {:?}",
                item.id, w.offset, w.kind
            ));
        }
    }
    if let Some(e) = parsed.error {
        // The partial result was shown; the stream itself is damaged or unsupported.
        bail!(
            "item {}: FastTransfer stream could not be fully parsed: {e}",
            item.id
        );
    }
    Ok(Outcome::Ok)
}

/// Output format of `mbxa extract`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExtractFormat {
    /// RFC 5322 / MIME `.eml` files.
    Eml,
    /// The exact captured bytes (FxProxy-framed FastTransfer stream), `.bin` files.
    Raw,
}

/// Arguments of `mbxa extract`.
#[derive(Debug, clap::Args)]
pub struct ExtractArgs {
    /// The archive (.mbxa).
    pub archive: PathBuf,
    /// Directory to write into (created if missing).
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: PathBuf,
    /// `eml` (MIME) or `raw` (the captured bytes).
    #[arg(long, value_enum, default_value_t = ExtractFormat::Eml)]
    pub format: ExtractFormat,
    /// Only these folder subtrees, by display-name path like `Inbox/Projects` (repeatable).
    #[arg(long = "folder", value_name = "PATH")]
    pub folders: Vec<String>,
}

/// Windows device names that cannot be file names, with or without an extension.
const RESERVED: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9", "CONIN$",
    "CONOUT$",
];

/// Makes one path component safe on every OS: no separators, control or reserved characters, no
/// trailing dots/spaces, no device names, not empty, at most `max` bytes.
pub(crate) fn safe_component(raw: &str, max: usize) -> String {
    let mut s: String = raw
        .chars()
        .map(|c| match c {
            '<' | '>' | ':' | '"' | '/' | '\\' | '|' | '?' | '*' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    s = s.trim().to_string();
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    let trimmed = s.trim_end_matches(['.', ' ']).trim_start();
    let mut s = trimmed.to_string();
    if s.is_empty() {
        s = "_".into();
    }
    let stem = s
        .split('.')
        .next()
        .unwrap_or("")
        .trim_end()
        .to_ascii_uppercase();
    if RESERVED.contains(&stem.as_str()) {
        s.insert(0, '_');
    }
    s
}

/// Names already given out per directory (lower-cased: Windows and macOS fold case), and for each
/// (directory, base name) the next " (n)" suffix to try, so that thousands of items with the same
/// subject cost linear, not quadratic, time.
#[derive(Default)]
struct UsedNames {
    names: HashMap<PathBuf, HashSet<String>>,
    next: HashMap<(PathBuf, String), usize>,
}

/// Picks a name not yet used in `dir` (case-insensitively: Windows and macOS fold case).
fn unique_name(used: &mut UsedNames, dir: &Path, base: &str, ext: &str) -> String {
    let set = used.names.entry(dir.to_path_buf()).or_default();
    let n = used
        .next
        .entry((dir.to_path_buf(), format!("{base}{ext}").to_lowercase()))
        .or_insert(1);
    loop {
        let name = if *n == 1 {
            format!("{base}{ext}")
        } else {
            format!("{base} ({n}){ext}")
        };
        *n += 1;
        if set.insert(name.to_lowercase()) {
            return name;
        }
    }
}

/// Writes `dir/name` atomically: `fill` writes a temp file in the same directory, then fsync,
/// rename, fsync the directory. Mode 0600 on unix (the file holds mail). On error the temp file is
/// removed and no file appears under the final name.
fn write_atomic(
    dir: &Path,
    name: &str,
    fill: impl FnOnce(&mut fs::File) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let tmp = dir.join(format!(".{}.mbxa-tmp-{}", name, std::process::id()));
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let res = (|| -> anyhow::Result<()> {
        let mut f = opts
            .open(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        fill(&mut f)?;
        f.sync_all()?;
        drop(f);
        let fin = dir.join(name);
        fs::rename(&tmp, &fin).with_context(|| format!("renaming to {}", fin.display()))?;
        #[cfg(unix)]
        fs::File::open(dir)?.sync_all()?;
        Ok(())
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res
}

fn within(path: &[String], wanted: &[Vec<String>]) -> bool {
    wanted.is_empty()
        || wanted.iter().any(|w| {
            w.len() <= path.len()
                && w.iter()
                    .zip(path)
                    .all(|(a, b)| a.to_lowercase() == b.to_lowercase())
        })
}

/// Runs `mbxa extract`.
pub fn extract(args: ExtractArgs, out: &Output) -> anyhow::Result<Outcome> {
    let mut reader = ArchiveReader::open_path(&args.archive)
        .with_context(|| format!("opening {}", args.archive.display()))?;
    let manifest = reader.manifest().clone();
    let paths = folder_paths(&manifest);
    let wanted: Vec<Vec<String>> = args
        .folders
        .iter()
        .map(|f| {
            f.split('/')
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect()
        })
        .collect();
    for (w, raw) in wanted.iter().zip(&args.folders) {
        if !paths.values().any(|p| within(p, std::slice::from_ref(w))) {
            bail!("no folder {raw:?} in the archive");
        }
    }

    // Safe on-disk directory for each folder; sibling names that collide after sanitising get
    // " (2)", " (3)" in manifest order, so the mapping is deterministic.
    let mut dir_of: HashMap<String, PathBuf> = HashMap::new();
    let mut used = UsedNames::default();
    let mut folders: Vec<&mbxa_format::Folder> = manifest.folders.iter().collect();
    folders.sort_by_key(|f| paths.get(&f.id).map_or(0, Vec::len));
    for f in folders {
        let parent = f
            .parent_id
            .as_ref()
            .and_then(|p| dir_of.get(p).cloned())
            .unwrap_or_else(|| args.output.clone());
        let base = safe_component(&f.display_name, 100);
        let name = unique_name(&mut used, &parent, &base, "");
        dir_of.insert(f.id.clone(), parent.join(name));
    }

    fs::create_dir_all(&args.output)
        .with_context(|| format!("creating {}", args.output.display()))?;
    let ext = match args.format {
        ExtractFormat::Eml => ".eml",
        ExtractFormat::Raw => ".bin",
    };
    let mut written = Vec::new();
    let mut failed = Vec::new();
    let mut created: HashSet<PathBuf> = HashSet::new();
    for item in &manifest.items {
        let Some(path) = paths.get(&item.folder_id) else {
            let msg = format!("its folder {} is not in the manifest", item.folder_id);
            out.warn(&format!("item {}: {msg}", item.id));
            failed.push(json!({"id": item.id, "error": msg}));
            continue;
        };
        if !within(path, &wanted) {
            continue;
        }
        let dir = dir_of
            .get(&item.folder_id)
            .cloned()
            .unwrap_or_else(|| args.output.clone());
        let fail = |failed: &mut Vec<Value>, msg: String| {
            out.warn(&format!("item {} ({}): {msg}", item.id, path.join("/")));
            failed.push(json!({"id": item.id, "folder": path.join("/"), "error": msg}));
        };
        let blob = match &item.content {
            ItemContent::Blob { id, .. } => *id,
            ItemContent::ExportFailed { code, message } => {
                fail(
                    &mut failed,
                    format!("not captured (export failed: {code}: {message})"),
                );
                continue;
            }
        };
        // Items are streamed from the archive: a 150 MB attachment is never held as both the
        // blob and its parsed value, and `raw` never holds the item at all.
        let (subject, date, eml) = match args.format {
            ExtractFormat::Raw => {
                let summary = match reader.blob_reader(&blob) {
                    Ok(r) => mbxa_fasttransfer::summarize(r),
                    Err(e) => {
                        fail(&mut failed, format!("reading blob {blob}: {e}"));
                        continue;
                    }
                };
                (summary.subject, summary.date, None)
            }
            ExtractFormat::Eml => {
                let parsed = match reader.blob_reader(&blob) {
                    Ok(r) => parse_reader(r, Limits::default()),
                    Err(e) => {
                        fail(&mut failed, format!("reading blob {blob}: {e}"));
                        continue;
                    }
                };
                if let Some(e) = parsed.error {
                    fail(&mut failed, format!("FastTransfer stream: {e}"));
                    continue;
                }
                match mbxa_fasttransfer::eml::to_eml(&parsed.message) {
                    Ok(e) => (
                        parsed.message.full_subject(),
                        parsed.message.date(),
                        Some(e),
                    ),
                    Err(e) => {
                        fail(&mut failed, format!(".eml conversion: {e}"));
                        continue;
                    }
                }
            }
        };
        let date = date
            .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
            .map(|d| d.format("%Y-%m-%d %H%M%S ").to_string())
            .unwrap_or_default();
        let subject = subject.as_deref().unwrap_or("(no subject)");
        let base = safe_component(&format!("{date}{subject}"), 120);
        let name = unique_name(&mut used, &dir, &base, ext);
        if created.insert(dir.clone()) {
            fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let res = match &eml {
            Some(data) => write_atomic(&dir, &name, |f| Ok(f.write_all(data)?)),
            None => write_atomic(&dir, &name, |f| {
                let mut r = reader.blob_reader(&blob)?;
                std::io::copy(&mut r, f)?;
                Ok(())
            }),
        };
        if let Err(e) = res {
            if eml.is_some() {
                // The disk, not the item, failed: stop.
                return Err(e.context(format!("writing {}", dir.join(&name).display())));
            }
            // A raw copy fails on a damaged blob (length or hash mismatch at its end).
            fail(&mut failed, format!("copying blob {blob}: {e:#}"));
            continue;
        }
        written.push(json!({"id": item.id, "path": dir.join(&name)}));
    }
    if out.is_json() {
        out.json(&json!({
            "output": args.output,
            "format": format!("{:?}", args.format).to_lowercase(),
            "written": written,
            "failed": failed,
        }))?;
    } else {
        out.line(&format!(
            "{} item(s) written to {}, {} failed",
            written.len(),
            args.output.display(),
            failed.len()
        ));
    }
    Ok(if failed.is_empty() {
        Outcome::Ok
    } else {
        Outcome::Problems
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_are_safe_everywhere() {
        assert_eq!(safe_component("../../etc/passwd", 100), ".._.._etc_passwd");
        assert_eq!(safe_component("..", 100), "_");
        assert_eq!(safe_component(".", 100), "_");
        assert_eq!(safe_component("CON", 100), "_CON");
        assert_eq!(safe_component("con.txt", 100), "_con.txt");
        assert_eq!(safe_component("LPT1 ", 100), "_LPT1");
        assert_eq!(safe_component("Re: hi?*", 100), "Re_ hi__");
        assert_eq!(safe_component("trailing. . ", 100), "trailing");
        assert_eq!(safe_component("a\u{0}b\r\nc", 100), "a_b__c");
        assert_eq!(safe_component("", 100), "_");
        let long = "é".repeat(200);
        let s = safe_component(&long, 101);
        assert!(s.len() <= 101 && s.chars().all(|c| c == 'é'));
    }

    #[test]
    fn names_are_unique_case_insensitively_and_deterministic() {
        let mut used = UsedNames::default();
        let d = Path::new("/x");
        assert_eq!(unique_name(&mut used, d, "Hi", ".eml"), "Hi.eml");
        assert_eq!(unique_name(&mut used, d, "hi", ".eml"), "hi (2).eml");
        assert_eq!(unique_name(&mut used, d, "HI", ".eml"), "HI (3).eml");
        assert_eq!(
            unique_name(&mut used, Path::new("/y"), "hi", ".eml"),
            "hi.eml"
        );
        // A base that looks like an earlier suffixed name still gets a fresh one.
        assert_eq!(
            unique_name(&mut used, d, "hi (2)", ".eml"),
            "hi (2) (2).eml"
        );
        // Thousands of same-named items stay linear (each call continues where the last ended).
        for i in 4..=5000 {
            assert_eq!(
                unique_name(&mut used, d, "Hi", ".eml"),
                format!("Hi ({i}).eml")
            );
        }
    }

    #[test]
    fn folder_selection_is_by_path_prefix() {
        let p = vec!["Inbox".to_string(), "Projects".to_string(), "A".to_string()];
        assert!(within(&p, &[]));
        assert!(within(&p, &[vec!["inbox".into()]]));
        assert!(within(&p, &[vec!["Inbox".into(), "Projects".into()]]));
        assert!(!within(&p, &[vec!["Inbox".into(), "Proj".into()]]));
        assert!(!within(&p, &[vec!["Sent Items".into()]]));
    }
}
