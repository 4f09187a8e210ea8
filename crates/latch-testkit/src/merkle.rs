//! RFC 6962 Merkle trees, as transparency logs keep them: leaf and node hashes, the root,
//! inclusion proofs, and the signed checkpoint (a signed note) Rekor v1 serves with them.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::EcdsaKeyPair;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::Digest as _;

/// `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> [u8; 32] {
    let mut h = sha2::Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut h = sha2::Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The largest power of two smaller than `n` (`n` ≥ 2).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// The root of the tree over `leaves` (leaf hashes); the hash of nothing for none.
pub fn root(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => sha2::Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The audit path of leaf `index` in the tree over `leaves`, bottom up (RFC 6962 2.1.1).
pub fn inclusion_proof(index: usize, leaves: &[[u8; 32]]) -> Vec<[u8; 32]> {
    let n = leaves.len();
    if n <= 1 || index >= n {
        return Vec::new();
    }
    let k = split(n);
    if index < k {
        let mut p = inclusion_proof(index, &leaves[..k]);
        p.push(root(&leaves[k..]));
        p
    } else {
        let mut p = inclusion_proof(index - k, &leaves[k..]);
        p.push(root(&leaves[..k]));
        p
    }
}

/// A checkpoint as Rekor v1 signs it: the note `<origin>\n<size>\n<base64 root>\n`, a
/// blank line, and `— <name> <base64(key hint || signature)>` where the hint is the
/// first 4 bytes of the log id (SHA-256 of the key's DER).
pub fn checkpoint(
    origin: &str,
    size: usize,
    root: &[u8; 32],
    key: &EcdsaKeyPair,
    key_der: &[u8],
    rng: &SystemRandom,
) -> String {
    let note = format!("{origin}\n{size}\n{}\n", STANDARD.encode(root));
    let sig = key
        .sign(rng, note.as_bytes())
        .expect("checkpoint signature");
    let log_id: [u8; 32] = sha2::Sha256::digest(key_der).into();
    let mut hinted = log_id[..4].to_vec();
    hinted.extend_from_slice(sig.as_ref());
    let name = origin.split(" - ").next().unwrap_or(origin);
    format!("{note}\n\u{2014} {name} {}\n", STANDARD.encode(hinted))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Recomputes the root from a leaf and its path (RFC 9162 2.1.3.2).
    fn root_from_proof(index: usize, size: usize, leaf: [u8; 32], proof: &[[u8; 32]]) -> [u8; 32] {
        let (mut f_n, mut s_n) = (index, size - 1);
        let mut r = leaf;
        for p in proof {
            if f_n % 2 == 1 || f_n == s_n {
                r = node_hash(p, &r);
                while f_n % 2 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            } else {
                r = node_hash(&r, p);
            }
            f_n >>= 1;
            s_n >>= 1;
        }
        r
    }

    #[test]
    fn every_proof_leads_to_the_root() {
        for n in 1..20usize {
            let leaves: Vec<[u8; 32]> = (0..n).map(|i| leaf_hash(&[i as u8])).collect();
            let r = root(&leaves);
            for (i, leaf) in leaves.iter().enumerate() {
                let p = inclusion_proof(i, &leaves);
                assert_eq!(root_from_proof(i, n, *leaf, &p), r, "n {n} i {i}");
            }
        }
    }
}
