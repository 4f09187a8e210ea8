//! In-toto statements (v0.1 and v1), as carried in DSSE envelopes.

use serde::{Deserialize, Serialize};

/// The in-toto payload type of a DSSE envelope.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// An in-toto statement. The predicate is kept as JSON; [`crate::provenance`] reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    /// `https://in-toto.io/Statement/v1` (or `/v0.1`).
    #[serde(rename = "_type")]
    pub statement_type: String,
    /// What the statement is about.
    pub subject: Vec<Subject>,
    /// The predicate's type URI.
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// The predicate.
    #[serde(default)]
    pub predicate: serde_json::Value,
}

/// One subject of a statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subject {
    /// Its name (cosign v3 leaves it out for images).
    #[serde(default)]
    pub name: String,
    /// Algorithm → lowercase hex digest.
    pub digest: std::collections::BTreeMap<String, String>,
}

impl Statement {
    /// Parses a statement (the decoded DSSE payload).
    pub fn from_bytes(bytes: &[u8]) -> Result<Statement, String> {
        let s: Statement =
            serde_json::from_slice(bytes).map_err(|e| format!("not an in-toto statement: {e}"))?;
        if !s
            .statement_type
            .starts_with("https://in-toto.io/Statement/")
        {
            return Err(format!("unknown statement type {:?}", s.statement_type));
        }
        Ok(s)
    }

    /// Whether a subject has this digest (`sha256:<hex>`, or another `alg:<hex>`).
    pub fn has_subject(&self, digest: &str) -> bool {
        let Some((alg, hex)) = digest.split_once(':') else {
            return false;
        };
        self.subject.iter().any(|s| {
            s.digest
                .get(alg)
                .is_some_and(|h| h.eq_ignore_ascii_case(hex))
        })
    }

    /// The subjects' digests as `alg:<hex>`.
    pub fn subject_digests(&self) -> Vec<String> {
        self.subject
            .iter()
            .flat_map(|s| s.digest.iter().map(|(a, h)| format!("{a}:{h}")))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_match_by_algorithm_and_digest() {
        let s = Statement::from_bytes(
            br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"AB"}}],"predicateType":"p"}"#,
        )
        .unwrap();
        assert!(s.has_subject("sha256:ab"));
        assert!(!s.has_subject("sha512:ab"));
        assert!(!s.has_subject("ab"));
        assert_eq!(s.subject_digests(), vec!["sha256:AB"]);
        assert!(Statement::from_bytes(b"{}").is_err());
        assert!(
            Statement::from_bytes(br#"{"_type":"x","subject":[],"predicateType":"p"}"#).is_err()
        );
    }
}
