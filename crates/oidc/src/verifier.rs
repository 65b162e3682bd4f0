//! [`TokenVerifier`]: from a bearer token to a verified [`Identity`].
//!
//! Life of a `verify` call:
//!
//! 1. Size and shape checks, then the header (`alg` must be asymmetric, no `crit`) and the
//!    payload's `iss` are read *unverified*, only to route the token ([`crate::jwt`]).
//! 2. `iss` picks the issuer's policy: an exact entry, else the first matching meta issuer.
//!    Unknown issuers stop here with 403, before any network traffic.
//! 3. The issuer's keys come from a per-issuer cache. A cold or expired cache, or a `kid` the
//!    cache does not know, triggers OIDC discovery (`<iss>/.well-known/openid-configuration`,
//!    whose `issuer` must equal `iss`) and a JWKS fetch, both through the verifier's
//!    [`KeySource`] (HTTP unless the verifier was given another). Concurrent requests wait for one
//!    shared fetch; unknown-`kid` refetches and failed fetches are rate-limited per issuer, so
//!    garbage tokens cannot make the CA hammer an IdP. An expired cache whose refresh fails is
//!    still used for a grace period.
//! 4. The JWK fixes the algorithm; a header `alg` that differs is refused. `jsonwebtoken`
//!    checks the signature, `iss`, `aud`, `exp` and `nbf` (with leeway), then `iat` is checked
//!    not to lie in the future.
//! 5. The issuer type maps the verified claims to the identity ([`crate::mapping`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Validation;
use jsonwebtoken::errors::ErrorKind;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::config::{IssuerConfig, IssuerPattern, IssuerPolicy};
use crate::error::{
    ClaimProblem, ConfigError, Document, FetchError, KeyId, MalformedToken, OidcError, TokenPart,
};
use crate::fetch::{FetchRequest, HttpKeySource, KeySource};
use crate::identity::Identity;
use crate::jwks::{KeyLookup, KeySet, VerifyKey};
use crate::jwt::{self, UnixTime, Unverified};
use crate::mapping;

/// Tunables of a [`TokenVerifier`]. `Default` gives production values; fields can be changed on
/// a default value.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct VerifierOptions {
    /// Tokens longer than this are refused unread (default 16 KiB).
    pub max_token_bytes: usize,
    /// Clock skew allowed for `exp`, `nbf` and `iat` (default 60 s).
    pub leeway: Duration,
    /// JWKS lifetime when the response has no `Cache-Control: max-age` (default 1 h).
    pub jwks_default_ttl: Duration,
    /// Lower bound on a JWKS lifetime, whatever the IdP says (default 1 min).
    pub jwks_min_ttl: Duration,
    /// Upper bound on a JWKS lifetime (default 24 h).
    pub jwks_max_ttl: Duration,
    /// At most one unknown-`kid` refetch, and one retry after a failed fetch, per issuer per
    /// this interval (default 5 s).
    pub min_refetch_interval: Duration,
    /// How long past its lifetime an issuer's keys stay usable while refreshing them fails
    /// (default 6 h).
    pub stale_if_error: Duration,
    /// Whole-request timeout for discovery and JWKS fetches over HTTP (default 10 s, as Fulcio).
    pub http_timeout: Duration,
    /// Connection timeout (default 5 s).
    pub connect_timeout: Duration,
    /// Largest discovery document or JWKS accepted (default 256 KiB).
    pub max_document_bytes: usize,
    /// How many concrete issuers matched through meta issuers are cached (default 256; the
    /// least recently used is dropped).
    pub max_meta_issuers: usize,
}

impl VerifierOptions {
    /// How long fetched keys are used: what their source said (or the default lifetime),
    /// clamped to the configured bounds.
    pub(crate) fn jwks_ttl(&self, max_age: Option<Duration>) -> Duration {
        max_age
            .unwrap_or(self.jwks_default_ttl)
            .clamp(self.jwks_min_ttl, self.jwks_max_ttl.max(self.jwks_min_ttl))
    }
}

impl Default for VerifierOptions {
    fn default() -> Self {
        Self {
            max_token_bytes: 16 * 1024,
            leeway: Duration::from_secs(60),
            jwks_default_ttl: Duration::from_secs(3600),
            jwks_min_ttl: Duration::from_secs(60),
            jwks_max_ttl: Duration::from_secs(24 * 3600),
            min_refetch_interval: Duration::from_secs(5),
            stale_if_error: Duration::from_secs(6 * 3600),
            http_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            max_document_bytes: 256 * 1024,
            max_meta_issuers: 256,
        }
    }
}

