//! Promotion puts exact bytes under a tag, and only after the policy accepts the digest.

use latch_sign::{PromoteError, SignOptions, promote, sign};
use latch_sources::registry::sig_reference as signature_reference;
use latch_testkit::{DigestHeader, Fault, Proxy, Registry};

use crate::*;

#[tokio::test]
async fn promotes_only_signed_digests_with_exact_bytes() {
    let reg = Registry::start();
    let k1 = latch_key();
    let k2 = latch_key();
    let c = client();
    let (image, digest) = push_image(&reg, "promo/app:nightly", 61);
    let (other, other_digest) = push_image(&reg, "promo/app:other", 62);
    let one_of_one = policy(&[k1.public_key()], 1);
    let two_of_two = policy(&[k1.public_key(), k2.public_key()], 2);

    // Unsigned: refused, and `latest` is not created.
    let err = promote(&c, &image, "latest", &one_of_one, now())
        .await
        .unwrap_err();
    assert!(matches!(err, PromoteError::NotSigned { .. }), "{err}");
    assert!(err.to_string().contains("no signatures found"), "{err}");
    let latest = image.with_tag("latest").unwrap();
    assert!(c.head_manifest(&latest).await.unwrap().is_none());

    // Signed by another key only: refused.
    sign(&c, &k2, &image, &SignOptions::default())
        .await
        .unwrap();
    let err = promote(&c, &image, "latest", &one_of_one, now())
        .await
        .unwrap_err();
    assert!(matches!(err, PromoteError::NotSigned { .. }), "{err}");

    // Signatures moved from another image (mix-and-match): refused.
    sign(&c, &k1, &other, &SignOptions::default())
        .await
        .unwrap();
    let moved = c
        .get_manifest(&signature_reference(&other, &other_digest))
        .await
        .unwrap();
    let third = push_image(&reg, "promo/app:third", 63);
    let target = signature_reference(&third.0, &third.1);
    c.put_manifest(&target, target.tag().unwrap(), &moved)
        .await
        .unwrap();
    let err = promote(&c, &third.0, "latest", &one_of_one, now())
        .await
        .unwrap_err();
    assert!(matches!(err, PromoteError::NotSigned { .. }), "{err}");

    // A digest the registry does not have: refused.
    let missing = image.with_digest(latch_oci::Digest::sha256_of(b"nothing"));
    let err = promote(&c, &missing, "latest", &one_of_one, now())
        .await
        .unwrap_err();
    assert!(matches!(err, PromoteError::Registry { .. }), "{err}");

    // A registry that serves other bytes for the digest (through a faulty proxy): refused.
    sign(&c, &k1, &image, &SignOptions::default())
        .await
        .unwrap();
    let proxy = Proxy::start(&reg);
    proxy.add_fault(
        Fault::flip_byte(40, DigestHeader::Recompute).on("GET", &format!("/manifests/{digest}")),
    );
    let via_proxy = Reference::parse(&format!("{}/promo/app@{digest}", proxy.host())).unwrap();
    let err = promote(&c, &via_proxy, "latest", &one_of_one, now())
        .await
        .unwrap_err();
    assert!(matches!(err, PromoteError::Registry { .. }), "{err}");
    assert!(
        err.to_string().contains("digest") || err.to_string().contains("manifest"),
        "{err}"
    );
    assert!(c.head_manifest(&latest).await.unwrap().is_none());

    // Two of two keys: both have signed now, so it is promoted, with the exact bytes.
    let report = promote(&c, &image, "latest", &two_of_two, now())
        .await
        .unwrap();
    assert_eq!(report.digest, digest);
    assert!(report.previous.is_none() && !report.unchanged);
    assert_eq!(report.verdict.count(), 2);
    let served = c.get_manifest(&latest).await.unwrap();
    assert_eq!(served.digest(), &digest);
    let original = c.get_manifest(&image).await.unwrap();
    assert_eq!(served.bytes(), original.bytes());

    // Again: nothing to change. Then promoting another signed digest moves the tag.
    let again = promote(&c, &image, "latest", &one_of_one, now())
        .await
        .unwrap();
    assert!(again.unchanged);
    let report = promote(&c, &other, "latest", &one_of_one, now())
        .await
        .unwrap();
    assert_eq!(report.previous, Some(digest.clone()));
    assert_eq!(
        c.get_manifest(&latest).await.unwrap().digest(),
        &other_digest
    );

    // By tag only, or with a bad tag: refused.
    let by_tag = Reference::parse(&reg.reference("promo/app:nightly")).unwrap();
    assert!(matches!(
        promote(&c, &by_tag, "latest", &one_of_one, now()).await,
        Err(PromoteError::NoDigest { .. })
    ));
    assert!(matches!(
        promote(&c, &image, "bad tag!", &one_of_one, now()).await,
        Err(PromoteError::BadTag { .. })
    ));
}
