//! Signed configs: every config the server serves carries an Ed25519
//! signature of its exact bytes (`X-Dangol-Signature`, base64), so the
//! widget can reject a config tampered with in transit or at a CDN.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signer, SigningKey};

use crate::store::{Store, StoreError};

/// The site's signing key, made (from the OS's randomness) on first use.
pub async fn key_for(store: &dyn Store, site: &str) -> Result<SigningKey, StoreError> {
    if let Some(key) = store.signing_key(site).await? {
        return parse(&key);
    }
    let mut secret = [0u8; 32];
    rand::fill(&mut secret);
    store
        .set_signing_key_if_missing(site, &hex::encode(secret))
        .await?;
    // Read back: another replica may have won the race.
    let stored = store
        .signing_key(site)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("site `{site}` lost its signing key")))?;
    parse(&stored)
}

fn parse(hex_key: &str) -> Result<SigningKey, StoreError> {
    let bytes: [u8; 32] = hex::decode(hex_key)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| StoreError::Corrupt("a signing key is not 32 bytes of hex".into()))?;
    Ok(SigningKey::from_bytes(&bytes))
}

/// The signature of `body`, base64.
pub fn sign(key: &SigningKey, body: &[u8]) -> String {
    STANDARD.encode(key.sign(body).to_bytes())
}

/// The public key, base64: what a shop puts in `data-key`.
pub fn public_key(key: &SigningKey) -> String {
    STANDARD.encode(key.verifying_key().to_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signature, Verifier, VerifyingKey};

    #[test]
    fn signatures_verify_with_the_public_key_and_fail_on_any_change() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let body = br#"{"site":"demo","version":1}"#;
        let sig = STANDARD.decode(sign(&key, body)).unwrap();
        let sig = Signature::from_slice(&sig).unwrap();
        let public: [u8; 32] = STANDARD
            .decode(public_key(&key))
            .unwrap()
            .try_into()
            .unwrap();
        let public = VerifyingKey::from_bytes(&public).unwrap();
        assert!(public.verify(body, &sig).is_ok());
        assert!(
            public
                .verify(br#"{"site":"demo","version":2}"#, &sig)
                .is_err()
        );
    }
}
