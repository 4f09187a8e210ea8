//! A real registry: Debian's `docker-registry` (distribution 2.8) on 127.0.0.1.
//!
//! On Linux the testkit starts the process itself ([`local`]). On Windows (the tests run
//! under Wine) the registry is a Linux program the test cannot start or stop: a broker
//! on the Linux side starts it, and the Windows test reaches it over 127.0.0.1
//! ([`broker`]). Both give the same [`Registry`].

mod broker;
#[cfg(unix)]
mod local;

use std::fs;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use crate::token::{TokenAuth, TokenServer};

pub use broker::BROKER_ENV;
#[cfg(unix)]
pub use broker::serve as serve_broker;

/// The registry's process, started here (Linux) or by the broker (Windows).
#[cfg(unix)]
use local::Process;

#[cfg(windows)]
use broker::Process;

enum Auth {
    None,
    Basic {
        user: String,
        password: String,
    },
    // Not on Windows: the registry cannot reach a token server inside a Wine process.
    #[cfg_attr(windows, allow(dead_code))]
    Token(TokenServer),
}

/// Options for a [`Registry`] before it starts.
#[derive(Debug, Default)]
pub struct RegistryBuilder {
    basic: Option<(String, String)>,
    token: Option<TokenAuth>,
}

impl RegistryBuilder {
    /// Basic authentication through distribution's htpasswd support (a bcrypt file made
    /// with `htpasswd -Bbn` from apache2-utils).
    pub fn basic_auth(mut self, user: &str, password: &str) -> RegistryBuilder {
        self.basic = Some((user.to_owned(), password.to_owned()));
        self.token = None;
        self
    }

    /// Bearer tokens from a [`TokenServer`] started with these options (Linux only: the
    /// token server runs in the test's process, which the registry must reach).
    pub fn token_auth(mut self, opts: TokenAuth) -> RegistryBuilder {
        self.token = Some(opts);
        self.basic = None;
        self
    }

    /// Starts the registry and waits until it answers.
    pub fn start(self) -> Registry {
        Process::start(self)
    }
}

/// A running `docker-registry`: filesystem storage in a temporary directory, deletes
/// enabled, plain HTTP on 127.0.0.1 and a free port. Killed when dropped (its storage is
/// removed with it).
///
/// ```no_run
/// let reg = latch_testkit::Registry::start();
/// let dest = reg.reference("app:1"); // "127.0.0.1:PORT/app:1"
/// # let _ = dest;
/// ```
pub struct Registry {
    /// Its files (config, storage, log), as this process names them.
    dir: PathBuf,
    port: u16,
    auth: Auth,
    process: Process,
}

impl Registry {
    /// An open registry (no auth section in its config).
    pub fn start() -> Registry {
        Registry::builder().start()
    }

    /// A registry that requires these basic credentials on every request.
    pub fn with_basic_auth(user: &str, password: &str) -> Registry {
        Registry::builder().basic_auth(user, password).start()
    }

    /// A registry that requires bearer tokens from a real token server (see
    /// [`Registry::token_server`]).
    pub fn with_token_auth(opts: TokenAuth) -> Registry {
        Registry::builder().token_auth(opts).start()
    }

    /// Options before starting.
    pub fn builder() -> RegistryBuilder {
        RegistryBuilder::default()
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.host())
    }

    /// `127.0.0.1:PORT/<repo_and_tag>`, e.g. `reference("app:1")`.
    pub fn reference(&self, repo_and_tag: &str) -> String {
        format!("{}/{repo_and_tag}", self.host())
    }

    /// The storage root (`docker/registry/v2/...` below it once something is pushed).
    pub fn storage_dir(&self) -> PathBuf {
        self.dir.join("storage")
    }

    /// The config file written for it.
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.yml")
    }

    /// Everything the registry printed (stdout and stderr) so far.
    pub fn log(&self) -> String {
        read_log(&self.log_path())
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("registry.log")
    }

    /// The basic credentials, for a basic-auth registry.
    pub fn basic_credentials(&self) -> Option<(&str, &str)> {
        match &self.auth {
            Auth::Basic { user, password } => Some((user, password)),
            _ => None,
        }
    }

    /// The token server, for a token-auth registry.
    pub fn token_server(&self) -> Option<&TokenServer> {
        match &self.auth {
            Auth::Token(t) => Some(t),
            _ => None,
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.process.is_running()
    }

    /// Kills the registry (for "registry gone" tests): connections to its address are
    /// refused until [`Registry::restart`]. Its storage is kept.
    pub fn stop(&mut self) {
        self.process.stop();
    }

    /// Starts it again on the same port with the same storage.
    pub fn restart(&mut self) {
        self.stop();
        let port = self.port;
        self.process.restart(port, &self.dir, &self.auth);
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("host", &self.host())
            .field("dir", &self.dir)
            .finish()
    }
}

fn read_log(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| format!("(cannot read {}: {e})", path.display()))
}
