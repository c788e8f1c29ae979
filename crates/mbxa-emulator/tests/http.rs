//! Every route and documented error of the emulator, through real HTTP on 127.0.0.1.
//! New route tests go in the section of their route; helpers are at the top.

use std::time::Duration;

use base64::Engine;
use mbxa_emulator::{Emulator, EmulatorConfig, Faults, TenantInfo, TenantSpec};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

struct T {
    emu: Emulator,
    c: Client,
    token: String,
    tenant: TenantInfo,
}

fn small_config(seed: u64) -> EmulatorConfig {
    let mut cfg = EmulatorConfig::generated(seed, 1, 30);
    cfg.tenants.push(TenantSpec::generated(seed, 1, 1, 0));
    cfg
}

async fn start(cfg: EmulatorConfig) -> T {
    let emu = Emulator::start(cfg).await.unwrap();
    let c = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let tenant = emu.tenants()[0].clone();
    let token = token_for(&emu, &c, &tenant).await;
    T {
        emu,
        c,
        token,
        tenant,
    }
}

async fn token_for(emu: &Emulator, c: &Client, t: &TenantInfo) -> String {
    let r = c
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            emu.login_url(),
            t.tenant_id
        ))
        .form(&[
            ("client_id", t.client_id.as_str()),
            ("client_secret", t.client_secret.as_str()),
            ("scope", "https://graph.microsoft.com/.default"),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    v["access_token"].as_str().unwrap().to_string()
}

impl T {
    fn primary(&self) -> String {
        self.tenant.users[0].primary_mailbox_id.clone()
    }
    fn archive(&self) -> String {
        self.tenant.users[0].archive_mailbox_id.clone().unwrap()
    }
    fn mbx(&self, id: &str) -> String {
        format!("{}/admin/exchange/mailboxes/{}", self.emu.graph_url(), id)
    }
    async fn send(
        &self,
        rb: reqwest::RequestBuilder,
    ) -> (StatusCode, Value, reqwest::header::HeaderMap) {
        let r = rb.bearer_auth(&self.token).send().await.unwrap();
        let s = r.status();
        let h = r.headers().clone();
        let b = r.bytes().await.unwrap();
        let v = if b.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&b).unwrap()
        };
        (s, v, h)
    }
    async fn get(&self, url: &str) -> (StatusCode, Value) {
        let (s, v, _) = self.send(self.c.get(url)).await;
        (s, v)
    }
    async fn post(&self, url: &str, body: Value) -> (StatusCode, Value) {
        let (s, v, _) = self.send(self.c.post(url).json(&body)).await;
        (s, v)
    }
    /// Follows `@odata.nextLink` and returns all values.
    async fn all(&self, url: &str, prefer: Option<&str>) -> (Vec<Value>, Option<String>, usize) {
        let mut out = Vec::new();
        let mut next = Some(url.to_string());
        let mut pages = 0;
        while let Some(u) = next.take() {
            let mut rb = self.c.get(&u);
            if let Some(p) = prefer {
                rb = rb.header("Prefer", p);
            }
            let (s, v, _) = self.send(rb).await;
            assert_eq!(s, 200, "{u}: {v}");
            pages += 1;
            out.extend(v["value"].as_array().unwrap().iter().cloned());
            next = v["@odata.nextLink"].as_str().map(str::to_string);
            if next.is_none() {
                return (
                    out,
                    v["@odata.deltaLink"].as_str().map(str::to_string),
                    pages,
                );
            }
        }
        unreachable!()
    }
    async fn export(&self, mbx: &str, ids: &[&str]) -> (StatusCode, Value) {
        self.post(
            &format!("{}/exportItems", self.mbx(mbx)),
            json!({ "itemIds": ids }),
        )
        .await
    }
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

// ---------------------------------------------------------------- token endpoint

