//! `mbxa ls --items`, `show` and `extract` through the real binary on an archive of realistic
//! items: what a newcomer does to get mail out of a backup without Exchange. The `.eml` files are
//! checked with an independent MIME parser (mail-parser).

use std::path::Path;
use std::process::{Command, Output};

use mail_parser::{MessageParser, MimeHeaders};
use mbxa_fasttransfer::MessageBuilder;
use mbxa_format::{
    ArchiveFile, CaptureInfo, Folder, Item, ItemContent, MailboxKind, Manifest, Source,
};

const PDF: &[u8] = b"%PDF-1.4 quarterly numbers\x00\x01\x02";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\nlogo";

fn folder(id: &str, parent: Option<&str>, name: &str, wkn: Option<&str>) -> Folder {
    Folder {
        id: id.into(),
        parent_id: parent.map(Into::into),
        display_name: name.into(),
        folder_class: "IPF.Note".into(),
        well_known_name: wkn.map(Into::into),
        item_count: 0,
    }
}

fn item(id: &str, folder: &str, content: ItemContent) -> Item {
    Item {
        id: id.into(),
        folder_id: folder.into(),
        change_key: format!("ck-{id}"),
        created: "2026-11-20T09:00:00Z".into(),
        last_modified: "2026-11-20T09:00:00Z".into(),
        size: 1000,
        message_class: "IPM.Note".into(),
        content,
    }
}

/// Three items: a report with an attachment in Inbox, a non-ASCII note with an inline image in a
/// folder whose name tries to escape (`../x`), and one whose export failed.
fn make_archive(path: &Path) -> (Vec<u8>, Vec<u8>) {
    let report = MessageBuilder::new("IPM.Note")
        .subject("Quarterly report")
        .from("Alice Example", "alice@contoso.example")
        .to("Bob Example", "bob@contoso.example")
        .cc("Carol", "carol@contoso.example")
        .date_unix(1_763_629_200)
        .internet_message_id("<report-1@contoso.example>")
        .body_text("Hello Bob,\r\nthe numbers are attached.\r\n")
        .body_html("<p>Hello Bob,</p><p>the numbers are attached.</p>")
        .attachment("report.pdf", "application/pdf", PDF)
        .search_key(&[1; 16])
        .build();
    let note = MessageBuilder::new("IPM.Note")
        .subject("Grüße aus München")
        .from("Jörg", "joerg@contoso.example")
        .to("Alice Example", "alice@contoso.example")
        .date_unix(1_763_715_600)
        .body_html("<p>Logo: <img src=\"cid:logo@x\"></p>")
        .inline_image("logo.png", "image/png", "logo@x", PNG)
        .search_key(&[2; 16])
        .build();
    let mut f = ArchiveFile::create(path).unwrap();
    let a = f.writer().add_blob(&report).unwrap();
    let b = f.writer().add_blob(&note).unwrap();
    let manifest = Manifest {
        source: Source {
            tenant_id: "t".into(),
            user: "alice@contoso.example".into(),
            mailbox_id: "MBX:a@t".into(),
            kind: MailboxKind::Primary,
        },
        capture: CaptureInfo {
            tool_version: "test".into(),
            started_at: "2026-11-27T12:00:00Z".into(),
            finished_at: "2026-11-27T12:00:01Z".into(),
            base_archive: None,
            folders_delta_link: None,
            item_delta_links: Vec::new(),
        },
        // As Graph lists them: the top-level folders' parent (the IPM subtree root) is not listed.
        folders: vec![
            folder("inbox", Some("root"), "Inbox", Some("inbox")),
            folder("evil", Some("inbox"), "../x", None),
        ],
        items: vec![
            item(
                "item-report",
                "inbox",
                ItemContent::Blob {
                    id: a,
                    len: report.len() as u64,
                },
            ),
            item(
                "item-note",
                "evil",
                ItemContent::Blob {
                    id: b,
                    len: note.len() as u64,
                },
            ),
            item(
                "item-failed",
                "inbox",
                ItemContent::ExportFailed {
                    code: "ErrorItemCorrupt".into(),
                    message: "could not export".into(),
                },
            ),
        ],
    };
    f.finish(&manifest).unwrap();
    (report, note)
}

