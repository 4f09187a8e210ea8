//! The PIN of a PKCS#11 token: from `LATCH_PIN`, else `COSIGN_PIN` (what cosign reads),
//! else typed on the terminal without echo, as a key password is
//! ([`crate::Password`]). Never from argv (a `pin-value` in the URI is refused).
//!
//! A [`Pin`] is zeroed when dropped, never printed (its `Debug` is redacted) and never put
//! in an error message; the copy handed to the module is cryptoki's `AuthPin`, zeroed on
//! drop too.

use std::fmt;

use cryptoki::types::AuthPin;

use crate::password::Password;

/// Environment variable read first for the PIN.
pub const ENV_LATCH_PIN: &str = "LATCH_PIN";
/// Environment variable read next (what cosign reads).
pub const ENV_COSIGN_PIN: &str = "COSIGN_PIN";

/// Why no PIN could be had.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    /// A PIN variable is set but is not valid UTF-8 (its value is not shown).
    #[error("environment variable {variable} is set but is not valid UTF-8")]
    NotUnicode {
        /// The variable.
        variable: &'static str,
    },
    /// No variable is set and the terminal cannot be read (no controlling terminal, as in
    /// CI or a pipe): nothing waits for input that cannot come.
    #[error(
        "no PIN for the PKCS#11 token: set {ENV_LATCH_PIN} (or {ENV_COSIGN_PIN}), or run on a terminal to be asked ({source})"
    )]
    NoTerminal {
        /// Why the terminal could not be used.
        #[source]
        source: std::io::Error,
    },
}

/// A token PIN, zeroed on drop.
#[derive(Clone)]
pub struct Pin(Password);

impl Pin {
    /// A PIN from a string (taken over, zeroed on drop).
    pub fn new(pin: impl Into<String>) -> Pin {
        Pin(Password::new(pin))
    }

    /// `LATCH_PIN`, else `COSIGN_PIN`; `None` when neither is set.
    pub fn from_env() -> Result<Option<Pin>, PinError> {
        Password::from_variables(&[ENV_LATCH_PIN, ENV_COSIGN_PIN])
            .map(|p| p.map(Pin))
            .map_err(|variable| PinError::NotUnicode { variable })
    }

    /// Asks on the terminal (`/dev/tty`, or the console on Windows), without echo; fails
    /// at once when there is no terminal.
    pub fn prompt(prompt: &str) -> Result<Pin, PinError> {
        rpassword::prompt_password(prompt)
            .map(Pin::new)
            .map_err(|source| PinError::NoTerminal { source })
    }

    /// From the environment, else asked once on the terminal.
    pub fn from_env_or_prompt(prompt: &str) -> Result<Pin, PinError> {
        match Pin::from_env()? {
            Some(p) => Ok(p),
            None => Pin::prompt(prompt),
        }
    }

    /// The PIN as cryptoki takes it (an exact-size copy in a zeroing box).
    pub(crate) fn auth_pin(&self) -> AuthPin {
        AuthPin::new(Box::<str>::from(self.0.as_str()))
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacted() {
        let p = Pin::new("1234");
        assert_eq!(format!("{p:?}"), "Pin(<redacted>)");
        assert!(!format!("{:?}", p.auth_pin()).contains("1234"));
    }
}
