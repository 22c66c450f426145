//! The box configuration file (`/etc/loaxa/loaxa.toml`), documented in `docs/configuration.md`.
//!
//! Every key has a default, so a box runs with an empty file (or none at all); what a district
//! engineer sets is what differs between boxes: the id, where schedules live, the sound card.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;
use serde::Deserialize;

use crate::audio::output::OutputSpec;
use loaxa_core::schedule::{AudioCheck, Author, LoadOptions, default_media_dir, parse_timezone};

/// Where `loaxa daemon`, `log` and `next` look when no `--config` is given.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/loaxa/loaxa.toml";

/// The validated box configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Names this box in logs and, later, on the MQTT link.
    pub box_id: String,
    /// Holds the SQLite store (`loaxa.db`): as-run log and planning cursor.
    pub state_dir: PathBuf,
    /// Every `*.toml` in it is a schedule file.
    pub schedules_dir: PathBuf,
    /// Relative item paths in schedules are resolved against it.
    pub media_dir: PathBuf,
    /// Schedules without their own `timezone` use this one.
    pub timezone: Tz,
    pub output: OutputSpec,
    /// Sample rate of the `wav:` and `null` outputs (a sound card uses its own).
    pub sample_rate: u32,
    /// How late a programme may still air after its time was missed (box off, busy).
    pub catch_up: Duration,
    pub amplifier: Amplifier,
    /// A recorded chime per level, replacing the built-in one (`[chime]`).
    pub chimes: std::collections::BTreeMap<loaxa_core::schedule::Priority, PathBuf>,
    /// Loudness every file is brought to at playback (EBU R128 integrated, LUFS).
    pub loudness_target: f64,
    /// Highest true peak allowed after that gain (dBTP).
    pub true_peak_ceiling: f64,
    /// The local control socket (`loaxa status`, `stop`, `play-now`, …).
    pub control_socket: PathBuf,
    /// Bytes of the state directory's disk that bulletins may never take: the store must
    /// always be able to write the as-run log, however many bulletins the district sends.
    pub disk_reserve: u64,
    /// How long a bulletin no schedule or pending command names stays on disk (expired ones go
    /// at once).
    pub unused_bulletin_grace: Duration,
    /// When non-emergency audio may air, and how loud (`[[window]]` tables).
    pub windows: loaxa_core::schedule::windows::Windows,
    /// The district link; None: the box runs offline from its schedules directory only.
    pub link: Option<LinkSettings>,
    /// What schedules written on the box may do beyond what a district schedule may (`[local]`).
    pub local: loaxa_core::schedule::LocalRules,
    /// The language the operator commands speak; `None`: the locale's (`LANG`), else Vietnamese.
    pub language: Option<loaxa_core::i18n::Lang>,
}

/// How a box reaches its district's broker, which scopes it belongs to and whose signatures it
/// trusts.
#[derive(Debug, Clone)]
pub struct LinkSettings {
    /// `mqtt://host:port` or `mqtts://host:port`.
    pub url: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// CA certificate for `mqtts://`.
    pub ca_file: Option<PathBuf>,
    pub keep_alive: Duration,
    pub district: Option<String>,
    pub commune: Option<String>,
    /// Public keys whose signatures approve schedules and bulletins (several during a rotation).
    pub trusted_keys: Vec<loaxa_core::trust::PublicKey>,
}

impl Config {
    /// How this box loads its own (local) schedules; `check_audio` decodes every file, as
    /// `loaxa validate` does.
    pub fn local_schedule_options(&self, check_audio: Option<AudioCheck>) -> LoadOptions {
        LoadOptions {
            default_timezone: self.timezone,
            media_dir: self.media_dir.clone(),
            check_audio,
            windows: Some(self.windows.clone()),
            author: Author::Local(self.local),
        }
    }

    /// How this box loads the schedules the district signed for it.
    pub fn district_schedule_options(&self, check_audio: Option<AudioCheck>) -> LoadOptions {
        LoadOptions {
            author: Author::District,
            ..self.local_schedule_options(check_audio)
        }
    }
}

