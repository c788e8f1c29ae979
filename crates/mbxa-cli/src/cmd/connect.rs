//! Shared Graph connection flags (`--tenant`, `--client-id`, secret/cert, URLs) for capture, replay, mailboxes.

use std::path::PathBuf;

use anyhow::{bail, Context};
use mbxa_graph::{ClientAuth, GraphConfig, SecretString};

/// How to reach Graph and authenticate; flatten into a command's args with `#[command(flatten)]`.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectArgs {
    /// Directory (tenant) id or domain.
    #[arg(long = "tenant", env = "MBXA_TENANT_ID", value_name = "ID")]
    pub tenant: Option<String>,
    /// Application (client) id.
    #[arg(long = "client-id", env = "MBXA_CLIENT_ID", value_name = "ID")]
    pub client_id: Option<String>,
    /// File holding the client secret (or set MBXA_CLIENT_SECRET to the secret itself).
    #[arg(long = "client-secret-file", value_name = "PATH")]
    pub client_secret_file: Option<PathBuf>,
    /// The client secret itself, from the environment only (never a flag: flags show in `ps`).
    #[arg(
        long = "client-secret-env-only",
        env = "MBXA_CLIENT_SECRET",
        hide = true,
        hide_env_values = true
    )]
    pub client_secret_env: Option<SecretString>,
    /// PEM file with the certificate and its private key: authenticate with a JWT client
    /// assertion instead of a secret.
    #[arg(long = "client-cert", env = "MBXA_CLIENT_CERT", value_name = "PATH")]
    pub client_cert: Option<PathBuf>,
    /// Graph base URL.
    #[arg(
        long = "graph-url",
        env = "MBXA_GRAPH_URL",
        value_name = "URL",
        default_value = mbxa_graph::DEFAULT_GRAPH_URL
    )]
    pub graph_url: String,
    /// Login (token endpoint) base URL.
    #[arg(
        long = "login-url",
        env = "MBXA_LOGIN_URL",
        value_name = "URL",
        default_value = mbxa_graph::DEFAULT_LOGIN_URL
    )]
    pub login_url: String,
}