/// Verifies OIDC ID tokens against the configured issuers. Cheap to clone: clones share the
/// key caches and the key source (with its HTTP connection pools).
#[derive(Clone, Debug)]
pub struct TokenVerifier {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: IssuerConfig,
    options: VerifierOptions,
    /// Where discovery documents and JWK sets come from.
    source: Arc<dyn KeySource>,
    /// Per concrete issuer: exact issuers from the start, meta-matched ones on first use.
    states: RwLock<HashMap<String, Arc<IssuerState>>>,
    epoch: Instant,
}

#[derive(Debug)]
struct IssuerState {
    issuer: String,
    policy: Arc<IssuerPolicy>,
    /// Matched through a meta issuer (and so evictable).
    meta: bool,
    /// Milliseconds since `Inner::epoch` of the last use (meta issuers only).
    last_used: AtomicU64,
    keys: RwLock<Option<Arc<CachedKeys>>>,
    /// Held while fetching; guards the rate-limit bookkeeping.
    fetch: tokio::sync::Mutex<FetchState>,
    /// Completed fetch attempts, so a waiter can tell that a fetch happened while it waited.
    attempts: AtomicU64,
}

#[derive(Debug)]
struct CachedKeys {
    set: KeySet,
    expires_at: Instant,
}

#[derive(Debug, Default)]
struct FetchState {
    last_kid_refetch: Option<Instant>,
    last_failure: Option<(Instant, Failure)>,
}

/// A failed fetch, kept to answer requests during the retry interval.
#[derive(Clone, Debug)]
enum Failure {
    Unavailable { url: String, cause: Arc<FetchError> },
    IssuerMismatch { discovered: String },
}

