//! The health check of a new image: run once it is installed beside the old one and
//! before anything names it installed. An image that fails is removed, recorded as
//! failed, and not tried again until a newer one is signed; the old one stays installed,
//! tagged and verifying, and the rollback ratchets do not move.
//!
//! The check is the profile's `health_check` (an argv: `{image}` is replaced by the
//! image to run, and `LATCH_IMAGE`, `LATCH_DIGEST` are set in its environment), or a
//! closure given in code (the Rust facade, the Python `Updater`). It must end within its
//! timeout; its output is bounded.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use latch_oci::Digest;
use tokio::io::AsyncReadExt as _;

/// How much of the check's output is kept, to say why it failed.
const MAX_OUTPUT: usize = 4096;

/// What the check is given: the image to run and the digest verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthTarget {
    /// What to run: the runtime's image id (podman, docker), or `repository@digest`
    /// (the built-in store).
    pub image: String,
    /// The digest the signatures name.
    pub digest: Digest,
    /// The runtime (`podman`, `docker`, `store:DIR`).
    pub runtime: String,
}

/// A check in code: `Ok` to accept the image, `Err(reason)` to refuse it.
pub type HealthFn = dyn Fn(&HealthTarget) -> Result<(), String> + Send + Sync;

/// A health check.
#[derive(Clone)]
pub enum HealthCheck {
    /// A command (argv, `{image}` replaced), ended after `timeout`.
    Command {
        /// Program and arguments.
        argv: Vec<String>,
        /// How long it may take.
        timeout: Duration,
    },
    /// A closure, run on a blocking thread.
    Callback(Arc<HealthFn>),
}

impl std::fmt::Debug for HealthCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HealthCheck::Command { argv, timeout } => f
                .debug_struct("Command")
                .field("argv", argv)
                .field("timeout", timeout)
                .finish(),
            HealthCheck::Callback(_) => f.write_str("Callback"),
        }
    }
}

impl HealthCheck {
    /// A closure as a check.
    pub fn callback(
        f: impl Fn(&HealthTarget) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        HealthCheck::Callback(Arc::new(f))
    }

    /// Runs the check on `target`: `Err` says why it failed.
    pub async fn run(&self, target: &HealthTarget) -> Result<(), String> {
        match self {
            HealthCheck::Command { argv, timeout } => run_command(argv, *timeout, target).await,
            HealthCheck::Callback(f) => {
                let (f, t) = (f.clone(), target.clone());
                tokio::task::spawn_blocking(move || f(&t))
                    .await
                    .map_err(|e| format!("the health check panicked or was cancelled: {e}"))?
            }
        }
    }
}

async fn run_command(argv: &[String], timeout: Duration, t: &HealthTarget) -> Result<(), String> {
    let argv: Vec<String> = argv
        .iter()
        .map(|a| a.replace("{image}", &t.image))
        .collect();
    let Some((program, args)) = argv.split_first() else {
        return Err("the health check is an empty command".into());
    };
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .env("LATCH_IMAGE", &t.image)
        .env("LATCH_DIGEST", t.digest.to_string())
        .env("LATCH_RUNTIME", &t.runtime)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run `{program}`: {e}"))?;
    let (out, err) = (child.stdout.take(), child.stderr.take());
    let work = async {
        // Everything is read (a check that writes a lot must not block on a full pipe);
        // only the end is kept, to say why it failed.
        let (o, e, status) = tokio::join!(tail(out), tail(err), child.wait());
        let mut text = o;
        text.extend_from_slice(&e);
        (status, text)
    };
    match tokio::time::timeout(timeout, work).await {
        Err(_) => Err(format!(
            "`{}` did not finish within {}",
            argv.join(" "),
            latch_oci::duration::format_duration(timeout)
        )),
        Ok((Err(e), _)) => Err(format!("`{program}`: {e}")),
        Ok((Ok(status), _)) if status.success() => Ok(()),
        Ok((Ok(status), text)) => {
            let text = String::from_utf8_lossy(&text);
            let tail: String = text
                .chars()
                .rev()
                .take(MAX_OUTPUT)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            Err(format!(
                "`{}` failed ({status}): {}",
                argv.join(" "),
                latch_oci::text::clip(tail.trim(), MAX_OUTPUT)
            ))
        }
    }
}

/// Reads `stream` to its end, keeping the last [`MAX_OUTPUT`] bytes.
async fn tail(stream: Option<impl tokio::io::AsyncRead + Unpin>) -> Vec<u8> {
    let mut kept = Vec::new();
    let Some(mut stream) = stream else {
        return kept;
    };
    let mut buf = [0u8; 8192];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                kept.extend_from_slice(&buf[..n]);
                if kept.len() > MAX_OUTPUT {
                    kept.drain(..kept.len() - MAX_OUTPUT);
                }
            }
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> HealthTarget {
        HealthTarget {
            image: "img-id".into(),
            digest: Digest::sha256_of(b"x"),
            runtime: "podman".into(),
        }
    }

    fn cmd(argv: &[&str], secs: u64) -> HealthCheck {
        HealthCheck::Command {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            timeout: Duration::from_secs(secs),
        }
    }

    #[tokio::test]
    #[cfg_attr(not(target_os = "linux"), ignore = "the checks here are sh scripts")]
    async fn commands_pass_fail_with_their_output_and_time_out() {
        let t = target();
        cmd(
            &[
                "sh",
                "-c",
                "test \"$1\" = img-id && test \"$LATCH_IMAGE\" = img-id",
                "sh",
                "{image}",
            ],
            10,
        )
        .run(&t)
        .await
        .unwrap();
        let digest = t.digest.to_string();
        cmd(
            &["sh", "-c", &format!("test \"$LATCH_DIGEST\" = {digest}")],
            10,
        )
        .run(&t)
        .await
        .unwrap();
        let e = cmd(&["sh", "-c", "echo broken sandbox >&2; exit 3"], 10)
            .run(&t)
            .await
            .unwrap_err();
        assert!(e.contains("broken sandbox") && e.contains("3"), "{e}");
        // A chatty check is read to its end (no blocked pipe), its end kept.
        let e = cmd(
            &[
                "sh",
                "-c",
                "yes spam | head -c 200000; echo last words >&2; exit 1",
            ],
            10,
        )
        .run(&t)
        .await
        .unwrap_err();
        assert!(
            e.contains("last words") && e.len() < 2 * MAX_OUTPUT,
            "{}",
            e.len()
        );
        let e = cmd(&["sleep", "30"], 1).run(&t).await.unwrap_err();
        assert!(e.contains("did not finish within 1s"), "{e}");
        let e = cmd(&["/nonexistent/check"], 1).run(&t).await.unwrap_err();
        assert!(e.contains("cannot run"), "{e}");
        let e = cmd(&[], 1).run(&t).await.unwrap_err();
        assert!(e.contains("empty"), "{e}");
        let e = HealthCheck::callback(|t| Err(format!("no {}", t.image)))
            .run(&t)
            .await
            .unwrap_err();
        assert_eq!(e, "no img-id");
    }
}
