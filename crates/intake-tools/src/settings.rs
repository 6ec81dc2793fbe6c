//! The configuration as the tools see it: read only when a command needs it (from
//! `--config FILE`, `INTAKE_CONFIG`, or `INTAKE_CONFIG_DIR` with `INTAKE_ENV`), and the
//! front's URL derived from it, so a tool finds the front the configuration describes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context as _;
use intake::config::{Config, Source};

/// Where the tools read the configuration from.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The source `--config` or the environment names.
    pub source: Source,
}

impl Settings {
    /// `--config FILE` when given, else what the environment says.
    pub fn new(config: Option<PathBuf>) -> Self {
        Self {
            source: Source::from_env(config.as_deref()),
        }
    }

    /// The configuration, loaded now.
    pub fn load(&self) -> anyhow::Result<Config> {
        Ok(Config::load_source(&self.source)?)
    }

    /// `given` (a tool's `--url`), else the URL of the front the configuration describes.
    pub fn front_url(&self, given: Option<String>) -> anyhow::Result<String> {
        match given {
            Some(url) => Ok(url),
            None => {
                let config = self.load().context(
                    "no --url given, so the front's address is read from the configuration",
                )?;
                Ok(front_url(&config))
            }
        }
    }
}

/// `http(s)://` and the front's listen address, an unspecified address (`0.0.0.0`, `::`)
/// replaced by loopback: a tool on the same host reaches the front there.
pub fn front_url(config: &Config) -> String {
    let scheme = if config.front.tls_cert.is_some() {
        "https"
    } else {
        "http"
    };
    let listen = config.front.listen;
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("{scheme}://{}", SocketAddr::new(ip, listen.port()))
}