impl ConnectArgs {
    /// Resolves the flags into a client configuration (reads the secret or certificate file).
    pub fn to_config(&self) -> anyhow::Result<GraphConfig> {
        let tenant = self
            .tenant
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .context("--tenant (or MBXA_TENANT_ID) is required")?;
        let client_id = self
            .client_id
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .context("--client-id (or MBXA_CLIENT_ID) is required")?;
        let given = [
            self.client_secret_file.is_some(),
            // An empty MBXA_CLIENT_SECRET (e.g. `export MBXA_CLIENT_SECRET=` to unset it in a
            // script) counts as not given.
            self.client_secret_env
                .as_ref()
                .is_some_and(|s| !s.expose_secret().trim().is_empty()),
            self.client_cert.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if given == 0 {
            bail!(
                "one of --client-secret-file, MBXA_CLIENT_SECRET or --client-cert (MBXA_CLIENT_CERT) is required"
            );
        }
        if given > 1 {
            bail!(
                "give only one of --client-secret-file, MBXA_CLIENT_SECRET and --client-cert (MBXA_CLIENT_CERT)"
            );
        }
        let auth = if let Some(path) = &self.client_secret_file {
            let text = std::fs::read_to_string(path).with_context(|| {
                format!("cannot read the client secret file {}", path.display())
            })?;
            let secret = text.trim_end_matches(['\r', '\n']);
            if secret.is_empty() {
                bail!("the client secret file {} is empty", path.display());
            }
            ClientAuth::Secret(SecretString::new(secret))
        } else if let Some(secret) = self
            .client_secret_env
            .as_ref()
            .filter(|s| !s.expose_secret().trim().is_empty())
        {
            ClientAuth::Secret(secret.clone())
        } else if let Some(path) = &self.client_cert {
            let pem = std::fs::read_to_string(path).with_context(|| {
                format!("cannot read the client certificate {}", path.display())
            })?;
            ClientAuth::Certificate {
                pem: SecretString::new(pem),
            }
        } else {
            bail!("no client credential given");
        };
        Ok(GraphConfig::new(
            self.graph_url.trim(),
            self.login_url.trim(),
            tenant.trim(),
            client_id.trim(),
            auth,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrap {
        #[command(flatten)]
        connect: ConnectArgs,
    }

    fn parse(args: &[&str]) -> ConnectArgs {
        let mut v = vec!["mbxa"];
        v.extend_from_slice(args);
        Wrap::try_parse_from(v).unwrap().connect
    }

    fn temp_file(name: &str, text: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("mbxa-connect-{}-{name}", std::process::id()));
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn secret_file_is_read_and_trimmed() {
        let p = temp_file("secret", "top-secret-value\n");
        let a = parse(&[
            "--tenant",
            "t",
            "--client-id",
            "c",
            "--client-secret-file",
            p.to_str().unwrap(),
            "--graph-url",
            "http://127.0.0.1:9/beta",
        ]);
        let cfg = a.to_config().unwrap();
        let _ = std::fs::remove_file(&p);
        assert!(
            matches!(&cfg.auth, ClientAuth::Secret(s) if s.expose_secret() == "top-secret-value")
        );
        assert_eq!(cfg.graph_url, "http://127.0.0.1:9/beta");
        assert_eq!(cfg.login_url, mbxa_graph::DEFAULT_LOGIN_URL);
        assert_eq!((cfg.tenant_id.as_str(), cfg.client_id.as_str()), ("t", "c"));
        assert!(!format!("{a:?} {cfg:?}").contains("top-secret-value"));
    }

    #[test]
    fn certificate_file_is_read() {
        let p = temp_file("cert", "-----BEGIN CERTIFICATE-----\n");
        let a = parse(&[
            "--tenant",
            "t",
            "--client-id",
            "c",
            "--client-cert",
            p.to_str().unwrap(),
        ]);
        let cfg = a.to_config().unwrap();
        let _ = std::fs::remove_file(&p);
        assert!(matches!(cfg.auth, ClientAuth::Certificate { .. }));
    }

    #[test]
    fn exactly_one_credential_is_required() {
        let p = temp_file("both", "x");
        let both = parse(&[
            "--tenant",
            "t",
            "--client-id",
            "c",
            "--client-secret-file",
            p.to_str().unwrap(),
            "--client-cert",
            p.to_str().unwrap(),
        ]);
        assert!(both.to_config().is_err());
        let _ = std::fs::remove_file(&p);
        let none = ConnectArgs {
            tenant: Some("t".into()),
            client_id: Some("c".into()),
            client_secret_file: None,
            client_secret_env: None,
            client_cert: None,
            graph_url: mbxa_graph::DEFAULT_GRAPH_URL.into(),
            login_url: mbxa_graph::DEFAULT_LOGIN_URL.into(),
        };
        assert!(none.to_config().is_err());
        let no_tenant = ConnectArgs {
            tenant: None,
            client_secret_env: Some("s".into()),
            ..none
        };
        assert!(no_tenant
            .to_config()
            .unwrap_err()
            .to_string()
            .contains("--tenant"));
    }

    #[test]
    fn empty_secret_variable_counts_as_not_given() {
        let p = temp_file("with-empty-env", "from-file\n");
        let a = ConnectArgs {
            tenant: Some("t".into()),
            client_id: Some("c".into()),
            client_secret_file: Some(p.clone()),
            client_secret_env: Some("".into()),
            client_cert: None,
            graph_url: mbxa_graph::DEFAULT_GRAPH_URL.into(),
            login_url: mbxa_graph::DEFAULT_LOGIN_URL.into(),
        };
        let cfg = a.to_config().unwrap();
        let _ = std::fs::remove_file(&p);
        assert!(matches!(&cfg.auth, ClientAuth::Secret(s) if s.expose_secret() == "from-file"));
        let only_empty = ConnectArgs {
            client_secret_file: None,
            ..a
        };
        assert!(only_empty.to_config().is_err());
    }
}
