//! Counting distinct trusted signers: the largest matching between the signers that were
//! verified and the trusted keys and identities they satisfy.
//!
//! A verified signer (a key, or a certificate's issuer and SAN) may satisfy several
//! trusted entries (one certificate matching two identity patterns); an entry may be
//! satisfied by several signers (one workflow signing on two refs). Each signer counts for
//! at most one entry and each entry at most once, so neither case inflates the count.

/// `edges[s]` lists the entries signer `s` satisfies; returns, for each entry matched, the
/// signer matched to it (`(entry, signer)`), as many as possible. Kuhn's augmenting paths:
/// O(signers × edges), and both are bounded by the caller.
pub(crate) fn maximum_matching(edges: &[Vec<usize>], entries: usize) -> Vec<(usize, usize)> {
    let mut owner: Vec<Option<usize>> = vec![None; entries];
    for signer in 0..edges.len() {
        let mut seen = vec![false; entries];
        augment(signer, edges, &mut owner, &mut seen);
    }
    owner
        .iter()
        .enumerate()
        .filter_map(|(entry, s)| s.map(|s| (entry, s)))
        .collect()
}

/// Tries to give `signer` an entry, moving earlier signers to other entries if needed.
/// Recursion depth is at most the number of entries (each visited once per attempt).
fn augment(
    signer: usize,
    edges: &[Vec<usize>],
    owner: &mut [Option<usize>],
    seen: &mut [bool],
) -> bool {
    let Some(wanted) = edges.get(signer) else {
        return false;
    };
    for &entry in wanted {
        if entry >= owner.len() || seen[entry] {
            continue;
        }
        seen[entry] = true;
        let free = match owner[entry] {
            None => true,
            Some(other) => augment(other, edges, owner, seen),
        };
        if free {
            owner[entry] = Some(signer);
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(edges: &[Vec<usize>], entries: usize) -> usize {
        maximum_matching(edges, entries).len()
    }

    #[test]
    fn one_signer_counts_once_however_many_entries_it_satisfies() {
        // One certificate matching two identity patterns.
        assert_eq!(count(&[vec![0, 1]], 2), 1);
    }

    #[test]
    fn one_entry_counts_once_however_many_signers_satisfy_it() {
        // One workflow identity, two refs (two SANs), no key.
        assert_eq!(count(&[vec![1], vec![1]], 2), 1);
    }

    #[test]
    fn distinct_signers_for_distinct_entries_count_each() {
        // Key A and identity I.
        assert_eq!(count(&[vec![0], vec![1]], 2), 2);
        // A certificate matching I1 and I2, and another matching I1 only: 2.
        assert_eq!(count(&[vec![0, 1], vec![0]], 2), 2);
        assert_eq!(count(&[vec![0], vec![0, 1]], 2), 2);
    }

    #[test]
    fn nothing_and_out_of_range_entries() {
        assert_eq!(count(&[], 3), 0);
        assert_eq!(count(&[vec![], vec![7]], 2), 0);
    }

    #[test]
    fn a_larger_case_finds_the_augmenting_path() {
        // s0:{0,1} s1:{0} s2:{1,2}: all three matched (s0→1, s1→0, s2→2).
        let m = maximum_matching(&[vec![0, 1], vec![0], vec![1, 2]], 3);
        assert_eq!(m.len(), 3);
        assert!(m.contains(&(0, 1)));
    }
}
