//! Registries for tests that run under Wine.
//!
//! `docker-registry` is a Linux program. A Windows process under Wine can start it, but
//! cannot wait for it or stop it (Wine gives no process handle for a Unix program), so a
//! test would leave registries running. Instead the broker (`latch-registry-broker`, a
//! Linux program that `scripts/windows` starts) starts one [`Registry`] per connection
//! the way Linux tests do, and stops it when the connection closes: a Windows test that
//! ends, panics or is killed leaves nothing behind. The Windows test reaches the
//! registry over 127.0.0.1 and its files through drive `Z:` (Wine's view of `/`).
//!
//! The protocol, one line each way: the test sends `{"basic": ["user", "password"]}` (or
//! `{"basic": null}`), the broker answers `{"port": N, "dir": "/tmp/..."}` or
//! `{"error": "..."}`; then the test may send `running` (answer `true` or `false`),
//! `stop` or `restart` (answer `ok`, or an error message).

/// The environment variable naming the broker's address (`127.0.0.1:PORT`) for tests
/// that run on Windows.
pub const BROKER_ENV: &str = "LATCH_REGISTRY_BROKER";

#[cfg(unix)]
pub use server::serve;

#[cfg(windows)]
pub(super) use client::Process;

#[cfg(unix)]
mod server {
    use std::io::{BufRead, BufReader, Write};
    use std::net::{TcpListener, TcpStream};
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use serde_json::{Value, json};

    use crate::registry::Registry;

    /// Serves leases on `listener` until the process is killed: each connection gets
    /// its own registry, stopped and removed when the connection closes.
    pub fn serve(listener: TcpListener) {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                if let Err(e) = lease(conn) {
                    eprintln!("latch-registry-broker: a connection failed: {e}");
                }
            });
        }
    }

    /// The panic's message, for an `{"error": ...}` answer.
    fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "the registry did not start".to_owned())
    }

    fn lease(conn: TcpStream) -> std::io::Result<()> {
        let mut reader = BufReader::new(conn.try_clone()?);
        let mut writer = conn;
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let basic = serde_json::from_str::<Value>(&line).ok().and_then(|v| {
            let pair = v.get("basic")?.as_array()?.clone();
            Some((
                pair.first()?.as_str()?.to_owned(),
                pair.get(1)?.as_str()?.to_owned(),
            ))
        });
        let started = catch_unwind(|| match &basic {
            Some((user, password)) => Registry::with_basic_auth(user, password),
            None => Registry::start(),
        });
        let mut reg = match started {
            Ok(reg) => reg,
            Err(p) => {
                writeln!(writer, "{}", json!({ "error": panic_message(&*p) }))?;
                return Ok(());
            }
        };
        let answer = json!({ "port": reg.port(), "dir": reg.dir.to_string_lossy() });
        writeln!(writer, "{answer}")?;
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let answer = match line.trim() {
                "running" => reg.is_running().to_string(),
                "stop" => {
                    reg.stop();
                    "ok".to_owned()
                }
                "restart" => match catch_unwind(AssertUnwindSafe(|| reg.restart())) {
                    Ok(()) => "ok".to_owned(),
                    Err(p) => panic_message(&*p).replace('\n', " "),
                },
                other => format!("unknown command {other:?}"),
            };
            writeln!(writer, "{answer}")?;
        }
    }
}

#[cfg(windows)]
mod client {
    use std::io::{BufRead, BufReader, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::path::{Path, PathBuf};
    use std::time::Duration;

    use serde_json::{Value, json};

    use super::BROKER_ENV;
    use crate::registry::{Auth, Registry, RegistryBuilder};

    /// How long the broker may take to start or restart a registry.
    const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

    /// The lease: the connection to the broker that holds the registry.
    pub(in crate::registry) struct Process {
        reader: BufReader<TcpStream>,
        writer: TcpStream,
    }

    /// `/tmp/x` as Wine names it: `Z:\tmp\x`.
    fn wine_path(unix: &str) -> PathBuf {
        PathBuf::from(format!("Z:{}", unix.replace('/', "\\")))
    }

    impl Process {
        pub(in crate::registry) fn start(b: RegistryBuilder) -> Registry {
            assert!(
                b.token.is_none(),
                "a token-auth registry needs the token server in the test's own process, \
                 which the Linux registry cannot reach from Wine: Linux only"
            );
            let addr: SocketAddr = std::env::var(BROKER_ENV)
                .ok()
                .and_then(|a| a.parse().ok())
                .unwrap_or_else(|| {
                    panic!(
                        "{BROKER_ENV} names no address: on Windows, registries are started \
                         by latch-registry-broker on the Linux side (scripts/windows starts it)"
                    )
                });
            let conn = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
                .unwrap_or_else(|e| panic!("cannot reach the registry broker at {addr}: {e}"));
            conn.set_read_timeout(Some(ANSWER_TIMEOUT))
                .expect("set a read timeout");
            let mut process = Process {
                reader: BufReader::new(conn.try_clone().expect("clone the connection")),
                writer: conn,
            };
            let request = json!({ "basic": b.basic.as_ref().map(|(u, p)| [u, p]) });
            let answer: Value = serde_json::from_str(&process.ask(&request.to_string()))
                .unwrap_or_else(|e| panic!("the registry broker's answer is not JSON: {e}"));
            if let Some(e) = answer.get("error") {
                panic!("the registry broker could not start a registry: {e}");
            }
            let port = answer["port"]
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or_else(|| panic!("the registry broker sent no port: {answer}"));
            let dir = answer["dir"]
                .as_str()
                .map(wine_path)
                .unwrap_or_else(|| panic!("the registry broker sent no directory: {answer}"));
            let auth = match b.basic {
                Some((user, password)) => Auth::Basic { user, password },
                None => Auth::None,
            };
            Registry {
                dir,
                port,
                auth,
                process,
            }
        }

        /// Sends one line, returns the answer's line (empty when the broker is gone).
        fn ask(&mut self, line: &str) -> String {
            if writeln!(self.writer, "{line}").is_err() {
                return String::new();
            }
            let mut answer = String::new();
            let _ = self.reader.read_line(&mut answer);
            answer.trim_end().to_owned()
        }

        pub(in crate::registry) fn is_running(&mut self) -> bool {
            self.ask("running") == "true"
        }

        pub(in crate::registry) fn stop(&mut self) {
            self.ask("stop");
        }

        pub(in crate::registry) fn restart(&mut self, _port: u16, _dir: &Path, _auth: &Auth) {
            let answer = self.ask("restart");
            assert_eq!(answer, "ok", "the registry broker could not restart it");
        }
    }
}
