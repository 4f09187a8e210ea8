//! Latch's signatures are what skopeo's policy and cosign accept; existing signatures and
//! attestations are kept; recursive signing covers every platform.

use std::collections::BTreeMap;

use latch_sign::{SignError, SignOptions, sign};
use latch_sources::registry::sig_reference as signature_reference;
use latch_testkit::{ImageBuilder, Registry};
use latch_trust::SimpleSigning;

use crate::*;

#[tokio::test]
async fn skopeo_and_cosign_accept_latch_signatures_and_refuse_others() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let key = latch_key();
    let other = latch_key();
    let public = write_public(tmp.path(), "latch.pub", key.public_key());
    let other_public = write_public(tmp.path(), "other.pub", other.public_key());

    let (signed, digest) = push_image(&reg, "dz/app:v1", 1);
    let (unsigned, _) = push_image(&reg, "dz/unsigned:v1", 2);
    let (by_other, _) = push_image(&reg, "dz/other:v1", 3);

    let opts = SignOptions {
        annotations: BTreeMap::from([(
            "version".to_owned(),
            "20241219-0.8.0-77-g06a9117".to_owned(),
        )]),
        ..SignOptions::default()
    };
    let report = sign(&client(), &key, &signed, &opts).await.unwrap();
    assert_eq!(report.signed.len(), 1);
    let s = &report.signed[0];
    assert_eq!(s.digest, digest);
    assert_eq!(s.docker_reference, format!("{}/dz/app", reg.host()));
    assert_eq!(s.signatures, 1);
    assert!(!s.already_signed);
    sign(&client(), &other, &by_other, &SignOptions::default())
        .await
        .unwrap();

    // The payload is cosign's, byte for byte, with the annotation in `optional`.
    let sigs = signatures(&signed).await;
    let sig = sigs[0].as_ref().unwrap();
    let expected = SimpleSigning::new(format!("{}/dz/app", reg.host()), digest.clone())
        .with_annotation("version", "20241219-0.8.0-77-g06a9117")
        .to_bytes();
    assert_eq!(sig.payload(), expected.as_slice());

    // skopeo 1.18, policy sigstoreSigned + matchRepository: accepts, refuses unsigned and
    // other-key images.
    skopeo_policy_copy(&reg, &signed, &public, None).expect("skopeo accepts Latch's signature");
    let err = skopeo_policy_copy(&reg, &unsigned, &public, None).unwrap_err();
    assert!(
        err.contains("A signature was required, but no signature exists"),
        "{err}"
    );
    let err = skopeo_policy_copy(&reg, &by_other, &public, None).unwrap_err();
    assert!(
        err.contains("cryptographic signature verification failed"),
        "{err}"
    );
    skopeo_policy_copy(&reg, &by_other, &other_public, None).expect("with the right key");

    // cosign verify: accepts, refuses unsigned and the other key.
    let out = cosign_verify(&public, &signed, tmp.path()).expect("cosign accepts it");
    assert!(out.contains("20241219-0.8.0-77-g06a9117"), "{out}");
    assert!(cosign_verify(&public, &unsigned, tmp.path()).is_err());
    assert!(cosign_verify(&public, &by_other, tmp.path()).is_err());

    // Signing again with the same key and payload adds nothing.
    let again = sign(&client(), &key, &signed, &opts).await.unwrap();
    assert!(again.signed[0].already_signed);
    assert_eq!(again.signed[0].signatures, 1);
    assert_eq!(signatures(&signed).await.len(), 1);
}