impl Failure {
    fn to_error(&self, issuer: &str) -> OidcError {
        match self {
            Self::Unavailable { url, cause } => OidcError::IdpUnavailable {
                issuer: issuer.to_owned(),
                url: url.clone(),
                cause: Arc::clone(cause),
            },
            Self::IssuerMismatch { discovered } => OidcError::DiscoveryIssuerMismatch {
                issuer: issuer.to_owned(),
                discovered: discovered.clone(),
            },
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reason {
    Cold,
    Expired,
    UnknownKid,
}

impl TokenVerifier {
    /// A verifier with default [`VerifierOptions`].
    pub fn new(config: IssuerConfig) -> Result<Self, ConfigError> {
        Self::with_options(config, VerifierOptions::default())
    }

    /// A verifier with explicit options that fetches keys over HTTP ([`HttpKeySource`]: one
    /// client per issuer that has extra TLS roots, one shared client for the rest); fetches
    /// nothing yet (see [`Self::prefetch`]).
    pub fn with_options(
        config: IssuerConfig,
        options: VerifierOptions,
    ) -> Result<Self, ConfigError> {
        let source = HttpKeySource::new(&config, &options)?;
        Ok(Self::with_key_source(config, options, Arc::new(source)))
    }

    /// A verifier that gets discovery documents and JWK sets from `source` (for example a
    /// [`MemoryKeySource`](crate::MemoryKeySource) in tests).
    pub fn with_key_source(
        config: IssuerConfig,
        options: VerifierOptions,
        source: Arc<dyn KeySource>,
    ) -> Self {
        // Installing a provider explicitly also keeps verification working if feature
        // unification enables jsonwebtoken's other backend (it panics with both and none chosen).
        crate::crypto::install();
        let inner = Inner {
            config,
            options,
            source,
            states: RwLock::new(HashMap::new()),
            epoch: Instant::now(),
        };
        {
            let mut states = inner.states.write().unwrap_or_else(PoisonError::into_inner);
            for policy in inner.config.issuers() {
                if let IssuerPattern::Exact(url) = policy.pattern() {
                    states.insert(url.clone(), Inner::new_state(url, policy, false, 0));
                }
            }
        }
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The issuer policy this verifier enforces.
    pub fn config(&self) -> &IssuerConfig {
        &self.inner.config
    }

    /// The options in force.
    pub fn options(&self) -> &VerifierOptions {
        &self.inner.options
    }

    /// Fetches the keys of every exact issuer now (for start-up checks and warm caches);
    /// reports each issuer's outcome.
    pub async fn prefetch(&self) -> Vec<(String, Result<(), OidcError>)> {
        let states: Vec<Arc<IssuerState>> = {
            let map = self
                .inner
                .states
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            map.values().filter(|s| !s.meta).cloned().collect()
        };
        let mut out = Vec::with_capacity(states.len());
        for state in states {
            let observed = state.attempts.load(Ordering::Acquire);
            let mut guard = state.fetch.lock().await;
            let result = if state.attempts.load(Ordering::Acquire) != observed {
                // A fetch finished while we waited for the lock: report its outcome.
                match &guard.last_failure {
                    Some((_, failure)) => Err(failure.to_error(&state.issuer)),
                    None => Ok(()),
                }
            } else {
                self.inner
                    .fetch_locked(&state, &mut guard)
                    .await
                    .map(|_| ())
                    .map_err(|f| f.to_error(&state.issuer))
            };
            out.push((state.issuer.clone(), result));
        }
        out
    }

    /// Verifies a token and returns the identity it proves.
    pub async fn verify(&self, token: &str) -> Result<Identity, OidcError> {
        let inner = &*self.inner;
        let routed = jwt::parse_unverified(token, inner.options.max_token_bytes)?;
        let state = inner.state_for(&routed.issuer)?;
        let key = inner.key_for(&state, &routed).await?;
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &key.validation)
            .map_err(|e| inner.library_error(e, &state, &key, token))?;
        check_iat(&data.claims, inner.options.leeway)?;
        mapping::identity(&state.policy, &state.issuer, &data.claims)
    }
}

fn check_iat(claims: &Map<String, Value>, leeway: Duration) -> Result<(), OidcError> {
    match claims.get("iat") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Number(n)) => {
            let iat = n.as_f64().unwrap_or(f64::MAX);
            let limit = UnixTime::now().0.saturating_add(leeway.as_secs());
            // Precision loss is irrelevant at second granularity for any real clock.
            #[allow(clippy::cast_precision_loss)]
            if iat > limit as f64 {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                return Err(OidcError::IssuedInFuture {
                    iat: UnixTime(iat as u64),
                });
            }
            Ok(())
        }
        Some(_) => Err(OidcError::invalid(
            "iat",
            ClaimProblem::WrongType {
                expected: "a number",
            },
        )),
    }
}

impl Inner {
    fn new_state(
        issuer: &str,
        policy: &Arc<IssuerPolicy>,
        meta: bool,
        now_millis: u64,
    ) -> Arc<IssuerState> {
        Arc::new(IssuerState {
            issuer: issuer.to_owned(),
            policy: Arc::clone(policy),
            meta,
            last_used: AtomicU64::new(now_millis),
            keys: RwLock::new(None),
            fetch: tokio::sync::Mutex::new(FetchState::default()),
            attempts: AtomicU64::new(0),
        })
    }