impl Config {
    /// The scopes this box belongs to: everything, its district, its commune, itself.
    pub fn scopes(&self) -> Vec<loaxa_core::protocol::Scope> {
        use loaxa_core::protocol::Scope;
        let link = self.link.as_ref();
        let mut scopes = vec![Scope::All];
        scopes.extend(link.and_then(|l| l.district.clone()).map(Scope::District));
        scopes.extend(link.and_then(|l| l.commune.clone()).map(Scope::Commune));
        scopes.push(Scope::Box(self.box_id.clone()));
        scopes
    }
}

/// Optional shell commands that switch the amplifier, so it is powered only while something airs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Amplifier {
    pub on: Option<String>,
    pub off: Option<String>,
    /// Time the amplifier needs after `on` before audio may start.
    pub warm_up: Duration,
    /// Silence kept after the last programme before `off`, so back-to-back programmes don't
    /// cycle the relay.
    pub tail: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}{}: {problem}", path.display(), problem.line.map(|l| format!(":{l}")).unwrap_or_default())]
    Syntax {
        path: PathBuf,
        problem: Box<loaxa_core::toml_problem::TomlProblem>,
    },
    #[error("{path}: {key}: {problem}")]
    Invalid {
        path: PathBuf,
        key: Setting,
        problem: ConfigProblem,
    },
}

/// A setting of the box config, as a person finds it in the file: its key, and for one of a
/// list (`[[window]]`, `trusted_keys`) which one, counted from 1 as they are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// As written: `sample_rate`, `link.trusted_keys`, `[[window]]`.
    pub key: String,
    pub nth: Option<usize>,
}

impl std::fmt::Display for Setting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.nth {
            Some(n) => write!(f, "{} no. {n}", self.key),
            None => f.write_str(&self.key),
        }
    }
}

/// What is wrong with one setting, as each language's catalogue says it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigProblem {
    /// The schedules' own fault: a config's time zone is read as a schedule file's is.
    #[error("{0}")]
    Timezone(loaxa_core::schedule::Fault),
    #[error("{reason}")]
    BadOutput { spec: String, reason: String },
    #[error("{value} out of range {low} to {high}")]
    OutOfRange { value: f64, low: f64, high: f64 },
    #[error("\"{value}\" is not a valid id ({})", loaxa_core::ids::NAME_RULE)]
    BadName { value: String },
    /// A trusted key that is not a minisign public key, or whose file cannot be read.
    #[error("{reason}")]
    BadKey { reason: String },
    #[error("{0}")]
    BadWindow(loaxa_core::schedule::windows::WindowProblem),
    #[error("\"{value}\" is not \"vi\" (Vietnamese) or \"en\" (English)")]
    BadLanguage { value: String },
    #[error("too large")]
    TooLarge,
}

/// The file as written; `None` means "use the default".
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    box_id: Option<String>,
    state_dir: Option<PathBuf>,
    schedules_dir: Option<PathBuf>,
    media_dir: Option<PathBuf>,
    timezone: Option<String>,
    output: Option<String>,
    sample_rate: Option<u32>,
    catch_up_minutes: Option<f64>,
    control_socket: Option<PathBuf>,
    loudness_target_lufs: Option<f64>,
    true_peak_ceiling_dbtp: Option<f64>,
    disk_reserve_mb: Option<u64>,
    unused_bulletin_grace_hours: Option<f64>,
    #[serde(default)]
    amplifier: RawAmplifier,
    #[serde(default)]
    chime: RawChimes,
    #[serde(default, rename = "window")]
    windows: Vec<loaxa_core::schedule::windows::RawWindow>,
    link: Option<RawLink>,
    #[serde(default)]
    local: RawLocal,
    language: Option<String>,
}

/// `[local]`: what the box's own schedules may do. Both off unless the owner says otherwise.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLocal {
    #[serde(default)]
    files_anywhere: bool,
    #[serde(default)]
    emergency: bool,
}