#[tokio::test]
async fn appends_to_cosign_signatures_and_leaves_attestations_alone() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    let mut c = peers().command("cosign");
    c.args(["generate-key-pair", "--output-key-prefix"])
        .arg(home.join("ck"))
        .env("HOME", home)
        .env("COSIGN_PASSWORD", "");
    latch_testkit::run(&mut c);
    let ck = home.join("ck.key");
    let ck_pub = home.join("ck.pub");
    let (image, digest) = push_image(&reg, "dz/both:v1", 4);
    let image_s = image.to_string();
    cosign(
        &[
            "sign",
            "--key",
            ck.to_str().unwrap(),
            "--tlog-upload=false",
            "--allow-http-registry",
            "--yes",
            &image_s,
        ],
        "",
        home,
    )
    .unwrap();
    std::fs::write(home.join("pred.json"), r#"{"builder":"test"}"#).unwrap();
    cosign(
        &[
            "attest",
            "--key",
            ck.to_str().unwrap(),
            "--type",
            "custom",
            "--predicate",
            home.join("pred.json").to_str().unwrap(),
            "--tlog-upload=false",
            "--allow-http-registry",
            "--yes",
            &image_s,
        ],
        "",
        home,
    )
    .unwrap();
    let att = image
        .with_tag(&format!("{}.att", digest.tag_form()))
        .unwrap();
    let att_before = client().get_manifest(&att).await.unwrap();
    let sig_ref = signature_reference(&image, &digest);
    let sig_before = client().get_manifest(&sig_ref).await.unwrap();
    let cosign_layer = sig_before.as_image().unwrap().layers[0].clone();

    let key = latch_key();
    let public = write_public(home, "latch.pub", key.public_key());
    let report = sign(&client(), &key, &image, &SignOptions::default())
        .await
        .unwrap();
    assert_eq!(report.signed[0].signatures, 2);

    // The cosign layer is kept as it was, first; the attestation is untouched.
    let sig_after = client().get_manifest(&sig_ref).await.unwrap();
    let layers = &sig_after.as_image().unwrap().layers;
    assert_eq!(layers.len(), 2);
    assert_eq!(layers[0], cosign_layer);
    let att_after = client().get_manifest(&att).await.unwrap();
    assert_eq!(att_after.bytes(), att_before.bytes());

    // Both keys verify with cosign and skopeo; both signatures verify with latch_trust.
    for p in [&ck_pub, &public] {
        cosign_verify(p, &image, home).expect("cosign accepts each signature");
        skopeo_policy_copy(&reg, &image, p, None).expect("skopeo accepts each signature");
    }
    let ck_key = PublicKey::from_pem(&std::fs::read(&ck_pub).unwrap()).unwrap();
    let verdict = verify(
        &policy(&[&ck_key, key.public_key()], 2),
        &digest,
        &signatures(&image).await,
        now(),
    )
    .unwrap();
    assert!(verdict.all_accepted());
    // cosign's own attestation check still passes.
    cosign(
        &[
            "verify-attestation",
            "--key",
            ck_pub.to_str().unwrap(),
            "--type",
            "custom",
            "--insecure-ignore-tlog=true",
            "--allow-http-registry",
            &image_s,
        ],
        "",
        home,
    )
    .expect("the attestation still verifies");
}

#[tokio::test]
async fn recursive_signs_the_index_and_every_platform() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let index = ImageBuilder::new()
        .seed(5)
        .gzip_layer(1000)
        .build_multi_arch(&tmp.path().join("src"), "v1");
    index.push(&reg.reference("dz/multi:v1"));
    let image = Reference::parse(&format!("{}/dz/multi@{}", reg.host(), index.digest())).unwrap();
    let key = latch_key();
    let public = write_public(tmp.path(), "latch.pub", key.public_key());

    // Without --recursive only the index is signed.
    let opts = SignOptions::default();
    let r = sign(&client(), &key, &image, &opts).await.unwrap();
    assert_eq!(r.signed.len(), 1);
    let amd64 = index.image("linux/amd64").digest().clone();
    let amd64_ref = image.with_digest(amd64.clone());
    assert!(signatures(&amd64_ref).await.is_empty());

    let opts = SignOptions {
        recursive: true,
        ..SignOptions::default()
    };
    let r = sign(&client(), &key, &image, &opts).await.unwrap();
    let digests: Vec<_> = r.signed.iter().map(|s| s.digest.clone()).collect();
    assert_eq!(
        digests,
        [
            index.digest().clone(),
            amd64.clone(),
            index.image("linux/arm64").digest().clone()
        ]
    );
    assert!(r.signed[0].already_signed);
    assert_eq!(r.signed[1].platform.as_deref(), Some("linux/amd64"));
    for s in &r.signed {
        let one = image.with_digest(s.digest.clone());
        verify(
            &policy(&[key.public_key()], 1),
            &s.digest,
            &signatures(&one).await,
            now(),
        )
        .unwrap();
    }
    // skopeo verifies a platform manifest signature on its own.
    skopeo_policy_copy(&reg, &amd64_ref, &public, None)
        .expect("skopeo accepts the platform signature");
}

#[tokio::test]
async fn refuses_what_it_must_not_sign() {
    let reg = Registry::start();
    let key = latch_key();
    let (image, digest) = push_image(&reg, "dz/refuse:v1", 6);
    let by_tag = Reference::parse(&reg.reference("dz/refuse:v1")).unwrap();
    assert!(matches!(
        sign(&client(), &key, &by_tag, &SignOptions::default()).await,
        Err(SignError::NoDigest { .. })
    ));
    let missing = image.with_digest(latch_oci::Digest::sha256_of(b"not pushed"));
    let err = sign(&client(), &key, &missing, &SignOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, SignError::Registry { .. }), "{err}");
    let opts = SignOptions {
        annotations: BTreeMap::from([("timestamp".to_owned(), "1".to_owned())]),
        ..SignOptions::default()
    };
    assert!(matches!(
        sign(&client(), &key, &image, &opts).await,
        Err(SignError::BadAnnotation { .. })
    ));
    // A .sig tag holding an index is not overwritten.
    let sig_ref = signature_reference(&image, &digest);
    let idx = latch_oci::ManifestBytes::from_index(&latch_oci::ImageIndex::empty());
    client()
        .put_manifest(&sig_ref, sig_ref.tag().unwrap(), &idx)
        .await
        .unwrap();
    let err = sign(&client(), &key, &image, &SignOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, SignError::NotASignatureManifest { .. }),
        "{err}"
    );
    assert_eq!(
        client().get_manifest(&sig_ref).await.unwrap().bytes(),
        idx.bytes()
    );
}
