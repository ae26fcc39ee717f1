//! The loader's contract: precedence (defaults < file < env), typed errors, every validation
//! problem reported, and secrets never printed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;

use detour_config::{ConfigError, Problems, Secret, SecretKey, Settings, Sources, load};
use serde::Deserialize;

const DEFAULTS: &str = r#"
[amqp]
host = "127.0.0.1"
port = 5672
password = "guest"
retry_delays_ms = [1000, 5000]

[http]
listen = "127.0.0.1:8080"
"#;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Example {
    amqp: Amqp,
    http: Http,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Amqp {
    host: String,
    port: u16,
    password: Secret,
    retry_delays_ms: Vec<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Http {
    listen: String,
}

impl Settings for Example {
    const LIST_KEYS: &'static [&'static str] = &["amqp.retry_delays_ms"];

    fn validate(&self, problems: &mut Problems) {
        problems.check(self.amqp.port != 0, "amqp.port", "must not be 0");
        problems.check(
            !self.amqp.retry_delays_ms.is_empty(),
            "amqp.retry_delays_ms",
            "needs at least one delay",
        );
        problems.check(
            self.http.listen.contains(':'),
            "http.listen",
            "must be host:port",
        );
    }
}

fn temp_toml(text: &str) -> tempfile_lite::TempFile {
    let file = tempfile_lite::TempFile::new("toml");
    std::fs::File::create(&file.path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    file
}

#[test]
fn env_overrides_file_overrides_defaults() {
    let file = temp_toml("[amqp]\nhost = \"from-file\"\nport = 5673\n");
    let sources = Sources::from_pairs(
        DEFAULTS,
        [
            ("DETOUR__AMQP__PORT", "5674"),
            ("DETOUR__AMQP__RETRY_DELAYS_MS", "10,20,30"),
            ("UNRELATED", "x"),
        ],
    )
    .with_file(&file.path);
    let settings: Example = load(&sources).unwrap();
    assert_eq!(settings.amqp.host, "from-file");
    assert_eq!(settings.amqp.port, 5674);
    assert_eq!(settings.amqp.retry_delays_ms, vec![10, 20, 30]);
    assert_eq!(settings.http.listen, "127.0.0.1:8080");
}

#[test]
fn every_problem_is_reported_with_its_key() {
    let sources = Sources::from_pairs(
        DEFAULTS,
        [
            ("DETOUR__AMQP__PORT", "0"),
            ("DETOUR__HTTP__LISTEN", "nowhere"),
        ],
    );
    let err = load::<Example>(&sources).unwrap_err();
    let ConfigError::Invalid(problems) = &err else {
        panic!("expected Invalid, got {err}")
    };
    let all: Vec<&str> = problems.iter().collect();
    assert_eq!(
        all,
        ["amqp.port: must not be 0", "http.listen: must be host:port"]
    );
}

#[test]
fn a_typo_in_a_key_and_a_wrong_type_are_errors_not_silence() {
    let typo = Sources::from_pairs(DEFAULTS, [("DETOUR__AMQP__HSOT", "x")]);
    let err = load::<Example>(&typo).unwrap_err();
    assert!(err.to_string().contains("hsot"), "{err}");

    let wrong_type = Sources::from_pairs(DEFAULTS, [("DETOUR__AMQP__PORT", "lots")]);
    assert!(matches!(
        load::<Example>(&wrong_type),
        Err(ConfigError::Unreadable(_))
    ));
}

#[test]
fn a_named_file_that_does_not_exist_is_an_error() {
    let sources = Sources::from_pairs(DEFAULTS, []).with_file("/nonexistent/detour.toml");
    assert!(matches!(
        load::<Example>(&sources),
        Err(ConfigError::FileMissing { .. })
    ));
}

#[test]
fn secrets_never_show_in_debug_output() {
    let sources = Sources::from_pairs(
        DEFAULTS,
        [("DETOUR__AMQP__PASSWORD", "hunter2-very-secret")],
    );
    let settings: Example = load(&sources).unwrap();
    assert_eq!(settings.amqp.password.expose(), "hunter2-very-secret");
    let printed = format!("{settings:?} {settings:#?}");
    assert!(!printed.contains("hunter2"), "{printed}");
    assert!(printed.contains("[REDACTED]"));

    // Env values are parsed for numbers and booleans; a secret must still come back verbatim.
    let numeric = Sources::from_pairs(DEFAULTS, [("DETOUR__AMQP__PASSWORD", "0012345")]);
    assert_eq!(
        load::<Example>(&numeric).unwrap().amqp.password.expose(),
        "0012345"
    );
}

#[test]
fn a_secret_file_loses_its_trailing_newline() {
    let file = temp_toml("s3cret\n");
    assert_eq!(Secret::from_file(&file.path).unwrap().expose(), "s3cret");
}

/// Settings with a required secret and an optional one, each with a `_file` twin.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WithSecrets {
    ldap: Ldap,
    #[serde(default)]
    api: Api,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Ldap {
    bind_password: Secret,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Api {
    #[serde(default)]
    token: Option<Secret>,
}

impl Settings for WithSecrets {
    const SECRETS: &'static [SecretKey] = &[
        SecretKey::required("ldap.bind_password"),
        SecretKey::optional("api.token"),
    ];

    fn validate(&self, _: &mut Problems) {}
}

fn with_secrets(env: &[(&str, &str)]) -> Result<WithSecrets, String> {
    let sources = Sources::from_pairs("[ldap]\n", env.iter().copied());
    load::<WithSecrets>(&sources).map_err(|error| error.to_string())
}

#[test]
fn a_secret_comes_from_the_settings_or_a_file_never_both_nor_neither() {
    let file = temp_toml("from-file\n");
    let path = file.path.to_str().unwrap();
    let inline = with_secrets(&[("DETOUR__LDAP__BIND_PASSWORD", "inline")]).unwrap();
    assert_eq!(inline.ldap.bind_password.expose(), "inline");
    assert!(
        inline.api.token.is_none(),
        "an optional secret may be absent"
    );
    let from_file = with_secrets(&[
        ("DETOUR__LDAP__BIND_PASSWORD_FILE", path),
        ("DETOUR__API__TOKEN_FILE", path),
    ])
    .unwrap();
    assert_eq!(from_file.ldap.bind_password.expose(), "from-file");
    assert_eq!(from_file.api.token.unwrap().expose(), "from-file");

    let both = with_secrets(&[
        ("DETOUR__LDAP__BIND_PASSWORD", "inline"),
        ("DETOUR__LDAP__BIND_PASSWORD_FILE", path),
    ])
    .unwrap_err();
    assert!(both.contains("not both"), "{both}");
    let neither = with_secrets(&[]).unwrap_err();
    assert!(
        neither.contains("give ldap.bind_password or ldap.bind_password_file"),
        "{neither}"
    );
    let unreadable =
        with_secrets(&[("DETOUR__LDAP__BIND_PASSWORD_FILE", "/nonexistent/secret")]).unwrap_err();
    assert!(
        unreadable.contains("ldap.bind_password_file")
            && unreadable.contains("/nonexistent/secret"),
        "{unreadable}"
    );
}

#[test]
fn a_file_replaces_a_secret_the_defaults_give_but_not_one_given_elsewhere() {
    let file = temp_toml("from-file\n");
    let path = file.path.to_str().unwrap();
    let load_with = |env: &[(&str, &str)]| {
        let sources =
            Sources::from_pairs("[ldap]\nbind_password = \"default\"\n", env.iter().copied());
        load::<WithSecrets>(&sources).map_err(|error| error.to_string())
    };
    let defaulted = load_with(&[]).unwrap();
    assert_eq!(defaulted.ldap.bind_password.expose(), "default");
    let replaced = load_with(&[("DETOUR__LDAP__BIND_PASSWORD_FILE", path)]).unwrap();
    assert_eq!(replaced.ldap.bind_password.expose(), "from-file");
    let both = load_with(&[
        ("DETOUR__LDAP__BIND_PASSWORD", "inline"),
        ("DETOUR__LDAP__BIND_PASSWORD_FILE", path),
    ])
    .unwrap_err();
    assert!(both.contains("not both"), "{both}");
}

#[test]
fn an_empty_or_blank_secret_is_a_configuration_error_inline_or_in_a_file() {
    let newline_only = temp_toml("\n");
    let spaces = temp_toml("  \t \n");
    for value in ["", "   ", "\t"] {
        let error = with_secrets(&[("DETOUR__LDAP__BIND_PASSWORD", value)]).unwrap_err();
        assert!(error.contains("ldap.bind_password"), "{value:?}: {error}");
    }
    for file in [&newline_only, &spaces] {
        let error = with_secrets(&[
            ("DETOUR__LDAP__BIND_PASSWORD", "x"),
            ("DETOUR__API__TOKEN_FILE", file.path.to_str().unwrap()),
        ])
        .unwrap_err();
        assert!(error.contains("holds no secret"), "{error}");
    }
}

#[test]
fn checking_wiring_from_outside_names_a_secret_file_without_reading_it() {
    let sources = Sources::from_pairs(
        "[ldap]\n",
        [("DETOUR__LDAP__BIND_PASSWORD_FILE", "/run/secrets/ldap")],
    );
    let parsed: WithSecrets = detour_config::parse(&sources).unwrap();
    assert!(!parsed.ldap.bind_password.is_blank());
    assert!(load::<WithSecrets>(&sources).is_err(), "loading reads it");
}

/// A named temporary file removed on drop.
mod tempfile_lite {
    pub struct TempFile {
        pub path: std::path::PathBuf,
    }

    impl TempFile {
        pub fn new(ext: &str) -> Self {
            let name = format!(
                "detour-config-test-{}-{}.{ext}",
                std::process::id(),
                unique()
            );
            Self {
                path: std::env::temp_dir().join(name),
            }
        }
    }

    fn unique() -> u64 {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        NEXT.fetch_add(1, Ordering::Relaxed)
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