/// `[chime]`: an audio file per level, instead of the built-in chime and attention tone.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChimes {
    normal: Option<PathBuf>,
    priority: Option<PathBuf>,
    emergency: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLink {
    url: String,
    username: Option<String>,
    password: Option<String>,
    ca_file: Option<PathBuf>,
    keep_alive_seconds: Option<f64>,
    district: Option<String>,
    commune: Option<String>,
    #[serde(default)]
    trusted_keys: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAmplifier {
    on: Option<String>,
    off: Option<String>,
    warm_up_seconds: Option<f64>,
    tail_seconds: Option<f64>,
}

impl Default for Config {
    fn default() -> Self {
        // Parsing an empty document cannot fail; going through `from_raw` keeps the defaults in one place.
        Config::from_raw(RawConfig::default(), Path::new(""))
            .unwrap_or_else(|_| unreachable!("the empty configuration is valid"))
    }
}

impl Config {
    /// Reads `path`; when `path` is the default location and does not exist, the defaults apply.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Config::parse(&text, path),
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    && path == Path::new(DEFAULT_CONFIG_PATH) =>
            {
                Ok(Config::default())
            }
            Err(source) => Err(ConfigError::Read {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// The language a config file asks for, even when the rest of it has mistakes: the
    /// operator who misspelt a key must read about it in the language they chose.
    pub fn language_in(path: &Path) -> Option<loaxa_core::i18n::Lang> {
        let text = std::fs::read_to_string(path).ok()?;
        match Config::parse(&text, path) {
            Ok(config) => config.language,
            Err(_) => {
                let table: toml::Table = toml::from_str(&text).ok()?;
                loaxa_core::i18n::Lang::parse(table.get("language")?.as_str()?)
            }
        }
    }

    /// Parses configuration text; `path` only names the file in errors and anchors relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: path.to_owned(),
            problem: Box::new(loaxa_core::toml_problem::TomlProblem::read(&e, text)),
        })?;
        Config::from_raw(raw, path)
    }

    fn from_raw(raw: RawConfig, path: &Path) -> Result<Config, ConfigError> {
        let invalid_nth =
            |key: &str, nth: Option<usize>, problem: ConfigProblem| ConfigError::Invalid {
                path: path.to_owned(),
                key: Setting {
                    key: key.to_owned(),
                    nth,
                },
                problem,
            };
        let invalid = |key: &str, problem: ConfigProblem| invalid_nth(key, None, problem);
        let range = |key: &str, value: f64, low: f64, high: f64| {
            if (low..=high).contains(&value) {
                Ok(value)
            } else {
                Err(invalid(key, ConfigProblem::OutOfRange { value, low, high }))
            }
        };
        // Relative directories are taken relative to the config file, so a config next to its
        // schedules works wherever it is copied.
        let base = path.parent().unwrap_or(Path::new(""));
        let resolve = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };

        let schedules_dir = resolve(
            raw.schedules_dir
                .unwrap_or_else(|| "/etc/loaxa/schedules".into()),
        );
        let media_dir = match raw.media_dir {
            Some(dir) => resolve(dir),
            None => default_media_dir(&schedules_dir),
        };
        let timezone = match raw.timezone {
            Some(name) => parse_timezone(&name)
                .map_err(|fault| invalid("timezone", ConfigProblem::Timezone(fault)))?,
            None => loaxa_core::schedule::DEFAULT_TIMEZONE,
        };
        let output = match raw.output {
            Some(spec) => spec
                .parse()
                .map_err(|reason| invalid("output", ConfigProblem::BadOutput { spec, reason }))?,
            None => OutputSpec::Default,
        };
        let sample_rate = raw.sample_rate.unwrap_or(44_100);
        range("sample_rate", f64::from(sample_rate), 8_000.0, 192_000.0)?;
        // A duration is written in the unit its key names (`_seconds`, `_minutes`, `_hours`), and
        // is at most a day.
        let duration = |key: &str, value: Option<f64>, default: f64, unit_seconds: f64| {
            let value = value.unwrap_or(default);
            let most = 86_400.0 / unit_seconds;
            match value.is_finite() && (0.0..=most).contains(&value) {
                true => Ok(Duration::from_secs_f64(value * unit_seconds)),
                false => Err(invalid(
                    key,
                    ConfigProblem::OutOfRange {
                        value,
                        low: 0.0,
                        high: most,
                    },
                )),
            }
        };
        let name = |key: &str, value: Option<String>| match value {
            Some(value) if !loaxa_core::ids::is_name(&value) => {
                Err(invalid(key, ConfigProblem::BadName { value }))
            }
            other => Ok(other),
        };
        let box_id = raw
            .box_id
            .or_else(loaxa_core::ids::host_name)
            .unwrap_or_else(|| "loaxa".to_owned());
        name("box_id", Some(box_id.clone()))?;
        let link = match raw.link {
            Some(link) => Some(LinkSettings {
                keep_alive: duration(
                    "link.keep_alive_seconds",
                    link.keep_alive_seconds,
                    30.0,
                    1.0,
                )?,
                trusted_keys: link
                    .trusted_keys
                    .iter()
                    .enumerate()
                    .map(|(i, key)| {
                        read_public_key(key, base).map_err(|reason| {
                            invalid_nth(
                                "link.trusted_keys",
                                Some(i + 1),
                                ConfigProblem::BadKey { reason },
                            )
                        })
                    })
                    .collect::<Result<_, _>>()?,
                url: link.url,
                username: link.username,
                password: link.password,
                ca_file: link.ca_file.map(resolve),
                district: name("link.district", link.district)?,
                commune: name("link.commune", link.commune)?,
            }),
            None => None,
        };
        let windows = if raw.windows.is_empty() {
            loaxa_core::schedule::windows::Windows::default()
        } else {
            loaxa_core::schedule::windows::Windows(
                raw.windows
                    .iter()
                    .enumerate()
                    .map(|(i, w)| {
                        w.resolve().map_err(|problem| {
                            invalid_nth(
                                "[[window]]",
                                Some(i + 1),
                                ConfigProblem::BadWindow(problem),
                            )
                        })
                    })
                    .collect::<Result<_, _>>()?,
            )
        };
        let state_dir = resolve(raw.state_dir.unwrap_or_else(|| "/var/lib/loaxa".into()));
        let loudness_target = range(
            "loudness_target_lufs",
            raw.loudness_target_lufs.unwrap_or(-16.0),
            -40.0,
            -5.0,
        )?;
        let true_peak_ceiling = range(
            "true_peak_ceiling_dbtp",
            raw.true_peak_ceiling_dbtp.unwrap_or(-1.0),
            -20.0,
            0.0,
        )?;
        let language = match raw.language {
            None => None,
            Some(value) => match loaxa_core::i18n::Lang::parse(&value) {
                Some(lang) => Some(lang),
                None => return Err(invalid("language", ConfigProblem::BadLanguage { value })),
            },
        };
        Ok(Config {
            box_id,
            link,
            language,
            local: loaxa_core::schedule::LocalRules {
                files_anywhere: raw.local.files_anywhere,
                emergency: raw.local.emergency,
            },
            disk_reserve: raw
                .disk_reserve_mb
                .unwrap_or(50)
                .checked_mul(1 << 20)
                .ok_or_else(|| invalid("disk_reserve_mb", ConfigProblem::TooLarge))?,
            windows,
            loudness_target,
            true_peak_ceiling,
            chimes: {
                use loaxa_core::schedule::Priority;
                [
                    (Priority::Normal, raw.chime.normal),
                    (Priority::Priority, raw.chime.priority),
                    (Priority::Emergency, raw.chime.emergency),
                ]
                .into_iter()
                .filter_map(|(level, path)| path.map(|p| (level, resolve(p))))
                .collect()
            },
            control_socket: raw
                .control_socket
                .map_or_else(|| state_dir.join("control.sock"), resolve),
            state_dir,
            schedules_dir,
            media_dir,
            timezone,
            output,
            sample_rate,
            catch_up: duration("catch_up_minutes", raw.catch_up_minutes, 10.0, 60.0)?,
            unused_bulletin_grace: duration(
                "unused_bulletin_grace_hours",
                raw.unused_bulletin_grace_hours,
                24.0,
                3600.0,
            )?,
            amplifier: Amplifier {
                on: raw.amplifier.on,
                off: raw.amplifier.off,
                warm_up: duration(
                    "amplifier.warm_up_seconds",
                    raw.amplifier.warm_up_seconds,
                    0.0,
                    1.0,
                )?,
                tail: duration(
                    "amplifier.tail_seconds",
                    raw.amplifier.tail_seconds,
                    5.0,
                    1.0,
                )?,
            },
        })
    }
}

