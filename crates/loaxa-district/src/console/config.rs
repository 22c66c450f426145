//! The console's configuration file (`console.toml`, [docs](../../../../docs/console.md)).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use loaxa_core::i18n::Lang;
use serde::Deserialize;

use crate::publish::Broker;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {reason}", path.display())]
    Invalid { path: PathBuf, reason: String },
}

/// What the office is: a province or a district (since July 2025 either may run the console).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OfficeKind {
    Province,
    #[default]
    District,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Office {
    /// The office's id, as boxes name it in their `district` setting: publishing to the whole
    /// office goes to the scope `district/ID`.
    pub id: String,
    /// The office's name, shown on every page and signed into what it approves.
    pub name: String,
    #[serde(default)]
    pub kind: OfficeKind,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct BrokerSection {
    url: String,
    username: Option<String>,
    /// A file holding the broker password, so the password is not in the config itself.
    password_file: Option<PathBuf>,
    ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default = "default_listen")]
    listen: SocketAddr,
    database: PathBuf,
    media_dir: PathBuf,
    signing_key: PathBuf,
    office: Office,
    broker: BrokerSection,
    #[serde(default = "default_timezone")]
    timezone: String,
    #[serde(default)]
    language: Option<String>,
    #[serde(default = "default_upload_mb")]
    max_upload_mb: u64,
    #[serde(default)]
    allow_self_approval: bool,
    /// Mark cookies `Secure`: set it when the console is reached over HTTPS (a reverse proxy).
    #[serde(default)]
    secure_cookies: bool,
    /// Reverse proxies whose `X-Forwarded-For` names the client (e.g. `["127.0.0.1"]` for an
    /// nginx on the same machine). Empty: every request's own peer address counts.
    #[serde(default)]
    trusted_proxies: Vec<std::net::IpAddr>,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

fn default_timezone() -> String {
    loaxa_core::schedule::DEFAULT_TIMEZONE.name().to_owned()
}

fn default_upload_mb() -> u64 {
    128
}

/// The console's settings, checked.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    pub listen: SocketAddr,
    pub database: PathBuf,
    /// Where uploaded audio is kept, one file per sha256: what airs is byte for byte what was
    /// approved, because nothing ever rewrites a file there.
    pub media_dir: PathBuf,
    pub signing_key: PathBuf,
    pub office: Office,
    pub broker_url: String,
    pub broker_username: Option<String>,
    pub broker_password: Option<String>,
    pub broker_ca_file: Option<PathBuf>,
    pub timezone: chrono_tz::Tz,
    pub language: Lang,
    pub max_upload_bytes: u64,
    pub allow_self_approval: bool,
    pub secure_cookies: bool,
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl ConsoleConfig {
    pub fn load(path: &Path) -> Result<ConsoleConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        ConsoleConfig::parse(&text, path)
    }

    /// Relative paths in the file are relative to the file's directory.
    pub fn parse(text: &str, path: &Path) -> Result<ConsoleConfig, ConfigError> {
        let invalid = |reason: String| ConfigError::Invalid {
            path: path.to_owned(),
            reason,
        };
        let raw: RawConfig = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };
        if !loaxa_core::ids::is_name(&raw.office.id) {
            return Err(invalid(format!(
                "office.id: {:?}: {}",
                raw.office.id,
                loaxa_core::ids::NAME_RULE
            )));
        }
        if raw.office.name.trim().is_empty() {
            return Err(invalid("office.name: must not be empty".into()));
        }
        let timezone = raw.timezone.parse().map_err(|_| {
            invalid(format!(
                "timezone: {:?} is not an IANA time zone",
                raw.timezone
            ))
        })?;
        let language = match raw.language.as_deref() {
            None => Lang::Vi,
            Some(code) => Lang::parse(code)
                .ok_or_else(|| invalid(format!("language: {code:?}: expected \"vi\" or \"en\"")))?,
        };
        let broker_password = match &raw.broker.password_file {
            None => None,
            Some(file) => {
                let file = resolve(file.clone());
                let text = std::fs::read_to_string(&file).map_err(|e| {
                    invalid(format!("broker.password_file: {}: {e}", file.display()))
                })?;
                Some(text.trim_end_matches(['\n', '\r']).to_owned())
            }
        };
        Ok(ConsoleConfig {
            listen: raw.listen,
            database: resolve(raw.database),
            media_dir: resolve(raw.media_dir),
            signing_key: resolve(raw.signing_key),
            office: raw.office,
            broker_url: raw.broker.url,
            broker_username: raw.broker.username,
            broker_password,
            broker_ca_file: raw.broker.ca_file.map(resolve),
            timezone,
            language,
            max_upload_bytes: raw.max_upload_mb.saturating_mul(1024 * 1024),
            allow_self_approval: raw.allow_self_approval,
            secure_cookies: raw.secure_cookies,
            trusted_proxies: raw.trusted_proxies,
        })
    }

    pub fn broker(&self) -> Broker {
        Broker {
            url: self.broker_url.clone(),
            username: self.broker_username.clone(),
            password: self.broker_password.clone(),
            ca_file: self.broker_ca_file.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
database = "console.sqlite"
media_dir = "media"
signing_key = "/etc/loaxa-district/district.key"

[office]
id = "gia-lam"
name = "Phòng VHTT huyện Gia Lâm"

[broker]
url = "mqtt://127.0.0.1:1883"
"#;

    #[test]
    fn relative_paths_are_relative_to_the_file_and_defaults_fill_the_rest() {
        let config =
            ConsoleConfig::parse(EXAMPLE, Path::new("/etc/loaxa-district/console.toml")).unwrap();
        assert_eq!(
            config.database,
            Path::new("/etc/loaxa-district/console.sqlite")
        );
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.language, Lang::Vi);
        assert_eq!(config.office.kind, OfficeKind::District);
        assert_eq!(config.max_upload_bytes, 128 * 1024 * 1024);
    }

    #[test]
    fn a_bad_office_id_names_the_field() {
        let text = EXAMPLE.replace("id = \"gia-lam\"", "id = \"gia lam\"");
        let error = ConsoleConfig::parse(&text, Path::new("c.toml")).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("c.toml: office.id: \"gia lam\""),
            "{error}"
        );
    }
}
