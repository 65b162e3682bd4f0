//! The `jsonwebtoken` crypto provider this crate installs: its aws-lc-rs backend, except that
//! RSA public keys are parsed once and reused.
//!
//! `jsonwebtoken`'s aws-lc backend rebuilds the RSA key from `(n, e)` on every verification
//! (new key object, new Montgomery context): about a fifth of an RS256 check. Its
//! [`CryptoProvider`] is the documented extension point, but the factory sees only the
//! [`DecodingKey`], so parsed keys are cached by their exact bytes `(algorithm, n, e)`: a lookup
//! can only return the key those bytes encode. Everything else (ECDSA, EdDSA, signing, JWK
//! utilities) is `jsonwebtoken`'s own aws-lc code.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, OnceLock, PoisonError, RwLock};

use aws_lc_rs::signature::{self as sig, ParsedPublicKey, RsaParameters, RsaPublicKeyComponents};
use jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER;
use jsonwebtoken::crypto::{CryptoProvider, JwtVerifier};
use jsonwebtoken::errors::{Error, ErrorKind};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind};

/// Parsed keys kept at most (IdPs publish a handful; the cache is cleared when full).
const MAX_CACHED_KEYS: usize = 256;

/// `n` -> every `(algorithm, e, parsed key)` seen with that modulus.
type Cache = HashMap<Box<[u8]>, Vec<(Algorithm, Box<[u8]>, Arc<ParsedPublicKey>)>>;

static RSA_KEYS: LazyLock<RwLock<Cache>> = LazyLock::new(|| RwLock::new(HashMap::new()));

static PROVIDER: OnceLock<CryptoProvider> = OnceLock::new();

/// Installs the provider as `jsonwebtoken`'s process default, unless one is installed already
/// (then that one is used: same results, without the RSA key cache).
pub(crate) fn install() {
    let provider = PROVIDER.get_or_init(|| CryptoProvider {
        signer_factory: DEFAULT_PROVIDER.signer_factory,
        verifier_factory,
        key_utils: DEFAULT_PROVIDER.key_utils.clone(),
    });
    // `Err` means a provider is installed already, which is fine.
    let _ = provider.install_default();
}

fn rsa_parameters(alg: Algorithm) -> Option<&'static RsaParameters> {
    Some(match alg {
        Algorithm::RS256 => &sig::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &sig::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &sig::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &sig::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &sig::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &sig::RSA_PSS_2048_8192_SHA512,
        _ => return None,
    })
}

fn verifier_factory(alg: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>, Error> {
    if let (Some(params), DecodingKeyKind::RsaModulusExponent { n, e }) =
        (rsa_parameters(*alg), key.kind())
    {
        if key.family() != AlgorithmFamily::Rsa {
            return Err(ErrorKind::InvalidKeyFormat.into());
        }
        let key = parsed_rsa_key(*alg, params, n, e)?;
        return Ok(Box::new(RsaVerifier { alg: *alg, key }));
    }
    (DEFAULT_PROVIDER.verifier_factory)(alg, key)
}

fn parsed_rsa_key(
    alg: Algorithm,
    params: &'static RsaParameters,
    n: &[u8],
    e: &[u8],
) -> Result<Arc<ParsedPublicKey>, Error> {
    {
        let cache = RSA_KEYS.read().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, _, key)) = cache
            .get(n)
            .and_then(|v| v.iter().find(|(a, ee, _)| *a == alg && **ee == *e))
        {
            return Ok(Arc::clone(key));
        }
    }
    let parsed = RsaPublicKeyComponents { n, e }
        .to_parsed_public_key(params)
        .map_err(|err| ErrorKind::InvalidRsaKey(err.to_string()))?;
    let parsed = Arc::new(parsed);
    let mut cache = RSA_KEYS.write().unwrap_or_else(PoisonError::into_inner);
    if cache.len() >= MAX_CACHED_KEYS {
        cache.clear();
    }
    cache
        .entry(n.into())
        .or_default()
        .push((alg, e.into(), Arc::clone(&parsed)));
    Ok(parsed)
}

struct RsaVerifier {
    alg: Algorithm,
    key: Arc<ParsedPublicKey>,
}

impl jsonwebtoken::signature::Verifier<Vec<u8>> for RsaVerifier {
    fn verify(
        &self,
        msg: &[u8],
        signature: &Vec<u8>,
    ) -> Result<(), jsonwebtoken::signature::Error> {
        self.key
            .verify_sig(msg, signature)
            .map_err(|_| jsonwebtoken::signature::Error::new())
    }
}

impl JwtVerifier for RsaVerifier {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use hallmark_dev_issuer::{DevAlgorithm, DevIssuer};

    /// The cached path and jsonwebtoken's own aws-lc path agree on valid and invalid signatures.
    #[test]
    fn agrees_with_the_default_backend() {
        let dev = DevIssuer::new("https://issuer.example", DevAlgorithm::Rs256).unwrap();
        let jwk = &dev.jwks()["keys"][0];
        let key = DecodingKey::from_rsa_components(
            jwk["n"].as_str().unwrap(),
            jwk["e"].as_str().unwrap(),
        )
        .unwrap();
        for alg in [
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
        ] {
            let header = serde_json::json!({"alg": format!("{alg:?}"), "kid": dev.kid()});
            let token = dev.sign_raw(&header, &serde_json::json!({"sub": "x"}));
            let (message, signature) = token.rsplit_once('.').unwrap();
            let signature = B64.decode(signature).unwrap();
            let mut tampered = signature.clone();
            tampered[10] ^= 1;
            for _ in 0..2 {
                // Twice: the second round is served from the cache.
                let ours = verifier_factory(&alg, &key).unwrap();
                let theirs = (DEFAULT_PROVIDER.verifier_factory)(&alg, &key).unwrap();
                assert!(
                    ours.verify(message.as_bytes(), &signature).is_ok(),
                    "{alg:?}"
                );
                assert!(
                    theirs.verify(message.as_bytes(), &signature).is_ok(),
                    "{alg:?}"
                );
                assert!(
                    ours.verify(message.as_bytes(), &tampered).is_err(),
                    "{alg:?}"
                );
                assert!(
                    theirs.verify(message.as_bytes(), &tampered).is_err(),
                    "{alg:?}"
                );
            }
            // A signature made for one RSA algorithm does not verify as another.
            let other = if alg == Algorithm::RS256 {
                Algorithm::RS384
            } else {
                Algorithm::RS256
            };
            let ours = verifier_factory(&other, &key).unwrap();
            assert!(
                ours.verify(message.as_bytes(), &signature).is_err(),
                "{alg:?} as {other:?}"
            );
        }
        // Small moduli are refused at verification, as by the default backend.
        let small = DecodingKey::from_rsa_raw_components(&[0xc5; 128], &[1, 0, 1]);
        let v = verifier_factory(&Algorithm::RS256, &small).unwrap();
        assert!(v.verify(b"m", &vec![0; 128]).is_err());
    }
}