#[tokio::test]
async fn token_endpoint_secret_basic_and_aad_errors() {
    let t = start(small_config(1)).await;
    let url = format!(
        "{}/{}/oauth2/v2.0/token",
        t.emu.login_url(),
        t.tenant.tenant_id
    );
    let form = |secret: &str, scope: &str, grant: &str| {
        vec![
            ("client_id".to_string(), t.tenant.client_id.clone()),
            ("client_secret".to_string(), secret.to_string()),
            ("scope".to_string(), scope.to_string()),
            ("grant_type".to_string(), grant.to_string()),
        ]
    };
    let ok =
        t.c.post(&url)
            .form(&form(
                &t.tenant.client_secret,
                "https://graph.microsoft.com/.default",
                "client_credentials",
            ))
            .send()
            .await
            .unwrap();
    assert_eq!(ok.status(), 200);
    let v: Value = ok.json().await.unwrap();
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 3599);
    assert_eq!(v["ext_expires_in"], 3599);

    let check = |status: u16, err: &'static str, aadsts: u64| {
        move |r: (StatusCode, Value)| {
            assert_eq!(r.0.as_u16(), status, "{}", r.1);
            assert_eq!(r.1["error"], err);
            assert_eq!(r.1["error_codes"][0], aadsts);
            assert!(r.1["error_description"]
                .as_str()
                .unwrap()
                .starts_with(&format!("AADSTS{aadsts}")));
            assert!(r.1["trace_id"].is_string() && r.1["correlation_id"].is_string());
        }
    };
    let send = |u: String, f: Vec<(String, String)>| {
        let c = t.c.clone();
        async move {
            let r = c.post(u).form(&f).send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    check(401, "invalid_client", 7000215)(
        send(
            url.clone(),
            form(
                "wrong",
                "https://graph.microsoft.com/.default",
                "client_credentials",
            ),
        )
        .await,
    );
    check(400, "invalid_scope", 1002012)(
        send(
            url.clone(),
            form(&t.tenant.client_secret, "Mail.Read", "client_credentials"),
        )
        .await,
    );
    check(400, "unsupported_grant_type", 70003)(
        send(
            url.clone(),
            form(
                &t.tenant.client_secret,
                "https://graph.microsoft.com/.default",
                "password",
            ),
        )
        .await,
    );
    check(400, "invalid_request", 90002)(
        send(
            format!("{}/no-such-tenant/oauth2/v2.0/token", t.emu.login_url()),
            form(
                &t.tenant.client_secret,
                "https://graph.microsoft.com/.default",
                "client_credentials",
            ),
        )
        .await,
    );
    let mut other = form(
        &t.tenant.client_secret,
        "https://graph.microsoft.com/.default",
        "client_credentials",
    );
    other[0].1 = "00000000-0000-0000-0000-000000000000".into();
    check(400, "unauthorized_client", 700016)(send(url.clone(), other).await);

    // HTTP Basic client authentication and the tenant domain in the path.
    let r =
        t.c.post(format!(
            "{}/{}/oauth2/v2.0/token",
            t.emu.login_url(),
            t.tenant.domain
        ))
        .basic_auth(&t.tenant.client_id, Some(&t.tenant.client_secret))
        .form(&[
            ("scope", "https://graph.microsoft.com/.default"),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(t.emu.stats().tokens_issued >= 3);
}

#[derive(serde::Serialize)]
struct Claims {
    aud: String,
    iss: String,
    sub: String,
    exp: i64,
    nbf: i64,
    jti: String,
}

fn assertion(pem: &str, x5t: &str, claims: &Claims) -> String {
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    h.x5t = Some(x5t.to_string());
    // The fixture holds certificate + key; the signer wants the key block alone.
    let start = pem.find("-----BEGIN PRIVATE KEY-----").unwrap();
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(&pem.as_bytes()[start..]).unwrap();
    jsonwebtoken::encode(&h, claims, &key).unwrap()
}

#[tokio::test]
async fn token_endpoint_client_assertion() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let cert = std::fs::read_to_string(dir.join("test-client.crt")).unwrap();
    let pem_text = std::fs::read_to_string(dir.join("test-client.pem")).unwrap();
    let mut cfg = small_config(2);
    cfg.tenants[0].certificates.push(cert.clone());
    let t = start(cfg).await;
    let der = pem::parse(cert.as_bytes()).unwrap().contents().to_vec();
    use sha1::Digest;
    let x5t = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(&der));
    let url = format!(
        "{}/{}/oauth2/v2.0/token",
        t.emu.login_url(),
        t.tenant.tenant_id
    );
    let now = chrono::Utc::now().timestamp();
    let good = Claims {
        aud: url.clone(),
        iss: t.tenant.client_id.clone(),
        sub: t.tenant.client_id.clone(),
        exp: now + 600,
        nbf: now - 10,
        jti: "1".into(),
    };
    let post = |jwt: String| {
        let c = t.c.clone();
        let url = url.clone();
        let cid = t.tenant.client_id.clone();
        async move {
            let r = c
                .post(url)
                .form(&[
                    ("client_id", cid.as_str()),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", jwt.as_str()),
                    ("scope", "https://graph.microsoft.com/.default"),
                    ("grant_type", "client_credentials"),
                ])
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    let (s, v) = post(assertion(&pem_text, &x5t, &good)).await;
    assert_eq!(s, 200, "{v}");
    let tok = v["access_token"].as_str().unwrap().to_string();
    let r =
        t.c.get(format!(
            "{}/users/{}/settings/exchange",
            t.emu.graph_url(),
            t.tenant.users[0].upn
        ))
        .bearer_auth(tok)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The real login host's URL is an accepted audience too.
    let mut c2 = Claims {
        aud: format!(
            "https://login.microsoftonline.com/{}/oauth2/v2.0/token",
            t.tenant.tenant_id
        ),
        ..good
    };
    assert_eq!(post(assertion(&pem_text, &x5t, &c2)).await.0, 200);

    c2.aud = "https://elsewhere.example/token".into();
    let (s, v) = post(assertion(&pem_text, &x5t, &c2)).await;
    assert_eq!(
        (s.as_u16(), v["error"].as_str()),
        (401, Some("invalid_client"))
    );
    c2.aud = url.clone();
    c2.exp = now - 5;
    let (s, v) = post(assertion(&pem_text, &x5t, &c2)).await;
    assert_eq!(
        (s.as_u16(), v["error_codes"][0].as_u64()),
        (401, Some(700024))
    );
    c2.exp = now + 600;
    c2.iss = "someone-else".into();
    assert_eq!(post(assertion(&pem_text, &x5t, &c2)).await.0, 401);
    c2.iss = t.tenant.client_id.clone();
    // Unknown thumbprint.
    let (s, v) = post(assertion(&pem_text, "AAAAAAAAAAAAAAAAAAAAAAAAAAA", &c2)).await;
    assert_eq!(
        (s.as_u16(), v["error_codes"][0].as_u64()),
        (401, Some(700027))
    );
    // `x5t#S256` instead of `x5t`.
    {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        h.x5t_s256 = Some(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(<sha2::Sha256 as sha2::Digest>::digest(&der)),
        );
        let start = pem_text.find("-----BEGIN PRIVATE KEY-----").unwrap();
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(&pem_text.as_bytes()[start..]).unwrap();
        let r = post(jsonwebtoken::encode(&h, &c2, &key).unwrap()).await;
        assert_eq!(r.0, 200, "{}", r.1);
    }
    // Tampered signature.
    let mut jwt = assertion(&pem_text, &x5t, &c2);
    let last = jwt.pop().unwrap();
    jwt.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(post(jwt).await.0, 401);
}

// ---------------------------------------------------------------- bearer, settings

#[tokio::test]
async fn bearer_errors_and_exchange_settings() {
    let t = start(small_config(3)).await;
    let upn = t.tenant.users[0].upn.clone();
    let url = format!("{}/users/{}/settings/exchange", t.emu.graph_url(), upn);
    let (s, v) = t.get(&url).await;
    assert_eq!(s, 200);
    assert_eq!(v["primaryMailboxId"], t.primary());
    assert_eq!(v["inPlaceArchiveMailboxId"], t.archive());
    assert!(v["primaryMailboxId"].as_str().unwrap().starts_with("MBX:"));
    assert!(v["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("/settings/exchange/$entity"));
    // v1.0 has no archive id; paths are case-insensitive.
    let (s, v) = t
        .get(&format!(
            "{}/V1.0/Users/{}/Settings/Exchange",
            t.emu.base_url(),
            upn.to_uppercase()
        ))
        .await;
    assert_eq!(s, 200);
    assert_eq!(v["primaryMailboxId"], t.primary());
    assert!(v.get("inPlaceArchiveMailboxId").is_none());
    let (s, v) = t
        .get(&format!(
            "{}/users/nobody@x.example/settings/exchange",
            t.emu.graph_url()
        ))
        .await;
    assert_eq!((s.as_u16(), code(&v)), (404, "Request_ResourceNotFound"));

    // Missing, unknown, expired bearer → 401.
    let r = t.c.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(code(&v), "InvalidAuthenticationToken");
    assert!(v["error"]["innerError"]["request-id"].is_string());
    let r = t.c.get(&url).bearer_auth("garbage").send().await.unwrap();
    assert_eq!(r.status(), 401);
    t.emu.advance_clock(Duration::from_secs(3600));
    let (s, v) = t.get(&url).await;
    assert_eq!((s.as_u16(), code(&v)), (401, "InvalidAuthenticationToken"));
    assert!(v["error"]["message"].as_str().unwrap().contains("expired"));

    // A token of tenant 2 cannot read tenant 1's mailbox.
    let t2 = t.emu.tenants()[1].clone();
    let tok2 = token_for(&t.emu, &t.c, &t2).await;
    let r =
        t.c.get(format!("{}/folders", t.mbx(&t.primary())))
            .bearer_auth(&tok2)
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 403);
    let v: Value = r.json().await.unwrap();
    assert_eq!(code(&v), "ErrorAccessDenied");
    // Unknown mailbox and unknown route.
    let r =
        t.c.get(format!("{}/folders", t.mbx("MBX:nope@nope")))
            .bearer_auth(&tok2)
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 404);
    let r =
        t.c.get(format!("{}/nonsense", t.emu.graph_url()))
            .bearer_auth(&tok2)
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 404);
}

// ---------------------------------------------------------------- folders

#[tokio::test]
async fn folders_list_get_create_patch_delete() {
    let t = start(small_config(4)).await;
    let mbx = t.primary();
    let snap = t.emu.mailbox_snapshot(&mbx);
    let top: Vec<&str> = snap
        .folders
        .iter()
        .filter(|f| f.parent_id.as_deref() == Some(snap.ipm_root_id.as_str()))
        .map(|f| f.id.as_str())
        .collect();
    // Paging with $top and nextLink (which re-encodes the query with %24).
    let (s, first) = t.get(&format!("{}/folders?$top=3", t.mbx(&mbx))).await;
    assert_eq!(s, 200);
    assert_eq!(first["value"].as_array().unwrap().len(), 3);
    let next = first["@odata.nextLink"].as_str().unwrap();
    assert!(
        next.contains("%24skip=3") && next.contains("%24top=3"),
        "{next}"
    );
    let (all, _, pages) = t
        .all(&format!("{}/folders?$top=3", t.mbx(&mbx)), None)
        .await;
    assert!(pages >= 4);
    let mut got: Vec<&str> = all.iter().map(|f| f["id"].as_str().unwrap()).collect();
    let mut want = top.clone();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    let inbox = &all.iter().find(|f| f["wellKnownName"] == "inbox").unwrap();
    assert_eq!(inbox["@odata.type"], "#microsoft.graph.mailboxFolder");
    assert_eq!(inbox["type"], "IPF.Note");
    assert_eq!(inbox["parentFolderId"], snap.ipm_root_id.as_str());
    assert!(inbox["parentMailboxUrl"].as_str().unwrap().ends_with(&mbx));
    let inbox_id = inbox["id"].as_str().unwrap().to_string();
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    assert_eq!(
        inbox["totalItemCount"].as_u64().unwrap(),
        snap.folders
            .iter()
            .find(|f| f.id == inbox_id)
            .unwrap()
            .item_count
    );
    // $filter on type, $select, $count.
    let (_, v) = t
        .get(&format!(
            "{}/folders?$filter=type eq 'IPF.Appointment'&$select=displayName,type&$count=true",
            t.mbx(&mbx)
        ))
        .await;
    let vals = v["value"].as_array().unwrap();
    assert_eq!(vals.len(), 1);
    assert_eq!(v["@odata.count"], 1);
    assert!(
        vals[0].get("childFolderCount").is_none()
            && vals[0]["id"].is_string()
            && vals[0]["parentMailboxUrl"].is_string()
    );
    let (s, v) = t
        .get(&format!(
            "{}/folders?$filter=startswith(displayName,'x')",
            t.mbx(&mbx)
        ))
        .await;
    assert_eq!((s.as_u16(), code(&v)), (400, "ErrorInvalidUrlQueryFilter"));

    // Get by id, by well-known name, via OData key syntax and odd casing.
    let (s, v) = t
        .get(&format!("{}/folders/{}", t.mbx(&mbx), enc(&inbox_id)))
        .await;
    assert_eq!(
        (s.as_u16(), v["displayName"].as_str()),
        (200, Some("Inbox"))
    );
    let (s, v) = t.get(&format!("{}/folders/Inbox", t.mbx(&mbx))).await;
    assert_eq!(
        (s.as_u16(), v["id"].as_str()),
        (200, Some(inbox_id.as_str()))
    );
    let (s, _) = t
        .get(&format!(
            "{}/Admin/Exchange/Mailboxes('{}')/Folders('{}')",
            t.emu.graph_url(),
            enc(&mbx),
            enc(&inbox_id)
        ))
        .await;
    assert_eq!(s, 200);
    // childFolders list and get.
    let (s, v) = t
        .get(&format!("{}/folders/inbox/childFolders", t.mbx(&mbx)))
        .await;
    assert_eq!(s, 200);
    let kids = v["value"].as_array().unwrap();
    assert_eq!(
        kids.len() as u64,
        inbox["childFolderCount"].as_u64().unwrap()
    );
    let kid = kids[0]["id"].as_str().unwrap().to_string();
    let (s, _) = t
        .get(&format!(
            "{}/folders/inbox/childFolders/{}",
            t.mbx(&mbx),
            enc(&kid)
        ))
        .await;
    assert_eq!(s, 200);
    let (s, v) = t
        .get(&format!(
            "{}/folders/sentitems/childFolders/{}",
            t.mbx(&mbx),
            enc(&kid)
        ))
        .await;
    assert_eq!((s.as_u16(), code(&v)), (404, "ErrorItemNotFound"));
    // Unknown and malformed ids.
    let unknown = {
        let mut s = kid.clone();
        s.replace_range(8..12, "QUJD");
        s
    };
    let (s, v) = t
        .get(&format!("{}/folders/{}", t.mbx(&mbx), enc(&unknown)))
        .await;
    assert_eq!((s.as_u16(), code(&v)), (404, "ErrorItemNotFound"));
    let (s, v) = t.get(&format!("{}/folders/not-an-id!", t.mbx(&mbx))).await;
    assert_eq!((s.as_u16(), code(&v)), (400, "ErrorInvalidIdMalformed"));

    // Create (top level and child), duplicate, missing type.
    let (s, v) = t
        .post(
            &format!("{}/folders", t.mbx(&mbx)),
            json!({"displayName":"Ünïcödé 📁","type":"IPF.Note"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["parentFolderId"], snap.ipm_root_id.as_str());
    assert_eq!(v["wellKnownName"], Value::Null);
    let newid = v["id"].as_str().unwrap().to_string();
    let (s, v) = t
        .post(
            &format!("{}/folders/{}/childFolders", t.mbx(&mbx), enc(&newid)),
            json!({"displayName":"child","type":"IPF.Note"}),
        )
        .await;
    assert_eq!(s, 201);
    let child = v["id"].as_str().unwrap().to_string();
    let (s, v) = t
        .post(
            &format!("{}/folders", t.mbx(&mbx)),
            json!({"displayName":"ünïcödé 📁","type":"IPF.Note"}),
        )
        .await;
    assert_eq!((s.as_u16(), code(&v)), (409, "ErrorFolderExists"));
    let (s, v) = t
        .post(
            &format!("{}/folders", t.mbx(&mbx)),
            json!({"displayName":"x"}),
        )
        .await;
    assert_eq!((s.as_u16(), code(&v)), (400, "ErrorInvalidRequest"));
    assert_eq!(
        t.emu
            .mailbox_snapshot(&mbx)
            .folder_by_path("Ünïcödé 📁/child")
            .unwrap()
            .id,
        child
    );

    // PATCH displayName (200) and type (400).
    let (s, v, _) = t
        .send(
            t.c.patch(format!("{}/folders/{}", t.mbx(&mbx), enc(&newid)))
                .json(&json!({"displayName":"Renamed"})),
        )
        .await;
    assert_eq!(
        (s.as_u16(), v["displayName"].as_str()),
        (200, Some("Renamed"))
    );
    let (s, v, _) = t
        .send(
            t.c.patch(format!(
                "{}/folders/{}/childFolders/{}",
                t.mbx(&mbx),
                enc(&newid),
                enc(&child)
            ))
            .json(&json!({"type":"IPF.Contact"})),
        )
        .await;
    assert_eq!((s.as_u16(), code(&v)), (400, "ErrorInvalidRequest"));
    // DELETE with /$ref and without; well-known folders refuse.
    let (s, _, _) = t
        .send(t.c.delete(format!(
            "{}/folders/{}/childFolders/{}/$ref",
            t.mbx(&mbx),
            enc(&newid),
            enc(&child)
        )))
        .await;
    assert_eq!(s, 204);
    let (s, _, _) = t
        .send(t.c.delete(format!("{}/folders/{}", t.mbx(&mbx), enc(&newid))))
        .await;
    assert_eq!(s, 204);
    assert!(t
        .emu
        .mailbox_snapshot(&mbx)
        .folder_by_path("Renamed")
        .is_none());
    let (s, v, _) = t
        .send(t.c.delete(format!("{}/folders/inbox/$ref", t.mbx(&mbx))))
        .await;
    assert_eq!(
        (s.as_u16(), code(&v)),
        (403, "ErrorDeleteDistinguishedFolder")
    );
    // Wrong method.
    let (s, _, _) = t.send(t.c.put(format!("{}/folders", t.mbx(&mbx)))).await;
    assert_eq!(s, 405);
}

// ---------------------------------------------------------------- items

#[tokio::test]
async fn items_list_get_expand_delete() {
    let t = start(small_config(5)).await;
    let mbx = t.primary();
    let snap = t.emu.mailbox_snapshot(&mbx);
    let inbox = snap.folder_by_path("Inbox").unwrap().clone();
    assert!(
        inbox.item_count >= 3,
        "generator put {} items in the Inbox",
        inbox.item_count
    );
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let base = format!("{}/folders/{}/items", t.mbx(&mbx), enc(&inbox.id));
    let (s, v) = t.get(&format!("{base}?$top=2")).await;
    assert_eq!(s, 200);
    assert!(v["@odata.nextLink"].as_str().unwrap().contains("%24skip=2"));
    let (all, _, _) = t
        .all(&format!("{base}?$top=2&$expand=singleValueExtendedProperties($filter=id eq 'Binary 0x300B')"), None)
        .await;
    assert_eq!(all.len() as u64, inbox.item_count);
    for it in &all {
        let id = it["id"].as_str().unwrap();
        let want = snap.item(id).unwrap();
        assert_eq!(it["@odata.type"], "#microsoft.graph.mailboxItem");
        assert_eq!(it["changeKey"], want.change_key.as_str());
        assert_eq!(it["@odata.etag"], format!("W/\"{}\"", want.change_key));
        assert_eq!(it["type"], want.message_class.as_str());
        assert_eq!(it["size"], want.size);
        assert_eq!(it["createdDateTime"], want.created.as_str());
        let props = it["singleValueExtendedProperties"].as_array().unwrap();
        assert_eq!(props[0]["id"], "Binary 0x300B");
        let key = B64.decode(props[0]["value"].as_str().unwrap()).unwrap();
        assert_eq!(Some(key), want.search_key);
    }
    // $select and $filter on dates.
    let (_, v) = t
        .get(&format!(
            "{base}?$select=size,type&$filter=createdDateTime ge 2000-01-01&$top=1"
        ))
        .await;
    let e = &v["value"][0];
    assert!(e["size"].is_number() && e["id"].is_string() && e.get("changeKey").is_none());
    let (_, v) = t
        .get(&format!("{base}?$filter=createdDateTime ge 2100-01-01"))
        .await;
    assert_eq!(v["value"].as_array().unwrap().len(), 0);
    // Get one item, then errors.
    let id0 = all[0]["id"].as_str().unwrap().to_string();
    let (s, v) = t.get(&format!("{base}/{}", enc(&id0))).await;
    assert_eq!((s.as_u16(), v["id"].as_str()), (200, Some(id0.as_str())));
    let sent = snap.folder_by_path("Sent Items").unwrap();
    let (s, v) = t
        .get(&format!(
            "{}/folders/{}/items/{}",
            t.mbx(&mbx),
            enc(&sent.id),
            enc(&id0)
        ))
        .await;
    assert_eq!((s.as_u16(), code(&v)), (404, "ErrorItemNotFound"));
    let (s, v) = t.get(&format!("{base}/garbage")).await;
    assert_eq!((s.as_u16(), code(&v)), (400, "ErrorInvalidIdMalformed"));
    // POST items is not an operation.
    let (s, _) = t.post(&base, json!({})).await;
    assert_eq!(s, 405);

    // DELETE needs disposalType; soft moves to recoverable items; hard on a protected item 403.
    let (s, v, _) = t.send(t.c.delete(format!("{base}/{}", enc(&id0)))).await;
    assert_eq!((s.as_u16(), code(&v)), (400, "ErrorInvalidRequest"));
    let (s, _, _) = t
        .send(t.c.delete(format!("{base}/{}?disposalType=softDelete", enc(&id0))))
        .await;
    assert_eq!(s, 204);
    assert!(t.emu.mailbox_snapshot(&mbx).item(&id0).is_none());
    let (s, _) = t
        .get(&format!(
            "{}/folders/recoverableitemsdeletions/items/{}",
            t.mbx(&mbx),
            enc(&id0)
        ))
        .await;
    assert_eq!(s, 200);
    let id1 = all[1]["id"].as_str().unwrap().to_string();
    assert!(t.emu.protect_item(&mbx, &id1));
    let (s, v, _) = t
        .send(t.c.delete(format!("{base}/{}?disposalType=hardDelete", enc(&id1))))
        .await;
    assert_eq!((s.as_u16(), code(&v)), (403, "ErrorAccessDenied"));
    let id2 = all[2]["id"].as_str().unwrap().to_string();
    let (s, _, _) = t
        .send(t.c.delete(format!("{base}/{}?disposalType=hardDelete", enc(&id2))))
        .await;
    assert_eq!(s, 204);
    let (s, _, _) = t
        .send(t.c.delete(format!("{base}/{}?disposalType=hardDelete", enc(&id2))))
        .await;
    assert_eq!(s, 404);
}

// ---------------------------------------------------------------- delta

#[tokio::test]
async fn items_and_folders_delta_rounds_and_expiry() {
    let t = start(small_config(6)).await;
    let mbx = t.primary();
    let snap = t.emu.mailbox_snapshot(&mbx);
    let inbox = snap.folder_by_path("Inbox").unwrap().clone();
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let url = format!("{}/folders/{}/items/delta", t.mbx(&mbx), enc(&inbox.id));
    // Page size from Prefer: odata.maxpagesize.
    let (s, v, h) = t
        .send(t.c.get(&url).header("Prefer", "odata.maxpagesize=2"))
        .await;
    assert_eq!(s, 200);
    assert_eq!(v["value"].as_array().unwrap().len(), 2);
    assert!(v["@odata.nextLink"]
        .as_str()
        .unwrap()
        .contains("$skiptoken="));
    assert_eq!(h["preference-applied"], "odata.maxpagesize=2");
    let expand = "$expand=singleValueExtendedProperties($filter=id eq 'Binary 0x300B')";
    let (items, delta, pages) = t
        .all(&format!("{url}?{expand}"), Some("odata.maxpagesize=2"))
        .await;
    assert_eq!(items.len() as u64, inbox.item_count);
    // $expand is kept on every page: each item carries its search key.
    for it in &items {
        let key = B64
            .decode(
                it["singleValueExtendedProperties"][0]["value"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap();
        assert_eq!(
            Some(key),
            snap.item(it["id"].as_str().unwrap()).unwrap().search_key
        );
    }
    assert!(pages as u64 >= inbox.item_count / 2);
    let delta = delta.unwrap();
    assert!(delta.contains("$deltatoken="));
    // Nothing changed: empty round.
    let (none, delta2, _) = t.all(&delta, None).await;
    assert!(none.is_empty());
    let delta = delta2.unwrap();

    // Evolve until the inbox sees additions and removals, then only changes come back.
    let mut seed = 1;
    let rep = loop {
        let r = t.emu.evolve(&mbx, seed, 25);
        seed += 1;
        if r.added.iter().chain(r.deleted.iter()).any(|_| true) {
            break r;
        }
    };
    let after = t.emu.mailbox_snapshot(&mbx);
    let (changes, next_delta, _) = t.all(&delta, Some("odata.maxpagesize=3")).await;
    let removed: Vec<&str> = changes
        .iter()
        .filter(|c| c.get("@removed").is_some())
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    let changed: Vec<&str> = changes
        .iter()
        .filter(|c| c.get("@removed").is_none())
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    for c in &changes {
        if c.get("@removed").is_some() {
            assert_eq!(c["@removed"]["reason"], "deleted");
        }
    }
    // Oracle: the inbox now = old inbox − removed + changed.
    let old: std::collections::BTreeSet<&str> =
        items.iter().map(|i| i["id"].as_str().unwrap()).collect();
    let now: std::collections::BTreeSet<&str> = after
        .items
        .iter()
        .filter(|i| i.folder_id == inbox.id)
        .map(|i| i.id.as_str())
        .collect();
    let mut rebuilt = old.clone();
    for r in &removed {
        rebuilt.remove(r);
    }
    for c in &changed {
        rebuilt.insert(c);
    }
    assert_eq!(rebuilt, now, "report {rep:?}");
    for c in &changed {
        assert!(
            !old.contains(c)
                || rep.edited.iter().any(|e| e == c)
                || rep.moved.iter().any(|m| m.0 == *c),
            "unchanged item {c} reported"
        );
    }
    assert!(next_delta.is_some());

    // Folder delta: initial round = whole IPM tree; then a new folder and a deleted one.
    let furl = format!("{}/folders/delta", t.mbx(&mbx));
    let (folders, fdelta, _) = t.all(&furl, Some("odata.maxpagesize=5")).await;
    assert_eq!(folders.len(), after.folders.len());
    assert!(folders
        .iter()
        .all(|f| f["parentFolderId"].is_string() && f["type"].is_string()));
    let (s, v) = t
        .post(
            &format!("{}/folders", t.mbx(&mbx)),
            json!({"displayName":"New","type":"IPF.Note"}),
        )
        .await;
    assert_eq!(s, 201);
    let newid = v["id"].as_str().unwrap().to_string();
    let gone = after
        .folder_by_path("Clients/Société Générale")
        .unwrap()
        .id
        .clone();
    let (s, _, _) = t
        .send(t.c.delete(format!("{}/folders/{}", t.mbx(&mbx), enc(&gone))))
        .await;
    assert_eq!(s, 204);
    let (fchanges, _, _) = t.all(&fdelta.unwrap(), None).await;
    assert_eq!(fchanges.len(), 2, "{fchanges:?}");
    assert!(fchanges
        .iter()
        .any(|f| f["id"] == newid.as_str() && f["displayName"] == "New"));
    assert!(fchanges
        .iter()
        .any(|f| f["id"] == gone.as_str() && f["@removed"]["reason"] == "deleted"));
    // childFolders/delta is scoped to the subtree.
    let (sub, _, _) = t
        .all(
            &format!("{}/folders/inbox/childFolders/delta", t.mbx(&mbx)),
            None,
        )
        .await;
    assert!(!sub.is_empty() && sub.len() < after.folders.len());

    // Expired tokens: 410 with Location (default), 400 syncStateNotFound when configured,
    // junk tokens likewise; delta tokens also expire with time.
    let (_, _, d3) = {
        let (a, b, c) = t.all(&url, None).await;
        (a, c, b.unwrap())
    };
    t.emu.expire_delta_tokens(Some(&mbx));
    let (s, v, h) = t.send(t.c.get(&d3)).await;
    assert_eq!((s.as_u16(), code(&v)), (410, "resyncRequired"));
    assert!(h["location"].to_str().unwrap().ends_with("/items/delta"));
    t.emu.set_faults("delta=sync".parse().unwrap());
    let (s, v, _) = t.send(t.c.get(&d3)).await;
    assert_eq!((s.as_u16(), code(&v)), (400, "syncStateNotFound"));
    let (s, _) = t.get(&format!("{url}?$skiptoken=bogus")).await;
    assert_eq!(s, 400);
    let (_, d4, _) = t.all(&url, None).await;
    t.emu.advance_clock(Duration::from_secs(8 * 24 * 3600));
    let fresh = token_for(&t.emu, &t.c, &t.tenant).await;
    let r =
        t.c.get(d4.unwrap())
            .bearer_auth(fresh)
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 400);
    assert!(t.emu.stats().faults["deltaExpired"] >= 4);
}

// ---------------------------------------------------------------- export

#[tokio::test]
async fn export_items_data_errors_and_limits() {
    let t = start(small_config(7)).await;
    let mbx = t.primary();
    let snap = t.emu.mailbox_snapshot(&mbx);
    let ids: Vec<&str> = snap.items.iter().take(3).map(|i| i.id.as_str()).collect();
    let other = t.emu.mailbox_snapshot(&t.archive());
    let foreign = other.items[0].id.as_str();
    let (s, v) = t
        .export(&mbx, &[ids[0], "garbage", ids[1], foreign, ids[2]])
        .await;
    assert_eq!(s, 200);
    assert!(v["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("#Collection(microsoft.graph.exportItemResponse)"));
    let vals = v["value"].as_array().unwrap();
    assert_eq!(vals.len(), 5);
    for (k, want) in [(0usize, ids[0]), (2, ids[1]), (4, ids[2])] {
        assert_eq!(vals[k]["itemId"], want);
        let item = snap.item(want).unwrap();
        assert_eq!(vals[k]["changeKey"], item.change_key.as_str());
        let data = B64.decode(vals[k]["data"].as_str().unwrap()).unwrap();
        assert_eq!(data, item.data.as_ref());
        let msg = mbxa_fasttransfer::parse(&data).unwrap();
        assert_eq!(msg.search_key(), item.search_key.as_deref());
        assert!(vals[k].get("error").is_none());
    }
    assert_eq!(vals[1]["error"]["code"], "ErrorInvalidIdMalformed");
    assert_eq!(vals[3]["error"]["code"], "ErrorItemNotFound");
    assert!(vals[3].get("data").is_none());
    // data comes last in each element, as observed on the wire.
    let raw =
        t.c.post(format!("{}/exportItems", t.mbx(&mbx)))
            .bearer_auth(&t.token)
            .json(&json!({"ItemIds": [ids[0]]}))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
    assert!(raw.contains("\",\"data\":\"") && raw.ends_with("\"}]}"));
    // > 20 ids and empty lists.
    let many: Vec<&str> = std::iter::repeat_n(ids[0], 21).collect();
    let (s, v) = t.export(&mbx, &many).await;
    assert_eq!((s.as_u16(), code(&v)), (400, "ErrorInvalidArgument"));
    let (s, _) = t.export(&mbx, &[]).await;
    assert_eq!(s, 400);
    let (s, v) = t
        .post(&format!("{}/exportItems", t.mbx(&mbx)), json!({"nope": 1}))
        .await;
    assert_eq!((s.as_u16(), code(&v)), (400, "ErrorInvalidRequest"));
    let stats = t.emu.stats();
    assert_eq!(stats.exports_of(ids[0]), 2);
    assert_eq!(stats.exports_of(ids[1]), 1);
    assert!(stats.route("POST exportItems") >= 5);
}

// ---------------------------------------------------------------- import

#[tokio::test]
async fn import_session_create_update_and_errors() {
    let t = start(small_config(8)).await;
    let mbx = t.primary();
    let snap = t.emu.mailbox_snapshot(&mbx);
    let src = snap
        .items
        .iter()
        .find(|i| i.folder_path == "Inbox")
        .unwrap()
        .clone();
    let target = snap.folder_by_path("Inbox/Receipts").unwrap().id.clone();
    let (s, v) = t.export(&mbx, &[&src.id]).await;
    assert_eq!(s, 200);
    let data = v["value"][0]["data"].as_str().unwrap().to_string();

    let (s, sess) = t
        .post(&format!("{}/createImportSession", t.mbx(&mbx)), Value::Null)
        .await;
    assert_eq!(s, 200);
    let url = sess["importUrl"].as_str().unwrap().to_string();
    assert!(
        url.contains("/api/gbeta/Mailboxes('") && url.contains("/importItem?authtoken="),
        "{url}"
    );
    let exp = sess["expirationDateTime"].as_str().unwrap();
    assert_eq!(exp.len(), "2024-10-17T19:00:48.1052906Z".len(), "{exp}");
    // No Authorization header on the import URL.
    let post = |body: Value| {
        let c = t.c.clone();
        let url = url.clone();
        async move {
            let r = c.post(url).json(&body).send().await.unwrap();
            let s = r.status();
            (s, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    t.emu.advance_clock(Duration::from_secs(5));
    let (s, v) = post(json!({"FolderId": target, "Mode": "create", "Data": data})).await;
    assert_eq!(s, 200, "{v}");
    assert!(v["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("#microsoft.graph.importMailboxItemResponse"));
    let new_id = v["itemId"].as_str().unwrap().to_string();
    let ck = v["changeKey"].as_str().unwrap().to_string();
    assert_ne!(new_id, src.id);
    // Exact bytes stored; search key kept; createdDateTime and size changed.
    let after = t.emu.mailbox_snapshot(&mbx);
    let imported = after.item(&new_id).unwrap();
    assert_eq!(imported.data, src.data);
    assert_eq!(imported.search_key, src.search_key);
    assert_eq!(imported.folder_path, "Inbox/Receipts");
    assert_ne!(imported.created, src.created);
    assert_ne!(imported.size, src.size);
    let (_, v) = t.export(&mbx, &[&new_id]).await;
    assert_eq!(v["value"][0]["data"].as_str().unwrap(), data);
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let (_, v) = t
        .get(&format!(
            "{}/folders/{}/items?$expand=singleValueExtendedProperties($filter=id eq 'Binary 0x300B')",
            t.mbx(&mbx),
            enc(&target)
        ))
        .await;
    let found = v["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == new_id.as_str())
        .unwrap();
    assert_eq!(
        B64.decode(
            found["singleValueExtendedProperties"][0]["value"]
                .as_str()
                .unwrap()
        )
        .unwrap(),
        src.search_key.clone().unwrap()
    );

    // Update: same id, new change key; stale change key 412; create with ItemId 400.
    let other = snap.items.iter().find(|i| i.id != src.id).unwrap();
    let other_data = B64.encode(&other.data);
    let (s, v) = post(json!({"FolderId": target, "Mode": "update", "Data": other_data, "ItemId": new_id, "ChangeKey": ck})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["itemId"], new_id.as_str());
    assert_ne!(v["changeKey"], ck.as_str());
    assert_eq!(
        t.emu.mailbox_snapshot(&mbx).item(&new_id).unwrap().data,
        other.data
    );
    let (s, v) = post(json!({"FolderId": target, "Mode": "update", "Data": other_data, "ItemId": new_id, "ChangeKey": ck})).await;
    assert_eq!((s.as_u16(), code(&v)), (412, "ErrorIrresolvableConflict"));
    let (s, v) =
        post(json!({"FolderId": target, "Mode": "create", "Data": data, "ItemId": new_id})).await;
    assert_eq!((s.as_u16(), code(&v)), (400, "ErrorInvalidRequest"));
    let (s, _) = post(json!({"FolderId": target, "Mode": "update", "Data": data})).await;
    assert_eq!(s, 400);
    let (s, _) = post(json!({"FolderId": target, "Mode": "move", "Data": data})).await;
    assert_eq!(s, 400);
    let (s, v) = post(json!({"FolderId": target, "Mode": "create", "Data": "***"})).await;
    assert_eq!((s.as_u16(), code(&v)), (400, "ErrorCorruptData"));
    let (s, v) = post(
        json!({"FolderId": target, "Mode": "create", "Data": B64.encode(b"not a stream at all")}),
    )
    .await;
    assert_eq!((s.as_u16(), code(&v)), (400, "ErrorCorruptData"));
    let (s, v) = post(
        json!({"FolderId": "AAMkAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "Mode": "create", "Data": data}),
    )
    .await;
    assert_eq!((s.as_u16(), code(&v)), (404, "ErrorItemNotFound"));
    let (s, _) = post(json!({"Mode": "create"})).await;
    assert_eq!(s, 400);
    // Bad token, wrong mailbox, expired session → 401.
    let r =
        t.c.post(url.replace("authtoken=", "authtoken=x"))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 401);
    let r =
        t.c.post(url.split('?').next().unwrap())
            .json(&json!({}))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 401);
    t.emu.expire_import_sessions();
    let (s, v) = post(json!({"FolderId": target, "Mode": "create", "Data": data})).await;
    assert_eq!((s.as_u16(), code(&v)), (401, "InvalidAuthenticationToken"));
    assert_eq!(t.emu.stats().imports, 2);
    // v1.0 sessions point at gv1.0.
    let (s, v) = t
        .post(
            &format!(
                "{}/v1.0/admin/exchange/mailboxes/{}/createImportSession",
                t.emu.base_url(),
                mbx
            ),
            json!({}),
        )
        .await;
    assert_eq!(s, 200);
    assert!(v["importUrl"].as_str().unwrap().contains("/api/gv1.0/"));
}

#[tokio::test]
async fn json_batch_runs_exports_and_reports_per_request_status() {
    let t = start(small_config(17)).await;
    let mbx = t.primary();
    let snap = t.emu.mailbox_snapshot(&mbx);
    let ids: Vec<&str> = snap.items.iter().take(2).map(|i| i.id.as_str()).collect();
    let path = format!("/admin/exchange/mailboxes/{mbx}/exportItems");
    let (s, v) = t
        .post(
            &format!("{}/$batch", t.emu.graph_url()),
            json!({"requests": [
                {"id": "1", "method": "POST", "url": path, "headers": {"Content-Type": "application/json"}, "body": {"itemIds": [ids[0]]}},
                {"id": "2", "method": "POST", "url": path, "dependsOn": ["1"], "body": {"itemIds": [ids[1]]}},
                {"id": "3", "method": "GET", "url": format!("/admin/exchange/mailboxes/{mbx}/folders/nope!")},
            ]}),
        )
        .await;
    assert_eq!(s, 200);
    let rs = v["responses"].as_array().unwrap();
    assert_eq!(rs.len(), 3);
    for (k, id) in ids.iter().enumerate() {
        assert_eq!(rs[k]["status"], 200);
        let data = B64
            .decode(rs[k]["body"]["value"][0]["data"].as_str().unwrap())
            .unwrap();
        assert_eq!(data, snap.item(id).unwrap().data.as_ref());
    }
    assert_eq!(rs[2]["status"], 400);
    assert_eq!(rs[2]["body"]["error"]["code"], "ErrorInvalidIdMalformed");
    let many: Vec<Value> = (0..21)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/users/x/settings/exchange"}))
        .collect();
    let (s, _) = t
        .post(
            &format!("{}/$batch", t.emu.graph_url()),
            json!({ "requests": many }),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(t.emu.stats().route("POST $batch"), 2);
}

// ---------------------------------------------------------------- throttling

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_limit_answers_429_application_throttled() {
    let mut cfg = small_config(9);
    cfg.limits = "concurrency=2,retry-after=0.75".parse().unwrap();
    cfg.latency = Duration::from_millis(600);
    let t = start(cfg).await;
    let url = format!("{}/folders", t.mbx(&t.primary()));
    let futs: Vec<_> = (0..6)
        .map(|_| {
            let c = t.c.clone();
            let url = url.clone();
            let tok = t.token.clone();
            tokio::spawn(async move {
                let r = c.get(url).bearer_auth(tok).send().await.unwrap();
                let ra = r
                    .headers()
                    .get("retry-after")
                    .map(|h| h.to_str().unwrap().to_string());
                (r.status(), ra, r.json::<Value>().await.unwrap())
            })
        })
        .collect();
    let mut ok = 0;
    let mut throttled = 0;
    for f in futs {
        let (s, ra, v) = f.await.unwrap();
        if s == 200 {
            ok += 1;
        } else {
            assert_eq!(s, 429);
            assert_eq!(code(&v), "ApplicationThrottled");
            assert!(v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("MailboxConcurrency"));
            assert_eq!(ra.as_deref(), Some("0.75"));
            throttled += 1;
        }
    }
    assert!(ok >= 2 && throttled >= 1, "ok {ok} throttled {throttled}");
    let st = t.emu.stats();
    assert_eq!(st.peak_concurrency[&t.primary()], 2);
    assert_eq!(st.throttled_by["concurrency"], throttled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streaming_export_keeps_its_concurrency_slot() {
    let mut cfg = small_config(18);
    cfg.limits = "concurrency=1".parse().unwrap();
    let t = start(cfg).await;
    let mbx = t.primary();
    // A 20 MB item: its export body (27 MB of base64) cannot sit in socket buffers.
    let big: Vec<u8> = (0..20_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let data = mbxa_fasttransfer::MessageBuilder::new("IPM.Note")
        .subject("big")
        .search_key(&[7; 16])
        .attachment("big.bin", "application/octet-stream", &big)
        .build();
    let (_, sess) = t
        .post(&format!("{}/createImportSession", t.mbx(&mbx)), json!({}))
        .await;
    let r =
        t.c.post(sess["importUrl"].as_str().unwrap())
            .json(&json!({"FolderId": "inbox", "Mode": "create", "Data": B64.encode(&data)}))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 200);
    let id = r.json::<Value>().await.unwrap()["itemId"]
        .as_str()
        .unwrap()
        .to_string();
    let pending =
        t.c.post(format!("{}/exportItems", t.mbx(&mbx)))
            .bearer_auth(&t.token)
            .json(&json!({"itemIds": [id]}))
            .send()
            .await
            .unwrap();
    assert_eq!(pending.status(), 200);
    // Headers are in, the body is not read: the slot is still taken.
    let (s, v) = t.get(&format!("{}/folders", t.mbx(&mbx))).await;
    assert_eq!((s.as_u16(), code(&v)), (429, "ApplicationThrottled"));
    let body: Value = pending.json().await.unwrap();
    assert_eq!(
        B64.decode(body["value"][0]["data"].as_str().unwrap())
            .unwrap(),
        data
    );
}

#[tokio::test]
async fn request_and_upload_budgets() {
    let mut cfg = small_config(10);
    cfg.limits = "requests=3/60,upload=20KB/300".parse().unwrap();
    let t = start(cfg).await;
    let mbx = t.primary();
    let url = format!("{}/folders", t.mbx(&mbx));
    for _ in 0..3 {
        assert_eq!(t.get(&url).await.0, 200);
    }
    let (s, v, h) = t.send(t.c.get(&url)).await;
    assert_eq!((s.as_u16(), code(&v)), (429, "ApplicationThrottled"));
    let ra: f64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(ra > 50.0 && ra <= 60.0, "{ra}");
    // Another mailbox (the archive) has its own budget.
    assert_eq!(
        t.get(&format!("{}/folders", t.mbx(&t.archive()))).await.0,
        200
    );
    t.emu.advance_clock(Duration::from_secs(61));
    assert_eq!(t.get(&url).await.0, 200);

    // Uploads: import bodies count; the one that does not fit gets IncomingBytes + Retry-After.
    let snap = t.emu.mailbox_snapshot(&mbx);
    let item = snap.items.iter().min_by_key(|i| i.data.len()).unwrap();
    let body = json!({"FolderId": "inbox", "Mode": "create", "Data": B64.encode(&item.data)});
    let len = serde_json::to_vec(&body).unwrap().len();
    t.emu
        .set_limits(format!("upload={}/300", len * 3 / 2).parse().unwrap());
    let (_, sess) = t
        .post(&format!("{}/createImportSession", t.mbx(&mbx)), json!({}))
        .await;
    let iurl = sess["importUrl"].as_str().unwrap();
    let r = t.c.post(iurl).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 200);
    t.emu.advance_clock(Duration::from_millis(1500));
    let r = t.c.post(iurl).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 429);
    let ra: f64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((298.0..299.0).contains(&ra), "{ra}");
    let v: Value = r.json().await.unwrap();
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("IncomingBytes"));
    assert_eq!(t.emu.stats().throttled_by["upload"], 1);
}

// ---------------------------------------------------------------- faults

#[tokio::test]
async fn injected_throttle_errors_drop_and_truncate() {
    let t = start(small_config(11)).await;
    let url = format!("{}/folders", t.mbx(&t.primary()));
    t.emu
        .set_faults("throttle=1x1,retry-after=2.128".parse().unwrap());
    let (s, v, h) = t.send(t.c.get(&url)).await;
    assert_eq!((s.as_u16(), code(&v)), (429, "TooManyRequests"));
    assert_eq!(h["retry-after"], "2.128");
    t.emu.set_faults("error=1".parse().unwrap());
    let (s, v) = t.get(&url).await;
    assert!(s == 500 || s == 503);
    assert!(code(&v) == "generalException" || code(&v) == "serviceNotAvailable");
    t.emu.set_faults("drop=1".parse().unwrap());
    let e = t.c.get(&url).bearer_auth(&t.token).send().await;
    assert!(e.is_err(), "a dropped connection must not answer");
    t.emu.set_faults("truncate=1".parse().unwrap());
    let r = t.c.get(&url).bearer_auth(&t.token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.bytes().await.is_err(),
        "a truncated body must fail to read"
    );
    t.emu.set_faults(Faults::default());
    assert_eq!(t.get(&url).await.0, 200);
    let f = t.emu.stats().faults;
    assert_eq!((f["throttle"], f["drop"], f["truncate"]), (1, 1, 1));
}

#[tokio::test]
async fn export_faults_missing_vanish_unstable() {
    let t = start(small_config(12)).await;
    let mbx = t.primary();
    let snap = t.emu.mailbox_snapshot(&mbx);
    let ids: Vec<&str> = snap.items.iter().take(3).map(|i| i.id.as_str()).collect();
    t.emu.set_faults("missing=1".parse().unwrap());
    let (_, v) = t.export(&mbx, &ids).await;
    assert_eq!(
        v["value"].as_array().unwrap().len(),
        0,
        "all silently missing"
    );
    let (_, v) = t.export(&mbx, &ids[..1]).await;
    assert_eq!(
        v["value"].as_array().unwrap().len(),
        1,
        "single-item exports are complete"
    );

    t.emu.set_faults("unstable".parse().unwrap());
    let (_, a) = t.export(&mbx, &ids[..1]).await;
    let (_, b) = t.export(&mbx, &ids[..1]).await;
    let a = B64.decode(a["value"][0]["data"].as_str().unwrap()).unwrap();
    let b = B64.decode(b["value"][0]["data"].as_str().unwrap()).unwrap();
    assert_ne!(a, b);
    assert_eq!(a.len(), b.len());
    let (ma, mb) = (
        mbxa_fasttransfer::parse(&a).unwrap(),
        mbxa_fasttransfer::parse(&b).unwrap(),
    );
    assert_eq!(ma.subject(), mb.subject());
    assert_eq!(ma.search_key(), mb.search_key());
    assert_eq!(ma.body_text(), mb.body_text());
    assert_eq!(ma.attachments.len(), mb.attachments.len());

    t.emu.set_faults("vanish=1".parse().unwrap());
    let (_, v) = t.export(&mbx, &ids[1..2]).await;
    assert_eq!(v["value"][0]["error"]["code"], "ErrorItemNotFound");
    assert!(t.emu.mailbox_snapshot(&mbx).item(ids[1]).is_none());
}

#[tokio::test]
async fn archive_redirects_308_moved_permanently_and_import_409() {
    let mut cfg = small_config(13);
    cfg.faults = "archive".parse().unwrap();
    let t = start(cfg).await;
    let arch = t.archive();
    let aux = t.tenant.users[0].archive_auxiliary_ids[0].clone();
    let snap = t.emu.mailbox_snapshot(&arch);
    let old = snap.folder_by_path("Archive 2019").unwrap().clone();
    assert_eq!(old.physical_mailbox_id, aux);
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    // Folder list shows the shard in parentMailboxUrl.
    let (all, _, _) = t
        .all(&format!("{}/folders?$top=50", t.mbx(&arch)), None)
        .await;
    let f = all.iter().find(|f| f["id"] == old.id.as_str()).unwrap();
    assert!(f["parentMailboxUrl"].as_str().unwrap().ends_with(&aux));
    // 308 on folder and item routes, empty body, Location with the shard id; following works.
    let url = format!("{}/folders/{}/items?$top=5", t.mbx(&arch), enc(&old.id));
    let r = t.c.get(&url).bearer_auth(&t.token).send().await.unwrap();
    assert_eq!(r.status(), 308);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    assert!(loc.contains(&aux) && loc.ends_with("?$top=5"), "{loc}");
    assert!(r.bytes().await.unwrap().is_empty());
    assert_eq!(t.get(&loc).await.0, 200);
    // Well-known names do not resolve in archives.
    let (s, _) = t.get(&format!("{}/folders/inbox", t.mbx(&arch))).await;
    assert!(s == 400 || s == 404);
    // Export via the main id: per-item `Error` with the URL to re-POST.
    let in_aux = |i: &&mbxa_emulator::SnapshotItem| {
        snap.folders
            .iter()
            .any(|f| f.id == i.folder_id && f.physical_mailbox_id == aux)
    };
    let moved = snap.items.iter().find(in_aux).unwrap();
    let moved_folder = moved.folder_id.clone();
    let here = snap
        .items
        .iter()
        .find(|i| {
            snap.folders
                .iter()
                .any(|f| f.id == i.folder_id && f.physical_mailbox_id == arch)
        })
        .unwrap();
    let (s, v) = t.export(&arch, &[&moved.id, &here.id]).await;
    assert_eq!(s, 200);
    let e = &v["value"][0]["Error"];
    assert_eq!(e["code"], "ErrorArchiveFolderMovedPermanently");
    let again = e["message"].as_str().unwrap();
    assert!(again.ends_with(&format!("{aux}/exportItems")));
    assert!(v["value"][1]["data"].is_string());
    let (s, v) = t.post(again, json!({"itemIds": [moved.id]})).await;
    assert_eq!(s, 200);
    assert_eq!(
        B64.decode(v["value"][0]["data"].as_str().unwrap()).unwrap(),
        moved.data.as_ref()
    );
    // Import into a shard folder through a session on the main archive: 409 {"Message"}.
    let (_, sess) = t
        .post(&format!("{}/createImportSession", t.mbx(&arch)), json!({}))
        .await;
    let r = t
        .c
        .post(sess["importUrl"].as_str().unwrap())
        .json(&json!({"FolderId": moved_folder, "Mode": "create", "Data": B64.encode(&moved.data)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let v: Value = r.json().await.unwrap();
    let m = v["Message"].as_str().unwrap();
    assert!(v.get("error").is_none());
    assert!(m.contains(&format!("expected in mailbox {aux}.")), "{m}");
    let (_, sess) = t
        .post(&format!("{}/createImportSession", t.mbx(&aux)), json!({}))
        .await;
    let r = t
        .c
        .post(sess["importUrl"].as_str().unwrap())
        .json(&json!({"FolderId": moved_folder, "Mode": "create", "Data": B64.encode(&moved.data)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

// ---------------------------------------------------------------- admin, state, generator

#[tokio::test]
async fn admin_routes() {
    let t = start(small_config(14)).await;
    let mbx = t.primary();
    let a = |p: &str| format!("{}/_emulator/{p}", t.emu.base_url());
    let v: Value =
        t.c.get(a("tenants"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(v[0]["users"][0]["primary_mailbox_id"], mbx.as_str());
    let r =
        t.c.put(a("faults"))
            .body("throttle=1")
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(t.emu.faults().throttle_rate, 1.0);
    let r = t.c.put(a("faults")).body("bogus").send().await.unwrap();
    assert_eq!(r.status(), 400);
    let r =
        t.c.put(a("faults"))
            .json(&Faults::default())
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 200);
    let r = t.c.put(a("limits")).body("off").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value =
        t.c.get(a("limits"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(v["enabled"], false);
    let v: Value =
        t.c.post(a(&format!("mailboxes/{mbx}/evolve?seed=3&changes=5")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert!(v["added"].is_array());
    let snap: Value =
        t.c.get(a(&format!("mailboxes/{mbx}/snapshot")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let first = &snap["items"][0];
    let id = first["item"]["id"].as_str().unwrap();
    let data =
        t.c.get(a(&format!("mailboxes/{mbx}/items/{id}/data")))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
    assert_eq!(data.len() as u64, first["len"].as_u64().unwrap());
    let r =
        t.c.post(a("clock/advance?seconds=4000"))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(t.get(&format!("{}/folders", t.mbx(&mbx))).await.0, 401);
    let v: Value =
        t.c.get(a("stats"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(v["routes"]["GET folders"], 1);
    assert!(t
        .c
        .post(a("stats/reset"))
        .send()
        .await
        .unwrap()
        .status()
        .is_success());
    assert_eq!(t.emu.stats().route("GET folders"), 0);
    for p in ["tokens/expire", "sessions/expire", "delta/expire"] {
        assert_eq!(t.c.post(a(p)).send().await.unwrap().status(), 200);
    }
    assert_eq!(
        t.c.post(a(&format!("mailboxes/{mbx}/delta/expire")))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(t.c.post(a("save")).send().await.unwrap().status(), 409);
    assert_eq!(t.c.get(a("nothing")).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn state_file_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("emu.state");
    let mut cfg = small_config(15);
    cfg.state_file = Some(path.clone());
    let t = start(cfg.clone()).await;
    let mbx = t.primary();
    let (s, v) = t
        .post(
            &format!("{}/folders", t.mbx(&mbx)),
            json!({"displayName":"Persisted","type":"IPF.Note"}),
        )
        .await;
    assert_eq!(s, 201);
    let fid = v["id"].as_str().unwrap().to_string();
    let before = t.emu.mailbox_snapshot(&mbx);
    let token = t.token.clone();
    t.emu.shutdown().await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // A different seed would generate different mailboxes: the file wins.
    cfg.seed = 999;
    cfg.tenants = small_config(999).tenants;
    let emu = Emulator::start(cfg).await.unwrap();
    let after = emu.mailbox_snapshot(&mbx);
    assert_eq!(after, before);
    assert!(after.folders.iter().any(|f| f.id == fid));
    let r = Client::new()
        .get(format!(
            "{}/admin/exchange/mailboxes/{mbx}/folders",
            emu.graph_url()
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "tokens survive a restart");
    emu.shutdown().await;
}

#[tokio::test]
async fn generator_is_deterministic_realistic_and_unique() {
    let a = Emulator::start(small_config(16)).await.unwrap();
    let b = Emulator::start(small_config(16)).await.unwrap();
    let ta = a.tenants();
    assert_eq!(format!("{:?}", ta), format!("{:?}", b.tenants()));
    assert!(!format!("{:?}", ta).contains(&ta[0].client_secret));
    let m = &ta[0].users[0].primary_mailbox_id;
    let (sa, sb) = (a.mailbox_snapshot(m), b.mailbox_snapshot(m));
    assert_eq!(sa, sb);
    assert!(sa.items.len() >= 20);
    let mut keys = std::collections::HashSet::new();
    let mut classes = std::collections::HashSet::new();
    let mut attachments = 0;
    for i in &sa.items {
        let msg = mbxa_fasttransfer::parse(&i.data).unwrap();
        assert_eq!(msg.search_key().map(<[u8]>::to_vec), i.search_key);
        assert_eq!(i.search_key.as_ref().unwrap().len(), 16);
        assert!(
            keys.insert(i.search_key.clone().unwrap()),
            "search keys are unique"
        );
        classes.insert(i.message_class.clone());
        attachments += msg.attachments.len();
    }
    assert!(classes.contains("IPM.Note"));
    assert!(attachments > 0);
    assert!(sa
        .folders
        .iter()
        .any(|f| f.folder_type == "IPF.Appointment"));
    assert!(sa.folders.iter().any(|f| f.folder_type == "IPF.Contact"));
    assert!(sa
        .folders
        .iter()
        .any(|f| f.path.contains('/') && !f.display_name.is_ascii()));
    assert_eq!(
        sa.folders
            .iter()
            .filter(|f| f.well_known_name.is_some())
            .count(),
        11
    );
    // An empty target tenant has only the well-known folders.
    let target = &ta[1].users[0].primary_mailbox_id;
    assert!(a.mailbox_snapshot(target).items.is_empty());
    a.shutdown().await;
    b.shutdown().await;
}