    fn millis(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The state of a concrete issuer, creating it for a newly seen meta-issuer match.
    fn state_for(&self, issuer: &str) -> Result<Arc<IssuerState>, OidcError> {
        {
            let states = self.states.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(s) = states.get(issuer) {
                if s.meta {
                    s.last_used.store(self.millis(), Ordering::Relaxed);
                }
                return Ok(Arc::clone(s));
            }
        }
        let not_allowed = || OidcError::IssuerNotAllowed {
            issuer: issuer.to_owned(),
        };
        let policy = self.config.find(issuer).ok_or_else(not_allowed)?;
        if !matches!(policy.pattern(), IssuerPattern::Wildcard(_)) {
            // Exact issuers are all in the map already; reaching here means a race with
            // nothing, but refuse rather than create an untracked state.
            return Err(not_allowed());
        }
        let mut states = self.states.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = states.get(issuer) {
            return Ok(Arc::clone(s));
        }
        let metas = states.values().filter(|s| s.meta).count();
        if metas >= self.options.max_meta_issuers.max(1) {
            let oldest = states
                .values()
                .filter(|s| s.meta)
                .min_by_key(|s| s.last_used.load(Ordering::Relaxed))
                .map(|s| s.issuer.clone());
            if let Some(oldest) = oldest {
                states.remove(&oldest);
            }
        }
        let state = Inner::new_state(issuer, policy, true, self.millis());
        states.insert(issuer.to_owned(), Arc::clone(&state));
        Ok(state)
    }

    /// The key to check the token with: from the cache, or after a (shared, rate-limited) fetch.
    async fn key_for(
        &self,
        state: &IssuerState,
        t: &Unverified,
    ) -> Result<Arc<VerifyKey>, OidcError> {
        let observed = state.attempts.load(Ordering::Acquire);
        let cached = state.current();
        let reason = match &cached {
            Some(c) if c.expires_at > Instant::now() => {
                match self.resolve(state, &c.set, t, false) {
                    Err(OidcError::UnknownKey { .. }) => Reason::UnknownKid,
                    other => return other,
                }
            }
            Some(_) => Reason::Expired,
            None => Reason::Cold,
        };

        let mut guard = state.fetch.lock().await;
        let now = Instant::now();
        let recent = |t: Option<Instant>| {
            t.is_some_and(|t| now.duration_since(t) < self.options.min_refetch_interval)
        };

        if state.attempts.load(Ordering::Acquire) != observed {
            // A fetch finished while we waited: its outcome answers us too.
            return match self.usable(state, now) {
                Some(keys) => match self.resolve(state, &keys.set, t, true) {
                    Err(OidcError::UnknownKey { .. }) if guard.last_failure.is_some() => {
                        Err(self.failure_error(state, &guard))
                    }
                    other => other,
                },
                None => Err(self.failure_error(state, &guard)),
            };
        }

        let failed_recently = recent(guard.last_failure.as_ref().map(|f| f.0));
        match reason {
            Reason::UnknownKid if recent(guard.last_kid_refetch) => {
                let keys = cached.as_ref().map_or(0, |c| c.set.len());
                return Err(OidcError::UnknownKey {
                    issuer: state.issuer.clone(),
                    kid: KeyId(t.kid.clone()),
                    keys,
                    refetched: false,
                });
            }
            _ if failed_recently => {
                return match self.usable(state, now) {
                    Some(keys) if reason == Reason::Expired => {
                        self.resolve(state, &keys.set, t, false)
                    }
                    _ => Err(self.failure_error(state, &guard)),
                };
            }
            _ => {}
        }
        if reason == Reason::UnknownKid {
            guard.last_kid_refetch = Some(now);
        }
        match self.fetch_locked(state, &mut guard).await {
            Ok(keys) => {
                let found = self.resolve(state, &keys.set, t, true);
                if matches!(found, Err(OidcError::UnknownKey { .. })) {
                    // Fresh keys were just searched for this kid: that counts as its refetch.
                    guard.last_kid_refetch = Some(Instant::now());
                }
                found
            }
            Err(failure) => match self.usable(state, Instant::now()) {
                Some(stale) if reason == Reason::Expired => {
                    tracing::warn!(issuer = %state.issuer, error = %failure.to_error(&state.issuer), "JWKS refresh failed; using expired keys");
                    self.resolve(state, &stale.set, t, false)
                }
                _ => Err(failure.to_error(&state.issuer)),
            },
        }
    }

    fn failure_error(&self, state: &IssuerState, guard: &FetchState) -> OidcError {
        match &guard.last_failure {
            Some((_, f)) => f.to_error(&state.issuer),
            // A fetch completed without leaving keys or a failure: cannot happen, but the
            // honest answer is that the IdP gave us nothing usable.
            None => OidcError::IdpUnavailable {
                issuer: state.issuer.clone(),
                url: state.issuer.clone(),
                cause: Arc::new(FetchError::NoUsableKeys { total: 0 }),
            },
        }
    }

    /// Cached keys that may still be used: fresh, or expired less than `stale_if_error` ago.
    fn usable(&self, state: &IssuerState, now: Instant) -> Option<Arc<CachedKeys>> {
        state
            .current()
            .filter(|c| c.expires_at + self.options.stale_if_error > now)
    }

    fn resolve(
        &self,
        state: &IssuerState,
        set: &KeySet,
        t: &Unverified,
        refetched: bool,
    ) -> Result<Arc<VerifyKey>, OidcError> {
        match set.lookup(t.kid.as_deref(), t.alg) {
            KeyLookup::Found(k) => Ok(k),
            KeyLookup::WrongAlgorithm(key_alg) => Err(OidcError::AlgorithmMismatch {
                issuer: state.issuer.clone(),
                kid: KeyId(t.kid.clone()),
                header_alg: t.alg_name.clone(),
                key_alg,
            }),
            KeyLookup::Missing => Err(OidcError::UnknownKey {
                issuer: state.issuer.clone(),
                kid: KeyId(t.kid.clone()),
                keys: set.len(),
                refetched,
            }),
        }
    }

    /// Discovery then JWKS, with the fetch lock held; records the outcome.
    async fn fetch_locked(
        &self,
        state: &IssuerState,
        guard: &mut FetchState,
    ) -> Result<Arc<CachedKeys>, Failure> {
        let result = self.fetch(state).await;
        let now = Instant::now();
        let out = match result {
            Ok(keys) => {
                let keys = Arc::new(keys);
                *state.keys.write().unwrap_or_else(PoisonError::into_inner) =
                    Some(Arc::clone(&keys));
                guard.last_failure = None;
                Ok(keys)
            }
            Err(failure) => {
                tracing::warn!(issuer = %state.issuer, error = %failure.to_error(&state.issuer), "fetching issuer keys failed");
                guard.last_failure = Some((now, failure.clone()));
                Err(failure)
            }
        };
        state.attempts.fetch_add(1, Ordering::AcqRel);
        out
    }

    async fn fetch(&self, state: &IssuerState) -> Result<CachedKeys, Failure> {
        #[derive(Deserialize)]
        struct Discovery {
            issuer: String,
            jwks_uri: String,
        }
        let discovery_url = format!(
            "{}/.well-known/openid-configuration",
            state.issuer.trim_end_matches('/')
        );
        let unavailable = |url: &str, cause| Failure::Unavailable {
            url: url.to_owned(),
            cause: Arc::new(cause),
        };

        // The configuration admits plain http only on loopback (or by opt-in); a meta issuer's
        // concrete host is only known now.
        let Some(url) = url::Url::parse(&discovery_url)
            .ok()
            .filter(|u| state.policy.may_fetch_from(u))
        else {
            return Err(unavailable(
                &discovery_url,
                FetchError::InsecureUrl {
                    uri: discovery_url.clone(),
                },
            ));
        };
        let body = self
            .get(state, Document::Discovery, &url)
            .await
            .map_err(|c| unavailable(&discovery_url, c))?
            .body;
        let doc: Discovery = serde_json::from_slice(&body).map_err(|source| {
            unavailable(
                &discovery_url,
                FetchError::Json {
                    document: Document::Discovery,
                    source,
                },
            )
        })?;
        if doc.issuer != state.issuer {
            return Err(Failure::IssuerMismatch {
                discovered: doc.issuer,
            });
        }
        let jwks = url::Url::parse(&doc.jwks_uri).ok().filter(|u| {
            state.policy.may_fetch_from(u)
                && (u.scheme() == "https" || state.issuer.starts_with("http://"))
        });
        let Some(jwks) = jwks else {
            return Err(unavailable(
                &discovery_url,
                FetchError::BadJwksUri { uri: doc.jwks_uri },
            ));
        };

        let jwks_url = doc.jwks_uri;
        let fetched = self
            .get(state, Document::Jwks, &jwks)
            .await
            .map_err(|c| unavailable(&jwks_url, c))?;
        let body = fetched.body;
        let audience = state.policy.audience();
        let leeway = self.options.leeway.as_secs();
        let (set, total) = KeySet::from_json(&body, |alg| {
            let mut v = Validation::new(alg);
            v.leeway = leeway;
            v.validate_exp = true;
            v.validate_nbf = true;
            v.validate_aud = true;
            v.set_issuer(&[&state.issuer]);
            v.set_audience(&[audience]);
            v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
            v
        })
        .map_err(|source| {
            unavailable(
                &jwks_url,
                FetchError::Json {
                    document: Document::Jwks,
                    source,
                },
            )
        })?;
        if set.len() == 0 {
            return Err(unavailable(&jwks_url, FetchError::NoUsableKeys { total }));
        }
        let ttl = self.options.jwks_ttl(fetched.max_age);
        tracing::debug!(issuer = %state.issuer, keys = set.len(), ttl_secs = ttl.as_secs(), "fetched issuer keys");
        Ok(CachedKeys {
            set,
            expires_at: Instant::now() + ttl,
        })
    }

    /// One document from the key source, held to the size limit whatever the source.
    async fn get(
        &self,
        state: &IssuerState,
        document: Document,
        url: &url::Url,
    ) -> Result<crate::fetch::Fetched, FetchError> {
        let limit = self.options.max_document_bytes;
        let fetched = self
            .source
            .fetch(FetchRequest {
                issuer: &state.issuer,
                policy: &state.policy,
                document,
                url,
                max_bytes: limit,
            })
            .await?;
        if fetched.body.len() > limit {
            return Err(FetchError::TooLarge { document, limit });
        }
        Ok(fetched)
    }

    /// Turns a `jsonwebtoken` refusal into a precise error, reading the claim values it was
    /// about from the payload (whose signature has been checked by then for claim errors).
    fn library_error(
        &self,
        e: jsonwebtoken::errors::Error,
        state: &IssuerState,
        key: &VerifyKey,
        token: &str,
    ) -> OidcError {
        let claims = || -> Map<String, Value> {
            token
                .split('.')
                .nth(1)
                .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default()
        };
        let time = |name: &str| -> UnixTime {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            UnixTime(
                claims()
                    .get(name)
                    .and_then(Value::as_f64)
                    .map_or(0, |f| f as u64),
            )
        };
        let kid = || KeyId(key.kid.clone());
        match e.kind() {
            ErrorKind::InvalidSignature => OidcError::BadSignature {
                issuer: state.issuer.clone(),
                kid: kid(),
            },
            ErrorKind::ExpiredSignature => OidcError::Expired { exp: time("exp") },
            ErrorKind::ImmatureSignature => OidcError::NotYetValid { nbf: time("nbf") },
            ErrorKind::InvalidAudience => OidcError::WrongAudience {
                audience: match claims().get("aud") {
                    Some(Value::String(s)) => vec![s.clone()],
                    Some(Value::Array(a)) => a
                        .iter()
                        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                        .collect(),
                    Some(other) => vec![other.to_string()],
                    None => Vec::new(),
                },
                expected: state.policy.audience().to_owned(),
            },
            ErrorKind::InvalidIssuer => OidcError::IssuerNotAllowed {
                issuer: state.issuer.clone(),
            },
            // jsonwebtoken reports a present but non-numeric `exp` as missing.
            ErrorKind::MissingRequiredClaim(c)
                if claims().get(c.as_str()).is_some_and(|v| !v.is_null()) =>
            {
                let expected = if c == "exp" || c == "nbf" {
                    "a number"
                } else {
                    "a string"
                };
                OidcError::invalid(c, ClaimProblem::WrongType { expected })
            }
            ErrorKind::MissingRequiredClaim(c) => OidcError::missing(c),
            ErrorKind::InvalidClaimFormat(c) => OidcError::invalid(
                c,
                ClaimProblem::WrongType {
                    expected: "a number",
                },
            ),
            ErrorKind::InvalidAlgorithm => OidcError::AlgorithmMismatch {
                issuer: state.issuer.clone(),
                kid: kid(),
                header_alg: jsonwebtoken::decode_header(token)
                    .map_or_else(|_| "?".to_owned(), |h| format!("{:?}", h.alg)),
                key_alg: key.alg,
            },
            ErrorKind::Json(source) => OidcError::Malformed(MalformedToken::Json {
                part: TokenPart::Header,
                source: Arc::clone(source),
            }),
            _ => OidcError::VerificationFailed {
                issuer: state.issuer.clone(),
                kid: kid(),
                source: e,
            },
        }
    }
}

impl IssuerState {
    fn current(&self) -> Option<Arc<CachedKeys>> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shareable_across_tasks() {
        fn send_sync_clone<T: Send + Sync + Clone + 'static>(_: &T) {}
        fn send<T: Send>(_: T) {}
        let config =
            IssuerConfig::from_yaml("issuers:\n  - url: https://i.example\n    type: email\n")
                .unwrap();
        let v = TokenVerifier::new(config).unwrap();
        send_sync_clone(&v);
        // axum handlers need the future to be Send.
        send(v.verify("x"));
    }

    #[test]
    fn iat() {
        let now = UnixTime::now().0;
        let c = |v: Value| serde_json::json!({ "iat": v }).as_object().unwrap().clone();
        let leeway = Duration::from_secs(60);
        assert!(check_iat(&c(now.into()), leeway).is_ok());
        assert!(check_iat(&c((now + 30).into()), leeway).is_ok());
        assert!(matches!(
            check_iat(&c((now + 3600).into()), leeway),
            Err(OidcError::IssuedInFuture { .. })
        ));
        assert!(matches!(
            check_iat(&c("x".into()), leeway),
            Err(OidcError::InvalidClaim { .. })
        ));
        assert!(check_iat(&Map::new(), leeway).is_ok());
    }
}