/// A trusted key is given inline (the base64 line of a minisign `.pub` file) or as the path of
/// a `.pub` file.
fn read_public_key(text: &str, base: &Path) -> Result<loaxa_core::trust::PublicKey, String> {
    let inline = loaxa_core::trust::PublicKey::parse(text);
    if inline.is_ok() || !(text.contains('/') || text.ends_with(".pub")) {
        return inline.map_err(|e| e.to_string());
    }
    let path = base.join(text);
    let content = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    loaxa_core::trust::PublicKey::parse(&content).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_gives_the_documented_defaults() {
        let config = Config::parse("", Path::new("/etc/loaxa/loaxa.toml")).unwrap();
        assert_eq!(config.state_dir, PathBuf::from("/var/lib/loaxa"));
        assert_eq!(config.schedules_dir, PathBuf::from("/etc/loaxa/schedules"));
        assert_eq!(config.media_dir, PathBuf::from("/etc/loaxa"));
        assert_eq!(config.timezone, chrono_tz::Asia::Ho_Chi_Minh);
        assert_eq!(config.output, OutputSpec::Default);
        assert_eq!(config.catch_up, Duration::from_secs(600));
        assert_eq!(config.amplifier.on, None);
        assert_eq!(config.language, None);
    }

    #[test]
    fn a_bad_window_is_named_by_its_place_among_the_windows_counted_from_one() {
        let text = "[[window]]\nfrom = \"05:00\"\nto = \"11:30\"\n\
                    [[window]]\nfrom = \"25:00\"\nto = \"26:00\"\n";
        match Config::parse(text, Path::new("/etc/loaxa/loaxa.toml")) {
            Err(ConfigError::Invalid { key, .. }) => {
                assert_eq!(key.to_string(), "[[window]] no. 2");
                let vi = crate::text::Words::new(loaxa_core::i18n::Lang::Vi).unwrap();
                assert_eq!(
                    crate::text::errors::setting_words(&key, &vi),
                    "[[window]] thứ 2"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_language_is_vietnamese_or_english_and_nothing_else() {
        let parse = |text: &str| Config::parse(text, Path::new("/etc/loaxa/loaxa.toml"));
        assert_eq!(
            parse("language = \"vi\"").unwrap().language,
            Some(loaxa_core::i18n::Lang::Vi)
        );
        assert_eq!(
            parse("language = \"en\"").unwrap().language,
            Some(loaxa_core::i18n::Lang::En)
        );
        let error = parse("language = \"fr\"").unwrap_err().to_string();
        assert!(error.contains("language: \"fr\" is not \"vi\""), "{error}");
    }

    #[test]
    fn relative_directories_are_taken_from_the_config_files_directory() {
        let config = Config::parse(
            "schedules_dir = \"schedules\"\nstate_dir = \"state\"",
            Path::new("/srv/box/loaxa.toml"),
        )
        .unwrap();
        assert_eq!(config.schedules_dir, PathBuf::from("/srv/box/schedules"));
        assert_eq!(config.media_dir, PathBuf::from("/srv/box"));
        assert_eq!(config.state_dir, PathBuf::from("/srv/box/state"));
    }

    #[test]
    fn a_bad_value_names_the_file_and_the_key() {
        let err = Config::parse("timezone = \"Mars/Olympus\"", Path::new("box.toml")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "box.toml: timezone: unknown time zone \"Mars/Olympus\" (expected an IANA name such as Asia/Ho_Chi_Minh)"
        );
        let err = Config::parse("catch_up_minutes = -1", Path::new("box.toml")).unwrap_err();
        // Said in the key's own unit (minutes), not in the seconds it becomes.
        assert_eq!(
            err.to_string(),
            "box.toml: catch_up_minutes: -1 out of range 0 to 1440"
        );
    }

    #[test]
    fn local_schedules_may_do_more_only_when_the_config_says_so() {
        let strict = Config::parse("", Path::new("box.toml")).unwrap();
        assert_eq!(strict.local, loaxa_core::schedule::LocalRules::default());
        let lax = Config::parse(
            "[local]\nfiles_anywhere = true\nemergency = true\n",
            Path::new("box.toml"),
        )
        .unwrap();
        assert!(lax.local.files_anywhere && lax.local.emergency);
        let typo = Config::parse("[local]\nemergencies = true\n", Path::new("box.toml"));
        assert!(typo.is_err());
    }

    #[test]
    fn an_unknown_key_is_an_error_with_its_line() {
        let err =
            Config::parse("box_id = \"a\"\ncatchup = 3\n", Path::new("box.toml")).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("box.toml:2: unknown field `catchup`"),
            "{text}"
        );
    }
}
