//! Where the configuration comes from, and errors that say what was looked for and where.
//!
//! Either one file (`--config FILE` of the tools, or `INTAKE_CONFIG` for every binary) over
//! the built-in defaults (a copy of `config/default.toml`), or a directory
//! (`INTAKE_CONFIG_DIR`, default `config` under the working directory) holding `default.toml`
//! and the overlay `INTAKE_ENV` names. The environment wins over both.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};

use super::Config;

/// The defaults a `--config` file is laid over: the development set-up's, compiled in, so a
/// file needs only what differs and works from any directory.
const BUILT_IN: &str = include_str!("../../config/default.toml");

/// Where a configuration is read from (before the environment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// One file over the built-in defaults.
    File(PathBuf),
    /// `default.toml` of a directory, then `<overlay>.toml` there.
    Dir {
        /// The directory.
        dir: PathBuf,
        /// The overlay's name (`INTAKE_ENV`).
        overlay: Option<String>,
    },
}

impl Source {
    /// `file` when given (a tool's `--config`), else `INTAKE_CONFIG`, else the directory
    /// `INTAKE_CONFIG_DIR` (default `config`) with the overlay `INTAKE_ENV`.
    pub fn from_env(file: Option<&Path>) -> Self {
        if let Some(file) = file {
            return Self::File(file.to_owned());
        }
        if let Some(file) = std::env::var_os("INTAKE_CONFIG").filter(|value| !value.is_empty()) {
            return Self::File(PathBuf::from(file));
        }
        let dir = std::env::var_os("INTAKE_CONFIG_DIR")
            .filter(|value| !value.is_empty())
            .map_or_else(|| PathBuf::from("config"), PathBuf::from);
        let overlay = std::env::var("INTAKE_ENV")
            .ok()
            .filter(|name| !name.is_empty());
        Self::Dir { dir, overlay }
    }

    /// The files this source reads, in order, for messages and `intake config show`.
    pub fn files(&self) -> Vec<String> {
        match self {
            Self::File(path) => vec!["built-in defaults".into(), shown(path)],
            Self::Dir { dir, overlay } => std::iter::once(dir.join("default.toml"))
                .chain(overlay.iter().map(|name| dir.join(format!("{name}.toml"))))
                .map(|path| shown(&path))
                .collect(),
        }
    }
}

/// A path as given, plus where it resolves when relative (the working directory matters).
fn shown(path: &Path) -> String {
    match std::path::absolute(path) {
        Ok(absolute) if absolute != path => format!("{} ({})", path.display(), absolute.display()),
        _ => path.display().to_string(),
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file that must be read is not there (or not readable).
    #[error("configuration: {0}")]
    Missing(String),
    /// The files or the environment hold something invalid.
    #[error("configuration (from {files} and the environment): {error}")]
    Invalid {
        /// The files read.
        files: String,
        /// What is wrong, with the key.
        error: Box<figment::Error>,
    },
    /// A rule that spans keys is broken.
    #[error("configuration: {0}")]
    Rule(String),
}

fn require(path: &Path, why: &str) -> Result<(), ConfigError> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => Ok(()),
        Ok(_) => Err(ConfigError::Missing(format!(
            "{} is not a file ({why})",
            shown(path)
        ))),
        Err(error) => Err(ConfigError::Missing(format!(
            "cannot read {}: {error} ({why})",
            shown(path)
        ))),
    }
}

impl Config {
    /// Loads from where the environment says ([`Source::from_env`]).
    pub fn load() -> Result<Self, ConfigError> {
        Self::load_source(&Source::from_env(None))
    }

    /// Loads `dir/default.toml`, then `dir/<overlay>.toml`, then the environment.
    pub fn load_from(dir: &Path, overlay: Option<&str>) -> Result<Self, ConfigError> {
        Self::load_source(&Source::Dir {
            dir: dir.to_owned(),
            overlay: overlay.map(str::to_owned),
        })
    }

