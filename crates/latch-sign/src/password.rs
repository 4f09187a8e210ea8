//! The password that protects an encrypted private key: from `LATCH_PASSWORD` or
//! `COSIGN_PASSWORD`, else typed on the terminal without echo.
//!
//! A [`Password`] is zeroed when dropped, never printed (its `Debug` is redacted) and never
//! put in an error message.

use std::fmt;

use zeroize::Zeroizing;

/// Environment variable read first for the password.
pub const ENV_LATCH_PASSWORD: &str = "LATCH_PASSWORD";
/// Environment variable read next (what cosign reads), so scripts written for cosign work.
pub const ENV_COSIGN_PASSWORD: &str = "COSIGN_PASSWORD";

/// Why no password could be had.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// A password variable is set but is not valid UTF-8 (its value is not shown).
    #[error("environment variable {variable} is set but is not valid UTF-8")]
    NotUnicode {
        /// The variable.
        variable: &'static str,
    },
    /// No variable is set and the terminal cannot be read (no controlling terminal, as in
    /// CI or a pipe).
    #[error(
        "no password: set {ENV_LATCH_PASSWORD} (or {ENV_COSIGN_PASSWORD}), or run on a terminal to be asked ({source})"
    )]
    NoTerminal {
        /// Why the terminal could not be used.
        #[source]
        source: std::io::Error,
    },
    /// The two passwords typed for a new key differ.
    #[error("the two passwords typed differ")]
    Mismatch,
}

/// A password, zeroed on drop.
#[derive(Clone)]
pub struct Password(Zeroizing<String>);

impl Password {
    /// A password from a string (taken over, zeroed on drop).
    pub fn new(password: impl Into<String>) -> Password {
        Password(Zeroizing::new(password.into()))
    }

    /// The bytes scrypt is given (UTF-8, as cosign passes them).
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The text (for a PKCS#11 PIN, which cryptoki takes as a string).
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// `LATCH_PASSWORD`, else `COSIGN_PASSWORD`; `None` when neither is set. A variable set
    /// to the empty string is the empty password (as cosign reads it).
    pub fn from_env() -> Result<Option<Password>, PasswordError> {
        Password::from_variables(&[ENV_LATCH_PASSWORD, ENV_COSIGN_PASSWORD])
            .map_err(|variable| PasswordError::NotUnicode { variable })
    }

    /// The first of `variables` that is set; `Err(variable)` if it is not UTF-8 (its value
    /// dropped unseen). Also reads the PKCS#11 PIN.
    pub(crate) fn from_variables(
        variables: &[&'static str],
    ) -> Result<Option<Password>, &'static str> {
        for &variable in variables {
            if let Some(value) = std::env::var_os(variable) {
                return match value.into_string() {
                    Ok(s) => Ok(Some(Password::new(s))),
                    Err(os) => {
                        // Drop the raw value without showing it anywhere.
                        drop(Zeroizing::new(os.into_encoded_bytes()));
                        Err(variable)
                    }
                };
            }
        }
        Ok(None)
    }

    /// Asks on the terminal (`/dev/tty`, or the console on Windows), without echo.
    pub fn prompt(prompt: &str) -> Result<Password, PasswordError> {
        rpassword::prompt_password(prompt)
            .map(Password::new)
            .map_err(|source| PasswordError::NoTerminal { source })
    }

    /// The password to open an existing key: from the environment, else asked once.
    pub fn for_existing_key(prompt: &str) -> Result<Password, PasswordError> {
        match Password::from_env()? {
            Some(p) => Ok(p),
            None => Password::prompt(prompt),
        }
    }

    /// The password for a new key: from the environment, else asked twice (and both must
    /// agree).
    pub fn for_new_key() -> Result<Password, PasswordError> {
        if let Some(p) = Password::from_env()? {
            return Ok(p);
        }
        let first = Password::prompt("Enter password for private key: ")?;
        let again = Password::prompt("Enter password for private key again: ")?;
        if first.0.as_bytes() != again.0.as_bytes() {
            return Err(PasswordError::Mismatch);
        }
        Ok(first)
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let p = Password::new("hunter2");
        assert_eq!(format!("{p:?}"), "Password(<redacted>)");
        assert_eq!(p.as_bytes(), b"hunter2");
    }
}