fn mbxa(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mbxa"))
        .args(args)
        .output()
        .unwrap()
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

#[test]
fn ls_items_show_and_extract_get_the_mail_out() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("a.mbxa");
    let (report, note) = make_archive(&archive);
    let a = archive.to_str().unwrap();

    // ls --items: date, sender and subject come from the streams themselves.
    let o = mbxa(&["ls", a, "--items", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let items = v["items"].as_array().unwrap();
    let row = items.iter().find(|r| r["id"] == "item-report").unwrap();
    assert_eq!(row["subject"], "Quarterly report");
    assert!(row["sender"]
        .as_str()
        .unwrap()
        .contains("alice@contoso.example"));
    let o = mbxa(&["ls", a, "--items"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("Grüße aus München"), "{text}");

    // show: properties, recipients and attachments.
    let o = mbxa(&["show", a, "item-report", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let shown = String::from_utf8_lossy(&o.stdout);
    for want in [
        "Quarterly report",
        "bob@contoso.example",
        "carol@contoso.example",
        "report.pdf",
    ] {
        assert!(shown.contains(want), "show lacks {want}: {shown}");
    }
    let o = mbxa(&["show", a, "no-such-item"]);
    assert_eq!(o.status.code(), Some(2));

    // extract --format eml: one file per converted item under DIR/<folder path>/, exit 1
    // because one item was never captured (and it is named on stderr).
    let out = dir.path().join("eml");
    let o = mbxa(&["extract", a, "-o", out.to_str().unwrap(), "--format", "eml"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("item-failed"));
    let files = files_under(&out);
    assert_eq!(files.len(), 2, "{files:?}");
    for f in &files {
        // Nothing escaped the output directory, whatever the folder was called.
        assert!(f.starts_with(&out), "{f:?}");
        assert!(f.extension().is_some_and(|e| e == "eml"), "{f:?}");
    }
    let inbox_eml = files
        .iter()
        .find(|f| f.parent().unwrap().file_name().unwrap() == "Inbox")
        .expect("report extracted under Inbox/");
    let bytes = std::fs::read(inbox_eml).unwrap();
    let m = MessageParser::default().parse(&bytes).expect("valid MIME");
    assert_eq!(m.subject(), Some("Quarterly report"));
    assert_eq!(
        m.from().unwrap().first().unwrap().address(),
        Some("alice@contoso.example")
    );
    assert_eq!(m.message_id(), Some("report-1@contoso.example"));
    assert!(m
        .body_text(0)
        .unwrap()
        .contains("the numbers are attached."));
    assert!(m.body_html(0).unwrap().contains("<p>Hello Bob,</p>"));
    let pdf = m
        .attachments()
        .find(|p| p.attachment_name() == Some("report.pdf"))
        .unwrap();
    assert_eq!(pdf.contents(), PDF);
    let other = files.iter().find(|f| *f != inbox_eml).unwrap();
    let bytes = std::fs::read(other).unwrap();
    let m = MessageParser::default().parse(&bytes).expect("valid MIME");
    assert_eq!(m.subject(), Some("Grüße aus München"));
    assert!(
        m.parts.iter().any(|p| p.contents() == PNG),
        "inline image kept"
    );

    // extract --format raw: the exact captured bytes.
    let raw = dir.path().join("raw");
    let o = mbxa(&["extract", a, "-o", raw.to_str().unwrap(), "--format", "raw"]);
    assert_eq!(o.status.code(), Some(1));
    let mut got: Vec<Vec<u8>> = files_under(&raw)
        .iter()
        .map(|f| std::fs::read(f).unwrap())
        .collect();
    got.sort();
    let mut want = vec![report, note];
    want.sort();
    assert_eq!(got, want);

    // --folder selects a subtree; a folder the archive lacks is an error, not an empty result.
    let only = dir.path().join("only");
    let o = mbxa(&[
        "extract",
        a,
        "-o",
        only.to_str().unwrap(),
        "--folder",
        "inbox",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(files_under(&only).len(), 2);
    let o = mbxa(&[
        "extract",
        a,
        "-o",
        only.to_str().unwrap(),
        "--folder",
        "Sent Items",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("Sent Items"));
}