    /// Loads one source, then the environment.
    pub fn load_source(source: &Source) -> Result<Self, ConfigError> {
        let figment = match source {
            Source::File(path) => {
                require(path, "named by --config or INTAKE_CONFIG")?;
                Figment::new()
                    .merge(Toml::string(BUILT_IN))
                    .merge(Toml::file_exact(path))
            }
            Source::Dir { dir, overlay } => {
                require(
                    &dir.join("default.toml"),
                    "the configuration directory is INTAKE_CONFIG_DIR, else ./config: run from \
                     the directory that holds config/, set INTAKE_CONFIG_DIR, or name a file \
                     with --config FILE or INTAKE_CONFIG",
                )?;
                let mut figment = Figment::new().merge(Toml::file_exact(dir.join("default.toml")));
                if let Some(name) = overlay {
                    let path = dir.join(format!("{name}.toml"));
                    require(&path, &format!("the overlay INTAKE_ENV={name} names"))?;
                    figment = figment.merge(Toml::file_exact(path));
                }
                figment
            }
        };
        with_environment(figment)
            .extract::<Self>()
            .map_err(|error| ConfigError::Invalid {
                files: source.files().join(", "),
                error: Box::new(error),
            })?
            .check()
    }
}

fn with_environment(figment: Figment) -> Figment {
    figment
        .merge(
            Env::raw()
                .only(&["INTAKE_LISTEN"])
                .map(|_| "front.listen".into()),
        )
        .merge(
            Env::raw()
                .only(&["DATABASE_URL"])
                .map(|_| "database.url".into()),
        )
        .merge(Env::raw().only(&["AMQP_URL"]).map(|_| "broker.url".into()))
        .merge(
            Env::prefixed("INTAKE_")
                .ignore(&["LISTEN", "ENV", "CONFIG_DIR", "CONFIG"])
                .split("__"),
        )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    fn config_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config")
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("intake-config-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn every_file_in_config_parses() {
        let dir = config_dir();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
            let overlay = (name != "default").then_some(name.as_str());
            if path.extension().is_some_and(|ext| ext == "toml") {
                Config::load_from(&dir, overlay)
                    .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
            }
        }
    }

    #[test]
    fn the_built_in_defaults_are_default_toml() {
        let from_dir = Config::load_from(&config_dir(), None).unwrap();
        let dir = temp_dir("empty");
        let empty = dir.join("empty.toml");
        std::fs::write(&empty, "").unwrap();
        let from_file = Config::load_source(&Source::File(empty)).unwrap();
        assert_eq!(format!("{from_dir:?}"), format!("{from_file:?}"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_sets_only_what_differs() {
        let dir = temp_dir("file");
        let file = dir.join("site.toml");
        std::fs::write(&file, "[front]\nlisten = \"127.0.0.1:18080\"\n").unwrap();
        let config = Config::load_source(&Source::File(file)).unwrap();
        assert_eq!(config.front.listen.port(), 18080);
        assert_eq!(config.consumer.prefetch, 512);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_files_are_named_with_where_they_were_looked_for() {
        let error = Config::load_from(Path::new("no-such-dir"), None).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("no-such-dir/default.toml"), "{text}");
        assert!(
            text.contains("INTAKE_CONFIG_DIR") && text.contains("--config"),
            "{text}"
        );
        let error = Config::load_from(&config_dir(), Some("nope")).unwrap_err();
        assert!(error.to_string().contains("INTAKE_ENV=nope"), "{error}");
        let error = Config::load_source(&Source::File("nope.toml".into())).unwrap_err();
        assert!(error.to_string().contains("nope.toml"), "{error}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let dir = temp_dir("typo");
        let default = std::fs::read_to_string(config_dir().join("default.toml")).unwrap();
        std::fs::write(dir.join("default.toml"), default).unwrap();
        std::fs::write(dir.join("typo.toml"), "[front]\nlisten_adress = \"x\"\n").unwrap();
        let error = Config::load_from(&dir, Some("typo")).unwrap_err();
        assert!(error.to_string().contains("listen_adress"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
